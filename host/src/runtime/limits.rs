//! Per-plugin limits: read from the sidecar, capped by the operator, enforced per call.

use std::time::Duration;

use serde::Deserialize;

use super::grants::HttpBudget;
pub use super::warm::ReusePolicy;
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
    /// What one call may send to the client and to pier's log.
    pub output: OutputLimits,
    /// Calls of this plugin served at once; more wait briefly, then fail as busy.
    pub max_concurrent_calls: usize,
    /// Outbound HTTP one call may make (requests, response bytes).
    pub http: HttpBudget,
    /// Whether a call gets a fresh instance or may reuse a warm one.
    pub instances: Instances,
    /// Who may share a warm instance (with [`Instances::Reuse`]).
    pub reuse_scope: ReuseScope,
    /// How long and how much warm instances live (with [`Instances::Reuse`]).
    pub reuse: ReusePolicy,
}

/// The instance model of a plugin (sidecar `instances`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Instances {
    /// `reuse` for guests whose instantiation is costly (componentize-py and
    /// componentize-js components), `fresh` for the others.
    Auto,
    /// A new instance per call: nothing survives a call.
    Fresh,
    /// A warm instance of the same trust scope may serve the next call.
    Reuse,
}

impl Instances {
    /// The sidecar's and the operator's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Fresh => "fresh",
            Self::Reuse => "reuse",
        }
    }
}

/// Who may share a warm instance (sidecar `reuse-scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReuseScope {
    /// The calls of one client session (one connection over stdio).
    Session,
    /// Every caller of the plugin: only where the operator allows it.
    Plugin,
}

impl ReuseScope {
    /// The sidecar's and the operator's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Plugin => "plugin",
        }
    }
}

/// What one call may send as log messages, progress notifications and stdout/stderr
/// lines; beyond it the rest is dropped (and counted in one log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// Messages (log messages, progress notifications, output lines).
    pub messages: usize,
    /// Bytes of them in all.
    pub bytes: usize,
}

impl Default for OutputLimits {
    fn default() -> Self {
        Self {
            messages: 1000,
            bytes: 1 << 20,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            memory_bytes: 64 << 20,
            storage: Quota::default(),
            output: OutputLimits::default(),
            max_concurrent_calls: 32,
            http: HttpBudget::default(),
            instances: Instances::Auto,
            reuse_scope: ReuseScope::Session,
            reuse: ReusePolicy::default(),
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
            output: OutputLimits {
                messages: self.output.messages.min(cap.output.messages),
                bytes: self.output.bytes.min(cap.output.bytes),
            },
            max_concurrent_calls: self.max_concurrent_calls.min(cap.max_concurrent_calls),
            http: HttpBudget {
                requests: self.http.requests.min(cap.http.requests),
                response_bytes: self.http.response_bytes.min(cap.http.response_bytes),
            },
            // The operator's `fresh` forbids reuse; `reuse` (or `auto`) allows it.
            instances: match cap.instances {
                Instances::Fresh => Instances::Fresh,
                Instances::Auto | Instances::Reuse => self.instances,
            },
            reuse_scope: self.reuse_scope.min(cap.reuse_scope),
            reuse: ReusePolicy {
                max_calls: self.reuse.max_calls.min(cap.reuse.max_calls),
                idle: self.reuse.idle.min(cap.reuse.idle),
                capacity: self.reuse.capacity.min(cap.reuse.capacity),
            },
        }
    }

    /// The limits in effect, by the names of their `[limits]` keys (`/admin/mounts`,
    /// the console).
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "timeout-ms": self.timeout.as_millis() as u64,
            "memory-mb": self.memory_bytes >> 20,
            "max-concurrent-calls": self.max_concurrent_calls,
            "http-requests": self.http.requests,
            "http-response-bytes": self.http.response_bytes,
            "storage-keys": self.storage.max_keys,
            "storage-value-bytes": self.storage.max_value_bytes,
            "log-messages": self.output.messages,
            "log-bytes": self.output.bytes,
        })
    }

    /// What the operator's cap lowered of `asked` to make these limits, one
    /// `key asked → allowed` each (empty: nothing).
    pub fn lowered_from(&self, asked: &Limits) -> Vec<String> {
        let mut lowered = Vec::new();
        let mut note = |key: &str, from: String, to: String| {
            if from != to {
                lowered.push(format!("{key} {from} → {to}"));
            }
        };
        let ms = |d: Duration| d.as_millis().to_string();
        note("timeout-ms", ms(asked.timeout), ms(self.timeout));
        let mib = |b: usize| (b >> 20).to_string();
        note("memory-mb", mib(asked.memory_bytes), mib(self.memory_bytes));
        let n = |v: usize| v.to_string();
        note(
            "storage-keys",
            n(asked.storage.max_keys),
            n(self.storage.max_keys),
        );
        note(
            "storage-value-bytes",
            n(asked.storage.max_value_bytes),
            n(self.storage.max_value_bytes),
        );
        note(
            "log-messages",
            n(asked.output.messages),
            n(self.output.messages),
        );
        note("log-bytes", n(asked.output.bytes), n(self.output.bytes));
        note(
            "max-concurrent-calls",
            n(asked.max_concurrent_calls),
            n(self.max_concurrent_calls),
        );
        note(
            "http-requests",
            n(asked.http.requests),
            n(self.http.requests),
        );
        note(
            "http-response-bytes",
            n(asked.http.response_bytes),
            n(self.http.response_bytes),
        );
        note(
            "instances",
            asked.instances.as_str().into(),
            self.instances.as_str().into(),
        );
        note(
            "reuse-scope",
            asked.reuse_scope.as_str().into(),
            self.reuse_scope.as_str().into(),
        );
        note(
            "max-calls",
            asked.reuse.max_calls.to_string(),
            self.reuse.max_calls.to_string(),
        );
        note("idle-ms", ms(asked.reuse.idle), ms(self.reuse.idle));
        note(
            "warm-instances",
            n(asked.reuse.capacity),
            n(self.reuse.capacity),
        );
        lowered
    }
}

/// Enforces [`Limits::memory_bytes`] on the linear memories of one store (one instance)
/// together: a component may define several memories, and the limit is their sum.
///
/// Growing past the limit traps the guest with a message that names the limit, and
/// remembers that it happened so the call's error can say "out of memory".
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    /// Bytes of every linear memory of the store so far.
    used: usize,
    /// Set when the guest tried to grow past the limit.
    pub exceeded: bool,
}

impl MemoryLimiter {
    /// A limiter allowing `limit` bytes of linear memory in all.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: 0,
            exceeded: false,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Called for each memory's initial size too (current = 0), so `used` is the sum
        // over every memory of the instance.
        let total = self.used.saturating_add(desired.saturating_sub(current));
        if total > self.limit {
            self.exceeded = true;
            return Err(wasmtime::format_err!(
                "out of memory: the plugin tried to grow its memory to {} bytes, over its limit of {} MiB",
                total,
                self.limit >> 20
            ));
        }
        self.used = total;
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
    use wasmtime::ResourceLimiter;

    #[test]
    fn the_memory_limit_counts_every_memory_of_the_instance() {
        let mut limiter = MemoryLimiter::new(10 << 20);
        // Two memories of 4 MiB each: 8 MiB in all, within the limit.
        assert!(limiter.memory_growing(0, 4 << 20, None).unwrap());
        assert!(limiter.memory_growing(0, 4 << 20, None).unwrap());
        // A third would make 12 MiB: refused, though each alone is under the limit.
        assert!(limiter.memory_growing(0, 4 << 20, None).is_err());
        assert!(limiter.exceeded);
        // Growing one of the first two by 2 MiB fits exactly.
        let mut limiter = MemoryLimiter::new(10 << 20);
        limiter.memory_growing(0, 4 << 20, None).unwrap();
        limiter.memory_growing(0, 4 << 20, None).unwrap();
        assert!(limiter.memory_growing(4 << 20, 6 << 20, None).unwrap());
        assert!(limiter.memory_growing(6 << 20, 6 << 20 | 1, None).is_err());
    }

    #[test]
    fn capped_by_takes_the_lower_of_each_limit() {
        let asked = Limits {
            timeout: Duration::from_secs(60),
            memory_bytes: 16 << 20,
            storage: Quota {
                max_keys: 50,
                max_value_bytes: 4096,
            },
            output: OutputLimits {
                messages: 10,
                bytes: 1 << 30,
            },
            max_concurrent_calls: 500,
            http: HttpBudget {
                requests: 5,
                response_bytes: 1 << 30,
            },
            instances: Instances::Reuse,
            reuse_scope: ReuseScope::Plugin,
            reuse: ReusePolicy {
                max_calls: 5000,
                idle: Duration::from_secs(60),
                capacity: 2,
            },
        };
        let cap = Limits {
            timeout: Duration::from_secs(10),
            memory_bytes: 64 << 20,
            storage: Quota {
                max_keys: 20,
                max_value_bytes: 1 << 20,
            },
            output: OutputLimits {
                messages: 100,
                bytes: 1 << 20,
            },
            max_concurrent_calls: 100,
            http: HttpBudget {
                requests: 16,
                response_bytes: 1 << 20,
            },
            instances: Instances::Reuse,
            reuse_scope: ReuseScope::Session,
            reuse: ReusePolicy {
                max_calls: 1000,
                idle: Duration::from_secs(600),
                capacity: 64,
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
                output: OutputLimits {
                    messages: 10,
                    bytes: 1 << 20,
                },
                max_concurrent_calls: 100,
                http: HttpBudget {
                    requests: 5,
                    response_bytes: 1 << 20,
                },
                instances: Instances::Reuse,
                reuse_scope: ReuseScope::Session,
                reuse: ReusePolicy {
                    max_calls: 1000,
                    idle: Duration::from_secs(60),
                    capacity: 2,
                },
            }
        );
        assert_eq!(
            asked.capped_by(cap).lowered_from(&asked),
            [
                "timeout-ms 60000 → 10000",
                "storage-keys 50 → 20",
                "log-bytes 1073741824 → 1048576",
                "max-concurrent-calls 500 → 100",
                "http-response-bytes 1073741824 → 1048576",
                "reuse-scope plugin → session",
                "max-calls 5000 → 1000",
            ]
        );
    }

    #[test]
    fn an_operator_who_says_fresh_forbids_reuse() {
        let fresh = Limits {
            instances: Instances::Fresh,
            ..Limits::default()
        };
        for asked in [Instances::Auto, Instances::Fresh, Instances::Reuse] {
            let asked = Limits {
                instances: asked,
                ..Limits::default()
            };
            assert_eq!(asked.capped_by(fresh).instances, Instances::Fresh);
            assert_eq!(
                asked.capped_by(Limits::default()).instances,
                asked.instances,
                "an operator's auto leaves the sidecar's choice"
            );
        }
    }
}
