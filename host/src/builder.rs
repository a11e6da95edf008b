//! Building a Python plugin folder (a FastMCP-style `server.py`) into a component: the
//! Python SDK (`guest-sdk/python`) and the WIT contract are built into the `pier`
//! binary and written to a cache once per version, and componentize-py is found
//! (`PIER_COMPONENTIZE_PY`, then `PATH`) or installed into a private virtual environment
//! of that cache on first use.

use std::path::{Path, PathBuf};

/// The componentize-py release a missing toolchain is installed at.
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// The Python SDK and the WIT files, as `(path, text)`.
const FILES: &[(&str, &str)] = &[
    (
        "pier_sdk/__init__.py",
        include_str!("../../guest-sdk/python/pier_sdk/__init__.py"),
    ),
    (
        "pier_sdk/_component.py",
        include_str!("../../guest-sdk/python/pier_sdk/_component.py"),
    ),
    (
        "pier_sdk/config.py",
        include_str!("../../guest-sdk/python/pier_sdk/config.py"),
    ),
    (
        "pier_sdk/content.py",
        include_str!("../../guest-sdk/python/pier_sdk/content.py"),
    ),
    (
        "pier_sdk/context.py",
        include_str!("../../guest-sdk/python/pier_sdk/context.py"),
    ),
    (
        "pier_sdk/http.py",
        include_str!("../../guest-sdk/python/pier_sdk/http.py"),
    ),
    (
        "pier_sdk/prompts.py",
        include_str!("../../guest-sdk/python/pier_sdk/prompts.py"),
    ),
    (
        "pier_sdk/resources.py",
        include_str!("../../guest-sdk/python/pier_sdk/resources.py"),
    ),
    (
        "pier_sdk/schema.py",
        include_str!("../../guest-sdk/python/pier_sdk/schema.py"),
    ),
    (
        "pier_sdk/server.py",
        include_str!("../../guest-sdk/python/pier_sdk/server.py"),
    ),
    (
        "pier_sdk/storage.py",
        include_str!("../../guest-sdk/python/pier_sdk/storage.py"),
    ),
    ("wit/context.wit", include_str!("../../wit/context.wit")),
    (
        "wit/middleware.wit",
        include_str!("../../wit/middleware.wit"),
    ),
    ("wit/plugin.wit", include_str!("../../wit/plugin.wit")),
    ("wit/storage.wit", include_str!("../../wit/storage.wit")),
    ("wit/types.wit", include_str!("../../wit/types.wit")),
    (
        "wit/deps/config/store.wit",
        include_str!("../../wit/deps/config/store.wit"),
    ),
    (
        "wit/deps/config/world.wit",
        include_str!("../../wit/deps/config/world.wit"),
    ),
    (
        "wit/deps/wasi-cli.wit",
        include_str!("../../wit/deps/wasi-cli.wit"),
    ),
    (
        "wit/deps/wasi-clocks.wit",
        include_str!("../../wit/deps/wasi-clocks.wit"),
    ),
    (
        "wit/deps/wasi-filesystem.wit",
        include_str!("../../wit/deps/wasi-filesystem.wit"),
    ),
    (
        "wit/deps/wasi-http.wit",
        include_str!("../../wit/deps/wasi-http.wit"),
    ),
    (
        "wit/deps/wasi-io.wit",
        include_str!("../../wit/deps/wasi-io.wit"),
    ),
    (
        "wit/deps/wasi-random.wit",
        include_str!("../../wit/deps/wasi-random.wit"),
    ),
    (
        "wit/deps/wasi-sockets.wit",
        include_str!("../../wit/deps/wasi-sockets.wit"),
    ),
];

/// The component's entry module: it imports the server file (which makes its FastMCP
/// server) and the SDK's export of it.
const SHIM: &str =
    "import server  # noqa: F401\nfrom pier_sdk._component import Plugin  # noqa: F401\n";

/// pier's cache directory: `PIER_CACHE_DIR`, else `$XDG_CACHE_HOME/pier`, else
/// `~/.cache/pier`.
pub fn cache_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("PIER_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("pier"));
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/pier"))
        .ok_or_else(|| "no cache directory: set PIER_CACHE_DIR (or HOME)".to_string())
}

/// The SDK and WIT of this build of pier, written under `cache` once (a folder per
/// content hash, completed by a rename).
pub fn sdk_dir(cache: &Path) -> Result<PathBuf, String> {
    let mut all = String::new();
    for (path, text) in FILES {
        all.push_str(path);
        all.push('\0');
        all.push_str(text);
    }
    let hash = crate::runtime::AotCache::content_hash(all.as_bytes());
    let dir = cache.join(format!("sdk-{}", &hash[..16]));
    if dir.is_dir() {
        return Ok(dir);
    }
    let partial = cache.join(format!(".sdk-{}.{}", &hash[..16], std::process::id()));
    let write = || -> std::io::Result<()> {
        for (path, text) in FILES {
            let file = partial.join(path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(file, text)?;
        }
        std::fs::write(partial.join("app.py"), SHIM)?;
        Ok(())
    };
    write().map_err(|e| format!("cannot write the Python SDK under {}: {e}", cache.display()))?;
    if let Err(e) = std::fs::rename(&partial, &dir) {
        let _ = std::fs::remove_dir_all(&partial);
        if !dir.is_dir() {
            return Err(format!(
                "cannot place the Python SDK at {}: {e}",
                dir.display()
            ));
        }
    }
    Ok(dir)
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
    eprintln!("pier: installing {COMPONENTIZE_PY} into {}", venv.display());
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
        // Half an environment would be found next time: none is retried instead.
        let _ = std::fs::remove_dir_all(&venv);
        return Err(format!("installing {COMPONENTIZE_PY}: {e}"));
    }
    Ok(tool)
}

/// Whether `program --version` runs.
async fn runs(program: &str) -> bool {
    tokio::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

async fn run(
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&std::ffi::OsStr],
) -> Result<(), String> {
    let program = program.as_ref();
    let status = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .status()
        .await
        .map_err(|e| format!("cannot run {}: {e}", program.to_string_lossy()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", program.to_string_lossy()))
    }
}

/// Builds the Python plugin folder `dir` (its `server.py`) into `out`, for the world
/// `pier-plugin-granted`.
pub async fn build_python(dir: &Path, out: &Path) -> Result<(), String> {
    let cache = cache_dir()?;
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let sdk = sdk_dir(&cache)?;
    let tool = componentize_py(&cache).await?;
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
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // componentize-py prints the Python traceback, then its own backtrace: keep the first.
    let reason: Vec<&str> = stderr
        .lines()
        .take_while(|l| !l.starts_with("Stack backtrace:"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let tail = &reason[reason.len().saturating_sub(40)..];
    Err(format!(
        "componentize-py failed ({}):\n{}",
        output.status,
        tail.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of `dir` (recursively) ending in `ext`, relative to `base`.
    fn files(base: &Path, dir: &Path, ext: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(base, &path, ext, out);
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(
                    path.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }

    #[test]
    fn the_embedded_sdk_and_wit_are_the_whole_tree() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut on_disk = Vec::new();
        let sdk = repo.join("guest-sdk/python");
        files(&sdk, &sdk.join("pier_sdk"), "py", &mut on_disk);
        files(&repo, &repo.join("wit"), "wit", &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(path, _)| path.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "FILES must list every SDK and WIT file");
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
