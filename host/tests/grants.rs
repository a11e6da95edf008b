//! Capability grants against real servers on loopback: what a plugin may reach over
//! HTTP (and what it may not: hosts and ports outside its grants, private addresses in
//! every spelling, a redirect's target), its per-call budgets, and the audit trail.

mod common;

#[path = "grants/beyond_http.rs"]
mod beyond_http;
#[path = "grants/budgets.rs"]
mod budgets;
#[path = "grants/fetch.rs"]
mod fetch;
#[path = "grants/polyglot.rs"]
mod polyglot;
#[path = "grants/tls.rs"]
mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::*;
use futures::StreamExt;
use pier::{App, ServeConfig};
use serde_json::json;

/// A web server on a free loopback port that counts the requests it receives.
struct Web {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Web {
    async fn start() -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/json", get(json_page))
            .route("/echo", post(echo))
            .route("/missing", get(missing))
            .route("/big", get(big))
            .route("/redirect", get(redirect))
            .route("/hang", get(hang))
            .route("/stall", get(stall))
            .route("/page", get(page))
            .with_state(hits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn json_page(State(hits): State<Arc<AtomicUsize>>) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::HeaderName::from_static("x-test"), "yes"),
        ],
        r#"{"hello":"world"}"#,
    )
        .into_response()
}

async fn echo(State(hits): State<Arc<AtomicUsize>>, headers: HeaderMap, body: String) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    format!("{kind} {body}").into_response()
}

async fn missing(State(hits): State<Arc<AtomicUsize>>) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    (StatusCode::NOT_FOUND, "no such page").into_response()
}

/// 2 MiB in 32 chunks.
async fn big(State(hits): State<Arc<AtomicUsize>>) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    let chunks =
        (0..32).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 64 * 1024])));
    Body::from_stream(futures::stream::iter(chunks)).into_response()
}

/// 302 to the URL after `?to=`.
async fn redirect(State(hits): State<Arc<AtomicUsize>>, uri: axum::http::Uri) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    let to = uri
        .query()
        .unwrap_or_default()
        .trim_start_matches("to=")
        .to_string();
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

const PAGE: &str = "<!DOCTYPE html><html><head><title>Tides</title><script>var x = 1;</script></head>\
<body><nav>Home | About</nav><h1>Tides &amp; currents</h1><p>The <b>sea</b> rises twice a day.</p>\
<ul><li>High water</li><li>Low water</li></ul><p>See <a href=\"/more\">more</a>.</p></body></html>";

async fn page(State(hits): State<Arc<AtomicUsize>>) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response()
}

/// The headers and a first chunk, then nothing.
async fn stall(State(hits): State<Arc<AtomicUsize>>) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    let first =
        futures::stream::once(async { Ok::<_, std::io::Error>(bytes::Bytes::from("start")) });
    Body::from_stream(first.chain(futures::stream::pending())).into_response()
}

async fn hang(State(hits): State<Arc<AtomicUsize>>) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    "too late".into_response()
}

/// A pier serving `hello` and `outbound` (with `sidecar`), the operator allowing private
/// networks when `private` says so.
async fn serving(sidecar: &str, private: bool) -> (App, Client, PluginDir) {
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound")
        .with_sidecar("outbound", sidecar);
    let mut config: ServeConfig = dir.config();
    config.grants.private_networks = private;
    let app = App::start(&config).await.expect("pier starts");
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let client = connect(&app).await.0;
    (app, client, dir)
}

/// `outbound_request` with `args`: its text and whether it failed.
async fn request(client: &Client, args: serde_json::Value) -> (String, bool) {
    let result = call(client, "outbound_request", args).await.unwrap();
    (text_of(&result), result.is_error == Some(true))
}

/// The first line of a failed request's text: pier's own words.
fn refusal(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn metrics(app: &App) -> String {
    app.metrics().render(&app.registry().snapshot(), 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_loopback_server_answers_get_post_404_and_a_large_body() {
    let web = Web::start().await;
    let sidecar = format!(
        "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n",
        web.port
    );
    let (app, client, _dir) = serving(&sidecar, true).await;
    let (got, failed) = request(
        &client,
        json!({"url": web.url("/json"), "show": ["content-type", "x-test"]}),
    )
    .await;
    assert_eq!(
        (got.as_str(), failed),
        (
            "200 [content-type=application/json x-test=yes] 17 bytes: {\"hello\":\"world\"}",
            false
        )
    );
    let (posted, _) = request(
        &client,
        json!({"method": "POST", "url": web.url("/echo"), "json": {"a": [1, 2]}}),
    )
    .await;
    let echoed = "application/json {\"a\":[1,2]}";
    assert_eq!(posted, format!("200 [] {} bytes: {echoed}", echoed.len()));
    let (missing, failed) = request(&client, json!({"url": web.url("/missing")})).await;
    assert_eq!(
        (missing.as_str(), failed),
        ("404 [] 12 bytes: no such page", false)
    );
    let (big, failed) = request(&client, json!({"url": web.url("/big")})).await;
    assert!(big.starts_with("200 [] 2097152 bytes: xxx"), "{big}");
    assert!(!failed);
    assert_eq!(web.hits(), 4);
    let text = metrics(&app);
    assert!(
        text.contains(
            "pier_egress_requests_total{plugin=\"outbound\",host=\"127.0.0.1\",outcome=\"ok\"} 4"
        ),
        "{text}"
    );
    assert_still_serving(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_outside_the_grants_are_refused_before_any_connection() {
    let web = Web::start().await;
    let other = Web::start().await;
    let port = web.port;
    // Granted: one port of 127.0.0.1 (private networks allowed), and any host on any
    // port of plain HTTP, public addresses only.
    let sidecar = format!(
        "[grants]\nhttp = [\"http://127.0.0.1:{port}\", \"http://*:*\"]\nprivate-networks = true\n"
    );
    let (app, client, _dir) = serving(&sidecar, false).await;
    // The operator allows no private networks: even the granted host is refused.
    let (text, failed) = request(&client, json!({"url": web.url("/json")})).await;
    assert!(failed);
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach http://127.0.0.1:{port}: 127.0.0.1 is a loopback address, and private networks are not in its [grants] (private-networks)"
        )
    );
    for (host, shown) in [
        ("2130706433", "2130706433 resolves to 127.0.0.1, which is"),
        ("0x7f000001", "0x7f000001 resolves to 127.0.0.1, which is"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1 is"),
        ("[::1]", "::1 is"),
    ] {
        let (text, failed) = request(
            &client,
            json!({"url": format!("http://{host}:{port}/json")}),
        )
        .await;
        assert!(failed, "{host}");
        assert_eq!(
            refusal(&text),
            format!(
                "plugin `outbound` may not reach http://{host}:{port}: {shown} a loopback address, and private networks are not in its [grants] (private-networks)"
            ),
        );
    }
    let (text, _) = request(
        &client,
        json!({"url": format!("http://localhost:{port}/json")}),
    )
    .await;
    assert!(
        refusal(&text).starts_with(&format!(
            "plugin `outbound` may not reach http://localhost:{port}: localhost resolves to "
        )),
        "{text}"
    );
    // A scheme outside the grants.
    let (text, _) = request(
        &client,
        json!({"url": format!("https://127.0.0.1:{port}/json")}),
    )
    .await;
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach https://127.0.0.1:{port}: not in its [grants] http"
        )
    );
    assert_eq!(web.hits() + other.hits(), 0, "no connection was made");
    let text = metrics(&app);
    assert!(
        text.contains(
            "pier_egress_requests_total{plugin=\"outbound\",host=\"other\",outcome=\"denied\"} 7"
        ),
        "{text}"
    );
    assert_still_serving(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_and_ports_outside_the_grants_and_a_redirects_target_are_refused() {
    let web = Web::start().await;
    let other = Web::start().await;
    let sidecar = format!(
        "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n",
        web.port
    );
    let (_app, client, _dir) = serving(&sidecar, true).await;
    // Another port of the granted host.
    let (text, failed) = request(&client, json!({"url": other.url("/json")})).await;
    assert!(failed);
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach http://127.0.0.1:{}: not in its [grants] http",
            other.port
        )
    );
    // Another host on the granted port.
    let (text, _) = request(
        &client,
        json!({"url": format!("http://127.0.0.2:{}/json", web.port)}),
    )
    .await;
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach http://127.0.0.2:{}: not in its [grants] http",
            web.port
        )
    );
    // A redirect is the guest's to follow: it sees the 302, and its next request is
    // checked again.
    let to = other.url("/json");
    let (text, failed) = request(
        &client,
        json!({"url": web.url(&format!("/redirect?to={to}")), "show": ["location"]}),
    )
    .await;
    assert_eq!(
        (text.as_str(), failed),
        (format!("302 [location={to}] 0 bytes: ").as_str(), false)
    );
    let (text, failed) = request(&client, json!({"url": to})).await;
    assert!(failed);
    assert!(
        refusal(&text).ends_with("not in its [grants] http"),
        "{text}"
    );
    assert_eq!((web.hits(), other.hits()), (1, 0));
    // A guest that panics on the refusal: its trap names the refusal too.
    let result = call(
        &client,
        "outbound_request_or_panic",
        json!({"url": other.url("/json")}),
    )
    .await
    .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert!(
        text_of(&result).contains(&format!(
            "plugin `outbound` may not reach http://127.0.0.1:{}: not in its [grants] http",
            other.port
        )),
        "{}",
        text_of(&result)
    );
    assert_still_serving(&client).await;
}

/// Every text content of a result, one per line.
fn text_of(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_without_grants_reaches_nothing() {
    let web = Web::start().await;
    let (_app, client, _dir) = serving("", true).await;
    let (text, failed) = request(&client, json!({"url": web.url("/json")})).await;
    assert!(failed);
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach http://127.0.0.1:{}: not in its [grants] http",
            web.port
        )
    );
    assert_eq!(web.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_edited_while_serving_changes_the_grants_of_the_next_call() {
    let web = Web::start().await;
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound");
    let mut config = dir.watched_config();
    config.debounce = std::time::Duration::from_millis(50);
    config.grants.private_networks = true;
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    let (text, failed) = request(&client, json!({"url": web.url("/json")})).await;
    assert!(failed);
    assert!(
        refusal(&text).ends_with("not in its [grants] http"),
        "{text}"
    );
    let granted = |app: &App| {
        app.registry()
            .snapshot()
            .mounts
            .iter()
            .filter_map(|m| m.wasm())
            .any(|p| p.name() == "outbound" && !p.grants().http.effective.is_empty())
    };
    std::fs::write(
        dir.path().join("outbound.toml"),
        format!(
            "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n",
            web.port
        ),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !granted(&app) {
        assert!(
            std::time::Instant::now() < deadline,
            "the sidecar change was never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (text, failed) = request(&client, json!({"url": web.url("/json")})).await;
    assert_eq!(
        (text.as_str(), failed),
        ("200 [] 17 bytes: {\"hello\":\"world\"}", false)
    );
    // And taken away again.
    std::fs::write(dir.path().join("outbound.toml"), "").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while granted(&app) {
        assert!(
            std::time::Instant::now() < deadline,
            "the sidecar change was never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (_, failed) = request(&client, json!({"url": web.url("/json")})).await;
    assert!(failed);
    assert_eq!(web.hits(), 1);
}

/// Reads one request's head from `stream`, then writes `response` whole and closes.
async fn answer_once<S>(mut stream: S, response: &[u8])
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let _ = stream.write_all(response).await;
    let _ = stream.shutdown().await;
}

/// A server on a free loopback port that answers one request per connection the HTTP/1.0
/// way: the whole response at once, then the connection closed.
async fn closing_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer_once(
                stream,
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n\r\nclosed after this",
            ));
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closing_the_connection_after_answering_is_read_every_time() {
    let port = closing_server().await;
    let sidecar =
        format!("[grants]\nhttp = [\"http://127.0.0.1:{port}\"]\nprivate-networks = true\n");
    let (_app, client, _dir) = serving(&sidecar, true).await;
    // The connection ends as the response arrives: never taken for a failure.
    for _ in 0..10 {
        let (text, failed) = request(
            &client,
            json!({"url": format!("http://127.0.0.1:{port}/"), "times": 8}),
        )
        .await;
        assert_eq!(
            (text.as_str(), failed),
            ("200 [] 17 bytes: closed after this", false)
        );
    }
}
