//! What happens in pier as it happens: calls, mount changes, list changes, outbound
//! requests, auth refusals. The console's live view (`/console`) listens to it.
//!
//! Nothing is kept: an event nobody listens to is not even built ([`Feed::publish`]
//! takes a closure), and a listener that falls more than [`FEED_CAPACITY`] events
//! behind skips them and is told how many it missed. Every string an event carries
//! from outside (a tool name, a URI, an error) is clipped ([`crate::text::clip`]).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

/// Events a listener may fall behind before it skips the oldest.
pub const FEED_CAPACITY: usize = 1024;

/// One thing that happened.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A request into a mount answered: a tool call, read, prompt or completion.
    Call {
        /// `tools/call`, `resources/read`, …
        method: &'static str,
        /// The tool, prompt or URI, as the client named it.
        target: String,
        /// The mount's namespace.
        mount: String,
        /// The verified subject of the request's token, when it carried one.
        subject: Option<String>,
        /// Milliseconds from the mount's chain to its answer.
        ms: f64,
        /// `ok`, `tool_error` (a result with `isError`) or `error`.
        outcome: &'static str,
        /// `new` or `warm`: how the plugin got its instance (plugins that may reuse
        /// instances; others always make a new one).
        instance: Option<&'static str>,
        /// What went wrong, in the error's words.
        error: Option<String>,
    },
    /// A mount changed: `mounted`, `swapped`, `unmounted` or `refused`.
    Change {
        /// The plugin (file stem) or mount.
        plugin: String,
        /// What happened.
        change: &'static str,
        /// The version now served (the first 12 characters of its hash).
        version: Option<String>,
        /// The version served before a swap.
        previous: Option<String>,
        /// Why it was refused.
        reason: Option<String>,
        /// The lists it changed: `tools`, `resources`, `prompts`.
        lists: Vec<&'static str>,
    },
    /// Lists changed without a file changing: a plugin switched one of its components
    /// on or off (`context.set-enabled`).
    Lists {
        /// The mount's namespace.
        mount: String,
        /// `tool`, `prompt` or `resource`, and its name as the plugin knows it.
        component: String,
        /// Switched on (`true`) or off.
        enabled: bool,
        /// The lists that changed.
        lists: Vec<&'static str>,
    },
    /// An outbound HTTP request of a plugin.
    Egress {
        /// The plugin.
        plugin: String,
        /// The HTTP method.
        method: String,
        /// Where it went: scheme, host, port and path.
        url: String,
        /// `ok`, `error` or `denied`.
        outcome: &'static str,
        /// Why it was refused or failed.
        detail: Option<String>,
    },
    /// A request refused by authentication or authorization.
    Refusal {
        /// `missing_token`, `invalid_token`, `insufficient_scope` or `rule`.
        reason: &'static str,
        /// What was refused, in the refusal's words.
        detail: Option<String>,
    },
}

/// An [`Event`] with its place in the feed and its time.
#[derive(Debug, Clone, Serialize)]
pub struct Stamped {
    /// Counts up from 1 per feed.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// The events of one pier.
pub struct Feed {
    sender: broadcast::Sender<std::sync::Arc<Stamped>>,
    seq: AtomicU64,
    /// Listeners now: read on every call without a lock (the channel's own count takes
    /// one).
    listening: std::sync::Arc<AtomicUsize>,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(FEED_CAPACITY).0,
            seq: AtomicU64::new(0),
            listening: std::sync::Arc::default(),
        }
    }
}

/// One listener of a [`Feed`]: every event published while it lives.
pub struct Listener {
    receiver: broadcast::Receiver<std::sync::Arc<Stamped>>,
    listening: std::sync::Arc<AtomicUsize>,
}

impl Listener {
    /// The next event; `Lagged(n)` when `n` were skipped.
    pub async fn recv(&mut self) -> Result<std::sync::Arc<Stamped>, broadcast::error::RecvError> {
        self.receiver.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Result<std::sync::Arc<Stamped>, broadcast::error::TryRecvError> {
        self.receiver.try_recv()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.listening.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Feed {
    /// Publishes the event `make` builds, if anyone listens (else `make` is not called).
    pub fn publish(&self, make: impl FnOnce() -> Event) {
        if self.listeners() == 0 {
            return;
        }
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let stamped = Stamped {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            at,
            event: make(),
        };
        // Nobody listening any more is not an error.
        let _ = self.sender.send(std::sync::Arc::new(stamped));
    }

    /// Receives every event published from now on.
    pub fn subscribe(&self) -> Listener {
        self.listening.fetch_add(1, Ordering::Relaxed);
        Listener {
            receiver: self.sender.subscribe(),
            listening: self.listening.clone(),
        }
    }

    /// Listeners now.
    pub fn listeners(&self) -> usize {
        self.listening.load(Ordering::Relaxed)
    }
}

/// Outside text for an event: clipped, owned.
pub fn clipped(s: &str) -> String {
    crate::text::clip(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(n: usize) -> Event {
        Event::Refusal {
            reason: "rule",
            detail: Some(n.to_string()),
        }
    }

    #[test]
    fn nothing_is_built_without_a_listener_and_every_listener_hears_in_order() {
        let feed = Feed::default();
        feed.publish(|| unreachable!("nobody listens"));
        let gone = feed.subscribe();
        assert_eq!(feed.listeners(), 1);
        drop(gone);
        assert_eq!(feed.listeners(), 0);
        feed.publish(|| unreachable!("nobody listens any more"));
        let mut rx = feed.subscribe();
        feed.publish(|| refusal(1));
        feed.publish(|| refusal(2));
        let first = rx.try_recv().unwrap();
        let second = rx.try_recv().unwrap();
        assert_eq!((first.seq, second.seq), (1, 2));
        assert_eq!(second.event, refusal(2));
        let json = serde_json::to_value(&*first).unwrap();
        assert_eq!(json["kind"], "refusal");
        assert_eq!(json["reason"], "rule");
        assert_eq!(json["detail"], "1");
        assert!(json["at"].as_u64().unwrap() > 1_600_000_000_000);
    }

    #[test]
    fn a_listener_that_falls_behind_skips_the_oldest_and_hears_how_many() {
        let feed = Feed::default();
        let mut rx = feed.subscribe();
        for n in 0..FEED_CAPACITY + 10 {
            feed.publish(|| refusal(n));
        }
        match rx.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(missed)) => assert_eq!(missed, 10),
            other => panic!("expected a lag, got {other:?}"),
        }
        assert_eq!(rx.try_recv().unwrap().event, refusal(10));
    }

    #[test]
    fn outside_text_is_clipped() {
        let long = "x".repeat(10_000);
        let clipped = clipped(&long);
        assert!(clipped.len() < 300, "{}", clipped.len());
        assert!(clipped.ends_with("[9744 more bytes]"), "{clipped}");
    }
}
