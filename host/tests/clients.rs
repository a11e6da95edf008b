//! Real external MCP clients against the built `pier` binary: the Python `mcp` SDK and
//! FastMCP's `Client` (installed into `.venv` by `make setup`), over HTTP and stdio.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::{Value, json};

fn python() -> std::path::PathBuf {
    let path = root().join(".venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run `make setup` (or `make test`)",
        path.display()
    );
    path
}

fn smoke(args: &[&str]) -> Value {
    let output = Command::new(python())
        .arg(root().join("tests/clients/smoke.py"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "smoke.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("smoke.py prints JSON")
}

/// What each client must have seen.
fn expected() -> Value {
    let seen = json!({
        "tools": ["calc_add", "calc_countdown", "calc_divide", "hello_greet"],
        "greet": "Hello, Ada!",
        "add": "5",
        "add_structured": { "result": 5.0 },
        "add_is_error": false
    });
    json!({ "mcp": seen, "fastmcp": seen })
}

#[tokio::test]
async fn python_clients_work_over_http() {
    let dir = PluginDir::examples();
    let mut pier = Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["serve", "--listen", "127.0.0.1:0", "--plugins"])
        .arg(dir.path())
        .arg("--data-dir")
        .arg(shared_data_dir())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(pier.stderr.take().unwrap());
    let mut url = None;
    let mut line = String::new();
    while url.is_none() && stderr.read_line(&mut line).unwrap() > 0 {
        url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") && w.ends_with("/mcp"))
            .map(String::from);
        line.clear();
    }
    let url = url.expect("pier prints the bound address");
    // Keep draining stderr so pier never blocks on a full pipe.
    std::thread::spawn(move || for _ in stderr.lines() {});
    // The address is printed before plugins load: wait (bounded) for /ready.
    let ready = url.replace("/mcp", "/ready");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = reqwest::get(&ready).await.map(|r| r.status().as_u16()).ok();
        if status == Some(200) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pier never became ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let seen = smoke(&["http", &url]);
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(pier.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = pier.wait().unwrap();
    assert!(status.success(), "pier exits 0 after SIGTERM: {status}");
    assert_eq!(seen, expected());
}

#[test]
fn python_clients_work_over_stdio() {
    let dir = PluginDir::examples();
    let seen = smoke(&[
        "stdio",
        env!("CARGO_BIN_EXE_pier"),
        dir.path().to_str().unwrap(),
        shared_data_dir().to_str().unwrap(),
    ]);
    assert_eq!(seen, expected());
}
