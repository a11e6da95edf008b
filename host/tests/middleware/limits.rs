//! `rate-limit` and `response-limit`.

use super::*;

/// The JSON-RPC error of a call that must fail.
async fn refused(client: &Client, tool: &str) -> rmcp::model::ErrorData {
    mcp_error(call(client, tool, json!({})).await.unwrap_err())
}

/// The retry-after hint of a rate-limit error, after checking its shape.
fn retry_after(error: &rmcp::model::ErrorData) -> Duration {
    assert_eq!(error.code.0, -32000);
    assert!(
        error.message.starts_with("rate limit exceeded"),
        "{}",
        error.message
    );
    let data = error.data.as_ref().expect("the error carries a hint");
    let ms = data["retryAfterMs"].as_u64().expect("retryAfterMs");
    assert_eq!(data["retryAfterSeconds"].as_u64(), Some(ms.div_ceil(1000)));
    Duration::from_millis(ms)
}

#[tokio::test]
async fn a_token_bucket_allows_its_burst_per_session_then_refills() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = r#"
[[middleware]]
type = "rate-limit"
algorithm = "token-bucket"
capacity = 3
refill-per-second = 0.2
per = "session"
"#;
    let (app, client) = start_with(&dir, toml).await;
    // The four calls must land before a token comes back: five seconds, however slow
    // the machine.
    for _ in 0..3 {
        assert_still_serving(&client).await;
    }
    let error = refused(&client, "hello_greet").await;
    let hint = retry_after(&error);
    // At most five seconds for one token at 0.2 per second, plus the hint's 1 ms margin.
    assert!(hint <= Duration::from_millis(5001), "{hint:?}");
    assert!(
        error
            .message
            .contains("3 requests, then 0.2 per second, per session"),
        "{}",
        error.message
    );
    // Another session has a bucket of its own.
    let (other, _) = connect(&app).await;
    for _ in 0..3 {
        assert_still_serving(&other).await;
    }
    assert!(
        call(&other, "hello_greet", json!({"name": "x"}))
            .await
            .is_err()
    );
    // After the hinted time, one more token is there.
    tokio::time::sleep(hint).await;
    assert_still_serving(&client).await;
    let text = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        text.contains("pier_rate_limited_total{method=\"tools/call\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn a_sliding_window_allows_capacity_per_window() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = r#"
[[middleware]]
type = "rate-limit"
algorithm = "sliding-window"
capacity = 2
window-seconds = 6
per = "global"
methods = ["tools/call"]
"#;
    let (app, client) = start_with(&dir, toml).await;
    assert_still_serving(&client).await;
    // Lists are not counted: only tools/call is.
    client.peer().list_all_tools().await.unwrap();
    assert_still_serving(&client).await;
    // Global: another session shares the window.
    let (other, _) = connect(&app).await;
    let hint = retry_after(&refused(&other, "hello_greet").await);
    // The window, one of its 100 slots, and the hint's 1 ms margin. (Six seconds for
    // three calls and a list: room for a slow machine.)
    assert!(hint <= Duration::from_millis(6061), "{hint:?}");
    tokio::time::sleep(hint).await;
    assert_still_serving(&other).await;
}

#[tokio::test]
async fn two_piers_on_one_redis_share_a_global_limit() {
    let redis = RedisServer::start();
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = r#"
[[middleware]]
type = "rate-limit"
capacity = 3
refill-per-second = 0.01
per = "global"
"#;
    let mut config = configured(&dir, toml);
    config.storage = pier::storage::Backend::Redis {
        url: redis.url(),
        prefix: "shared-limit:".into(),
    };
    let first = App::start(&config).await.expect("pier starts");
    let second = App::start(&config).await.expect("pier starts");
    let (a, _) = connect(&first).await;
    let (b, _) = connect(&second).await;
    assert_still_serving(&a).await;
    assert_still_serving(&b).await;
    assert_still_serving(&a).await;
    retry_after(&refused(&b, "hello_greet").await);
    retry_after(&refused(&a, "hello_greet").await);
}

#[tokio::test]
async fn client_ips_have_limits_of_their_own_over_http() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = r#"
[[middleware]]
type = "rate-limit"
capacity = 2
refill-per-second = 0.01
per = "client-ip"
"#;
    let server = Server::start_with(ServeConfig {
        http: ServeConfig::default().http,
        ..configured(&dir, toml)
    })
    .await;
    let from = |ip: &str| {
        let http = reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        rmcp::transport::StreamableHttpClientTransport::with_client(
            http,
            rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                server.url.clone(),
            ),
        )
    };
    use rmcp::ServiceExt;
    // `initialize` counts in a bucket of its own per address (two here, within the
    // capacity); each session's requests count against its address.
    let one = Recorder::default().serve(from("127.0.0.1")).await.unwrap();
    let two = Recorder::default().serve(from("127.0.0.2")).await.unwrap();
    assert_still_serving(&one).await;
    assert_still_serving(&one).await;
    retry_after(&refused(&one, "hello_greet").await);
    // A second session from the same address shares its limit.
    let again = Recorder::default().serve(from("127.0.0.1")).await.unwrap();
    retry_after(&refused(&again, "hello_greet").await);
    assert_still_serving(&two).await;
    assert_still_serving(&two).await;
    retry_after(&refused(&two, "hello_greet").await);
    drop((one, two, again));
    server.shutdown().await;
}

#[tokio::test]
async fn opening_sessions_does_not_escape_a_per_session_limit() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = r#"
[[middleware]]
type = "rate-limit"
capacity = 2
refill-per-second = 0.01
per = "session"
"#;
    let (app, client) = start_with(&dir, toml).await;
    // The first session was the first `initialize`; one more session may start...
    let mut second = RawSession::connect(&app);
    assert_eq!(
        second.initialize().await["result"]["serverInfo"]["name"],
        "pier"
    );
    // ...and the third is refused: session starts count per client (IP) as well.
    let mut third = RawSession::connect(&app);
    let refused = third.initialize().await;
    assert_eq!(refused["error"]["code"], -32000, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("rate limit exceeded"),
        "{refused}"
    );
    // The sessions already open keep their own allowance.
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn per_session_limits_fall_back_to_the_client_ip_in_stateless_http() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = r#"
[[middleware]]
type = "rate-limit"
capacity = 2
refill-per-second = 0.01
per = "session"
methods = ["tools/call"]
"#;
    let mut config = configured(&dir, toml);
    config.http.stateless = true;
    let server = Server::start_with(config).await;
    let greet = |id: u64| {
        reqwest::Client::new()
            .post(&server.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .body(
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                       "params": {"name": "hello_greet", "arguments": {"name": "Ada"}}})
                .to_string(),
            )
            .send()
    };
    // Every stateless request is a session of its own: without the fallback, none
    // would ever be limited.
    for id in 1..=2 {
        let body: serde_json::Value = greet(id).await.unwrap().json().await.unwrap();
        assert_eq!(
            body["result"]["content"][0]["text"], "Hello, Ada!",
            "{body}"
        );
    }
    let body: serde_json::Value = greet(3).await.unwrap().json().await.unwrap();
    assert_eq!(body["error"]["code"], -32000, "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_result_over_the_limit_is_cut_with_a_marker_or_refused() {
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let toml = "[[middleware]]\ntype = \"response-limit\"\nmax-bytes = 1000\n";
    let (_app, client) = start_with(&dir, toml).await;
    let small = call(&client, "probe_big", json!({"bytes": 100}))
        .await
        .unwrap();
    assert_eq!(text(&small), "x".repeat(100));
    let big = call(&client, "probe_big", json!({"bytes": 5000}))
        .await
        .unwrap();
    assert_ne!(big.is_error, Some(true));
    let cut = text(&big);
    let (kept, marker) = cut.split_once('\n').unwrap();
    assert!(
        kept.chars().all(|c| c == 'x') && kept.len() > 500,
        "{}",
        kept.len()
    );
    assert!(
        marker.starts_with("[truncated by pier: the result was 50")
            && marker.ends_with("bytes, over the limit of 1000 (response-limit)]"),
        "{marker}"
    );
    assert!(serde_json::to_vec(&big).unwrap().len() <= 1000);

    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let toml =
        "[[middleware]]\ntype = \"response-limit\"\nmax-bytes = 1000\non-exceed = \"error\"\n";
    let (_app, client) = start_with(&dir, toml).await;
    let refused = call(&client, "probe_big", json!({"bytes": 5000}))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    let message = text(&refused);
    assert!(
        message.starts_with("the result of tool `probe_big` is 50")
            && message.ends_with("bytes, over the limit of 1000 bytes (response-limit)"),
        "{message}"
    );
}

#[tokio::test]
async fn a_session_id_a_client_makes_up_neither_escapes_a_limit_nor_names_a_session() {
    // MCP 2026-07-28 requests have no session: each carrying its own random
    // `Mcp-Session-Id` must still count against one caller (here: its IP).
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("hostile"), "hostile");
    let toml = r#"
[[middleware]]
type = "rate-limit"
capacity = 5
refill-per-second = 0.01
per = "session"
methods = ["tools/call"]
"#;
    let mut config = configured(&dir, toml);
    config.max_protocol = rmcp::model::ProtocolVersion::V_2026_07_28;
    let server = Server::start_with(config).await;
    let mut answers = Vec::new();
    for id in 1..=8 {
        let made_up = format!("{:032x}", rand_u128(id));
        answers.push(call_as(&server.url, id, "hello_greet", made_up).await);
    }
    for (n, answer) in answers.iter().enumerate() {
        if n < 5 {
            assert_eq!(
                answer["result"]["content"][0]["text"], "Hello, Ada!",
                "{answer}"
            );
        } else {
            assert_eq!(answer["error"]["code"], -32000, "call {}: {answer}", n + 1);
        }
    }
    server.shutdown().await;

    // What a plugin sees of such a request: no session at all.
    let config = configured(&dir, "");
    let server = Server::start_with(pier::ServeConfig {
        max_protocol: rmcp::model::ProtocolVersion::V_2026_07_28,
        ..config
    })
    .await;
    let seen = call_as(
        &server.url,
        9,
        "hostile_whoami",
        "chosen-by-the-client".into(),
    )
    .await;
    let text = seen["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{seen}"));
    assert!(text.contains(" session= "), "{text}");
    server.shutdown().await;
}

/// MCP 2026-07-28 `tools/call` of `tool` sending `session` as its `Mcp-Session-Id`.
async fn call_as(url: &str, id: u64, tool: &str, session: String) -> serde_json::Value {
    let arguments = if tool == "hello_greet" {
        json!({"name": "Ada"})
    } else {
        json!({})
    };
    let body = modern(
        id,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
        json!({}),
    );
    let response = post_modern(url, &body, "tools/call", Some(tool))
        .header("mcp-session-id", session)
        .send()
        .await
        .unwrap();
    message(response).await
}

/// A different number for each `seed` (no two requests share a made-up id).
fn rand_u128(seed: u64) -> u128 {
    let state = std::collections::hash_map::RandomState::new();
    std::hash::BuildHasher::hash_one(&state, seed) as u128 * 0x9E37_79B9_7F4A_7C15
}
