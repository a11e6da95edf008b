//! Counts requests being served, so a shutdown can wait for them to finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// The number of requests in flight, and a way to wait until there are none.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// Held while one request is served.
#[derive(Debug)]
pub struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    /// Marks a request as started until the guard is dropped.
    pub fn start(self: &Arc<Self>) -> InFlightGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }

    /// Requests in flight now.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Resolves once no request is in flight.
    pub async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InFlight;

    #[tokio::test]
    async fn idle_resolves_when_the_last_guard_drops() {
        let in_flight = std::sync::Arc::new(InFlight::default());
        let a = in_flight.start();
        let b = in_flight.start();
        assert_eq!(in_flight.count(), 2);
        drop(a);
        let waiter = in_flight.idle();
        tokio::pin!(waiter);
        // Polled while `b` runs: waiting, registered for the notification...
        assert!(futures::poll!(&mut waiter).is_pending());
        // ...which the last guard's drop sends.
        drop(b);
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .expect("idle after the last guard");
        assert_eq!(in_flight.count(), 0);
    }
}
