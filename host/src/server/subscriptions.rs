//! Resource subscriptions: which sessions asked (`resources/subscribe`) to hear
//! `notifications/resources/updated` for which namespaced URIs. A session may hold a
//! bounded number of them (`server.max-subscriptions`); all of them are dropped when
//! the session ends.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use rmcp::RoleServer;
use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::Peer;

use super::session::Session;

/// One subscribed session.
struct Subscriber {
    session: Weak<Session>,
    key: String,
    peer: Peer<RoleServer>,
}

impl Subscriber {
    fn live(&self) -> bool {
        self.session
            .upgrade()
            .is_some_and(|s| !s.closed().is_cancelled())
    }
}

#[derive(Default)]
struct Inner {
    by_uri: HashMap<String, Vec<Subscriber>>,
    /// Per session (its local id), the URIs it subscribed to.
    by_session: HashMap<String, HashSet<String>>,
}

impl Inner {
    fn remove(&mut self, uri: &str, key: &str) {
        if let Some(subscribers) = self.by_uri.get_mut(uri) {
            subscribers.retain(|s| s.key != key);
            if subscribers.is_empty() {
                self.by_uri.remove(uri);
            }
        }
    }

    fn forget_session(&mut self, key: &str) {
        for uri in self.by_session.remove(key).unwrap_or_default() {
            self.remove(&uri, key);
        }
    }
}

/// The subscriptions of every session of one server.
#[derive(Default, Clone)]
pub struct Subscriptions {
    inner: Arc<Mutex<Inner>>,
}

/// A subscription refused because the session holds its maximum.
#[derive(Debug, thiserror::Error)]
#[error(
    "this session already subscribes to {0} resources (server.max-subscriptions); unsubscribe from one first"
)]
pub struct TooManySubscriptions(pub usize);

impl Subscriptions {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `session` (reached through `peer`) hears of changes to `uri`; subscribing twice
    /// is one subscription. Refused when the session already holds `max` others.
    pub fn subscribe(
        &self,
        uri: &str,
        session: &Arc<Session>,
        peer: Peer<RoleServer>,
        max: usize,
    ) -> Result<(), TooManySubscriptions> {
        let key = session.local_id.clone();
        let mut inner = self.lock();
        let first = !inner.by_session.contains_key(&key);
        let uris = inner.by_session.entry(key.clone()).or_default();
        if uris.contains(uri) {
            return Ok(());
        }
        if uris.len() >= max {
            return Err(TooManySubscriptions(uris.len()));
        }
        uris.insert(uri.to_string());
        inner
            .by_uri
            .entry(uri.to_string())
            .or_default()
            .push(Subscriber {
                session: Arc::downgrade(session),
                key: key.clone(),
                peer,
            });
        drop(inner);
        if first {
            // One task per subscribing session: it forgets the session's subscriptions
            // when the session ends.
            let this = self.clone();
            let closed = session.closed();
            tokio::spawn(async move {
                closed.cancelled().await;
                this.lock().forget_session(&key);
            });
        }
        Ok(())
    }

    /// `session` no longer hears of changes to `uri`.
    pub fn unsubscribe(&self, uri: &str, session: &Session) {
        let key = &session.local_id;
        let mut inner = self.lock();
        if let Some(uris) = inner.by_session.get_mut(key) {
            uris.remove(uri);
        }
        inner.remove(uri, key);
    }

    /// How many subscriptions are held (every session, every URI).
    pub fn len(&self) -> usize {
        self.lock().by_uri.values().map(Vec::len).sum()
    }

    /// Whether no session subscribes to anything.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends `notifications/resources/updated` for `uri` to every live subscriber;
    /// returns how many were sent.
    pub async fn notify(&self, uri: &str) -> usize {
        let peers: Vec<Peer<RoleServer>> = {
            let inner = self.lock();
            let Some(subscribers) = inner.by_uri.get(uri) else {
                return 0;
            };
            subscribers
                .iter()
                .filter(|s| s.live())
                .map(|s| s.peer.clone())
                .collect()
        };
        let mut sent = 0;
        for peer in peers {
            let param = ResourceUpdatedNotificationParam::new(uri.to_string());
            match peer.notify_resource_updated(param).await {
                Ok(()) => sent += 1,
                Err(e) => tracing::debug!("could not send resources/updated for {uri}: {e}"),
            }
        }
        sent
    }
}
