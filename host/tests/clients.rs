//! Real external MCP clients against the built `pier` binary: the Python `mcp` SDK and
//! FastMCP's `Client` (installed into `.venv` by `make setup`), over HTTP and stdio.

mod common;

use std::process::Command;

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

/// What each client must have seen, having negotiated `mcp` and `fastmcp`.
fn expected(mcp: &str, fastmcp: &str) -> Value {
    let seen = |protocol: &str| {
        json!({
            "protocol": protocol,
            "tools": ["calc_add", "calc_countdown", "calc_divide", "hello_greet"],
            "greet": "Hello, Ada!",
            "add": "5",
            "add_structured": { "result": 5.0 },
            "add_is_error": false
        })
    };
    json!({ "mcp": seen(mcp), "fastmcp": seen(fastmcp) })
}

/// The `mcp` SDK's `ClientSession` initializes (2025-11-25); FastMCP's `Client` speaks
/// the newest revision pier does. Capped at 2025-11-25, pier serves both in that one.
#[tokio::test]
async fn python_clients_work_over_http() {
    let dir = PluginDir::examples();
    let data = shared_data_dir();
    let capped = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        capped.path(),
        "[server]\nmax-protocol-version = \"2025-11-25\"\n",
    )
    .unwrap();
    for (config, fastmcp) in [(None, "2026-07-28"), (Some(capped.path()), "2025-11-25")] {
        let mut args = vec![
            "--plugins",
            dir.path().to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--storage",
            "memory",
        ];
        if let Some(config) = config {
            args.extend(["--config", config.to_str().unwrap()]);
        }
        let mut pier = ChildPier::serve(&args).await;
        let seen = smoke(&["http", &pier.url]);
        let status = pier.signal("-TERM");
        assert!(status.success(), "pier exits 0 after SIGTERM: {status}");
        assert_eq!(seen, expected("2025-11-25", fastmcp));
    }
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
    assert_eq!(seen, expected("2025-11-25", "2026-07-28"));
}

/// What `tests/clients/SCRIPT` prints (one JSON object) when run against a pier serving
/// `dir` under the `pier.toml` text `toml`, over HTTP.
async fn script_against(script: &str, dir: &PluginDir, toml: &str) -> Value {
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), toml).unwrap();
    let mut pier = ChildPier::serve(&[
        "--config",
        config.path().to_str().unwrap(),
        "--plugins",
        dir.path().to_str().unwrap(),
        "--data-dir",
        shared_data_dir().to_str().unwrap(),
        "--storage",
        "memory",
    ])
    .await;
    let output = Command::new(python())
        .arg(root().join("tests/clients").join(script))
        .arg(&pier.url)
        .output()
        .unwrap();
    pier.signal("-TERM");
    assert!(
        output.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// The Python `mcp` SDK's high-level `Client` negotiates MCP 2026-07-28 with a pier that
/// speaks it: discover instead of initialize, then the full flow, questions answered by
/// its callbacks through input round trips, and tasks followed to their end by a
/// `ClientExtension` (one completed, one cancelled).
#[tokio::test]
async fn the_python_mcp_client_speaks_the_new_revision() {
    let dir = PluginDir::examples().with(&fixture("conformance"), "conformance");
    // The default revision; said anyway, since this test is about it.
    let seen = script_against(
        "modern.py",
        &dir,
        "[server]\nmax-protocol-version = \"2026-07-28\"\n",
    )
    .await;
    assert_eq!(
        seen,
        json!({
            "protocol": "2026-07-28",
            // The 4 tools of the examples and the 36 of the conformance plugin.
            "tools": 40,
            "has_calc_add": true,
            "add": ["5", {"result": 5.0}, false],
            "resource": "This is the content of the static text resource.",
            "prompt": "This is a simple prompt for testing.",
            "progress": [[0.0, 100.0], [50.0, 100.0], [100.0, 100.0]],
            "logged": "Tool with logging executed successfully",
            "logs": [
                ["info", "Tool execution started"],
                ["info", "Tool processing data"],
                ["info", "Tool execution completed"]
            ],
            "elicited": "Hello, Ada!",
            "sampled": "LLM response: Hi from the model",
            // The task tool asks first (a round trip), then goes on as a task.
            "asked": [
                {"elicit": "What is your name?"},
                {"sample": "Say hi"},
                {"elicit": "What is your name?"}
            ],
            "task": ["Hello, Ada!", false],
            "cancelled": ["cancelled", true],
            "task_statuses": {
                "conformance_test_tool_with_task": ["working", "completed"],
                "conformance_slow_compute": ["working", "cancelled"]
            },
        })
    );
}

/// The `fetch` example through the Python `mcp` SDK over HTTP: a loopback page (granted
/// by a sidecar for this test, with the operator allowing private networks) read whole,
/// in two pieces and raw; a loopback address outside its grants refused in pier's words.
#[tokio::test]
async fn the_python_mcp_client_fetches_a_page_through_the_fetch_example() {
    let dir = PluginDir::examples()
        .with(&example("fetch"), "fetch")
        .with_sidecar(
            "fetch",
            "[grants]\nhttp = [\"http://127.0.0.1:*\"]\nprivate-networks = true\n",
        );
    let seen = script_against("fetch.py", &dir, "[grants]\nprivate-networks = true\n").await;
    let page = seen["page"].as_str().unwrap();
    let markdown = "## Opening hours\n\nFrom *dawn* to dusk.\n\n1. Moor\n2. Pay";
    assert_eq!(
        seen,
        json!({
            "page": page,
            "tools": ["calc_add", "calc_countdown", "calc_divide", "fetch_fetch", "hello_greet"],
            "whole": {"text": format!("Contents of {page}:\n{markdown}"), "is_error": false},
            "first": {
                "text": format!(
                    "Contents of {page}:\n{}\n\n<content truncated: {} of {} characters left; call fetch with start_index=12 to read on>",
                    &markdown[..12],
                    markdown.len() - 12,
                    markdown.len()
                ),
                "is_error": false
            },
            "rest": {"text": format!("Contents of {page}:\n{}", &markdown[12..]), "is_error": false},
            "raw": {"text": format!("Contents of {page}:\n{HARBOUR}"), "is_error": false},
            "refused": {
                "text": "plugin `fetch` may not reach http://127.0.0.2:9: not in its [grants] http",
                "is_error": true
            },
        })
    );
}

/// The page tests/clients/fetch.py serves.
const HARBOUR: &str = "<!DOCTYPE html><html><head><title>Harbour</title><style>p {}</style></head>\
<body><h2>Opening hours</h2><p>From <i>dawn</i> to dusk.</p><ol><li>Moor</li><li>Pay</li></ol></body></html>";
