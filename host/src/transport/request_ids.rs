//! The session manager of the HTTP transport: rmcp's in-memory one, refusing a request
//! whose id is in use by a request in flight in the same session, putting quiet
//! sessions away ([`super::hibernation`]), keeping each session's record alive while it
//! is used, and relaying sessions between the replicas of a fleet ([`super::relay`]).
//!
//! rmcp routes each response to the HTTP stream of the request with its id. A second
//! request with the id of one in flight takes that route over: the first request's
//! response goes to the second stream, and the first stream stays open for good, with
//! nothing ever to end it (measured: two `resources/read` with one id on one session,
//! one answered, the other's stream open for over ten minutes). JSON-RPC forbids the
//! reuse, so the second request is answered on its own stream with `invalid request`
//! and the first is left alone. An id is claimed when its request arrives and released
//! when its response stream ends or is dropped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use rmcp::ErrorData;
use rmcp::model::{ClientJsonRpcMessage, RequestId, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::store::SessionState;
use rmcp::transport::streamable_http_server::session::{
    EventStore, RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};

use super::hibernation::{Hibernation, Open};
use super::relay::{Relay, Relayed};
use super::sessions::SessionRecords;

type Claimed = Arc<Mutex<HashSet<(SessionId, RequestId)>>>;

/// [`LocalSessionManager`] with request ids claimed per session, quiet sessions put
/// away when `hibernation` is on, records kept alive, and sessions relayed between
/// replicas when there is a `relay`.
pub struct Sessions {
    inner: LocalSessionManager,
    claimed: Claimed,
    hibernation: Option<Arc<Hibernation>>,
    relay: Option<Arc<Relay>>,
    /// The sessions' records, written again while they are used.
    records: Option<Keeping>,
}

/// The records of the sessions in memory, and when each was last written.
struct Keeping {
    records: Arc<SessionRecords>,
    /// A session's idle time: what its record is kept for.
    idle: Duration,
    written: Mutex<HashMap<SessionId, (SessionState, Instant)>>,
}

impl Keeping {
    fn written(&self) -> MutexGuard<'_, HashMap<SessionId, (SessionState, Instant)>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the record of `id` again (for a full idle time from now) when it was last
    /// written a quarter of that ago or more: a session used on any replica stays
    /// known to all of them, at one write per session and replica per quarter.
    fn used(&self, id: &SessionId) {
        let state = {
            let mut written = self.written();
            let Some((state, at)) = written.get_mut(id) else {
                return;
            };
            if at.elapsed() < self.idle / 4 {
                return;
            }
            *at = Instant::now();
            state.clone()
        };
        let (records, id, idle) = (self.records.clone(), id.clone(), self.idle);
        tokio::spawn(async move {
            if let Err(e) = records.keep(&id, &state, idle).await {
                tracing::debug!("the record of a session was not kept alive: {e}");
            }
        });
    }
}

impl Sessions {
    /// Wraps `inner`; the records of sessions (when they are kept, in `records`) are
    /// written again while they are used, each for `idle`.
    pub fn new(
        inner: LocalSessionManager,
        hibernation: Option<Hibernation>,
        records: Option<(Arc<SessionRecords>, Duration)>,
        relay: Option<Arc<Relay>>,
    ) -> Self {
        Self {
            inner,
            claimed: Arc::default(),
            hibernation: hibernation.map(Arc::new),
            relay,
            records: records.map(|(records, idle)| Keeping {
                records,
                idle,
                written: Mutex::default(),
            }),
        }
    }

    /// A request of session `id` arrived.
    fn used(&self, id: &SessionId) {
        if let Some(keeping) = &self.records {
            keeping.used(id);
        }
    }

    /// Acts on what other replicas say of sessions until `sessions` is dropped
    /// elsewhere; nothing without a relay.
    pub fn spawn_relay(sessions: &Arc<Self>) {
        let Some(relay) = &sessions.relay else {
            return;
        };
        let mut heard = relay.subscribe();
        let weak = Arc::downgrade(sessions);
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let notice = match heard.recv().await {
                    Ok(notice) => notice,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                let Some(sessions) = weak.upgrade() else {
                    return;
                };
                sessions.heard(&notice).await;
            }
        });
    }

    /// Does what another replica said of a session.
    async fn heard(&self, notice: &crate::storage::bus::Notice) {
        let Some(relay) = &self.relay else {
            return;
        };
        match notice.topic.as_str() {
            super::relay::SESSION_OUT => {
                if let Some((id, Some(message))) = relay.heard::<ServerJsonRpcMessage>(notice) {
                    relay.deliver(&id, message);
                }
            }
            super::relay::SESSION_IN => {
                if let Some((id, Some(message))) = relay.heard::<ClientJsonRpcMessage>(notice)
                    && Relay::relayable(&message)
                    && relay.inbound(&message).0
                    && matches!(self.inner.has_session(&id).await, Ok(true))
                    && let Err(e) = self.inner.accept_message(&id, message).await
                {
                    tracing::debug!("a message relayed to a session was not taken: {e}");
                }
            }
            super::relay::SESSION_CLOSED => {
                if let Some((id, None::<()>)) = relay.heard::<()>(notice)
                    && matches!(self.inner.has_session(&id).await, Ok(true))
                {
                    self.forget(&id);
                    if let Err(e) = self.inner.close_session(&id).await {
                        tracing::debug!("closing a session another replica closed: {e}");
                    }
                }
            }
            _ => {}
        }
    }

    /// The client of session `id` ended it (`DELETE`): every replica closes it.
    pub async fn deleted(&self, id: &SessionId) {
        if let Some(relay) = &self.relay {
            relay
                .say::<()>(super::relay::SESSION_CLOSED, id, None)
                .await;
        }
    }

    /// Forgets what is kept of session `id` here.
    fn forget(&self, id: &SessionId) {
        if let Some(hibernation) = &self.hibernation {
            hibernation.ended(id);
        }
        if let Some(keeping) = &self.records {
            keeping.written().remove(id);
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
    type Transport = Relayed<<LocalSessionManager as SessionManager>::Transport>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let (id, transport) = self.inner.create_session().await?;
        let transport = Relay::wrap(&self.relay, &id, transport);
        Ok((id, transport))
    }

    fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<ServerJsonRpcMessage, Self::Error>> + Send {
        if let Some(hibernation) = &self.hibernation {
            hibernation.began(id, &message);
        }
        if let Some(keeping) = &self.records
            && let Some(state) = super::sessions::state_of(&message)
        {
            keeping
                .written()
                .insert(id.clone(), (state, Instant::now()));
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
        self.forget(id);
        self.inner.close_session(id)
    }

    fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        self.used(id);
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
        self.used(id);
        let (here, elsewhere) = self
            .relay
            .as_ref()
            .map_or((true, false), |relay| relay.inbound(&message));
        async move {
            if elsewhere && let Some(relay) = &self.relay {
                relay
                    .say(super::relay::SESSION_IN, id, Some(&message))
                    .await;
            }
            if here {
                self.inner.accept_message(id, message).await
            } else {
                Ok(())
            }
        }
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.used(id);
        let open = self.opened(id, None);
        let stream = self.inner.create_standalone_stream(id).await?;
        let stream = stream.map(move |event| {
            let _ended_with_the_stream = &open;
            event
        });
        Ok(match &self.relay {
            Some(relay) => relay.hold(id, stream).left_stream(),
            None => stream.right_stream(),
        })
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.used(id);
        let open = self.opened(id, None);
        // An event id without `/` is of the GET stream's.
        let standalone = !last_event_id.contains('/');
        let stream = self.inner.resume(id, last_event_id).await?;
        let stream = stream.map(move |event| {
            let _ended_with_the_stream = &open;
            event
        });
        Ok(match &self.relay {
            Some(relay) if standalone => relay.hold(id, stream).left_stream(),
            _ => stream.right_stream(),
        })
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        let restored = match &self.hibernation {
            None => self.inner.restore_session(id.clone()).await?,
            Some(hibernation) => {
                // The worker this one replaces may still be closing: wait for it, and
                // be sure it is gone.
                let _no_close_under_way = hibernation.restoring().await;
                self.inner.close_session(&id).await?;
                self.inner.restore_session(id.clone()).await?
            }
        };
        Ok(match restored {
            RestoreOutcome::Restored(transport) => {
                RestoreOutcome::Restored(Relay::wrap(&self.relay, &id, transport))
            }
            RestoreOutcome::AlreadyPresent => RestoreOutcome::AlreadyPresent,
            _ => RestoreOutcome::NotSupported,
        })
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.inner.event_store()
    }
}
