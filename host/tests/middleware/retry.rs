//! `retry`: transient failures of proxied mounts and of storage.

use super::*;

/// An HTTP proxy in front of an MCP server that answers `503` to the next `fail`
/// `tools/call` posts (an upstream restarting, an overloaded balancer) and counts them.
struct FlakyProxy {
    url: String,
    fail: Arc<std::sync::atomic::AtomicUsize>,
    calls: Arc<std::sync::atomic::AtomicUsize>,
}

impl FlakyProxy {
    async fn start(upstream: &str) -> Self {
        use axum::body::{Body, to_bytes};
        use axum::http::StatusCode;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let fail = Arc::new(AtomicUsize::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let (f, c, up) = (fail.clone(), calls.clone(), upstream.to_string());
        let http = reqwest::Client::new();
        let forward = move |request: axum::extract::Request| {
            let (fail, calls, upstream, http) = (f.clone(), c.clone(), up.clone(), http.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = to_bytes(body, 1 << 20).await.unwrap();
                if String::from_utf8_lossy(&body).contains("\"tools/call\"") {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let failing = fail
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if failing {
                        return axum::response::Response::builder()
                            .status(StatusCode::SERVICE_UNAVAILABLE)
                            .body(Body::from("upstream restarting"))
                            .unwrap();
                    }
                }
                let mut sent = http.request(parts.method, &upstream).body(body);
                for (name, value) in &parts.headers {
                    if name != "host" && name != "content-length" {
                        sent = sent.header(name, value);
                    }
                }
                let answer = sent.send().await.unwrap();
                let mut response = axum::response::Response::builder().status(answer.status());
                for (name, value) in answer.headers() {
                    if name != "content-length" && name != "transfer-encoding" {
                        response = response.header(name, value);
                    }
                }
                response
                    .body(Body::from(answer.bytes().await.unwrap()))
                    .unwrap()
            }
        };
        let app = axum::Router::new().fallback(forward);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, fail, calls }
    }

    fn fail_next(&self, n: usize) {
        self.fail.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_proxied_mount_that_fails_twice_then_answers_is_retried() {
    let upstream_dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("probe"), "probe");
    let upstream = Server::start(&upstream_dir, |h| h.stateless = true).await;
    let proxy = FlakyProxy::start(&upstream.url).await;
    let dir = PluginDir::new();
    let toml = format!(
        r#"
[[middleware]]
type = "retry"
max-attempts = 3
initial-delay-ms = 20

[[mount]]
namespace = "up"
url = "{}"
"#,
        proxy.url
    );
    let (app, client) = start_with(&dir, &toml).await;

    // `hello_greet` says it is read-only: safe to try again.
    proxy.fail_next(2);
    let greeting = call(&client, "up_hello_greet", json!({"name": "Ada"}))
        .await
        .expect("the third attempt answers");
    assert_eq!(text(&greeting), "Hello, Ada!");
    assert_eq!(proxy.calls(), 3);
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        metrics.contains("pier_retries_total{method=\"tools/call\"} 2"),
        "{metrics}"
    );

    // Three failures in a row: the last one reaches the client.
    proxy.fail_next(3);
    let error = mcp_error(
        call(&client, "up_hello_greet", json!({"name": "Ada"}))
            .await
            .unwrap_err(),
    );
    assert!(error.message.starts_with("mount `"), "{}", error.message);
    assert_eq!(proxy.calls(), 6);

    // `probe_put` does not say it is idempotent: never tried twice.
    proxy.fail_next(1);
    assert!(
        call(&client, "up_probe_put", json!({"key": "k", "value": "v"}))
            .await
            .is_err()
    );
    assert_eq!(proxy.calls(), 7);
    let stored = call(&client, "up_probe_fetch", json!({"key": "k"}))
        .await
        .unwrap();
    assert_eq!(text(&stored), "absent");
    upstream.shutdown().await;
}

#[tokio::test]
async fn a_call_that_met_unavailable_storage_is_retried_when_marked() {
    let mut redis = RedisServer::start();
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let toml = r#"
[[middleware]]
type = "retry"
max-attempts = 3
initial-delay-ms = 10
retry-tools = ["probe_fetch"]
"#;
    let mut config = configured(&dir, toml);
    config.storage = pier::storage::Backend::Redis {
        url: redis.url(),
        prefix: "retry:".into(),
    };
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    assert_still_serving_probe(&client).await;
    redis.stop();
    let failed = call(&client, "probe_fetch", json!({"key": "k"}))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    assert!(text(&failed).contains("unavailable"), "{}", text(&failed));
    // `probe_put` is not marked: one attempt.
    let put = call(&client, "probe_put", json!({"key": "k", "value": "v"}))
        .await
        .unwrap();
    assert_eq!(put.is_error, Some(true));
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        metrics.contains("pier_retries_total{method=\"tools/call\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pier_tool_calls_total{tool=\"probe_fetch\",outcome=\"tool_error\"} 3"),
        "{metrics}"
    );
    redis.restart();
}
