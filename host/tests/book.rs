//! The book's getting-started pages work as written, in page order, in a fresh folder
//! of their own with the built `pier` first on `PATH`:
//!
//! - a `sh,runnable` block runs and succeeds; a `text,output` block right after one is
//!   the end of what it prints;
//! - a `sh,runnable,background` block (`pier dev`, `pier serve`) is started and left
//!   running until the next such block or the page's end (then stopped as with
//!   Ctrl-C), once it serves: `pier dev` when its first builds are done, `pier serve`
//!   when `/ready` answers 200;
//! - a `python,runnable` block (a client) runs under the Python of `make setup`, whose
//!   `mcp` package is the one a reader installs, and is checked like a command.
//!
//! The pages' address, `127.0.0.1:8000`, is a free port of the test's instead
//! (`PIER_SERVER_LISTEN` for pier, the same text replaced in the blocks).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::root;

/// A fenced code block: its info string and its text.
struct Block {
    info: String,
    text: String,
    line: usize,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in markdown.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    text: String::new(),
                    line: n + 1,
                })
            }
            (Some(_), Some("")) => blocks.extend(open.take()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks
}

/// The info strings of the blocks that run.
const COMMAND: &str = "sh,runnable";
const SERVER: &str = "sh,runnable,background";
const CLIENT: &str = "python,runnable";

/// A server a `sh,runnable,background` block started; stopped with its process group
/// when dropped.
struct Server {
    child: std::process::Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `script` in `dir` and waits (bounded: a first `pier dev` builds an
    /// interpreter) until it serves at `addr`.
    fn start(mut command: Command, script: &str, addr: &str, log: PathBuf) -> Self {
        use std::os::unix::process::CommandExt;
        let file = std::fs::File::create(&log).unwrap();
        let child = command
            .args(["-e", "-o", "pipefail", "-c", script])
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .unwrap();
        let mut server = Self { child, log };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
        loop {
            let said = std::fs::read_to_string(&server.log).unwrap_or_default();
            let serving = if script.contains("pier dev") {
                // Its first round of builds is over.
                said.lines().any(|l| l.starts_with("pier dev: watching "))
            } else {
                ready(addr)
            };
            if serving {
                return server;
            }
            let ended = server.child.try_wait().unwrap();
            assert!(
                ended.is_none() && std::time::Instant::now() < deadline,
                "`{}` does not serve ({ended:?}):\n{said}",
                script.trim()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// Whether `GET /ready` at `addr` answers 200.
fn ready(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let mut answer = String::new();
    stream
        .write_all(b"GET /ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .and_then(|()| stream.read_to_string(&mut answer))
        .is_ok()
        && answer.split_whitespace().nth(1) == Some("200")
}

/// Runs the runnable blocks of the page at `path`.
fn run_page(path: &Path) {
    let page = std::fs::read_to_string(path).unwrap();
    let blocks = blocks(&page);
    assert!(
        blocks.iter().any(|b| b.info == COMMAND),
        "{} has no runnable block",
        path.display()
    );
    let work = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .to_string();
    let bin = Path::new(env!("CARGO_BIN_EXE_pier")).parent().unwrap();
    let search = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let shell = |program: &Path| {
        let mut command = Command::new(program);
        command
            .current_dir(work.path())
            .env("PATH", &search)
            .env("PIER_CACHE_DIR", work.path().join(".cache"))
            .env("PIER_SERVER_LISTEN", &addr)
            // The toolchains `make setup` installed: what pier would install on first use.
            .env(
                "PIER_COMPONENTIZE_PY",
                root().join(".venv/bin/componentize-py"),
            )
            .env("PIER_JS_TOOLCHAIN", root().join("tests/polyglot/js"))
            // Rust builds reuse the workspace's compiled dependencies.
            .env("CARGO_TARGET_DIR", root().join("target"));
        command
    };
    let mut server: Option<Server> = None;
    for (i, block) in blocks.iter().enumerate() {
        let text = block.text.replace("127.0.0.1:8000", &addr);
        let mut command = match block.info.as_str() {
            COMMAND => shell(Path::new("bash")),
            CLIENT => shell(&root().join(".venv/bin/python")),
            SERVER => {
                // One server at a time: the pages serve at one address.
                drop(server.take());
                let log = logs.path().join(format!("server-{}.log", block.line));
                server = Some(Server::start(shell(Path::new("bash")), &text, &addr, log));
                continue;
            }
            _ => continue,
        };
        let output = match block.info.as_str() {
            CLIENT => command.args(["-c", &text]),
            _ => command.args(["-e", "-o", "pipefail", "-c", &text]),
        }
        .output()
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let served = server
            .as_ref()
            .map(|s| std::fs::read_to_string(&s.log).unwrap_or_default())
            .unwrap_or_default();
        assert!(
            output.status.success(),
            "{}:{}: the block failed ({}):\n{text}\n{stdout}{}\nthe server said:\n{served}",
            path.display(),
            block.line,
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        if let Some(expected) = blocks.get(i + 1).filter(|b| b.info == "text,output") {
            assert!(
                stdout.trim_end().ends_with(expected.text.trim_end()),
                "{}:{}: the block printed\n{stdout}\nnot, at its end,\n{}",
                path.display(),
                block.line,
                expected.text
            );
        }
    }
}

fn page(name: &str) -> PathBuf {
    root().join("docs/src/getting-started").join(name)
}

#[test]
fn the_python_page_works_as_written() {
    run_page(&page("python.md"));
}

#[test]
fn the_typescript_page_works_as_written() {
    run_page(&page("typescript.md"));
}

#[test]
fn the_rust_page_works_as_written() {
    run_page(&page("rust.md"));
}

#[test]
fn code_blocks_are_read_with_their_info_and_line() {
    let found = blocks("text\n```sh,runnable\npier new x\n```\n\n```text,output\nok\n```\n");
    let found: Vec<(&str, &str, usize)> = found
        .iter()
        .map(|b| (b.info.as_str(), b.text.as_str(), b.line))
        .collect();
    assert_eq!(
        found,
        [
            ("sh,runnable", "pier new x\n", 2),
            ("text,output", "ok\n", 6)
        ]
    );
}
