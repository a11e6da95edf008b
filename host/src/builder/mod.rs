//! Building plugin folders written with pier's SDKs into components: the SDKs
//! (`guest-sdk/python`, `guest-sdk/js`) and the WIT contract are built into the `pier`
//! binary and written to a cache once per content, and each language's toolchain is
//! found or installed into that cache on first use ([`python`], [`js`]).

use std::path::{Path, PathBuf};

pub mod js;
pub mod python;
pub mod rust;
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
    failure_text(
        tool,
        output.status,
        &lines[lines.len().saturating_sub(TAIL_LINES)..],
    )
}

/// `what failed (STATUS)`, and the toolchain's `lines` below when there are any.
fn failure_text(what: &str, status: std::process::ExitStatus, lines: &[&str]) -> String {
    if lines.is_empty() {
        format!("{what} failed ({status})")
    } else {
        format!("{what} failed ({status}):\n{}", lines.join("\n"))
    }
}

/// What a toolchain run left: its status, its standard output (when kept), and the
/// last [`TAIL_LINES`] non-empty lines of its error output.
pub struct Ran {
    /// How it ended.
    pub status: std::process::ExitStatus,
    /// Its standard output, when it was kept (else it went to pier's).
    pub stdout: Vec<u8>,
    /// The end of its error output.
    pub tail: Vec<String>,
}

/// Lines of a toolchain's error output kept for the message of its failure.
pub const TAIL_LINES: usize = 40;

impl Ran {
    /// Why `what` failed: its status and the end of its error output.
    pub fn failure(&self, what: &str) -> String {
        self.failure_without(what, |_| false)
    }

    /// [`Ran::failure`], leaving out the lines `progress` says report progress only.
    pub fn failure_without(&self, what: &str, progress: impl Fn(&str) -> bool) -> String {
        let lines: Vec<&str> = self
            .tail
            .iter()
            .map(String::as_str)
            .filter(|l| !progress(l))
            .collect();
        failure_text(what, self.status, &lines)
    }
}

/// Whether `line` is one of cargo's progress lines (`   Compiling x v0.1.0 (…)`: a
/// right-aligned verb), not a diagnostic.
pub fn cargo_progress(line: &str) -> bool {
    let verb = line.trim_start();
    line.len() > verb.len()
        && verb.split(' ').next().is_some_and(|w| {
            w.len() > 1
                && w.starts_with(|c: char| c.is_ascii_uppercase())
                && w.chars().skip(1).all(|c| c.is_ascii_lowercase())
        })
}

/// Runs `command` (named `what` in errors) with its error output passed through to
/// pier's as it comes, so a person at a terminal sees the toolchain's progress and
/// messages, and kept, so that a failure says why even where pier's error output is
/// not read (the end of it, each line cut to 256 characters). Its standard output is
/// kept when `keep_stdout`, else passed through too.
pub async fn run_passing_through(
    mut command: tokio::process::Command,
    what: &str,
    keep_stdout: bool,
) -> Result<Ran, String> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    command
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if keep_stdout {
        command.stdout(std::process::Stdio::piped());
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let stdout = child.stdout.take();
    let reading = tokio::spawn(async move {
        let mut kept = Vec::new();
        if let Some(mut stdout) = stdout {
            let _ = stdout.read_to_end(&mut kept).await;
        }
        kept
    });
    let mut tail = std::collections::VecDeque::with_capacity(TAIL_LINES);
    if let Some(stderr) = child.stderr.take() {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            crate::progress::eprintln(&line);
            if line.trim().is_empty() {
                continue;
            }
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(crate::text::clip(&line).into_owned());
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    Ok(Ran {
        status,
        stdout: reading.await.unwrap_or_default(),
        tail: tail.into(),
    })
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

/// Runs `program` for an install, its error output passed through and its standard
/// output (npm's summary) left out; a failure says why with the end of its messages.
async fn run(
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&std::ffi::OsStr],
) -> Result<(), String> {
    let program = program.as_ref();
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    let what = program.to_string_lossy();
    let ran = run_passing_through(command, &what, true).await?;
    if ran.status.success() {
        Ok(())
    } else {
        Err(ran.failure(&what))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    #[test]
    fn cargo_progress_lines_are_told_from_its_diagnostics() {
        for progress in [
            "   Compiling greet v0.1.0 (/tmp/greet)",
            "    Updating crates.io index",
            "     Locking 45 packages to latest Rust 1.95.0 compatible versions",
        ] {
            assert!(super::cargo_progress(progress), "{progress}");
        }
        for diagnostic in [
            "error: this file contains an unclosed delimiter",
            " --> src/lib.rs:1:15",
            "  |",
            "1 | fn broken( {}",
            "  |          unclosed delimiter",
            "error: could not compile `greet` (lib) due to 1 previous error",
            "  = note: See the Rust reference",
        ] {
            assert!(!super::cargo_progress(diagnostic), "{diagnostic}");
        }
    }

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
