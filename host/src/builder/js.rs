//! Building a JavaScript or TypeScript plugin folder (a module that makes an `McpServer`
//! of the JS SDK, `guest-sdk/js`) into a component: esbuild bundles the SDK's component
//! glue and the module into one ES module, componentize-js builds it for the world
//! `pier-plugin-granted`. The SDK comes with the `pier` binary; esbuild,
//! componentize-js and zod come from `PIER_JS_TOOLCHAIN` (a folder whose `node_modules`
//! has them) or are installed with npm into the cache on first use. A `zod` of the
//! plugin folder's own `node_modules` is preferred, for the module and the SDK alike
//! (one copy, so schema descriptions registered by one are seen by the other).

use crate::progress::Phase;
use std::path::{Path, PathBuf};

use super::{WIT, build_key, cache, failed, from_cache, into_cache, run, runs, write_once};

pub mod dev;

/// What a missing toolchain is installed at.
pub const TOOLCHAIN: &[&str] = &[
    "esbuild@0.28.2",
    "@bytecodealliance/componentize-js@0.23.0",
    "zod@4.6.7",
];

/// The module a folder's plugin starts from, first found.
pub const ENTRIES: &[&str] = &[
    "server.ts",
    "server.js",
    "server.mjs",
    "index.ts",
    "index.js",
];

/// The JS SDK as the package `pier-sdk`, as `(path, text)`.
const FILES: &[(&str, &str)] = &[
    (
        "node_modules/pier-sdk/package.json",
        include_str!("../../../guest-sdk/js/package.json"),
    ),
    (
        "node_modules/pier-sdk/index.d.ts",
        include_str!("../../../guest-sdk/js/index.d.ts"),
    ),
    (
        "node_modules/pier-sdk/src/component.js",
        include_str!("../../../guest-sdk/js/src/component.js"),
    ),
    (
        "node_modules/pier-sdk/src/config.js",
        include_str!("../../../guest-sdk/js/src/config.js"),
    ),
    (
        "node_modules/pier-sdk/src/extra.js",
        include_str!("../../../guest-sdk/js/src/extra.js"),
    ),
    (
        "node_modules/pier-sdk/src/host.js",
        include_str!("../../../guest-sdk/js/src/host.js"),
    ),
    (
        "node_modules/pier-sdk/src/index.js",
        include_str!("../../../guest-sdk/js/src/index.js"),
    ),
    (
        "node_modules/pier-sdk/src/schema.js",
        include_str!("../../../guest-sdk/js/src/schema.js"),
    ),
    (
        "node_modules/pier-sdk/src/server.js",
        include_str!("../../../guest-sdk/js/src/server.js"),
    ),
    (
        "node_modules/pier-sdk/src/storage.js",
        include_str!("../../../guest-sdk/js/src/storage.js"),
    ),
    (
        "node_modules/pier-sdk/src/uriTemplate.js",
        include_str!("../../../guest-sdk/js/src/uriTemplate.js"),
    ),
];

/// The module `dir`'s plugin starts from, if it has one of [`ENTRIES`].
pub fn entry(dir: &Path) -> Option<PathBuf> {
    ENTRIES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// The JS SDK and WIT of this build of pier, written under `cache` once.
pub fn sdk_dir(cache: &Path) -> Result<PathBuf, String> {
    let files: Vec<(&str, &str)> = FILES.iter().chain(WIT).copied().collect();
    write_once(cache, "js-sdk", &files, "the JavaScript SDK")
}

/// Whether `dir/node_modules` has everything a build runs.
fn complete(dir: &Path) -> bool {
    let modules = dir.join("node_modules");
    modules.join(".bin/esbuild").is_file()
        && modules.join(".bin/componentize-js").is_file()
        && modules.join("zod/package.json").is_file()
}

/// A folder whose `node_modules` has esbuild, componentize-js and zod:
/// `PIER_JS_TOOLCHAIN`, or the cache's, installed there now with npm when missing.
pub async fn toolchain(cache: &Path) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("PIER_JS_TOOLCHAIN") {
        let dir = PathBuf::from(dir);
        if !complete(&dir) {
            return Err(format!(
                "PIER_JS_TOOLCHAIN={}: its node_modules lacks esbuild, @bytecodealliance/componentize-js or zod",
                dir.display()
            ));
        }
        return Ok(dir);
    }
    let dir = cache.join("toolchains").join(format!(
        "js-{}",
        TOOLCHAIN.join("-").replace(['/', '@'], "_")
    ));
    if complete(&dir) {
        return Ok(dir);
    }
    if !runs("npm").await {
        return Err(format!(
            "a JavaScript plugin is built with esbuild and componentize-js: no npm to install them with (install Node.js 20 or newer with npm, or set PIER_JS_TOOLCHAIN to a folder whose node_modules has {})",
            TOOLCHAIN.join(", ")
        ));
    }
    let phase = Phase::start(format!(
        "installing {} into {}",
        TOOLCHAIN.join(", "),
        dir.display()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "install".as_ref(),
        "--prefix".as_ref(),
        dir.as_os_str(),
        "--no-audit".as_ref(),
        "--no-fund".as_ref(),
        "--loglevel=error".as_ref(),
    ];
    args.extend(TOOLCHAIN.iter().map(|p| std::ffi::OsStr::new(*p)));
    if let Err(e) = run("npm", &args).await {
        phase.failed();
        // Half a toolchain would be found next time: none is retried instead.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!("installing {}: {e}", TOOLCHAIN.join(", ")));
    }
    phase.done();
    Ok(dir)
}

/// Builds the plugin folder `dir` from its module `entry` into `out`.
pub async fn build_js(dir: &Path, entry: &Path, out: &Path) -> Result<(), String> {
    // esbuild runs in the plugin's folder: every path it is given must be absolute.
    let out = &std::path::absolute(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let cache = cache()?;
    let sdk = sdk_dir(&cache)?;
    let tools = toolchain(&cache).await?;
    let scratch = out.with_extension(format!("js.{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let built = bundle_and_componentize(dir, entry, out, &sdk, &tools, &scratch).await;
    let _ = std::fs::remove_dir_all(&scratch);
    built
}

async fn bundle_and_componentize(
    dir: &Path,
    entry: &Path,
    out: &Path,
    sdk: &Path,
    tools: &Path,
    scratch: &Path,
) -> Result<(), String> {
    let entry = std::path::absolute(entry).map_err(|e| format!("{}: {e}", entry.display()))?;
    let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // The SDK's glue first (it binds pier's interfaces), then the plugin's module.
    let main = format!(
        "export {{ plugin }} from \"pier-sdk/component\";\nimport {};\n",
        serde_json::Value::String(entry.to_string_lossy().into_owned())
    );
    let main_file = scratch.join("main.js");
    let bundle = scratch.join("bundle.js");
    std::fs::write(&main_file, main).map_err(|e| format!("{}: {e}", main_file.display()))?;
    let modules = [sdk, &dir, tools].map(|d| d.join("node_modules"));
    let outfile = format!("--outfile={}", bundle.display());
    esbuild(
        tools,
        &main_file,
        &modules,
        &dir,
        &["--format=esm", &outfile],
    )
    .await?;
    // The same bundle, SDK and toolchain make the same component: built once.
    let bundled = std::fs::read(&bundle).map_err(|e| format!("{}: {e}", bundle.display()))?;
    let toolchain = TOOLCHAIN.join(",");
    let key = build_key(&[
        b"js",
        sdk.as_os_str().as_encoded_bytes(),
        tools.as_os_str().as_encoded_bytes(),
        toolchain.as_bytes(),
        &bundled,
    ]);
    let cache = cache()?;
    if from_cache(&cache, &key, out) {
        return Ok(());
    }
    componentize(tools, sdk, &bundle, out).await?;
    into_cache(&cache, &key, out);
    Ok(())
}

/// esbuild bundling `entry` (run in `dir`, finding packages in `modules`) with `args`
/// beside the options every pier bundle has; its standard output (the bundle, unless an
/// `--outfile` is given).
async fn esbuild(
    tools: &Path,
    entry: &Path,
    modules: &[PathBuf],
    dir: &Path,
    args: &[&str],
) -> Result<Vec<u8>, String> {
    let node_path = std::env::join_paths(modules).map_err(|e| e.to_string())?;
    let esbuild = tools.join("node_modules/.bin/esbuild");
    let bundled = tokio::process::Command::new(&esbuild)
        .arg(entry)
        .args([
            "--bundle",
            "--platform=neutral",
            "--main-fields=module,main",
            "--external:pier:*",
            "--external:wasi:*",
            "--log-level=error",
        ])
        .args(args)
        .env("NODE_PATH", node_path)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", esbuild.display()))?;
    if !bundled.status.success() {
        return Err(failed("esbuild", &bundled, None));
    }
    Ok(bundled.stdout)
}

/// componentize-js building the ES module `bundle` into `out`, for the world
/// `pier-plugin-granted` of the WIT in `sdk`.
async fn componentize(tools: &Path, sdk: &Path, bundle: &Path, out: &Path) -> Result<(), String> {
    let componentize = tools.join("node_modules/.bin/componentize-js");
    let output = tokio::process::Command::new(&componentize)
        .arg(bundle)
        .arg("--wit")
        .arg(sdk.join("wit"))
        .args([
            "--world-name",
            "pier-plugin-granted",
            "--disable",
            "fetch-event",
            "-o",
        ])
        .arg(out)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", componentize.display()))?;
    if output.status.success() && out.is_file() {
        return Ok(());
    }
    Err(failed("componentize-js", &output, None))
}

#[cfg(test)]
mod tests {
    use super::super::tests::files;
    use super::*;

    #[test]
    fn the_embedded_sdk_is_the_whole_package() {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk/js");
        let mut on_disk = Vec::new();
        files(&sdk, &sdk.join("src"), "js", &mut on_disk);
        on_disk.extend(["package.json".to_string(), "index.d.ts".to_string()]);
        on_disk.sort();
        let mut embedded: Vec<String> = FILES
            .iter()
            .map(|(path, _)| {
                path.trim_start_matches("node_modules/pier-sdk/")
                    .to_string()
            })
            .collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "FILES must list every file of the SDK");
    }

    #[test]
    fn the_entry_is_the_first_module_found() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(entry(dir.path()), None);
        std::fs::write(dir.path().join("index.js"), "").unwrap();
        assert_eq!(entry(dir.path()), Some(dir.path().join("index.js")));
        std::fs::write(dir.path().join("server.ts"), "").unwrap();
        assert_eq!(entry(dir.path()), Some(dir.path().join("server.ts")));
    }
}
