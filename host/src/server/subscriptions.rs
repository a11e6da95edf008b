//! Resource subscriptions: which sessions asked (`resources/subscribe`) to hear
//! `notifications/resources/updated` for which namespaced URIs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use rmcp::RoleServer;
use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::Peer;

use super::session::Session;

/// One subscribed session.
struct Subscriber {
    session: Weak<Session>,
    peer: Peer<RoleServer>,
}

impl Subscriber {
    fn is(&self, session: &Arc<Session>) -> bool {
        std::ptr::eq(self.session.as_ptr(), Arc::as_ptr(session))
    }

    fn live(&self) -> bool {
        self.session
            .upgrade()
            .is_some_and(|s| !s.closed().is_cancelled())
    }
}

/// The subscriptions of every session of one server.
#[derive(Default)]
pub struct Subscriptions {
    by_uri: Mutex<HashMap<String, Vec<Subscriber>>>,
}

impl Subscriptions {
    /// `session` (reached through `peer`) hears of changes to `uri`; subscribing twice
    /// is one subscription.
    pub fn subscribe(&self, uri: &str, session: &Arc<Session>, peer: Peer<RoleServer>) {
        let Ok(mut by_uri) = self.by_uri.lock() else {
            return;
        };
        let subscribers = by_uri.entry(uri.to_string()).or_default();
        subscribers.retain(|s| s.live() && !s.is(session));
        subscribers.push(Subscriber {
            session: Arc::downgrade(session),
            peer,
        });
    }

    /// `session` no longer hears of changes to `uri`.
    pub fn unsubscribe(&self, uri: &str, session: &Arc<Session>) {
        let Ok(mut by_uri) = self.by_uri.lock() else {
            return;
        };
        if let Some(subscribers) = by_uri.get_mut(uri) {
            subscribers.retain(|s| s.live() && !s.is(session));
            if subscribers.is_empty() {
                by_uri.remove(uri);
            }
        }
    }

    /// Sends `notifications/resources/updated` for `uri` to every live subscriber;
    /// returns how many were sent. Ended sessions are forgotten on the way.
    pub async fn notify(&self, uri: &str) -> usize {
        let peers: Vec<Peer<RoleServer>> = {
            let Ok(mut by_uri) = self.by_uri.lock() else {
                return 0;
            };
            let Some(subscribers) = by_uri.get_mut(uri) else {
                return 0;
            };
            subscribers.retain(Subscriber::live);
            subscribers.iter().map(|s| s.peer.clone()).collect()
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
