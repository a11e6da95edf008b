//! The session manager of the HTTP transport: rmcp's in-memory one, refusing a request
//! whose id is in use by a request in flight in the same session, and putting quiet
//! sessions away ([`super::hibernation`]).
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

use super::hibernation::{Hibernation, Open};

type Claimed = Arc<Mutex<HashSet<(SessionId, RequestId)>>>;

/// [`LocalSessionManager`] with request ids claimed per session, and quiet sessions
/// put away when `hibernation` is on.
pub struct Sessions {
    inner: LocalSessionManager,
    claimed: Claimed,
    hibernation: Option<Arc<Hibernation>>,
}

impl Sessions {
    /// Wraps `inner`.
    pub fn new(inner: LocalSessionManager, hibernation: Option<Hibernation>) -> Self {
        Self {
            inner,
            claimed: Arc::default(),
            hibernation: hibernation.map(Arc::new),
        }
    }

    /// Puts quiet sessions away until `sessions` is dropped elsewhere (the task holds
    /// a weak reference); nothing without hibernation.
    pub fn spawn_hibernation(sessions: &Arc<Self>) {
        let Some(every) = sessions.hibernation.as_ref().map(|h| h.every()) else {
            return;
        };
        crate::spawn_every(sessions, every, |sessions| async move {
            let Some(hibernation) = &sessions.hibernation else {
                return;
            };
            let inner = &sessions.inner;
            let put_away = hibernation
                .sweep(|id| async move {
                    if let Err(e) = inner.close_session(&id).await {
                        tracing::warn!("closing the worker of a quiet session: {e}");
                    }
                })
                .await;
            if put_away > 0 {
                tracing::debug!("{put_away} quiet sessions put away");
            }
        });
    }

    /// A stream of session `id` opened for `message`, tracked until it ends.
    fn opened(&self, id: &SessionId, message: Option<&ClientJsonRpcMessage>) -> Option<Open> {
        self.hibernation.as_ref().map(|h| h.opened(id, message))
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
        if let Some(hibernation) = &self.hibernation {
            hibernation.began(id, &message);
        }
        self.inner.initialize_session(id, message)
    }

    fn has_session(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        // A session put away (or being put away) is not here: rmcp restores it.
        let away = self.hibernation.as_ref().is_some_and(|h| !h.touch(id));
        async move {
            if away {
                return Ok(false);
            }
            self.inner.has_session(id).await
        }
    }

    fn close_session(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        if let Some(hibernation) = &self.hibernation {
            hibernation.ended(id);
        }
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
            let open = self.opened(id, Some(&message));
            let stream = self.inner.create_stream(id, message).await?;
            Ok(stream
                .map(move |event| {
                    let _released_when_the_stream_ends = (&claim, &open);
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
        if let Some(hibernation) = &self.hibernation {
            hibernation.touch(id);
        }
        self.inner.accept_message(id, message)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let open = self.opened(id, None);
        let stream = self.inner.create_standalone_stream(id).await?;
        Ok(stream.map(move |event| {
            let _ended_with_the_stream = &open;
            event
        }))
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let open = self.opened(id, None);
        let stream = self.inner.resume(id, last_event_id).await?;
        Ok(stream.map(move |event| {
            let _ended_with_the_stream = &open;
            event
        }))
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        let Some(hibernation) = &self.hibernation else {
            return self.inner.restore_session(id).await;
        };
        // The worker this one replaces may still be closing: wait for it, and be sure
        // it is gone.
        let _no_close_under_way = hibernation.restoring().await;
        self.inner.close_session(&id).await?;
        self.inner.restore_session(id).await
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.inner.event_store()
    }
}
