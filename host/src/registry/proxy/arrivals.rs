//! Keeps what a proxied server sends in the order it sent it. rmcp hands each
//! notification to a task of its own and each response straight to its waiter, so a log
//! message or progress the server sent *before* its result could reach pier's client
//! *after* it, or never (the request ended, nobody to relay it to). [`Ordered`] numbers
//! the progress and log notifications as they arrive; [`Arrivals::settle`] lets a
//! forwarded request, once answered, wait until those that arrived before its answer
//! have been relayed.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{GetExtensions, JsonRpcMessage, ServerNotification};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::Notify;

/// How long an answered request waits at most for the notifications before it: a relay
/// stuck on a slow client must not hold the result back.
pub(super) const SETTLE: Duration = Duration::from_secs(1);

/// The numbered notifications of one connection not relayed yet.
#[derive(Default)]
pub(super) struct Arrivals {
    next: AtomicU64,
    pending: Mutex<BTreeSet<u64>>,
    settled: Notify,
}

impl Arrivals {
    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeSet<u64>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ticket(self: &Arc<Self>) -> Ticket {
        let number = self.next.fetch_add(1, Ordering::SeqCst);
        self.pending().insert(number);
        Ticket(Arc::new(Held {
            number,
            arrivals: self.clone(),
        }))
    }

    /// Waits (at most `within`) until every notification that arrived before now has
    /// been handled.
    pub(super) async fn settle(&self, within: Duration) {
        self.handled_before(self.next.load(Ordering::SeqCst), within)
            .await;
    }

    /// Waits (at most `within`) until the notifications that arrived before the one
    /// `ticket` numbers have been handled: a handler that waits for its turn relays in
    /// the order the server sent.
    pub(super) async fn turn(&self, ticket: Option<&Ticket>, within: Duration) {
        if let Some(ticket) = ticket {
            self.handled_before(ticket.0.number, within).await;
        }
    }

    async fn handled_before(&self, mark: u64, within: Duration) {
        let settled = async {
            loop {
                let notified = self.settled.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.pending().first().is_none_or(|&first| first >= mark) {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(within, settled).await.is_err() {
            tracing::debug!("a proxied server's notifications were not relayed within {within:?}");
        }
    }
}

/// Rides in a notification's extensions; the notification counts as handled when the
/// last clone is dropped (its handler has returned).
#[derive(Clone)]
pub(super) struct Ticket(Arc<Held>);

struct Held {
    number: u64,
    arrivals: Arc<Arrivals>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.arrivals.pending().remove(&self.number);
        self.arrivals.settled.notify_waiters();
    }
}

/// A client transport that numbers the progress and log notifications it receives.
pub(super) struct Ordered<T> {
    pub(super) inner: T,
    pub(super) arrivals: Arc<Arrivals>,
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Ordered<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let mut message = self.inner.receive().await?;
        if let JsonRpcMessage::Notification(n) = &mut message
            && matches!(
                n.notification,
                ServerNotification::ProgressNotification(_)
                    | ServerNotification::LoggingMessageNotification(_)
            )
        {
            let ticket = self.arrivals.ticket();
            n.notification.extensions_mut().insert(ticket);
        }
        Some(message)
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settling_waits_for_earlier_notifications_only() {
        let arrivals = Arc::new(Arrivals::default());
        let first = arrivals.ticket();
        let second = arrivals.ticket();
        let waiter = {
            let arrivals = arrivals.clone();
            tokio::spawn(async move { arrivals.settle(Duration::from_secs(60)).await })
        };
        tokio::task::yield_now().await;
        // Arrived after the answer: not waited for.
        let later = arrivals.ticket();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(second);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let clone = first.clone();
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(clone);
        waiter.await.unwrap();
        assert_eq!(arrivals.pending().iter().copied().collect::<Vec<_>>(), [2]);
        drop(later);
        assert!(arrivals.pending().is_empty());
    }

    #[tokio::test]
    async fn a_notification_waits_its_turn_behind_those_before_it_only() {
        let arrivals = Arc::new(Arrivals::default());
        let first = arrivals.ticket();
        let second = arrivals.ticket();
        let third = arrivals.ticket();
        let waiter = {
            let arrivals = arrivals.clone();
            let second = second.clone();
            tokio::spawn(async move { arrivals.turn(Some(&second), Duration::from_secs(60)).await })
        };
        tokio::task::yield_now().await;
        // A later one, unhandled, does not hold it up; the one before does.
        assert!(!waiter.is_finished());
        drop(first);
        waiter.await.unwrap();
        drop((second, third));
        // No ticket: no wait.
        arrivals.turn(None, Duration::from_secs(60)).await;
    }

    #[tokio::test]
    async fn settling_gives_up_in_time() {
        let arrivals = Arc::new(Arrivals::default());
        let _stuck = arrivals.ticket();
        arrivals.settle(Duration::from_millis(10)).await;
        assert_eq!(arrivals.pending().len(), 1);
    }
}
