//! A response body as the guest reads it: counted against the call's response bytes,
//! cut at the call's deadline or when it stalls past the guest's between-bytes timeout,
//! and one audit line when it is dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame};
use wasmtime_wasi_http::Error;

use super::{Shared, Target};

/// A response body counted against the call's byte budget and cut at its deadline;
/// its audit line is written when it is dropped (read to the end or not).
pub(super) struct Metered {
    inner: Option<hyper::body::Incoming>,
    /// The call's deadline.
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// The guest's `between-bytes-timeout` and the wait for the next frame.
    idle: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
    shared: Arc<Shared>,
    target: Target,
    status: u16,
    bytes: usize,
    started: Instant,
}

impl Metered {
    /// The body of a response with `status` to a request to `target` sent at `started`;
    /// `between` is the guest's between-bytes timeout, if it set one.
    pub(super) fn new(
        incoming: hyper::body::Incoming,
        shared: Arc<Shared>,
        target: Target,
        status: u16,
        started: Instant,
        between: Option<Duration>,
    ) -> Self {
        Self {
            inner: Some(incoming),
            sleep: Box::pin(tokio::time::sleep_until(shared.deadline.into())),
            idle: between.map(|wait| (wait, Box::pin(tokio::time::sleep(wait)))),
            shared,
            target,
            status,
            bytes: 0,
            started,
        }
    }
}

impl Body for Metered {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, Bytes::len);
                self.bytes += n;
                let total = self.shared.bytes.fetch_add(n, Ordering::Relaxed) + n;
                if total > self.shared.budget.response_bytes {
                    self.inner = None;
                    let why = format!(
                        "its responses passed {} bytes in this call ({} http-response-bytes)",
                        self.shared.budget.response_bytes, self.shared.table
                    );
                    let _ = self.shared.deny(&self.target, why);
                    return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                        self.shared.budget.response_bytes as u64,
                    )))));
                }
                if let Some((wait, idle)) = self.idle.as_mut() {
                    let next = tokio::time::Instant::now() + *wait;
                    idle.as_mut().reset(next);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if self.sleep.as_mut().poll(cx).is_ready() {
                    self.inner = None;
                    self.shared.late.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
                }
                let stalled = self
                    .idle
                    .as_mut()
                    .and_then(|(wait, idle)| idle.as_mut().poll(cx).is_ready().then_some(*wait));
                if let Some(wait) = stalled {
                    self.shared.explain_failure(
                        &self.target,
                        &format!(
                            "its response stalled for {} ms (the request's between-bytes timeout)",
                            wait.as_millis()
                        ),
                    );
                    self.inner = None;
                    return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        tracing::info!(
            target: "pier::egress",
            plugin = %self.shared.plugin,
            method = %self.target.method,
            url = %format_args!("{}{}", self.target.origin, self.target.path),
            status = self.status,
            bytes = self.bytes,
            ms = self.started.elapsed().as_millis() as u64,
            "outbound request"
        );
    }
}
