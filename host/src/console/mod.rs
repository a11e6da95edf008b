//! The browser console at `/console` (`[console] enabled`, on in `pier dev`): a small
//! web app embedded in the binary, and the JSON it reads.
//!
//! - `GET /console`: the page; `/console/console.js`, `/console/console.css` its code and
//!   style (plain HTML, CSS and JavaScript: no framework, no build step, nothing fetched
//!   from elsewhere);
//! - `GET /console/api/mounts`: every mount ([`crate::registry::mounts::MountInfo`]),
//!   the files refused, and each mount's calls and errors so far;
//! - `GET /console/api/catalogue`: tools (with their schemas), resources, templates,
//!   prompts, each with the mount serving it;
//! - `POST /console/api/call`: `{"name", "arguments"}`; the tool is called through
//!   `/mcp` like any client's call (MCP 2026-07-28, no session), as the console's
//!   subject, with its log messages and progress asked for. The answer is `/mcp`'s own:
//!   JSON, or an SSE stream when notifications come first;
//! - `GET /console/api/events`: the live feed ([`crate::telemetry::feed`]) as SSE;
//! - `GET /console/api/series`: requests/s, errors/s and p99 latency per mount over the
//!   last minutes ([`series`]), drawn from pier's own metrics.
//!
//! Who may: by default only a client on loopback that names the host by a loopback
//! name (so a page elsewhere cannot reach it through DNS rebinding); `console.remote`
//! lifts that (and needs a token to be configured). With `admin.token` set or auth on,
//! the API needs the admin token or a token with `admin.scope`, as `/admin` does; the
//! page itself holds no data. A request from another origin (a browser's `Origin`
//! header naming another site) is refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::App;
use crate::auth::Identity;

pub mod series;

/// The `[console]` settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsoleOptions {
    /// Whether `/console` is served.
    pub enabled: bool,
    /// Whether clients beyond loopback may use it.
    pub remote: bool,
}

/// Live streams (`/console/api/events`) served at once; more are answered 503.
pub const MAX_STREAMS: usize = 16;

/// How often a live stream says it is alive when nothing happens.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Largest request body of `POST /console/api/call`.
const MAX_CALL_BYTES: usize = 1 << 20;

/// The subject the console's calls run as when no token names one.
pub const SUBJECT: &str = "admin";

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");

/// What the console's handlers share.
#[derive(Clone)]
struct Console {
    app: Arc<App>,
    /// `/mcp` without its authentication (the console authenticates first).
    mcp: Router,
    options: ConsoleOptions,
    series: Arc<series::Series>,
    streams: Arc<AtomicUsize>,
}

/// The `/console` routes. `mcp` serves `/mcp` without authentication.
pub fn router(app: Arc<App>, mcp: Router, options: ConsoleOptions) -> Router<Arc<App>> {
    let series = Arc::new(series::Series::default());
    series::spawn_sampler(&app, &series);
    let console = Console {
        app,
        mcp,
        options,
        series,
        streams: Arc::default(),
    };
    let api = Router::new()
        .route("/mounts", get(mounts))
        .route("/catalogue", get(catalogue))
        .route("/call", post(call))
        .route("/events", get(events))
        .route("/series", get(series_json))
        .layer(axum::middleware::from_fn_with_state(
            console.clone(),
            authorize,
        ));
    Router::new()
        .route("/console", get(page))
        .route("/console/", get(page))
        .route("/console/console.js", get(script))
        .route("/console/console.css", get(style))
        .nest("/console/api", api)
        .layer(axum::middleware::from_fn_with_state(
            console.clone(),
            reachable,
        ))
        .with_state(console)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    let mut response = asset("text/html; charset=utf-8", PAGE);
    // The page runs only its own script and style, and may be framed by nobody.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    response
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// Whether `host` (a `Host` header: name or address, maybe a port) names this
/// machine's loopback: `localhost`, 127.0.0.0/8 or `[::1]`.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why a request may not reach the console at all, if it may not: a client beyond
/// loopback (unless `remote`), a host named otherwise than by a loopback name (DNS
/// rebinding), or a page of another origin.
fn unreachable(remote: bool, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !remote {
        if !peer.is_some_and(|p| p.ip().is_loopback()) {
            return Some(
                "the console answers only on loopback (set console.remote = true to serve it further)".into(),
            );
        }
        if !loopback_host(host) {
            return Some(format!(
                "the console answers only to loopback names (localhost, 127.0.0.1, [::1]), not to `{}`",
                crate::text::clip(host)
            ));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let same = ["http://", "https://"]
            .iter()
            .any(|scheme| origin.strip_prefix(scheme) == Some(host));
        if !same {
            return Some(format!(
                "the console answers only its own pages, not a page of `{}`",
                crate::text::clip(origin)
            ));
        }
    }
    None
}

/// Lets through what may reach the console (403 otherwise).
async fn reachable(State(console): State<Console>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    match unreachable(console.options.remote, peer, request.headers()) {
        Some(why) => error(StatusCode::FORBIDDEN, why),
        None => next.run(request).await,
    }
}

/// Who the console's API serves: the admin token's holder or a token with the admin
/// scope when either is required, else (an open console on loopback) [`SUBJECT`].
async fn authorize(State(console): State<Console>, mut request: Request, next: Next) -> Response {
    match crate::transport::admin::admitted(&console.app, request.headers()).await {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(refusal) => refusal,
    }
}

async fn mounts(State(console): State<Console>) -> Json<Value> {
    let refused: Vec<Value> = console
        .app
        .refusals()
        .into_iter()
        .map(|r| {
            json!({
                "file": r.error.file.display().to_string(),
                "mount": r.mount,
                "reason": r.error.reason,
                "serving": r.serving,
            })
        })
        .collect();
    let mut refused = refused;
    if let crate::Readiness::Unreadable(e) = console.app.readiness() {
        refused.insert(
            0,
            json!({ "file": e.file.display().to_string(), "mount": null, "reason": e.reason, "serving": null }),
        );
    }
    Json(json!({
        "mounts": console.app.mounts(),
        "refused": refused,
        "calls": series::totals(&console.app),
    }))
}

async fn catalogue(State(console): State<Console>) -> Json<Value> {
    let cat = console.app.registry().snapshot();
    let tools: Vec<Value> = cat
        .tools
        .items()
        .iter()
        .map(|t| {
            json!({
                "name": t.tool.name,
                "title": t.tool.title,
                "description": t.tool.description,
                "mount": t.mount.namespace,
                "inputSchema": t.tool.input_schema,
                "outputSchema": t.tool.output_schema,
                "annotations": t.tool.annotations,
            })
        })
        .collect();
    let resources: Vec<Value> = cat
        .resources
        .items()
        .iter()
        .map(|r| {
            json!({
                "uri": r.resource.uri,
                "name": r.resource.name,
                "description": r.resource.description,
                "mimeType": r.resource.mime_type,
                "mount": r.mount.namespace,
            })
        })
        .collect();
    let templates: Vec<Value> = cat
        .templates
        .items()
        .iter()
        .map(|t| {
            json!({
                "uriTemplate": t.template.uri_template,
                "name": t.template.name,
                "description": t.template.description,
                "mount": t.mount.namespace,
            })
        })
        .collect();
    let prompts: Vec<Value> = cat
        .prompts
        .items()
        .iter()
        .map(|p| {
            json!({
                "name": p.prompt.name,
                "description": p.prompt.description,
                "arguments": p.prompt.arguments,
                "mount": p.mount.namespace,
            })
        })
        .collect();
    Json(json!({
        "tools": tools,
        "resources": resources,
        "templates": templates,
        "prompts": prompts,
    }))
}

/// The JSON-RPC request of a console call of `name` with `arguments`: MCP 2026-07-28,
/// asking for every log message and for progress.
fn call_request(name: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": name,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {
                    "name": "pier-console",
                    "version": env!("CARGO_PKG_VERSION"),
                },
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/logLevel": "debug",
                "progressToken": "console",
            },
        },
    })
}

/// `{"name", "arguments"}` of a console call, or why it is not one.
fn call_body(body: &[u8]) -> Result<(String, Value), String> {
    if body.len() > MAX_CALL_BYTES {
        return Err(format!(
            "a call of the console is at most {MAX_CALL_BYTES} bytes"
        ));
    }
    let body: Value =
        serde_json::from_slice(body).map_err(|e| format!("the call is not JSON: {e}"))?;
    let name = match body.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => return Err("the call needs `name`, the tool's name".into()),
    };
    let arguments = match body.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(arguments)) => Value::Object(arguments.clone()),
        Some(_) => return Err("`arguments` must be an object".into()),
    };
    Ok((name, arguments))
}

async fn call(State(console): State<Console>, request: Request) -> Response {
    let identity = request.extensions().get::<Identity>().cloned();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .cloned();
    let host = request.headers().get(header::HOST).cloned();
    let body = match axum::body::to_bytes(request.into_body(), MAX_CALL_BYTES + 1).await {
        Ok(body) => body,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a call of the console is at most {MAX_CALL_BYTES} bytes"),
            );
        }
    };
    let (name, arguments) = match call_body(&body) {
        Ok(call) => call,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let Ok(name_header) = HeaderValue::from_str(&name) else {
        return error(
            StatusCode::BAD_REQUEST,
            "a tool name is printable text without line breaks",
        );
    };
    let rpc = Bytes::from(call_request(&name, arguments).to_string());
    let mut forwarded = axum::http::Request::post("/mcp")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", name_header);
    if let Some(host) = host {
        forwarded = forwarded.header(header::HOST, host);
    }
    let Ok(mut forwarded) = forwarded.body(Body::from(rpc)) else {
        return error(StatusCode::BAD_REQUEST, "the call cannot be forwarded");
    };
    if let Some(identity) = identity {
        forwarded.extensions_mut().insert(identity);
    }
    if let Some(peer) = peer {
        forwarded.extensions_mut().insert(peer);
    }
    use tower::ServiceExt;
    match console.mcp.oneshot(forwarded).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Counts a live stream while it lasts.
struct Streaming(Arc<AtomicUsize>);

impl Drop for Streaming {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn events(State(console): State<Console>) -> Response {
    if console.streams.fetch_add(1, Ordering::Relaxed) >= MAX_STREAMS {
        console.streams.fetch_sub(1, Ordering::Relaxed);
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_STREAMS} live views are open already; close one"),
        );
    }
    let streaming = Streaming(console.streams.clone());
    let feed = console.app.metrics().feed().subscribe();
    let draining = console.app.draining();
    // The first chunk tells the page it is connected; then each event, a keep-alive
    // when nothing happens, and the end when pier shuts down.
    let hello = futures::stream::once(async { Ok(Bytes::from_static(b": live\n\n")) });
    let live = futures::stream::unfold(
        (feed, draining, streaming),
        |(mut feed, draining, streaming)| async move {
            let next = tokio::select! {
                () = draining.cancelled() => return None,
                next = tokio::time::timeout(KEEP_ALIVE, feed.recv()) => next,
            };
            let chunk = match next {
                Err(_) => Bytes::from_static(b": alive\n\n"),
                Ok(Ok(event)) => sse(&serde_json::to_value(&*event).unwrap_or_default()),
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(missed))) => {
                    sse(&json!({ "kind": "dropped", "count": missed }))
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return None,
            };
            Some((
                Ok::<_, std::convert::Infallible>(chunk),
                (feed, draining, streaming),
            ))
        },
    );
    use futures::StreamExt;
    let stream = hello.chain(live);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// One SSE event carrying `data`.
fn sse(data: &Value) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

async fn series_json(State(console): State<Console>) -> Json<Value> {
    Json(console.series.json())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40000))
    }

    #[test]
    fn loopback_names_are_told_from_others() {
        for host in [
            "localhost",
            "LOCALHOST:8000",
            "127.0.0.1",
            "127.0.0.1:8000",
            "127.1.2.3:1",
            "[::1]:8000",
            "[::1]",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8000",
            "10.0.0.1:8000",
            "localhost.evil.example",
            "[::2]:80",
            "",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }

    #[test]
    fn only_loopback_clients_naming_loopback_from_the_same_origin_reach_it() {
        let ok = headers("127.0.0.1:8000", None);
        assert_eq!(unreachable(false, peer("127.0.0.1"), &ok), None);
        assert_eq!(unreachable(false, peer("::1"), &ok), None);
        let same = headers("localhost:8000", Some("http://localhost:8000"));
        assert_eq!(unreachable(false, peer("127.0.0.1"), &same), None);
        assert_eq!(
            unreachable(false, peer("192.0.2.7"), &ok).unwrap(),
            "the console answers only on loopback (set console.remote = true to serve it further)"
        );
        assert_eq!(
            unreachable(false, None, &ok).unwrap(),
            "the console answers only on loopback (set console.remote = true to serve it further)"
        );
        assert_eq!(
            unreachable(
                false,
                peer("127.0.0.1"),
                &headers("rebound.example:8000", None)
            )
            .unwrap(),
            "the console answers only to loopback names (localhost, 127.0.0.1, [::1]), not to `rebound.example:8000`"
        );
        let cross = headers("127.0.0.1:8000", Some("http://evil.example"));
        assert_eq!(
            unreachable(false, peer("127.0.0.1"), &cross).unwrap(),
            "the console answers only its own pages, not a page of `http://evil.example`"
        );
        // Remote: any client and name, but still only its own pages.
        let far = headers("pier.example:8000", Some("https://pier.example:8000"));
        assert_eq!(unreachable(true, peer("192.0.2.7"), &far), None);
        let cross = headers("pier.example:8000", Some("https://evil.example"));
        assert!(unreachable(true, peer("192.0.2.7"), &cross).is_some());
    }

    #[test]
    fn a_call_body_is_a_name_and_an_object_of_arguments() {
        assert_eq!(
            call_body(br#"{"name":"calc_add","arguments":{"a":2,"b":3}}"#).unwrap(),
            ("calc_add".to_string(), json!({"a": 2, "b": 3}))
        );
        assert_eq!(
            call_body(br#"{"name":"hello_hello"}"#).unwrap(),
            ("hello_hello".to_string(), json!({}))
        );
        assert_eq!(
            call_body(b"{").unwrap_err(),
            "the call is not JSON: EOF while parsing an object at line 1 column 1"
        );
        assert_eq!(
            call_body(br#"{"arguments":{}}"#).unwrap_err(),
            "the call needs `name`, the tool's name"
        );
        assert_eq!(
            call_body(br#"{"name":"x","arguments":[1]}"#).unwrap_err(),
            "`arguments` must be an object"
        );
        let huge = vec![b' '; MAX_CALL_BYTES + 1];
        assert_eq!(
            call_body(&huge).unwrap_err(),
            format!("a call of the console is at most {MAX_CALL_BYTES} bytes")
        );
    }

    #[test]
    fn a_console_call_asks_for_logs_and_progress_without_a_session() {
        let rpc = call_request("calc_add", json!({"a": 2}));
        assert_eq!(rpc["method"], "tools/call");
        assert_eq!(rpc["params"]["arguments"], json!({"a": 2}));
        let meta = &rpc["params"]["_meta"];
        assert_eq!(
            meta["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
        assert_eq!(meta["io.modelcontextprotocol/logLevel"], "debug");
        assert_eq!(meta["progressToken"], "console");
    }
}
