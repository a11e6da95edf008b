//! The book's getting-started pages work as written: every command block marked
//! `sh,runnable` runs, in page order, in a fresh folder of its own with the built
//! `pier` first on `PATH`, and succeeds; a `text,output` block right after one is the
//! end of what it prints.

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

/// Runs the runnable blocks of the page at `path`.
fn run_page(path: &Path) {
    let page = std::fs::read_to_string(path).unwrap();
    let blocks = blocks(&page);
    assert!(
        blocks.iter().any(|b| b.info == "sh,runnable"),
        "{} has no runnable block",
        path.display()
    );
    let work = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_pier")).parent().unwrap();
    let search = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (i, block) in blocks.iter().enumerate() {
        if block.info != "sh,runnable" {
            continue;
        }
        let output = Command::new("bash")
            .args(["-e", "-o", "pipefail", "-c", &block.text])
            .current_dir(work.path())
            .env("PATH", &search)
            .env("PIER_CACHE_DIR", work.path().join(".cache"))
            // The toolchains `make setup` installed: what pier would install on first use.
            .env(
                "PIER_COMPONENTIZE_PY",
                root().join(".venv/bin/componentize-py"),
            )
            .env("PIER_JS_TOOLCHAIN", root().join("tests/polyglot/js"))
            // Rust builds reuse the workspace's compiled dependencies.
            .env("CARGO_TARGET_DIR", root().join("target"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}:{}: the block failed ({}):\n{}\n{stdout}{}",
            path.display(),
            block.line,
            output.status,
            block.text,
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
