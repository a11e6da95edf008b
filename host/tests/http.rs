//! MCP over streamable HTTP on an ephemeral port: the rmcp client for the full flow,
//! raw requests for every status code, and the operations endpoints.

mod common;

use std::sync::Arc;

use common::*;
use pier::App;
use serde_json::{Value, json};

#[tokio::test]
async fn the_full_flow_works_over_http_with_notifications_on_sse() {
    let server = Server::start(&PluginDir::examples(), |_| {}).await;
    let (client, recorder) = server.client().await;
    let tools = client.peer().list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 4);
    assert_still_serving(&client).await;
    let add = call(&client, "calc_add", json!({"a": 2, "b": 2}))
        .await
        .unwrap();
    assert_eq!(add.structured_content, Some(json!({"result": 4.0})));

    let result = call(&client, "calc_countdown", json!({"from": 2}))
        .await
        .unwrap();
    assert_eq!(text(&result), "counted down from 2");
    recorder
        .wait_for("3 logs and 3 progress", |r| {
            r.logs.len() == 3 && r.progress.len() == 3
        })
        .await;
    assert_eq!(
        recorder.log_texts(),
        ["countdown: 2", "countdown: 1", "countdown: 0"]
    );
    let progress: Vec<f64> = recorder
        .received
        .lock()
        .unwrap()
        .progress
        .iter()
        .map(|p| p.progress)
        .collect();
    assert_eq!(progress, [0.0, 1.0, 2.0]);

    let read = client
        .peer()
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "hello://hello/greeting/Ann",
        ))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(read).unwrap()["contents"][0]["text"],
        "Hello, Ann!"
    );
    let prompt = client
        .peer()
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("hello_introduce")
                .with_arguments(json!({"name": "Ann"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(prompt).unwrap()["messages"][0]["content"]["text"],
        "Please introduce yourself to Ann."
    );
    client.cancel().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn three_concurrent_calls_on_one_session_all_answer() {
    let server = Server::start(&PluginDir::examples(), |_| {}).await;
    let (client, _) = server.client().await;
    let (a, b, c) = tokio::join!(
        call(&client, "hello_greet", json!({"name": "A"})),
        call(&client, "hello_greet", json!({"name": "B"})),
        call(&client, "calc_add", json!({"a": 1, "b": 1})),
    );
    assert_eq!(text(&a.unwrap()), "Hello, A!");
    assert_eq!(text(&b.unwrap()), "Hello, B!");
    assert_eq!(text(&c.unwrap()), "2");
    server.shutdown().await;
}

#[tokio::test]
async fn session_lifecycle_status_codes() {
    let server = Server::start(&PluginDir::examples(), |_| {}).await;
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;

    // Missing session on a non-initialize request: 400.
    let response = post(&server.url, list).send().await.unwrap();
    assert_eq!(response.status(), 400);
    // Unknown session: 404.
    let response = post(&server.url, list)
        .header("mcp-session-id", "no-such-session")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let id = raw_session(&server.url).await;
    let response = in_session(&server.url, &id, list).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("hello_greet"), "{body}");

    // DELETE ends the session; it is then unknown.
    let response = reqwest::Client::new()
        .delete(&server.url)
        .header("mcp-session-id", &id)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let response = in_session(&server.url, &id, list).send().await.unwrap();
    assert_eq!(response.status(), 404);
    server.shutdown().await;
}

#[tokio::test]
async fn a_foreign_origin_is_refused_with_403_and_loopback_origins_pass() {
    let server = Server::start(&PluginDir::examples(), |_| {}).await;
    let response = post(&server.url, INIT)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = post(&server.url, INIT)
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = post(&server.url, INIT).send().await.unwrap();
    assert_eq!(response.status(), 200, "no Origin header passes");
    server.shutdown().await;
}

#[tokio::test]
async fn a_foreign_host_header_is_refused() {
    let server = Server::start(&PluginDir::examples(), |_| {}).await;
    let response = post(&server.url, INIT)
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let server = Server::start(&PluginDir::examples(), |o| o.max_body_bytes = 1024).await;
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"pad": "x".repeat(4096)}}).to_string();
    let response = post(&server.url, &big).send().await.unwrap();
    assert_eq!(response.status(), 413);
    let response = post(&server.url, INIT).send().await.unwrap();
    assert_eq!(response.status(), 200, "a normal request still passes");
    server.shutdown().await;
}

#[tokio::test]
async fn stateless_mode_answers_with_json_and_no_session() {
    let server = Server::start(&PluginDir::examples(), |o| o.stateless = true).await;
    let response = post(&server.url, INIT).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_none());
    let call = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"hello_greet","arguments":{"name":"Zed"}}}"#;
    let response = post(&server.url, call)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["result"]["content"][0]["text"], "Hello, Zed!");

    let (client, _) = server.client().await;
    assert_still_serving(&client).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_slower_than_the_request_timeout_gets_504() {
    let dir = PluginDir::examples()
        .with(&fixture("hostile"), "hostile")
        .with_sidecar("hostile", "[limits]\ntimeout-ms = 3000\n");
    let server = Server::start(&dir, |o| {
        o.stateless = true;
        o.request_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let spin = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"hostile_spin","arguments":{}}}"#;
    let response = post(&server.url, spin)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"jsonrpc": "2.0", "id": null, "error": {
            "code": -32603,
            "message": "request timed out after 300 ms (server.request-timeout-ms)"
        }})
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(r#"pier_http_requests_total{method="POST",status="504"} 1"#),
        "{metrics}"
    );
    let greet = r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"hello_greet","arguments":{"name":"Zed"}}}"#;
    let response = post(&server.url, greet)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "quick requests still answer");
    server.shutdown().await;
}

#[tokio::test]
async fn health_is_200_and_ready_turns_200_after_loading() {
    let dir = PluginDir::examples();
    let mut config = dir.config();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    let app = Arc::new(App::new(&config).unwrap());
    let server = Server::serve(app.clone(), &config).await;

    let health = reqwest::get(format!("{}/health", server.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{}/ready", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"ready": false, "reason": "plugins are loading"})
    );

    app.load().await.unwrap();
    let ready = reqwest::get(format!("{}/ready", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"ready": true, "mounts": 2})
    );
    server.shutdown().await;
}

#[tokio::test]
async fn ready_names_the_plugins_that_were_refused() {
    let dir = PluginDir::examples().with_bytes("broken", b"nope");
    let server = Server::start(&dir, |_| {}).await;
    let ready = reqwest::get(format!("{}/ready", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let file = dir.path().join("broken.wasm").display().to_string();
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({
            "ready": false,
            "reason": "some plugins or mounts were refused",
            "not_loaded": [{ "file": file, "reason": "not a WebAssembly file (no `\\0asm` header)" }]
        })
    );
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_call_finish() {
    let dir = PluginDir::examples()
        .with(&fixture("hostile"), "hostile")
        .with_sidecar("hostile", "[limits]\ntimeout-ms = 1500\n");
    let server = Server::start(&dir, |o| {
        o.shutdown_grace = std::time::Duration::from_secs(10)
    })
    .await;
    let (client, _) = server.client().await;
    let app = server.app.clone();
    // A slow call (it spins until its 1.5 s timeout) is in flight when shutdown starts.
    let slow = tokio::spawn(async move { call(&client, "hostile_spin", json!({})).await });
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while app.in_flight().count() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the call starts");
    server.shutdown().await;
    let result = slow
        .await
        .unwrap()
        .expect("the in-flight call got its answer");
    assert_eq!(text(&result), "plugin `hostile` timed out after 1500 ms");
}

#[tokio::test]
async fn an_unsupported_protocol_version_header_is_refused_with_400() {
    let server = Server::start(&PluginDir::examples(), |_| {}).await;
    let id = raw_session(&server.url).await;
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let response = post(&server.url, list)
        .header("mcp-session-id", &id)
        .header("mcp-protocol-version", "1999-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_session_expires() {
    let server = Server::start(&PluginDir::examples(), |o| {
        o.session_idle = std::time::Duration::from_millis(300)
    })
    .await;
    let id = raw_session(&server.url).await;
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    // Bounded poll: the session is closed once it has been idle for 300 ms.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let response = in_session(&server.url, &id, list).send().await.unwrap();
        if response.status() == 404 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle session never expired"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_second_pier_on_the_same_redis_recognises_a_session() {
    let redis = RedisServer::start();
    let dir = PluginDir::examples();
    let start = || async {
        let mut config = dir.config();
        config.storage = pier::storage::Backend::Redis {
            url: redis.url(),
            prefix: "pier:".into(),
        };
        Server::start_with(config).await
    };
    let (a, b) = (start().await, start().await);
    let id = raw_session(&a.url).await;
    let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"hello_greet","arguments":{"name":"Ada"}}}"#;
    // b never saw the session's initialize: it restores it from the record.
    let response = in_session(&b.url, &id, call).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains(r#""text":"Hello, Ada!""#), "{body}");
    // A session no pier started stays unknown.
    let response = in_session(&b.url, "made-up", call).send().await.unwrap();
    assert_eq!(response.status(), 404);
    // Once ended, a pier that did not know it does not revive it.
    let response = reqwest::Client::new()
        .delete(&a.url)
        .header("mcp-session-id", &id)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let c = start().await;
    let response = in_session(&c.url, &id, call).send().await.unwrap();
    assert_eq!(response.status(), 404);
    for server in [a, b, c] {
        server.shutdown().await;
    }
}

#[tokio::test]
async fn revision_2026_07_28_is_served_by_default_without_a_session_and_refused_when_capped() {
    let call = modern(
        3,
        "tools/call",
        json!({"name": "hello_greet", "arguments": {"name": "Ada"}}),
        json!({}),
    );
    let send = |url: &str, body: &str| {
        let request = post(url, body).header("mcp-protocol-version", "2026-07-28");
        if body.contains("tools/call") {
            request
                .header("mcp-method", "tools/call")
                .header("mcp-name", "hello_greet")
        } else {
            request.header("mcp-method", "server/discover")
        }
        .send()
    };
    let dir = PluginDir::examples();
    // With server.max-protocol-version = 2025-11-25 the revision is refused, naming
    // the ones served.
    let capped = pier::ServeConfig {
        max_protocol: rmcp::model::ProtocolVersion::V_2025_11_25,
        ..dir.config()
    };
    let server = Server::start_with(capped).await;
    let body: Value = send(&server.url, &call)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"]["code"], -32022, "{body}");
    assert_eq!(
        body["error"]["data"],
        json!({"requested": "2026-07-28",
               "supported": ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]})
    );
    server.shutdown().await;

    // By default it is served.
    let server = Server::start_with(dir.config()).await;
    /// The JSON-RPC message of a response whose only message is the answer: JSON, no
    /// session, no stream.
    async fn event(response: reqwest::Response) -> Value {
        assert!(response.headers().get("mcp-session-id").is_none());
        assert_eq!(response.headers()["content-type"], "application/json");
        response.json().await.unwrap()
    }
    let answer = event(send(&server.url, &call).await.unwrap()).await;
    assert_eq!(
        answer["result"],
        json!({"resultType": "complete", "isError": false,
               "content": [{"type": "text", "text": "Hello, Ada!"}]})
    );
    let discover = modern(4, "server/discover", json!({}), json!({}));
    let answer = event(send(&server.url, &discover).await.unwrap()).await;
    assert_eq!(
        answer["result"]["supportedVersions"],
        json!([
            "2024-11-05",
            "2025-03-26",
            "2025-06-18",
            "2025-11-25",
            "2026-07-28"
        ])
    );
    assert_eq!(
        answer["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "pier"
    );
    // Clients of the older revision are served as before, by the same pier.
    let (client, _) = server.client().await;
    assert_still_serving(&client).await;
    server.shutdown().await;
}
