//! Building a Python plugin folder (a FastMCP-style `server.py`) into a component: the
//! Python SDK (`guest-sdk/python`) and the WIT contract are built into the `pier`
//! binary and written to a cache once per version, and componentize-py is found
//! (`PIER_COMPONENTIZE_PY`, then `PATH`) or installed into a private virtual environment
//! of that cache on first use.

use crate::progress::Phase;
use std::path::{Path, PathBuf};

use super::{WIT, build_key, cache, failed, from_cache, into_cache, run, runs, write_once};

/// The componentize-py release a missing toolchain is installed at.
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// The Python SDK, as `(path, text)`.
const FILES: &[(&str, &str)] = &[
    (
        "pier_sdk/__init__.py",
        include_str!("../../../guest-sdk/python/pier_sdk/__init__.py"),
    ),
    (
        "pier_sdk/_component.py",
        include_str!("../../../guest-sdk/python/pier_sdk/_component.py"),
    ),
    (
        "pier_sdk/config.py",
        include_str!("../../../guest-sdk/python/pier_sdk/config.py"),
    ),
    (
        "pier_sdk/content.py",
        include_str!("../../../guest-sdk/python/pier_sdk/content.py"),
    ),
    (
        "pier_sdk/context.py",
        include_str!("../../../guest-sdk/python/pier_sdk/context.py"),
    ),
    (
        "pier_sdk/http.py",
        include_str!("../../../guest-sdk/python/pier_sdk/http.py"),
    ),
    (
        "pier_sdk/prompts.py",
        include_str!("../../../guest-sdk/python/pier_sdk/prompts.py"),
    ),
    (
        "pier_sdk/resources.py",
        include_str!("../../../guest-sdk/python/pier_sdk/resources.py"),
    ),
    (
        "pier_sdk/schema.py",
        include_str!("../../../guest-sdk/python/pier_sdk/schema.py"),
    ),
    (
        "pier_sdk/server.py",
        include_str!("../../../guest-sdk/python/pier_sdk/server.py"),
    ),
    (
        "pier_sdk/storage.py",
        include_str!("../../../guest-sdk/python/pier_sdk/storage.py"),
    ),
];

/// The component's entry module: it imports the server file (which makes its FastMCP
/// server) and the SDK's export of it.
const SHIM: &str =
    "import server  # noqa: F401\nfrom pier_sdk._component import Plugin  # noqa: F401\n";

/// The entry module of `pier dev`'s Python interpreter ([`dev_interpreter`]): the SDK
/// and every standard module that imports in a component, snapshotted; the plugin's
/// `server.py` is imported from `/pier-dev/src` at each instance's first call.
const DEV_SHIM: &str = include_str!("dev_app.py");

/// Where `pier dev`'s Python interpreter finds a plugin's folder (a read-only preopen).
pub const DEV_SOURCE: &str = "/pier-dev/src";

/// The Python SDK and WIT of this build of pier, written under `cache` once (a folder
/// per content hash, completed by a rename), with the component's entry module (and
/// that of `pier dev`'s interpreter).
pub fn sdk_dir(cache: &Path) -> Result<PathBuf, String> {
    let files: Vec<(&str, &str)> = FILES
        .iter()
        .chain(WIT)
        .copied()
        .chain([("app.py", SHIM), ("dev_app.py", DEV_SHIM)])
        .collect();
    write_once(cache, "sdk", &files, "the Python SDK")
}

/// `pier dev`'s Python interpreter: one component for every Python plugin folder,
/// built once per SDK (in the cache, beside it) with componentize-py; it serves the
/// `server.py` of the folder pier grants it at [`DEV_SOURCE`], so that a saved file
/// needs no build. Same SDK, same world, same limits as what `pier build` makes; the
/// server module runs when an instance starts rather than when the component is built.
pub async fn dev_interpreter() -> Result<PathBuf, String> {
    let cache = cache()?;
    let sdk = sdk_dir(&cache)?;
    let name = sdk
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out = cache.join(format!("python-dev-{name}.wasm"));
    if out.is_file() {
        return Ok(out);
    }
    let tool = componentize_py(&cache).await?;
    let phase = Phase::start(format!(
        "building the Python interpreter `pier dev` serves Python folders with (once for this version of pier): {}",
        out.display()
    ));
    let partial = cache.join(format!(".python-dev-{name}.{}.wasm", std::process::id()));
    let output = tokio::process::Command::new(&tool)
        .arg("-d")
        .arg(sdk.join("wit"))
        .args(["-w", "pier-plugin-granted", "componentize", "-p"])
        .arg(&sdk)
        .arg("dev_app")
        .arg("-o")
        .arg(&partial)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", tool.display()))?;
    if !output.status.success() || !partial.is_file() {
        phase.failed();
        let _ = std::fs::remove_file(&partial);
        return Err(failed("componentize-py", &output, Some("Stack backtrace:")));
    }
    std::fs::rename(&partial, &out).map_err(|e| format!("{}: {e}", out.display()))?;
    phase.done();
    Ok(out)
}

/// The Python SDK of this build of pier, in pier's cache (`pier build --sdk-path`).
pub fn python_sdk() -> Result<PathBuf, String> {
    sdk_dir(&cache()?)
}

/// A componentize-py to run: `PIER_COMPONENTIZE_PY`, one on `PATH`, or the one of the
/// cache's private environment, installed there now when missing.
pub async fn componentize_py(cache: &Path) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("PIER_COMPONENTIZE_PY") {
        return Ok(PathBuf::from(path));
    }
    if runs("componentize-py").await {
        return Ok(PathBuf::from("componentize-py"));
    }
    let venv = cache
        .join("toolchains")
        .join(COMPONENTIZE_PY.replace("==", "-"));
    let tool = venv.join("bin/componentize-py");
    if tool.is_file() {
        return Ok(tool);
    }
    if !runs("python3").await {
        return Err(format!(
            "a Python plugin is built with componentize-py: none on PATH, and no python3 to install {COMPONENTIZE_PY} with (install Python 3.10 or newer, or set PIER_COMPONENTIZE_PY)"
        ));
    }
    let phase = Phase::start(format!(
        "installing {COMPONENTIZE_PY} into {}",
        venv.display()
    ));
    let installed = async {
        run(
            "python3",
            &["-m".as_ref(), "venv".as_ref(), venv.as_os_str()],
        )
        .await?;
        let pip = venv.join("bin/pip");
        let args: [&std::ffi::OsStr; 4] = [
            "install".as_ref(),
            "--quiet".as_ref(),
            "--disable-pip-version-check".as_ref(),
            COMPONENTIZE_PY.as_ref(),
        ];
        run(pip.as_os_str(), &args).await
    }
    .await;
    if let Err(e) = installed {
        phase.failed();
        // Half an environment would be found next time: none is retried instead.
        let _ = std::fs::remove_dir_all(&venv);
        return Err(format!("installing {COMPONENTIZE_PY}: {e}"));
    }
    phase.done();
    Ok(tool)
}

/// What tells one toolchain executable from another: its path, size and modification
/// time (a reinstalled or upgraded tool is another).
fn tool_identity(tool: &Path) -> String {
    let found = if tool.components().count() == 1 {
        // A bare name found on PATH.
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| tool.to_path_buf())
    } else {
        tool.to_path_buf()
    };
    let meta = std::fs::metadata(&found).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}\0{}\0{modified}",
        found.display(),
        meta.map_or(0, |m| m.len())
    )
}

/// Builds the Python plugin folder `dir` (its `server.py`) into `out`, for the world
/// `pier-plugin-granted`.
pub async fn build_python(dir: &Path, out: &Path) -> Result<(), String> {
    let cache = cache()?;
    let sdk = sdk_dir(&cache)?;
    let tool = componentize_py(&cache).await?;
    // The same sources, SDK and componentize-py make the same component: built once.
    let sources = {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || super::sources::Sources::read(&dir))
            .await
            .map_err(|e| e.to_string())??
    };
    let key = build_key(&[
        b"python",
        sdk.as_os_str().as_encoded_bytes(),
        tool_identity(&tool).as_bytes(),
        sources.revision.as_bytes(),
    ]);
    if from_cache(&cache, &key, out) {
        return Ok(());
    }
    let output = tokio::process::Command::new(&tool)
        .arg("-d")
        .arg(sdk.join("wit"))
        .args(["-w", "pier-plugin-granted", "componentize", "-p"])
        .arg(dir)
        .arg("-p")
        .arg(&sdk)
        .arg("app")
        .arg("-o")
        .arg(out)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", tool.display()))?;
    if output.status.success() && out.is_file() {
        into_cache(&cache, &key, out);
        return Ok(());
    }
    // componentize-py prints the Python traceback, then its own backtrace: keep the first.
    Err(failed("componentize-py", &output, Some("Stack backtrace:")))
}

#[cfg(test)]
mod tests {
    use super::super::tests::files;
    use super::*;

    #[test]
    fn the_embedded_sdk_and_wit_are_the_whole_tree() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut on_disk = Vec::new();
        let sdk = repo.join("guest-sdk/python");
        files(&sdk, &sdk.join("pier_sdk"), "py", &mut on_disk);
        files(&repo, &repo.join("wit"), "wit", &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = FILES
            .iter()
            .chain(WIT)
            .map(|(path, _)| path.to_string())
            .collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "FILES must list every SDK and WIT file");
    }

    #[test]
    fn the_dev_interpreter_reads_where_pier_grants() {
        assert!(DEV_SHIM.contains(&format!("_component.source = \"{DEV_SOURCE}\"")));
    }

    #[test]
    fn the_sdk_is_written_once_per_content() {
        let cache = tempfile::tempdir().unwrap();
        let first = sdk_dir(cache.path()).unwrap();
        assert!(first.join("pier_sdk/server.py").is_file());
        assert!(first.join("wit/deps/config/store.wit").is_file());
        assert_eq!(std::fs::read_to_string(first.join("app.py")).unwrap(), SHIM);
        assert_eq!(sdk_dir(cache.path()).unwrap(), first);
        let entries = std::fs::read_dir(cache.path()).unwrap().count();
        assert_eq!(entries, 1, "no partial folder is left");
    }
}
