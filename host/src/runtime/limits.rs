//! Per-plugin limits: read from the sidecar, capped by the operator, enforced per call.

use std::time::Duration;

use crate::storage::Quota;

/// Milliseconds between two ticks of the engine's epoch (see [`super::engine`]).
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The limits one call into a plugin runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time one call may take (CPU loops are interrupted through the epoch).
    pub timeout: Duration,
    /// Linear memory one instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// What the plugin may keep in storage.
    pub storage: Quota,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            memory_bytes: 64 << 20,
            storage: Quota::default(),
        }
    }
}

impl Limits {
    /// These limits, each lowered to the operator's cap where it is higher.
    pub fn capped_by(self, cap: Limits) -> Limits {
        Limits {
            timeout: self.timeout.min(cap.timeout),
            memory_bytes: self.memory_bytes.min(cap.memory_bytes),
            storage: Quota {
                max_keys: self.storage.max_keys.min(cap.storage.max_keys),
                max_value_bytes: self
                    .storage
                    .max_value_bytes
                    .min(cap.storage.max_value_bytes),
            },
        }
    }
}

/// Enforces [`Limits::memory_bytes`] on every memory and table growth of one store.
///
/// Growing past the limit traps the guest with a message that names the limit, and
/// remembers that it happened so the call's error can say "out of memory".
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    /// Set when the guest tried to grow past the limit.
    pub exceeded: bool,
}

impl MemoryLimiter {
    /// A limiter allowing `limit` bytes of linear memory.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            exceeded: false,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            return Err(wasmtime::format_err!(
                "out of memory: the plugin tried to grow its memory to {} bytes, over its limit of {} MiB",
                desired,
                self.limit >> 20
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold references, not data; a million entries is far beyond any real guest.
        Ok(desired <= 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_by_takes_the_lower_of_each_limit() {
        let asked = Limits {
            timeout: Duration::from_secs(60),
            memory_bytes: 16 << 20,
            storage: Quota {
                max_keys: 50,
                max_value_bytes: 4096,
            },
        };
        let cap = Limits {
            timeout: Duration::from_secs(10),
            memory_bytes: 64 << 20,
            storage: Quota {
                max_keys: 20,
                max_value_bytes: 1 << 20,
            },
        };
        assert_eq!(
            asked.capped_by(cap),
            Limits {
                timeout: Duration::from_secs(10),
                memory_bytes: 16 << 20,
                storage: Quota {
                    max_keys: 20,
                    max_value_bytes: 4096,
                },
            }
        );
    }
}
