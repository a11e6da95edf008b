//! The session manager of the HTTP transport: rmcp's in-memory one, refusing a request
//! whose id is in use by a request in flight in the same session.
//!
//! rmcp routes each response to the HTTP stream of the request with its id. A second
//! request with the id of one in flight takes that route over: the first request's
//! response goes to the second stream, and the first stream stays open for good, with
//! nothing ever to end it (measured: two `resources/read` with one id on one session,
//! one answered, the other's stream open for over ten minutes). JSON-RPC forbids the
//! reuse, so the second request is answered on its own stream with `invalid request`
//! and the first is left alone. An id is claimed when its request arrives and released
//! when its response stream ends or is dropped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::{Stream, StreamExt};
use rmcp::ErrorData;
use rmcp::model::{ClientJsonRpcMessage, RequestId, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::{
    EventStore, RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};

type Claimed = Arc<Mutex<HashSet<(SessionId, RequestId)>>>;

/// [`LocalSessionManager`] with request ids claimed per session.
pub struct Sessions {
    inner: LocalSessionManager,
    claimed: Claimed,
}

impl Sessions {
    /// Wraps `inner`.
    pub fn new(inner: LocalSessionManager) -> Self {
        Self {
            inner,
            claimed: Arc::default(),
        }
    }

    /// Claims `id` in `session`; `None` when a request in flight holds it.
    fn claim(&self, session: &SessionId, id: &RequestId) -> Option<Claim> {
        let key = (session.clone(), id.clone());
        lock(&self.claimed).insert(key.clone()).then(|| Claim {
            claimed: self.claimed.clone(),
            key,
        })
    }
}

fn lock(claimed: &Claimed) -> MutexGuard<'_, HashSet<(SessionId, RequestId)>> {
    claimed.lock().unwrap_or_else(|e| e.into_inner())
}

/// A claimed request id, released when dropped.
struct Claim {
    claimed: Claimed,
    key: (SessionId, RequestId),
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.claimed).remove(&self.key);
    }
}

/// The answer to a request reusing the id of one in flight.
fn reused(id: &RequestId) -> ServerSseMessage {
    let message = format!(
        "request id {} is in use by a request in flight in this session; a client must not reuse it",
        crate::text::clip(&id.to_string())
    );
    ServerSseMessage::from_message(ServerJsonRpcMessage::error(
        ErrorData::invalid_request(message, None),
        Some(id.clone()),
    ))
}

impl SessionManager for Sessions {
    type Error = <LocalSessionManager as SessionManager>::Error;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    fn create_session(
        &self,
    ) -> impl Future<Output = Result<(SessionId, Self::Transport), Self::Error>> + Send {
        self.inner.create_session()
    }

    fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<ServerJsonRpcMessage, Self::Error>> + Send {
        self.inner.initialize_session(id, message)
    }

    fn has_session(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.inner.has_session(id)
    }

    fn close_session(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close_session(id)
    }

    fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        let claim = match &message {
            ClientJsonRpcMessage::Request(request) => Some(
                self.claim(id, &request.id)
                    .ok_or_else(|| reused(&request.id)),
            ),
            _ => None,
        };
        async move {
            let claim = match claim {
                Some(Err(answer)) => {
                    return Ok(futures::stream::iter([answer]).left_stream());
                }
                Some(Ok(claim)) => Some(claim),
                None => None,
            };
            let stream = self.inner.create_stream(id, message).await?;
            Ok(stream
                .map(move |event| {
                    let _released_when_the_stream_ends = &claim;
                    event
                })
                .right_stream())
        }
    }

    fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.accept_message(id, message)
    }

    fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        self.inner.create_standalone_stream(id)
    }

    fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        self.inner.resume(id, last_event_id)
    }

    fn restore_session(
        &self,
        id: SessionId,
    ) -> impl Future<Output = Result<RestoreOutcome<Self::Transport>, Self::Error>> + Send {
        self.inner.restore_session(id)
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.inner.event_store()
    }
}
