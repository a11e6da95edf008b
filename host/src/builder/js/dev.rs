//! `pier dev`'s JavaScript interpreter: one component with the JS SDK and zod, built
//! once per SDK and toolchain, that runs a plugin's module handed to it as text (the
//! configuration key [`DEV_MODULE`]); and the bundling of a folder's module for it
//! (esbuild, CommonJS, `pier-sdk` and `zod` left to the interpreter). A save re-bundles
//! in a fraction of a second: no componentize-js, no compilation.

use crate::progress::Phase;
use std::path::{Path, PathBuf};

use super::{TOOLCHAIN, build_key, cache, componentize, esbuild, sdk_dir, toolchain};

/// The configuration key under which the interpreter finds the plugin's module (the
/// JS SDK's `config.getAll()` leaves it out).
pub const DEV_MODULE: &str = "pier:dev-module";

/// Largest bundled module the interpreter is handed.
pub const MAX_MODULE_BYTES: usize = 8 << 20;

/// The interpreter's entry module.
const ENTRY: &str = include_str!("../dev_entry.js");

/// The interpreter component, built (in the cache) when missing.
pub async fn dev_interpreter() -> Result<PathBuf, String> {
    let cache = cache()?;
    let sdk = sdk_dir(&cache)?;
    let tools = toolchain(&cache).await?;
    let toolchain = TOOLCHAIN.join(",");
    let key = build_key(&[
        b"js-dev",
        sdk.as_os_str().as_encoded_bytes(),
        tools.as_os_str().as_encoded_bytes(),
        toolchain.as_bytes(),
        ENTRY.as_bytes(),
    ]);
    let out = cache.join(format!("js-dev-{}.wasm", &key[..16]));
    if out.is_file() {
        return Ok(out);
    }
    let phase = Phase::start(format!(
        "building the JavaScript interpreter `pier dev` serves JS folders with (once for this version of pier): {}",
        out.display()
    ));
    let scratch = cache.join(format!(".js-dev-{}.{}", &key[..16], std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let built = build(&sdk, &tools, &scratch, &out).await;
    let _ = std::fs::remove_dir_all(&scratch);
    match &built {
        Ok(()) => phase.done(),
        Err(_) => phase.failed(),
    }
    built.map(|()| out)
}

async fn build(sdk: &Path, tools: &Path, scratch: &Path, out: &Path) -> Result<(), String> {
    let entry = scratch.join("entry.js");
    let bundle = scratch.join("bundle.js");
    let partial = scratch.join("interpreter.wasm");
    std::fs::write(&entry, ENTRY).map_err(|e| format!("{}: {e}", entry.display()))?;
    let modules = [sdk, tools].map(|d| d.join("node_modules"));
    let outfile = format!("--outfile={}", bundle.display());
    esbuild(
        tools,
        &entry,
        &modules,
        scratch,
        &["--format=esm", &outfile],
    )
    .await?;
    componentize(tools, sdk, &bundle, &partial).await?;
    std::fs::rename(&partial, out).map_err(|e| format!("{}: {e}", out.display()))
}

/// The module `entry` of the plugin folder `dir`, bundled for the interpreter: one
/// CommonJS text with everything but `pier-sdk` and `zod` (which the interpreter
/// provides) inside.
pub async fn bundle(dir: &Path, entry: &Path) -> Result<String, String> {
    let cache = cache()?;
    let sdk = sdk_dir(&cache)?;
    let tools = toolchain(&cache).await?;
    let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let entry = std::path::absolute(entry).map_err(|e| format!("{}: {e}", entry.display()))?;
    let modules = [&sdk, &dir, &tools].map(|d| d.join("node_modules"));
    let args = [
        "--format=cjs",
        "--external:pier-sdk",
        "--external:zod",
        "--external:zod/*",
    ];
    let bundled = esbuild(&tools, &entry, &modules, &dir, &args).await?;
    let text = String::from_utf8(bundled)
        .map_err(|_| "esbuild wrote a bundle that is not UTF-8".to_string())?;
    if text.len() > MAX_MODULE_BYTES {
        return Err(format!(
            "the bundled module is {:.1} MiB; pier dev hands its interpreter at most {} MiB (pier build it instead)",
            text.len() as f64 / f64::from(1 << 20),
            MAX_MODULE_BYTES >> 20
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interpreter_and_the_sdk_name_the_same_key() {
        let config = include_str!("../../../../guest-sdk/js/src/config.js");
        assert!(config.contains(&format!("DEV_MODULE = '{DEV_MODULE}'")));
        assert!(ENTRY.contains("get(DEV_MODULE)"));
    }
}
