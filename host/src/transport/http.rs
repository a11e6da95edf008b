//! MCP over streamable HTTP (revisions 2025-11-25 and 2026-07-28), nested in an axum app
//! beside the operations endpoints `/health`, `/ready`, `/metrics` and `/admin`.
//!
//! The app is a value ([`router`]), testable without a socket; [`serve`] runs it on a
//! listener until a shutdown signal, then lets in-flight requests finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{any, get};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::server::InFlight;

mod connections;
mod endpoint;
use crate::{App, Readiness};
pub use connections::ConnectionLimits;

/// How the HTTP transport behaves (keys `server.*` of the configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOptions {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// No sessions: every request stands alone and gets a JSON response.
    pub stateless: bool,
    /// Origins allowed to call (`scheme://host:port`, `:*` for any port). A request with
    /// an `Origin` header not in this list is refused with 403.
    pub allowed_origins: Vec<String>,
    /// `Host` header values accepted (DNS-rebinding protection); empty accepts any.
    pub allowed_hosts: Vec<String>,
    /// Largest request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Time a request to `/mcp` may take until its response starts (504 beyond). An
    /// SSE response starts at once; its result is bounded by the plugin's timeout.
    pub request_timeout: Duration,
    /// A session without requests for this long is closed.
    pub session_idle: Duration,
    /// A session without requests for this long is put away: its worker closed, its
    /// record kept in the store until it comes back ([`super::hibernation`]). Zero
    /// keeps every session in memory.
    pub session_hibernate: Duration,
    /// Time a request's body has to arrive, from the request's start (408 beyond).
    pub body_timeout: Duration,
    /// Time a client has to send a request's head; also the most a connection stays
    /// open idle between requests.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Time in-flight requests get to finish after a shutdown signal.
    pub shutdown_grace: Duration,
}

/// What a graceful shutdown needs from the running app.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// Cancelling it closes every MCP session (and their SSE streams).
    pub sessions: CancellationToken,
    /// POSTs to `/mcp` whose response has not been sent completely yet.
    pub requests: Arc<InFlight>,
    /// Cancelled when shutdown begins: `subscriptions/listen` streams end then, with
    /// their final result, rather than hold the shutdown for its grace.
    pub draining: CancellationToken,
    /// Bounds on connections.
    pub connections: ConnectionLimits,
}

impl Default for Lifecycle {
    fn default() -> Self {
        let http = &crate::ServeConfig::default().http;
        Self {
            sessions: CancellationToken::default(),
            requests: Arc::default(),
            draining: CancellationToken::default(),
            connections: ConnectionLimits::of(http),
        }
    }
}

impl Lifecycle {
    /// The lifecycle of `app` served over HTTP.
    pub fn of(app: &App) -> Self {
        Self {
            draining: app.draining(),
            connections: ConnectionLimits::of(&app.config.http),
            ..Self::default()
        }
    }
}

impl ConnectionLimits {
    /// The limits `options` set.
    pub fn of(options: &HttpOptions) -> Self {
        Self {
            header_timeout: options.header_timeout,
            max_connections: options.max_connections,
        }
    }
}

/// The HTTP app: `/mcp`, `/health`, `/ready`, `/metrics`, `/admin`, `/console`.
pub fn router(app: Arc<App>, options: &HttpOptions, lifecycle: &Lifecycle) -> Router {
    // A request without a session (MCP 2026-07-28, or any to a stateless pier) whose
    // first message is its answer gets it as JSON; one that sends notifications first
    // (progress, logs) gets an SSE stream. Legacy sessions always stream.
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!options.stateless)
        .with_json_response(true)
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_allowed_origins(options.allowed_origins.clone())
        .with_cancellation_token(lifecycle.sessions.clone());
    config = if options.allowed_hosts.is_empty() {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(options.allowed_hosts.clone())
    };
    if options.allowed_origins.is_empty() {
        // An empty list means "no browser origin at all", not "no check".
        config = config.enforce_origin_validation();
    }
    let records = Arc::new(super::sessions::SessionRecords::new(
        app.store().clone(),
        options.session_idle,
    ));
    if !options.stateless {
        config.session_store = Some(records.clone());
    }
    let mut local = LocalSessionManager::default();
    local.session_config.keep_alive = Some(options.session_idle);
    let hibernate = options.session_hibernate;
    let hibernation = (!options.stateless
        && !hibernate.is_zero()
        && hibernate < options.session_idle)
        .then(|| {
            super::hibernation::Hibernation::new(
                hibernate,
                options.session_idle,
                records.clone(),
                app.metrics().clone(),
            )
        });
    let relay = if options.stateless {
        None
    } else {
        super::relay::Relay::new(app.fleet().clone())
    };
    let sessions = Arc::new(super::request_ids::Sessions::new(
        local,
        hibernation,
        (!options.stateless).then(|| (records.clone(), options.session_idle)),
        relay,
    ));
    super::request_ids::Sessions::spawn_hibernation(&sessions);
    super::request_ids::Sessions::spawn_relay(&sessions);
    let factory_app = app.clone();
    let stateless = options.stateless;
    let endpoint = endpoint::Endpoint {
        mcp: Arc::new(StreamableHttpService::new(
            move || {
                Ok(if stateless {
                    factory_app.one_request()
                } else {
                    factory_app.session(None)
                })
            },
            sessions.clone(),
            config,
        )),
        sessions,
        metrics: app.metrics().clone(),
        timeout: options.request_timeout,
        body_timeout: options.body_timeout,
        requests: lifecycle.requests.clone(),
    };
    let mut mcp = any(endpoint::serve).with_state(endpoint);
    // The console calls tools through `/mcp` after authenticating its own requests.
    let console_mcp: Option<Router> = app.config.console.enabled.then(|| {
        Router::new()
            .route("/mcp", mcp.clone())
            .with_state(app.clone())
    });
    let verifier = app.verifier().clone();
    let auth_on = verifier.auth().enabled();
    if auth_on {
        let guard = Arc::new(crate::auth::Guard::new(
            verifier.clone(),
            (!options.stateless).then(|| (app.store().clone(), options.session_idle)),
        ));
        mcp = mcp.layer(axum::middleware::from_fn_with_state(
            guard,
            crate::auth::authenticate,
        ));
    } else if !options.listen.ip().is_loopback() {
        tracing::warn!(
            "auth.mode = \"none\" while listening on {}: anyone who reaches the port can call every tool",
            options.listen
        );
    }
    let mut router = Router::new()
        .route("/mcp", mcp.clone())
        .route("/mcp/{*rest}", mcp);
    if auth_on {
        let metadata = get(crate::auth::metadata).with_state(verifier.clone());
        router = router
            .route("/.well-known/oauth-protected-resource", metadata.clone())
            .route("/.well-known/oauth-protected-resource/mcp", metadata);
    }
    let mut open = Router::new();
    let mut guarded = Router::new();
    for (path, route) in [
        ("/health", get(health)),
        ("/ready", get(ready)),
        ("/metrics", get(metrics)),
    ] {
        if auth_on && !verifier.auth().open_endpoints.iter().any(|e| e == path) {
            guarded = guarded.route(path, route);
        } else {
            open = open.route(path, route);
        }
    }
    if auth_on {
        guarded = guarded.layer(axum::middleware::from_fn_with_state(
            verifier,
            crate::auth::require_token,
        ));
    }
    let mut router = router.merge(open).merge(guarded);
    if app.admin_token().is_some() || auth_on {
        router = router.nest("/admin", super::admin::router(app.clone()));
    }
    if let Some(mcp) = console_mcp {
        router = router.merge(crate::console::router(app.clone(), mcp, app.config.console));
    }
    router.with_state(app)
}

/// 200 while the process runs.
async fn health() -> &'static str {
    "ok\n"
}

/// Prometheus text format.
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let body = app
        .metrics()
        .render(&app.registry().snapshot(), app.refusals().len());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}

/// 200 once every plugin file serves a version; 503 with a JSON reason while loading
/// or when a file has nothing serving. A refused replacement whose previous version
/// keeps serving is listed under `refused_updates` (still ready); a store that does not
/// answer, under `store` (still ready).
async fn ready(State(app): State<Arc<App>>) -> Response {
    let not_ready =
        |body: serde_json::Value| (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    let refusal = |file: &std::path::Path, reason: &str| json!({ "file": file.display().to_string(), "reason": reason });
    match app.readiness() {
        Readiness::Loading => not_ready(json!({ "ready": false, "reason": "plugins are loading" })),
        Readiness::Unreadable(e) => not_ready(json!({
            "ready": false,
            "reason": "the plugin directory cannot be read",
            "not_loaded": [refusal(&e.file, &e.reason)],
        })),
        Readiness::Loaded => {
            let mut not_loaded = Vec::new();
            let mut updates = Vec::new();
            for r in app.refusals() {
                let mut item = match &r.mount {
                    None => refusal(&r.error.file, &r.error.reason),
                    Some(ns) => {
                        json!({ "mount": ns, "source": r.error.file.display().to_string(), "reason": r.error.reason })
                    }
                };
                match r.serving {
                    Some(version) => {
                        item["serving"] = json!(version);
                        updates.push(item);
                    }
                    None => not_loaded.push(item),
                }
            }
            let ready = not_loaded.is_empty();
            let mut body = if ready {
                let mounts = app.registry().snapshot().mounts.len();
                json!({ "ready": true, "mounts": mounts })
            } else {
                json!({ "ready": false, "reason": "some plugins or mounts were refused", "not_loaded": not_loaded })
            };
            if !updates.is_empty() {
                body["refused_updates"] = json!(updates);
            }
            // What each registry reference resolved to: the digest served.
            let pulled: Vec<serde_json::Value> = app
                .pulled()
                .into_iter()
                .map(|(mount, reference, digest)| {
                    json!({ "mount": mount, "reference": reference, "digest": digest })
                })
                .collect();
            if !pulled.is_empty() {
                body["pulled"] = json!(pulled);
            }
            // A store down does not take the replica out of its balancer: what needs
            // no store still serves (and every replica shares the store, so all of
            // them would go at once). It is said here, and by `pier_store_up`.
            if let Some(why) = app.store_down() {
                body["store"] = json!({ "ok": false, "reason": why });
            }
            if ready {
                Json(body).into_response()
            } else {
                not_ready(body)
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting
/// connections, gives the requests in flight up to `grace` to finish, closes the
/// sessions and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    lifecycle: Lifecycle,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stop_accepting = CancellationToken::new();
    let connections = Arc::new(InFlight::default());
    let mut server = tokio::spawn(connections::accept(
        listener,
        router,
        lifecycle.connections,
        stop_accepting.clone(),
        connections.clone(),
    ));
    tokio::select! {
        joined = &mut server => return joined.map_err(std::io::Error::other),
        () = shutdown => {}
    }
    tracing::info!(
        in_flight = lifecycle.requests.count(),
        "shutting down: finishing requests in flight"
    );
    // Stops accepting, and asks every connection to close after its response.
    stop_accepting.cancel();
    lifecycle.draining.cancel();
    if tokio::time::timeout(grace, lifecycle.requests.idle())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {} ms; closing anyway",
            grace.as_millis()
        );
    }
    // Closing the sessions ends their SSE streams, so the connections can close.
    lifecycle.sessions.cancel();
    let _ = tokio::time::timeout(grace, connections.idle()).await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
