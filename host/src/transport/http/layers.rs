//! The layers around `/mcp`, one job each, in the order a request meets them: counted
//! in the metrics, bounded in time, tracked in flight for shutdown, and a DELETE's
//! answer made final.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use futures::StreamExt;
use serde_json::json;

use crate::server::InFlight;
use crate::telemetry::Metrics;

/// Counts every request in `pier_http_requests_total` by method and status (a timed-out
/// one as its 504).
pub(super) async fn count(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    metrics.http_request(method.as_str(), response.status().as_u16());
    response
}

/// Bounds the time to a response's start by `server.request-timeout-ms`: 504 with a
/// JSON-RPC error beyond (an SSE response starts at once; its result is bounded by the
/// plugin's own timeout).
pub(super) async fn limit_time(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    tokio::time::timeout(timeout, next.run(request))
        .await
        .unwrap_or_else(|_| timed_out(timeout))
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

/// Counts a POST as in flight from its arrival until the last byte of its response (an
/// SSE response ends after the result of the call), so that shutdown can wait for it.
pub(super) async fn track_in_flight(
    State(requests): State<Arc<InFlight>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let guard = requests.start();
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _held_until_the_body_ends = &guard;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

/// A session ended by DELETE is done, not pending: 200 rather than rmcp's 202 (clients
/// such as the Python SDK treat 202 as a failed termination).
pub(super) async fn deleted_is_done(request: Request, next: Next) -> Response {
    if request.method() != Method::DELETE {
        return next.run(request).await;
    }
    let mut response = next.run(request).await;
    if response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    response
}
