//! Compiling a component apart from the serving process. wasmtime 48 keeps Cranelift's
//! scratch memory for an engine's whole life, and the allocator keeps much of what a
//! compilation freed: compiled in the serving process, a Python or JavaScript component
//! leaves tens to hundreds of MiB behind. The `pier` binary therefore compiles in a
//! child process of itself (`pier __compile-component`), which takes all of it along
//! when it exits; a process that is not the `pier` binary (tests, embedders) compiles
//! in a short-lived engine of its own instead.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use wasmtime::Engine;

/// The argument that makes `pier` a compiler process.
pub const SUBCOMMAND: &str = "__compile-component";

/// The executable that compiles components, when this process has one.
static HELPER: OnceLock<PathBuf> = OnceLock::new();

/// Compiles components in child processes running `exe` (the `pier` binary itself).
pub fn compile_in_processes_of(exe: PathBuf) {
    let _ = HELPER.set(exe);
}

/// Why a component was not compiled.
#[derive(Debug)]
pub enum Failure {
    /// The compiler refused the component (or crashed on it): the plugin is refused.
    Refused(String),
    /// Compiling apart did not work (no process could start, the artifact could not be
    /// written): compile in this process instead.
    Unavailable(String),
}

/// Writes the artifact of the component `bytes`, compiled for an engine built by
/// [`super::engine::build`] with `max_memory_bytes`, to `out`, in a child process;
/// `None` when this process has no helper to run (compile here instead).
pub fn in_child_process(
    max_memory_bytes: usize,
    bytes: &[u8],
    out: &Path,
) -> Option<Result<(), Failure>> {
    HELPER
        .get()
        .map(|exe| in_child(exe, max_memory_bytes, bytes, out))
}

/// Exit code of a compiler process whose component was refused (any other failure: 2).
const REFUSED: u8 = 1;

fn in_child(exe: &Path, max_memory_bytes: usize, bytes: &[u8], out: &Path) -> Result<(), Failure> {
    let mut child = Command::new(exe)
        .arg(SUBCOMMAND)
        .arg(max_memory_bytes.to_string())
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Failure::Unavailable(format!(
                "cannot start the compiler process {}: {e}",
                exe.display()
            ))
        })?;
    // The child reads all of its input before it writes anything.
    let fed = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(bytes))
        .unwrap_or(Ok(()));
    let output = child
        .wait_with_output()
        .map_err(|e| Failure::Unavailable(format!("the compiler process failed: {e}")))?;
    let said = String::from_utf8_lossy(&output.stderr);
    let said = crate::text::clip(said.trim()).into_owned();
    match output.status.code() {
        Some(0) if fed.is_ok() => Ok(()),
        Some(code) if code == i32::from(REFUSED) => Err(Failure::Refused(said)),
        // Killed while compiling this component (a crash, out of memory): refused,
        // never retried in the serving process.
        None => Err(Failure::Refused(format!(
            "the compiler process died compiling it ({}){}",
            output.status,
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        ))),
        Some(_) => Err(Failure::Unavailable(match fed {
            Err(e) => format!("cannot feed the compiler process: {e}"),
            Ok(()) => format!("the compiler process failed ({}): {said}", output.status),
        })),
    }
}

/// `bytes` compiled by an engine of `engine`'s configuration that lives only for this
/// compilation, then the allocator's free memory given back to the system.
pub fn in_short_lived_engine(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
    let compiled = {
        let compiler = Engine::new(engine.config())?;
        compiler.precompile_component(bytes)
    };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free heap memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
    compiled
}

/// The compiler process: `pier __compile-component MAX_MEMORY_BYTES OUT` with the
/// component on stdin; the artifact in OUT, or the reason on stderr and exit code 1
/// (the component was refused) or 2 (anything else).
pub fn serve_one(args: &[String]) -> std::process::ExitCode {
    let fail = |code: u8, message: String| {
        eprintln!("{message}");
        std::process::ExitCode::from(code)
    };
    let [max, out] = args else {
        return fail(2, format!("usage: pier {SUBCOMMAND} MAX_MEMORY_BYTES OUT"));
    };
    let Ok(max) = max.parse::<usize>() else {
        return fail(2, format!("MAX_MEMORY_BYTES: not a number: {max}"));
    };
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        return fail(2, format!("cannot read the component: {e}"));
    }
    let engine = match super::engine::build(max) {
        Ok(engine) => engine,
        Err(e) => return fail(2, e.to_string()),
    };
    let compiled = match engine.precompile_component(&bytes) {
        Ok(compiled) => compiled,
        Err(e) => return fail(REFUSED, format!("{e:#}")),
    };
    match std::fs::write(out, compiled) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(2, format!("cannot write {out}: {e}")),
    }
}
