//! Hibernation of quiet HTTP sessions (MCP 2025-11-25).
//!
//! An idle session costs about 70 KiB while rmcp keeps its worker in memory (channels,
//! tasks, the handler). A session without a request for `server.session-hibernate-ms`
//! is put away: its record (`pier/session/{id}`, the client's `initialize` parameters)
//! is written to the store for the rest of its idle time, and its worker closed. The
//! client sees nothing: its next request names the session, rmcp finds no worker,
//! loads the record and replays the handshake (the path a session started on another
//! replica takes), and the request is served. What is left is the record, a few
//! hundred bytes in the store.
//!
//! A session keeps its worker while it holds anything a replayed handshake would not
//! bring back: a stream open (a request in flight, the GET stream, a resumed stream),
//! a resource subscription, or a log level it set.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use rmcp::transport::streamable_http_server::session::SessionId;
use rmcp::transport::streamable_http_server::session::store::SessionState;

use super::sessions::SessionRecords;
use crate::telemetry::Metrics;

/// What is known of a session whose worker is in memory.
struct Awake {
    /// Its last request, or the end of its last stream.
    last: Instant,
    /// Its streams open now.
    open: u32,
    /// It holds state a replayed handshake would not bring back: never put away.
    pinned: bool,
    /// What its record holds: the client's `initialize` parameters.
    state: Option<SessionState>,
}

/// The sessions whose workers are in memory, and when each may be put away.
pub struct Hibernation {
    /// Quiet time after which a session is put away.
    after: Duration,
    /// A session's idle time (`server.session-idle-ms`): its record is kept for what
    /// is left of it.
    idle: Duration,
    records: Arc<SessionRecords>,
    metrics: Arc<Metrics>,
    awake: Mutex<HashMap<SessionId, Awake>>,
    /// Held (written) while workers are closed: a restore waits for the close of the
    /// worker it replaces.
    closing: tokio::sync::RwLock<()>,
}

/// A stream of a session, open until dropped.
pub struct Open {
    hibernation: Arc<Hibernation>,
    id: SessionId,
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(awake) = self.hibernation.lock().get_mut(&self.id) {
            awake.open = awake.open.saturating_sub(1);
            awake.last = Instant::now();
        }
    }
}

impl Hibernation {
    /// Puts away sessions quiet for `after`, their records kept for what is left of
    /// `idle`.
    pub fn new(
        after: Duration,
        idle: Duration,
        records: Arc<SessionRecords>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            after,
            idle,
            records,
            metrics,
            awake: Mutex::default(),
            closing: tokio::sync::RwLock::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SessionId, Awake>> {
        self.awake.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Session `id`'s handshake (`message`, the client's `initialize`) is under way:
    /// from now on it is awake.
    pub fn began(&self, id: &SessionId, message: &ClientJsonRpcMessage) {
        let state = super::sessions::state_of(message);
        self.lock().insert(
            id.clone(),
            Awake {
                last: Instant::now(),
                open: 0,
                pinned: false,
                state,
            },
        );
    }

    /// A request names session `id`: whether its worker is in memory (`false` for a
    /// session put away, or being put away: rmcp then restores it from its record).
    pub fn touch(&self, id: &SessionId) -> bool {
        match self.lock().get_mut(id) {
            Some(awake) => {
                awake.last = Instant::now();
                true
            }
            None => false,
        }
    }

    /// A request of session `id` (`message`) opens a stream, open until the returned
    /// value is dropped. A request whose effect stays with the worker (a resource
    /// subscription, a log level) keeps the session awake from now on.
    pub fn opened(
        self: &Arc<Self>,
        id: &SessionId,
        message: Option<&ClientJsonRpcMessage>,
    ) -> Open {
        let pins = matches!(
            message,
            Some(ClientJsonRpcMessage::Request(request))
                if matches!(
                    request.request,
                    ClientRequest::SubscribeRequest(_) | ClientRequest::SetLevelRequest(_)
                )
        );
        if let Some(awake) = self.lock().get_mut(id) {
            awake.open += 1;
            awake.last = Instant::now();
            awake.pinned |= pins;
        }
        Open {
            hibernation: self.clone(),
            id: id.clone(),
        }
    }

    /// Session `id` ended (closed by its client, idled out, or its worker stopped).
    pub fn ended(&self, id: &SessionId) {
        self.lock().remove(id);
    }

    /// A session put away is being restored: waits until no worker is being closed
    /// (the one it replaces may be).
    pub async fn restoring(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.metrics.count("pier_sessions_restored_total", &[], 1);
        self.closing.read().await
    }

    /// Sessions quiet long enough, and what their records keep.
    fn due(&self) -> Vec<(SessionId, SessionState, Duration)> {
        self.lock()
            .iter()
            .filter(|(_, a)| a.open == 0 && !a.pinned && a.last.elapsed() >= self.after)
            .filter_map(|(id, a)| {
                let left = self.idle.checked_sub(a.last.elapsed())?;
                Some((id.clone(), a.state.clone()?, left))
            })
            .collect()
    }

    /// Puts away every session quiet for the hibernation time: writes its record for
    /// the rest of its idle time, then closes its worker with `close`. A session that
    /// had a request meanwhile, or whose record cannot be written, stays awake.
    pub async fn sweep<F, Fut>(&self, close: F) -> usize
    where
        F: Fn(SessionId) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut kept = Vec::new();
        for (id, state, left) in self.due() {
            match self.records.keep(id.as_ref(), &state, left).await {
                Ok(()) => kept.push(id),
                Err(e) => {
                    tracing::warn!("cannot put a quiet session away (it stays in memory): {e}")
                }
            }
        }
        if kept.is_empty() {
            return 0;
        }
        let _closing = self.closing.write().await;
        let mut put_away = 0;
        for id in kept {
            let quiet = {
                let mut awake = self.lock();
                let quiet = awake
                    .get(&id)
                    .is_some_and(|a| a.open == 0 && !a.pinned && a.last.elapsed() >= self.after);
                if quiet {
                    awake.remove(&id);
                }
                quiet
            };
            if quiet {
                close(id).await;
                put_away += 1;
            }
        }
        self.metrics
            .count("pier_sessions_hibernated_total", &[], put_away as u64);
        put_away
    }

    /// How often [`Hibernation::sweep`] should run: a quarter of the hibernation time,
    /// between 100 ms and a minute.
    pub fn every(&self) -> Duration {
        (self.after / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
    }
}
