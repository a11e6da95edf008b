//! Building plugin folders written with pier's SDKs into components: the SDKs
//! (`guest-sdk/python`, `guest-sdk/js`) and the WIT contract are built into the `pier`
//! binary and written to a cache once per content, and each language's toolchain is
//! found or installed into that cache on first use ([`python`], [`js`]).

use std::path::{Path, PathBuf};

pub mod js;
pub mod python;
pub mod sources;

pub use python::{build_python, python_sdk, sdk_dir};

/// The WIT files, as `(path, text)`.
pub(crate) const WIT: &[(&str, &str)] = &[
    ("wit/context.wit", include_str!("../../../wit/context.wit")),
    (
        "wit/middleware.wit",
        include_str!("../../../wit/middleware.wit"),
    ),
    ("wit/plugin.wit", include_str!("../../../wit/plugin.wit")),
    ("wit/storage.wit", include_str!("../../../wit/storage.wit")),
    ("wit/types.wit", include_str!("../../../wit/types.wit")),
    (
        "wit/deps/config/store.wit",
        include_str!("../../../wit/deps/config/store.wit"),
    ),
    (
        "wit/deps/config/world.wit",
        include_str!("../../../wit/deps/config/world.wit"),
    ),
    (
        "wit/deps/wasi-cli.wit",
        include_str!("../../../wit/deps/wasi-cli.wit"),
    ),
    (
        "wit/deps/wasi-clocks.wit",
        include_str!("../../../wit/deps/wasi-clocks.wit"),
    ),
    (
        "wit/deps/wasi-filesystem.wit",
        include_str!("../../../wit/deps/wasi-filesystem.wit"),
    ),
    (
        "wit/deps/wasi-http.wit",
        include_str!("../../../wit/deps/wasi-http.wit"),
    ),
    (
        "wit/deps/wasi-io.wit",
        include_str!("../../../wit/deps/wasi-io.wit"),
    ),
    (
        "wit/deps/wasi-random.wit",
        include_str!("../../../wit/deps/wasi-random.wit"),
    ),
    (
        "wit/deps/wasi-sockets.wit",
        include_str!("../../../wit/deps/wasi-sockets.wit"),
    ),
];

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

/// pier's cache directory, created when missing, as an absolute path (tools run in
/// the plugin's folder are given paths under it).
fn cache() -> Result<PathBuf, String> {
    let cache = cache_dir()?;
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    std::path::absolute(&cache).map_err(|e| format!("{}: {e}", cache.display()))
}

/// Components kept in the build cache (`builds/` of the cache); the least recently used
/// go first.
const CACHED_BUILDS: usize = 16;

/// The key of a build: a hash of every `part` (what the component is made from).
fn build_key(parts: &[&[u8]]) -> String {
    let mut all = Vec::new();
    for part in parts {
        all.extend_from_slice(&(part.len() as u64).to_le_bytes());
        all.extend_from_slice(part);
    }
    crate::runtime::AotCache::content_hash(&all)
}

/// Copies the component built before under `key` to `out`; whether there was one.
fn from_cache(cache: &Path, key: &str, out: &Path) -> bool {
    let kept = cache.join("builds").join(format!("{key}.wasm"));
    if std::fs::copy(&kept, out).is_err() {
        return false;
    }
    // Used now: the last to go.
    if let Ok(file) = std::fs::File::options().write(true).open(&kept) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
    true
}

/// Keeps the component `out` in the cache under `key` (written beside, then renamed),
/// and lets the least recently used beyond [`CACHED_BUILDS`] go. A cache that cannot
/// be written is only a slower next build.
fn into_cache(cache: &Path, key: &str, out: &Path) {
    let builds = cache.join("builds");
    let partial = builds.join(format!(".{key}.{}", std::process::id()));
    let kept = std::fs::create_dir_all(&builds)
        .and_then(|()| std::fs::copy(out, &partial))
        .and_then(|_| std::fs::rename(&partial, builds.join(format!("{key}.wasm"))));
    if kept.is_err() {
        let _ = std::fs::remove_file(&partial);
        return;
    }
    let Ok(entries) = std::fs::read_dir(&builds) else {
        return;
    };
    let mut built: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".wasm"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    built.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (_, old) in built.into_iter().skip(CACHED_BUILDS) {
        let _ = std::fs::remove_file(old);
    }
}

/// `files` written under `cache` once: a folder `PREFIX-HASH` per content hash,
/// completed by a rename (`what` names it in errors).
fn write_once(
    cache: &Path,
    prefix: &str,
    files: &[(&str, &str)],
    what: &str,
) -> Result<PathBuf, String> {
    let mut all = String::new();
    for (path, text) in files {
        all.push_str(path);
        all.push('\0');
        all.push_str(text);
    }
    let hash = crate::runtime::AotCache::content_hash(all.as_bytes());
    let dir = cache.join(format!("{prefix}-{}", &hash[..16]));
    if dir.is_dir() {
        return Ok(dir);
    }
    let partial = cache.join(format!(".{prefix}-{}.{}", &hash[..16], std::process::id()));
    let write = || -> std::io::Result<()> {
        for (path, text) in files {
            let file = partial.join(path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(file, text)?;
        }
        Ok(())
    };
    write().map_err(|e| format!("cannot write {what} under {}: {e}", cache.display()))?;
    if let Err(e) = std::fs::rename(&partial, &dir) {
        let _ = std::fs::remove_dir_all(&partial);
        if !dir.is_dir() {
            return Err(format!("cannot place {what} at {}: {e}", dir.display()));
        }
    }
    Ok(dir)
}

/// Why `tool` failed: its status and the last 40 non-empty lines of its error output
/// (up to a line starting with `stop`).
fn failed(tool: &str, output: &std::process::Output, stop: Option<&str>) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .take_while(|l| stop.is_none_or(|stop| !l.starts_with(stop)))
        .filter(|l| !l.trim().is_empty())
        .collect();
    format!(
        "{tool} failed ({}):\n{}",
        output.status,
        lines[lines.len().saturating_sub(40)..].join("\n")
    )
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

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    /// Every file of `dir` (recursively) ending in `ext`, relative to `base`.
    pub(crate) fn files(base: &Path, dir: &Path, ext: &str, out: &mut Vec<String>) {
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
}
