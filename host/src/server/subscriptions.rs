//! Resource subscriptions: who asked to hear `notifications/resources/updated` for
//! which namespaced URIs — a session by `resources/subscribe` (MCP 2025-11-25), or a
//! `subscriptions/listen` stream (MCP 2026-07-28). Each holds a bounded number of them
//! (`server.max-subscriptions`); all of them are dropped when the session or the
//! stream ends.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use rmcp::RoleServer;
use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::{Peer, SubscriptionSink};
use tokio_util::sync::CancellationToken;

/// Longest a notification waits for a client to take it (its stream's buffers full:
/// the client does not read). Beyond, that client is dropped from what it listens to.
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where a subscriber hears of updates.
#[derive(Clone)]
pub enum Target {
    /// A session's client (`resources/subscribe`).
    Session(Peer<RoleServer>),
    /// A `subscriptions/listen` stream: tagged with its subscription id, filtered to
    /// the URIs it accepted.
    Listen(SubscriptionSink),
}

/// Who subscribes: its key, what ends it, where it hears.
pub struct Subscriber {
    /// A session's local id, or a listen stream's.
    pub key: String,
    /// Cancelled when the session or the stream ends.
    pub closed: CancellationToken,
    /// Where updates go.
    pub target: Target,
}

impl Subscriber {
    fn live(&self) -> bool {
        !self.closed.is_cancelled()
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

    /// `who` hears of changes to `uri`; subscribing twice is one subscription. Refused
    /// when it already holds `max` others.
    pub fn subscribe(
        &self,
        uri: &str,
        who: Subscriber,
        max: usize,
    ) -> Result<(), TooManySubscriptions> {
        let key = who.key.clone();
        let closed = who.closed.clone();
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
        inner.by_uri.entry(uri.to_string()).or_default().push(who);
        drop(inner);
        if first {
            // One task per subscriber: it forgets its subscriptions when it ends.
            let this = self.clone();
            tokio::spawn(async move {
                closed.cancelled().await;
                this.lock().forget_session(&key);
            });
        }
        Ok(())
    }

    /// The subscriber `key` no longer hears of changes to `uri`.
    pub fn unsubscribe(&self, uri: &str, key: &str) {
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

    /// Sends `notifications/resources/updated` for `uri` to every live subscriber at
    /// once; returns how many took it. A subscriber that does not take it within
    /// [`SEND_TIMEOUT`] (a client that does not read its stream) is unsubscribed, and
    /// its listen stream ended: the others do not wait for it twice.
    pub async fn notify(&self, uri: &str) -> usize {
        let targets: Vec<(String, CancellationToken, Target)> = {
            let inner = self.lock();
            let Some(subscribers) = inner.by_uri.get(uri) else {
                return 0;
            };
            subscribers
                .iter()
                .filter(|s| s.live())
                .map(|s| (s.key.clone(), s.closed.clone(), s.target.clone()))
                .collect()
        };
        let sends = targets.into_iter().map(|(key, closed, target)| async move {
            let send = async {
                match &target {
                    Target::Session(peer) => {
                        let param = ResourceUpdatedNotificationParam::new(uri.to_string());
                        peer.notify_resource_updated(param)
                            .await
                            .map_err(|e| e.to_string())
                    }
                    Target::Listen(sink) => sink
                        .notify_resource_updated(uri.to_string())
                        .await
                        .map_err(|e| e.to_string()),
                }
            };
            match tokio::time::timeout(SEND_TIMEOUT, send).await {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    tracing::debug!("could not send resources/updated for {uri}: {e}");
                    false
                }
                Err(_) => {
                    tracing::warn!(
                        "a client did not take notifications/resources/updated for {} within {} s (it does not read its stream): it no longer hears of it",
                        crate::text::clip(uri),
                        SEND_TIMEOUT.as_secs()
                    );
                    self.unsubscribe(uri, &key);
                    if matches!(target, Target::Listen(_)) {
                        closed.cancel();
                    }
                    false
                }
            }
        });
        futures::future::join_all(sends)
            .await
            .into_iter()
            .filter(|sent| *sent)
            .count()
    }
}
