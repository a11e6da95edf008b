//! What one call may send as log messages, progress notifications and stdout/stderr
//! lines ([`OutputLimits`]): each message takes from the call's budget; once it is
//! spent the rest is dropped, and one line in pier's log says how much, when the call
//! ends.

use std::sync::{Arc, Mutex};

use super::limits::OutputLimits;

/// The output budget of one call, shared by its host functions and output streams.
#[derive(Clone)]
pub struct OutputBudget {
    inner: Arc<Mutex<Spent>>,
}

struct Spent {
    who: String,
    limits: OutputLimits,
    messages: usize,
    bytes: usize,
    dropped_messages: u64,
    dropped_bytes: u64,
}

impl OutputBudget {
    /// The budget of one call of `who` (``plugin `x` ``).
    pub fn new(who: String, limits: OutputLimits) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Spent {
                who,
                limits,
                messages: 0,
                bytes: 0,
                dropped_messages: 0,
                dropped_bytes: 0,
            })),
        }
    }

    /// Ends the call this budget served (a warm instance serves another): says what was
    /// dropped, then the whole budget is there again.
    pub fn settle(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .settle();
    }

    /// Whether a message of `bytes` may be sent; `false` counts it as dropped.
    pub fn take(&self, bytes: usize) -> bool {
        let mut spent = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let bytes_after = spent.bytes.saturating_add(bytes);
        if spent.messages < spent.limits.messages && bytes_after <= spent.limits.bytes {
            spent.messages += 1;
            spent.bytes = bytes_after;
            return true;
        }
        spent.dropped_messages += 1;
        spent.dropped_bytes += bytes as u64;
        false
    }
}

impl Spent {
    /// Says in pier's log what was dropped, if anything, and starts over.
    fn settle(&mut self) {
        if self.dropped_messages > 0 {
            tracing::warn!(
                "{} sent more output in one call than its limits allow ({} messages, {} bytes: log-messages, log-bytes); {} messages ({} bytes) were dropped",
                self.who,
                self.limits.messages,
                self.limits.bytes,
                self.dropped_messages,
                self.dropped_bytes
            );
        }
        self.messages = 0;
        self.bytes = 0;
        self.dropped_messages = 0;
        self.dropped_bytes = 0;
    }
}

impl Drop for Spent {
    fn drop(&mut self) {
        self.settle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_beyond_either_limit_are_dropped_and_counted() {
        let budget = OutputBudget::new(
            "plugin `p`".into(),
            OutputLimits {
                messages: 3,
                bytes: 10,
            },
        );
        assert!(budget.take(4));
        assert!(budget.take(4));
        assert!(!budget.take(4), "12 bytes would exceed 10");
        assert!(budget.take(2));
        assert!(!budget.take(0), "a fourth message exceeds 3");
        {
            let spent = budget.inner.lock().unwrap();
            assert_eq!((spent.messages, spent.bytes), (3, 10));
            assert_eq!((spent.dropped_messages, spent.dropped_bytes), (2, 4));
        }
        budget.settle();
        assert!(budget.take(10), "the next call has the whole budget");
        assert!(!budget.take(1));
    }
}
