//! The HTTP/1.1 connections of the server: accepted up to `server.max-connections` at
//! once, each given `server.header-timeout-ms` to send a request's head (and closed
//! when idle that long between requests), so that clients trickling bytes, or
//! holding connections open without a request, cannot pile up.
//!
//! hyper enforces the head timeout only with a timer, which `axum::serve` does not give
//! it: pier accepts and serves connections itself, as `axum::serve` does otherwise.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::server::InFlight;

/// Bounds on connections (keys `server.header-timeout-ms`, `server.max-connections`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's head, and most time a connection stays
    /// open idle between requests.
    pub header_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

/// Accepts connections on `listener` and serves `router` on each, until `stop` is
/// cancelled; then asks each open connection to close once its response is sent. The
/// connections still open are counted in `open`.
pub(super) async fn accept(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
    open: Arc<InFlight>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // Said once each time the limit is reached, not per connection waiting.
    let mut said_full = false;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                said_full = false;
                slot
            }
            Err(_) => {
                if !std::mem::replace(&mut said_full, true) {
                    tracing::warn!(
                        "{} connections open, the limit (server.max-connections): new ones wait until one closes",
                        limits.max_connections
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => return,
                    },
                    () = stop.cancelled() => return,
                }
            }
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was
                    // accepted: wait a little rather than spin, and go on.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => return,
        };
        let connection = Connection {
            http1: http1.clone(),
            router: router.clone(),
            stop: stop.clone(),
        };
        let counted = open.start();
        tokio::spawn(async move {
            connection.serve(tcp, peer).await;
            drop((slot, counted));
        });
    }
}

/// What one connection needs.
struct Connection {
    http1: hyper::server::conn::http1::Builder,
    router: Router,
    stop: CancellationToken,
}

impl Connection {
    async fn serve(self, tcp: TcpStream, peer: SocketAddr) {
        // Responses are small writes (SSE events): without TCP_NODELAY each waits
        // ~40 ms for the client's delayed ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let router = self.router;
        // The peer address reaches requests (rate limits and caps per client IP).
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut router = router.clone();
            async move {
                let response: Result<_, Infallible> = router.call(request.map(Body::new)).await;
                response
            }
        });
        let connection = self
            .http1
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection from {peer} ended: {e}");
                }
                return;
            }
            () = self.stop.cancelled() => connection.as_mut().graceful_shutdown(),
        }
        if let Err(e) = connection.await {
            tracing::debug!("connection from {peer} ended: {e}");
        }
    }
}
