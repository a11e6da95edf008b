//! A real fleet on loopback: three `pier serve` processes on one `redis-server`, behind
//! `haproxy` balancing round robin with no stickiness (`make setup` installs both).
//! Through the balancer, real clients run their full flows: the Python `mcp` SDK in
//! both revisions and FastMCP's `Client`. A fleet-wide rate limit holds; a replica
//! killed with `kill -9` costs only the requests in flight on it; Redis restarted
//! mid-run fails what needs it, clearly, and the fleet recovers without a restart.
//!
//! One test, one fleet: starting it (three piers loading the conformance plugin) is
//! the expensive part.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const ADMIN: &str = "fleet-admin-token";

/// `haproxy` in front of `backends` (ports on loopback), killed when dropped.
struct Balancer {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Balancer {
    async fn start(backends: &[u16]) -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = format!(
            "global\n    maxconn 1024\n\
             defaults\n    mode http\n    timeout connect 1s\n    timeout client 60s\n    timeout server 60s\n\
             \x20   option http-server-close\n    option redispatch\n    retries 3\n\
             frontend mcp\n    bind 127.0.0.1:{port}\n    default_backend piers\n\
             backend piers\n    balance roundrobin\n    option httpchk GET /ready\n    http-check expect status 200\n"
        );
        for (i, backend) in backends.iter().enumerate() {
            cfg.push_str(&format!(
                "    server pier{i} 127.0.0.1:{backend} check inter 500ms fall 2 rise 2\n"
            ));
        }
        let file = dir.path().join("haproxy.cfg");
        std::fs::write(&file, cfg).unwrap();
        let haproxy = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("haproxy is missing: run `make setup`, which installs it");
        let child = Command::new(haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let balancer = Self {
            child,
            base,
            _dir: dir,
        };
        // Ready once every replica passed its health check: three answers in a row.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut in_a_row = 0;
        while in_a_row < 6 {
            assert!(Instant::now() < deadline, "haproxy never balanced");
            let ok = reqwest::get(format!("{}/ready", balancer.base))
                .await
                .is_ok_and(|r| r.status() == 200);
            in_a_row = if ok { in_a_row + 1 } else { 0 };
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        balancer
    }

    fn url(&self) -> String {
        format!("{}/mcp", self.base)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn port_of(url: &str) -> u16 {
    url.trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/mcp")
        .parse()
        .unwrap()
}

/// One replica: the plugin directory, the configuration, the shared Redis.
async fn replica(dir: &PluginDir, config: &std::path::Path, redis: &str) -> ChildPier {
    ChildPier::serve_with_env(
        &[
            "--config",
            config.to_str().unwrap(),
            "--plugins",
            dir.path().to_str().unwrap(),
            "--data-dir",
            shared_data_dir().to_str().unwrap(),
        ],
        &[
            ("PIER_STORAGE_URL", redis),
            ("PIER_ADMIN_TOKEN", ADMIN),
            (
                "PIER_SERVER_REQUEST_STATE_KEYS",
                "k1:fleet-test-key-of-at-least-32-bytes!!",
            ),
        ],
    )
    .await
}

/// One MCP 2026-07-28 request through `url` declaring `capabilities`: its result, or
/// why it failed (an HTTP status, a JSON-RPC error, a transport error).
async fn rpc(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    name: &str,
    params: Value,
    capabilities: Value,
) -> Result<Value, String> {
    let body = modern(1, method, params, capabilities);
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method)
        .header("mcp-name", name)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| format!("body: {e}"))?;
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or(&text);
    let message: Value = serde_json::from_str(data).map_err(|e| format!("{e}: {text}"))?;
    if let Some(error) = message.get("error") {
        return Err(format!(
            "JSON-RPC {}: {}",
            error["code"],
            error["message"].as_str().unwrap_or_default()
        ));
    }
    Ok(message["result"].clone())
}

/// `tools/call` of `tool` through `url`.
async fn call(
    client: &reqwest::Client,
    url: &str,
    tool: &str,
    arguments: Value,
) -> Result<Value, String> {
    let params = json!({"name": tool, "arguments": arguments});
    rpc(client, url, "tools/call", tool, params, json!({})).await
}

fn tasks() -> Value {
    json!({"extensions": {"io.modelcontextprotocol/tasks": {}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_behind_a_round_robin_balancer_acts_as_one_server() {
    let mut redis = RedisServer::start();
    let dir = PluginDir::examples()
        .with(&fixture("conformance"), "conformance")
        .with(&example("notes"), "notes");
    // One mount with a fleet-wide limit: 10 calls, then (practically) none.
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!(
            "[[mount]]\nnamespace = \"limited\"\npath = \"{}\"\n\
             [[mount.middleware]]\ntype = \"rate-limit\"\ncapacity = 10\nrefill-per-second = 0.0001\nper = \"global\"\nmethods = [\"tools/call\"]\n",
            example("hello").display()
        ),
    )
    .unwrap();
    let mut piers = Vec::new();
    for _ in 0..3 {
        piers.push(replica(&dir, config.path(), &redis.url()).await);
    }
    let ports: Vec<u16> = piers.iter().map(|p| port_of(&p.url)).collect();
    let balancer = Balancer::start(&ports).await;
    let url = balancer.url();

    // The Python `mcp` SDK's `Client` in 2026-07-28 (no session): every request may
    // reach another replica, input rounds and task polls included.
    let modern = python_script("modern.py", &[&url]);
    assert_eq!(modern["protocol"], "2026-07-28");
    assert_eq!(modern["add"], json!(["5", {"result": 5.0}, false]));
    assert_eq!(modern["elicited"], "Hello, Ada!");
    assert_eq!(modern["sampled"], "LLM response: Hi from the model");
    assert_eq!(
        modern["progress"],
        json!([[0.0, 100.0], [50.0, 100.0], [100.0, 100.0]])
    );
    assert_eq!(
        modern["logs"],
        json!([
            ["info", "Tool execution started"],
            ["info", "Tool processing data"],
            ["info", "Tool execution completed"]
        ])
    );
    assert_eq!(modern["task"], json!(["Hello, Ada!", false]));
    assert_eq!(modern["cancelled"], json!(["cancelled", true]));
    assert_eq!(
        modern["task_statuses"],
        json!({
            "conformance_test_tool_with_task": ["working", "completed"],
            "conformance_slow_compute": ["working", "cancelled"]
        })
    );

    // A 2025-11-25 session (its requests spread over the replicas, its GET stream on
    // one of them), then FastMCP's `Client`; a mount added through one replica's admin
    // API is announced to the session.
    let admin_url = piers[1].url.trim_end_matches("/mcp").to_string();
    let calc = example("calc").display().to_string();
    let seen = python_script("session.py", &[&url, &admin_url, ADMIN, &calc]);
    let logs = json!([
        ["info", "Tool execution started"],
        ["info", "Tool processing data"],
        ["info", "Tool execution completed"]
    ]);
    let progress = json!([[0.0, 100.0], [50.0, 100.0], [100.0, 100.0]]);
    assert_eq!(
        seen["session"],
        json!({
            "protocol": "2025-11-25",
            "tools": modern["tools"],
            "add": ["5", {"result": 5.0}, false],
            "progress": progress,
            "logged": "Tool with logging executed successfully",
            "logs": logs,
            "sampled": "LLM response: Hi from the model",
            "elicited": "User response: action=accept, content={\"email\":\"ada@example.com\",\"username\":\"ada\"}",
            "asked": [{"sample": "Say hi"}, {"elicit": "Who are you?"}],
            "mounted": 201,
            "list_changed": true,
            "extra_add": true,
        })
    );
    assert_eq!(
        seen["fastmcp"],
        json!({
            "protocol": "2026-07-28",
            "tools": modern["tools"],
            "add": ["5", {"result": 5.0}, false],
            "progress": progress,
            "logged": "Tool with logging executed successfully",
            "logs": logs,
            "elicited": "Hello, Ada!",
            "sampled": "LLM response: Hi from the model",
            "asked": [{"elicit": "What is your name?"}, {"sample": "Say hi"}],
        })
    );

    // One limit for the fleet: of 30 calls spread over three replicas, 10 pass.
    let client = reqwest::Client::new();
    let mut passed = 0;
    let mut limited = 0;
    for _ in 0..30 {
        match call(&client, &url, "limited_greet", json!({"name": "Ada"})).await {
            Ok(result) => {
                assert_eq!(result["content"][0]["text"], "Hello, Ada!");
                passed += 1;
            }
            Err(e) => {
                assert!(e.starts_with("JSON-RPC -32000: rate limit exceeded"), "{e}");
                limited += 1;
            }
        }
    }
    assert_eq!((passed, limited), (10, 20));

    // A task running on the replica about to die.
    let params = json!({"name": "conformance_slow_compute", "arguments": {"seconds": 60}});
    let created = rpc(
        &client,
        &piers[2].url,
        "tools/call",
        "conformance_slow_compute",
        params,
        tasks(),
    )
    .await
    .unwrap();
    assert_eq!(created["status"], "working", "{created}");
    let orphan = created["taskId"].as_str().unwrap().to_string();

    // A replica killed with `kill -9` while 8 clients call: only what was in flight on
    // it fails; the rest, and everything after, is served.
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let late_failures = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let killed_at = Duration::from_secs(1);
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (ok, failed, late, url, client) = (
            ok.clone(),
            failed.clone(),
            late_failures.clone(),
            url.clone(),
            client.clone(),
        );
        clients.push(tokio::spawn(async move {
            while started.elapsed() < Duration::from_secs(5) {
                match call(&client, &url, "calc_add", json!({"a": 2, "b": 3})).await {
                    Ok(r) if r["content"][0]["text"] == "5" => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        // haproxy takes the replica out within a second of its death.
                        if started.elapsed() > killed_at + Duration::from_secs(2) {
                            late.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(killed_at).await;
    let status = piers[2].signal("-KILL");
    assert!(!status.success());
    for c in clients {
        c.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("while a replica was killed: {ok} calls served, {failed} failed");
    assert!(ok > 100, "the fleet kept serving: {ok} calls");
    assert!(
        failed <= 8,
        "at most the calls in flight on the killed replica failed: {failed} of {}",
        ok + failed
    );
    assert_eq!(late_failures.load(Ordering::Relaxed), 0);

    // Its task fails at a poll, on any replica, once nothing was heard of it for 10 s.
    let params = json!({"taskId": orphan});
    let deadline = Instant::now() + Duration::from_secs(30);
    let failed = loop {
        let got = rpc(&client, &url, "tasks/get", &orphan, params.clone(), tasks())
            .await
            .unwrap();
        if got["status"] != "working" {
            break got;
        }
        assert!(Instant::now() < deadline, "still working: {got}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(
        failed["error"]["message"],
        "the replica running this task stopped (nothing heard of it for 10 s): its work is lost; call the tool again"
    );

    // Redis down: what needs the store fails, saying so; the rest serves.
    redis.stop();
    let saved = call(
        &client,
        &url,
        "notes_add",
        json!({"title": "t", "body": "b"}),
    )
    .await
    .expect("a tool error, not a protocol error");
    assert_eq!(saved["isError"], true, "{saved}");
    let text = saved["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("unavailable"), "{text}");
    assert_eq!(
        call(&client, &url, "calc_add", json!({"a": 2, "b": 3}))
            .await
            .unwrap()["content"][0]["text"],
        "5"
    );
    // Back: the fleet recovers without a restart.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let saved = call(
            &client,
            &url,
            "notes_add",
            json!({"title": "t", "body": "b"}),
        )
        .await;
        if saved.as_ref().is_ok_and(|s| s["isError"] == false) {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {saved:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both remaining replicas serve storage again.
    for _ in 0..4 {
        let saved = call(
            &client,
            &url,
            "notes_add",
            json!({"title": "t", "body": "b"}),
        )
        .await
        .unwrap();
        assert_eq!(
            saved["content"][0]["text"], "Replaced the note `t`.",
            "{saved}"
        );
    }
    drop(balancer);
}
