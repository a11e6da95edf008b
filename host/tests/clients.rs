//! Real external MCP clients against the built `pier` binary: the Python `mcp` SDK and
//! FastMCP's `Client` (installed into `.venv` by `make setup`), over HTTP and stdio.

mod common;

use std::process::Command;

use common::*;
use serde_json::{Value, json};

fn smoke(args: &[&str]) -> Value {
    python_script("smoke.py", args)
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

/// The next line of `lines`, waiting at most two minutes.
async fn next_line(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> String {
    tokio::time::timeout(std::time::Duration::from_secs(120), lines.next_line())
        .await
        .expect("the script answers in time")
        .unwrap()
        .expect("a line")
}

/// The Python `mcp` SDK's OAuth client against pier in jwt mode, with a real
/// authorization server (`tests/clients/oauth_flow.py`): a 401 sends it to pier's
/// protected-resource metadata, from there to the authorization server, where it
/// registers and obtains a token for pier's resource; pier verifies it with the
/// server's JWKS and the plugin sees the subject.
#[tokio::test]
async fn the_python_sdk_completes_a_real_oauth_flow_against_jwt_mode() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut script = tokio::process::Command::new(python())
        .arg(root().join("tests/clients/oauth_flow.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(script.stdout.take().unwrap()).lines();
    let started: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    let issuer = started["issuer"].as_str().unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let text = format!(
        "[auth]\nmode = \"jwt\"\nresource = \"{resource}\"\nissuer = \"{issuer}\"\njwks-url = \"{}\"\nauthorization-servers = [\"{issuer}\"]\nscopes-supported = [\"mcp\", \"tools:read\"]\nrequired-scopes = [\"mcp\"]\n",
        started["jwks"].as_str().unwrap()
    );
    let dir = PluginDir::examples().with(&fixture("hostile"), "hostile");
    let mut config = pier::ServeConfig {
        auth: configured(&text).unwrap().auth,
        ..dir.config()
    };
    config.http.listen = format!("127.0.0.1:{port}").parse().unwrap();
    let app = std::sync::Arc::new(pier::App::start(&config).await.unwrap());
    let server = Server::serve(app, &config).await;
    assert_eq!(server.url, resource);

    let mut stdin = script.stdin.take().unwrap();
    stdin
        .write_all(format!("{resource}\n").as_bytes())
        .await
        .unwrap();
    let seen: Value = serde_json::from_str(&next_line(&mut lines).await).unwrap();
    let requests: Vec<&str> = seen["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    // Refused without a token, then the discovery, registration and token exchange.
    assert_eq!(requests.first(), Some(&"POST /mcp 401"), "{requests:?}");
    for expected in [
        "GET /.well-known/oauth-protected-resource/mcp 200",
        "GET /.well-known/oauth-authorization-server 200",
        "POST /register 201",
        "POST /token 200",
        "POST /mcp 200",
    ] {
        assert!(requests.contains(&expected), "{expected}: {requests:?}");
    }
    assert_eq!(
        seen["authorize_resource"], resource,
        "the client asks for a token for pier (RFC 8707)"
    );
    assert_eq!(seen["authorize_scope"], "mcp tools:read");
    assert_eq!(
        seen["token"],
        json!({"iss": true, "aud": resource, "sub": "oauth-user", "scope": "mcp tools:read"})
    );
    assert_eq!(seen["greet"], "Hello, Ada!");
    assert_eq!(seen["whoami"], "oauth-user scopes=mcp,tools:read");
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), script.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    server.shutdown().await;
}
