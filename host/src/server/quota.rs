//! What clients hold open (sessions, `subscriptions/listen` streams), counted per client
//! and in all, each with a cap: a client opening more is refused, not the server
//! brought down by the memory they hold.
//!
//! A client is its verified subject when `[auth]` is on, else its address
//! ([`client_of`]); never anything it names itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rmcp::RoleServer;
use rmcp::service::RequestContext;

/// Counts of what is held open, capped per client and in all.
#[derive(Clone)]
pub struct Quota(Arc<Inner>);

struct Inner {
    per_client: usize,
    total: usize,
    held: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    all: usize,
    by_client: HashMap<String, usize>,
}

/// Why [`Quota::take`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Every client together holds this many (the cap in all).
    Total(usize),
    /// This client holds this many (the cap per client).
    Client(usize),
}

/// One thing held open by a client, counted until dropped.
pub struct Held {
    quota: Arc<Inner>,
    client: String,
}

impl Quota {
    /// At most `per_client` per client and `total` in all.
    pub fn new(per_client: usize, total: usize) -> Self {
        Self(Arc::new(Inner {
            per_client,
            total,
            held: Mutex::default(),
        }))
    }

    /// Counts one more for `client`, unless that client or everyone holds the most
    /// allowed.
    pub fn take(&self, client: String) -> Result<Held, Full> {
        let mut held = self.0.lock();
        if held.all >= self.0.total {
            return Err(Full::Total(self.0.total));
        }
        let count = held.by_client.get(&client).copied().unwrap_or(0);
        if count >= self.0.per_client {
            return Err(Full::Client(self.0.per_client));
        }
        held.all += 1;
        held.by_client.insert(client.clone(), count + 1);
        Ok(Held {
            quota: self.0.clone(),
            client,
        })
    }

    /// How many are held in all.
    pub fn held(&self) -> usize {
        self.0.lock().all
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Held")
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self.quota.lock();
        held.all = held.all.saturating_sub(1);
        if let Some(count) = held.by_client.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.by_client.remove(&self.client);
            }
        }
    }
}

/// Who holds what a request opens: `subject/{sub}` when `[auth]` verified it, else
/// `ip/{address}` over HTTP, else `local` (stdio, in-process).
pub fn client_of(context: &RequestContext<RoleServer>) -> String {
    match super::context::identity(&context.extensions) {
        Some(identity) => format!("subject/{}", identity.subject),
        None => super::context::http_client_ip(&context.extensions)
            .map_or_else(|| "local".to_string(), |ip| format!("ip/{ip}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_capped_alone_and_everyone_together() {
        let quota = Quota::new(2, 3);
        let a1 = quota.take("a".into()).unwrap();
        let _a2 = quota.take("a".into()).unwrap();
        assert_eq!(quota.take("a".into()).err(), Some(Full::Client(2)));
        let _b1 = quota.take("b".into()).unwrap();
        assert_eq!(quota.take("c".into()).err(), Some(Full::Total(3)));
        assert_eq!(quota.held(), 3);
        // Closing one lets its client, and then anyone, open one again.
        drop(a1);
        assert_eq!(quota.held(), 2);
        let _a3 = quota.take("a".into()).unwrap();
        assert_eq!(quota.take("b".into()).err(), Some(Full::Total(3)));
    }

    #[test]
    fn a_client_holding_nothing_leaves_no_entry() {
        let quota = Quota::new(5, 5);
        let held: Vec<_> = (0..5)
            .map(|i| quota.take(format!("c{i}")).unwrap())
            .collect();
        drop(held);
        assert_eq!(quota.held(), 0);
        assert!(quota.0.lock().by_client.is_empty());
    }
}
