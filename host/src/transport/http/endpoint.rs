//! `/mcp`: rmcp's streamable HTTP service with pier's jobs around it, in the order a
//! request meets them: counted in the metrics, bounded in time, tracked in flight for
//! shutdown, and a DELETE's answer made final.
//!
//! One handler does all four, calling the shared service by reference: as a stack of
//! tower layers each request cloned every layer, the service and its configuration
//! (allocations and a cancellation token's lock per clone, a measurable share of a
//! loaded server's time; `bench/results/hot-path.md`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use http_body::{Frame, SizeHint};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::SessionId;
use serde_json::json;

use crate::server::handler::CALLER;
use crate::server::{InFlight, InFlightGuard, PierServer};
use crate::telemetry::Metrics;
use crate::transport::request_ids::Sessions;

/// What `/mcp` needs per request; cloned per request (four reference counts).
#[derive(Clone)]
pub(super) struct Endpoint {
    /// rmcp's service: sessions, SSE streams, JSON-RPC.
    pub(super) mcp: Arc<StreamableHttpService<PierServer, Sessions>>,
    /// The session manager (to tell the fleet of a session's end).
    pub(super) sessions: Arc<Sessions>,
    /// `pier_http_requests_total`.
    pub(super) metrics: Arc<Metrics>,
    /// `server.request-timeout-ms`.
    pub(super) timeout: Duration,
    /// `server.body-timeout-ms`.
    pub(super) body_timeout: Duration,
    /// POSTs whose response has not been sent completely.
    pub(super) requests: Arc<InFlight>,
}

/// Serves one request to `/mcp`.
///
/// - Every request is counted in `pier_http_requests_total` by method and status (a
///   timed-out one as its 504).
/// - The time to a response's start is bounded by `server.request-timeout-ms`: 504 with
///   a JSON-RPC error beyond (an SSE response starts at once; its result is bounded by
///   the plugin's own timeout).
/// - A POST is in flight from its arrival until the last byte of its response (an SSE
///   response ends after the result of the call), so that shutdown can wait for it.
/// - A session ended by DELETE is done, not pending: 200 rather than rmcp's 202 (clients
///   such as the Python SDK treat 202 as a failed termination).
pub(super) async fn serve(State(endpoint): State<Endpoint>, request: Request) -> Response {
    let method = request.method().clone();
    let in_flight = (method == Method::POST).then(|| endpoint.requests.start());
    // Only a POST has a body to wait for.
    let late = (method == Method::POST).then(|| Arc::new(AtomicBool::new(false)));
    let request = match &late {
        Some(late) => {
            let deadline = tokio::time::Instant::now() + endpoint.body_timeout;
            request.map(|body| {
                Body::new(Deadline {
                    body,
                    deadline,
                    timer: None,
                    late: late.clone(),
                })
            })
        }
        None => request,
    };
    // The handler rmcp makes for the request learns its caller from here.
    let caller = request
        .extensions()
        .get::<crate::auth::Identity>()
        .cloned()
        .map(Arc::new);
    let deleted = (method == Method::DELETE)
        .then(|| request.headers().get("mcp-session-id")?.to_str().ok())
        .flatten()
        .map(|id| SessionId::from(id.to_string()));
    let handled = CALLER.scope(caller, endpoint.mcp.handle(request));
    let response = match tokio::time::timeout(endpoint.timeout, handled).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            if method == Method::DELETE && parts.status == StatusCode::ACCEPTED {
                parts.status = StatusCode::OK;
                if let Some(id) = &deleted {
                    endpoint.sessions.deleted(id).await;
                }
            }
            let body = Tracked {
                body,
                _in_flight: in_flight,
            };
            Response::from_parts(parts, Body::new(body))
        }
        Err(_) => timed_out(endpoint.timeout),
    };
    let response = if late.is_some_and(|late| late.load(Ordering::Relaxed)) {
        body_too_slow(endpoint.body_timeout)
    } else {
        response
    };
    endpoint
        .metrics
        .http_request(method.as_str(), response.status().as_u16());
    response
}

fn timed_out(timeout: Duration) -> Response {
    let message = format!(
        "request timed out after {} ms (server.request-timeout-ms)",
        timeout.as_millis()
    );
    (
        StatusCode::GATEWAY_TIMEOUT,
        Json(json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": -32603, "message": message },
        })),
    )
        .into_response()
}

fn body_too_slow(timeout: Duration) -> Response {
    let message = format!(
        "the request body did not arrive within {} ms (server.body-timeout-ms)",
        timeout.as_millis()
    );
    (
        StatusCode::REQUEST_TIMEOUT,
        [(axum::http::header::CONNECTION, "close")],
        Json(json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": -32600, "message": message },
        })),
    )
        .into_response()
}

/// A request body that fails once its deadline passes with bytes still to come (and
/// says so in `late`). The timer is made only when the body is not all there at once.
struct Deadline {
    body: Body,
    deadline: tokio::time::Instant,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    late: Arc<AtomicBool>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let deadline = self.deadline;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.late.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(axum::Error::new("request body too slow"))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A response body that holds its request in flight until it is dropped (sent
/// completely, or abandoned by the client).
struct Tracked<B> {
    body: B,
    _in_flight: Option<InFlightGuard>,
}

impl<B> http_body::Body for Tracked<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
