//! `rate-limit`: limits requests with a token bucket (a burst of `capacity`, refilled at
//! `refill-per-second`) or a sliding window (`capacity` requests per `window-seconds`),
//! globally or per session, client IP or token subject; every request, those of some
//! methods, or the calls of some tools (globs), each tool apart or together. The state
//! lives in the
//! server's store, so replicas sharing Redis share the limits; a limited request gets
//! the JSON-RPC error `rate limit exceeded` with `retryAfterMs` in its data.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rmcp::ErrorData as McpError;
use rmcp::model::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::spec::{Services, SpecError};
use super::{Middleware, MiddlewareContext, Next, Outcome, Request};
use crate::storage::{KeyValue, StoreError};
use crate::telemetry::Metrics;

/// How requests are counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// A burst of `capacity`, then `refill-per-second`.
    #[default]
    TokenBucket,
    /// At most `capacity` in any `window-seconds`.
    SlidingWindow,
}

/// Whose requests share one limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Per {
    /// Everyone's.
    Global,
    /// One client session's (stdio: the one client).
    #[default]
    Session,
    /// One client IP address's (HTTP; stdio counts as one client).
    ClientIp,
    /// One token subject's (requests without one share the `anonymous` limit).
    TokenSubject,
}

/// Where the counters live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The server's store (`[storage]`): shared by replicas on one Redis.
    #[default]
    Storage,
    /// This process's memory.
    Memory,
}

/// `[[middleware]] type = "rate-limit"`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Token bucket or sliding window.
    pub algorithm: Algorithm,
    /// Burst size (token bucket) or requests per window (sliding window).
    pub capacity: u32,
    /// Tokens added per second (token bucket only; default 1).
    pub refill_per_second: Option<f64>,
    /// Length of the window (sliding window only; default 60).
    pub window_seconds: Option<f64>,
    /// Whose requests share a limit.
    pub per: Per,
    /// Methods counted (`tools/call`, …); empty: every request (`initialize`, a new
    /// session, against the client IP).
    pub methods: Vec<String>,
    /// Tools whose calls are counted (globs on the names clients call, `*` for any
    /// run); empty: as `methods` says.
    pub tools: Vec<String>,
    /// Each tool has a limit of its own (else the counted tools share one).
    pub per_tool: bool,
    /// Where the counters live.
    pub backend: Backend,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::TokenBucket,
            capacity: 10,
            refill_per_second: None,
            window_seconds: None,
            per: Per::Session,
            methods: Vec::new(),
            tools: Vec::new(),
            per_tool: false,
            backend: Backend::Storage,
        }
    }
}

impl Config {
    /// Checks ranges and that each key fits the algorithm.
    pub fn check(&self) -> Result<(), SpecError> {
        if self.capacity == 0 {
            return Err(SpecError::new("capacity", "expected at least 1"));
        }
        if self.by_tool() && self.methods.iter().any(|m| m != "tools/call") {
            return Err(SpecError::new(
                "methods",
                "a limit on tools counts tool calls only: leave out `methods` (or give just \"tools/call\")",
            ));
        }
        if let Some(bad) = self.tools.iter().find(|t| t.is_empty() || t.len() > 256) {
            return Err(SpecError::new(
                "tools",
                format!(
                    "`{}` is not a tool name or glob (1 to 256 characters)",
                    crate::text::clip(bad)
                ),
            ));
        }
        match self.algorithm {
            Algorithm::TokenBucket => {
                if self.window_seconds.is_some() {
                    return Err(SpecError::new(
                        "window-seconds",
                        "only the sliding-window algorithm has a window (token-bucket uses refill-per-second)",
                    ));
                }
                if !(self.refill() > 0.0 && self.refill() <= MAX_REFILL) {
                    return Err(SpecError::new(
                        "refill-per-second",
                        "expected a number above 0 (at most 1000000000)",
                    ));
                }
                let refilled_in = f64::from(self.capacity) / self.refill();
                if refilled_in > MAX_STATE_SECONDS {
                    return Err(SpecError::new(
                        "refill-per-second",
                        format!(
                            "an empty bucket of {} would take {refilled_in:.0} s to refill, more than a year: raise refill-per-second to at least {:.9}",
                            self.capacity,
                            f64::from(self.capacity) / MAX_STATE_SECONDS
                        ),
                    ));
                }
            }
            Algorithm::SlidingWindow => {
                if self.refill_per_second.is_some() {
                    return Err(SpecError::new(
                        "refill-per-second",
                        "only the token-bucket algorithm refills (sliding-window uses window-seconds)",
                    ));
                }
                if !(self.window() >= 0.001 && self.window() <= 86_400.0) {
                    return Err(SpecError::new("window-seconds", "expected 0.001 to 86400"));
                }
            }
        }
        Ok(())
    }

    fn refill(&self) -> f64 {
        self.refill_per_second.unwrap_or(1.0)
    }

    /// Whether the limit is on tool calls (`tools` or `per-tool`).
    fn by_tool(&self) -> bool {
        !self.tools.is_empty() || self.per_tool
    }

    fn window(&self) -> f64 {
        self.window_seconds.unwrap_or(60.0)
    }

    /// Token bucket: `{"tokens": f64, "at": ms}`; an absent bucket is full.
    fn bucket(&self, current: Option<&[u8]>, now: u64) -> (Verdict, Option<Vec<u8>>, Duration) {
        let capacity = f64::from(self.capacity);
        let rate = self.refill();
        let state: Option<serde_json::Value> = current.and_then(|c| serde_json::from_slice(c).ok());
        let tokens = match state {
            Some(s) => {
                let tokens = s["tokens"].as_f64().unwrap_or(capacity);
                let at = s["at"].as_u64().unwrap_or(now);
                let elapsed = now.saturating_sub(at) as f64 / 1000.0;
                (tokens + elapsed * rate).min(capacity)
            }
            None => capacity,
        };
        // An untouched bucket refills completely in this time; then absent = full.
        let ttl = saturated(capacity / rate + 1.0);
        if tokens >= 1.0 {
            let new = json!({ "tokens": tokens - 1.0, "at": now });
            (Verdict::Allowed, Some(new.to_string().into_bytes()), ttl)
        } else {
            let retry_after = saturated((1.0 - tokens) / rate);
            (Verdict::Limited { retry_after }, None, ttl)
        }
    }

    /// The limit in words, for error messages.
    fn describe(&self) -> String {
        let per = match self.per {
            Per::Global => "in all",
            Per::Session => "per session",
            Per::ClientIp => "per client IP",
            Per::TokenSubject => "per token subject",
        };
        let tools = match (self.tools.as_slice(), self.per_tool) {
            ([], false) => String::new(),
            ([], true) => ", each tool apart".into(),
            (globs, each) => format!(
                ", for tools {}{}",
                globs.join(" "),
                if each { ", each apart" } else { "" }
            ),
        };
        match self.algorithm {
            Algorithm::TokenBucket => format!(
                "{} requests, then {} per second, {per}{tools}",
                self.capacity,
                self.refill()
            ),
            Algorithm::SlidingWindow => {
                format!(
                    "{} requests per {} s, {per}{tools}",
                    self.capacity,
                    self.window()
                )
            }
        }
    }
}

/// Most tokens per second a bucket refills.
const MAX_REFILL: f64 = 1e9;

/// Longest a bucket may take to refill (a year): its state lives that long.
const MAX_STATE_SECONDS: f64 = 31_536_000.0;

/// `seconds` as a duration, saturated to a year (a NaN or negative one is zero).
fn saturated(seconds: f64) -> Duration {
    if seconds.is_nan() {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(seconds.min(MAX_STATE_SECONDS)).unwrap_or_default()
}

/// Sub-buckets of a sliding window: a request leaves the window between `window` and
/// `window + window / SLOTS` after it was made.
const SLOTS: u64 = 100;

/// Attempts of a read-modify-write before giving up under contention.
const MAX_CAS: usize = 64;

/// The rate-limit middleware.
pub struct RateLimit {
    config: Config,
    store: Arc<dyn KeyValue>,
    metrics: Arc<Metrics>,
    /// `pier/ratelimit/SCOPE/FINGERPRINT/`: instances with the same configuration
    /// share counters.
    prefix: String,
}

/// What the counters said.
pub(crate) enum Verdict {
    Allowed,
    Limited { retry_after: Duration },
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

impl RateLimit {
    /// A rate-limit middleware configured by `config`, applying in `scope`.
    pub fn new(config: Config, services: &Services, scope: &str) -> Self {
        let store = match config.backend {
            Backend::Storage => services.store.clone(),
            Backend::Memory => Arc::new(crate::storage::memory::Memory::default()),
        };
        let fingerprint = Sha256::digest(serde_json::to_vec(&config).unwrap_or_default());
        let prefix = format!(
            "pier/ratelimit/{scope}/{}/",
            &hex::encode(fingerprint)[..12]
        );
        Self {
            config,
            store,
            metrics: services.metrics.clone(),
            prefix,
        }
    }

    /// Whether `request` counts; the tool it calls, when the limit is on tools. A
    /// call of a tool the catalogue does not have is not counted (it is refused
    /// anyway): names a client makes up never become counters.
    fn counted<'r>(&self, cx: &MiddlewareContext, request: &'r Request) -> Option<Option<&'r str>> {
        if self.config.by_tool() {
            let Request::CallTool(call) = request else {
                return None;
            };
            let name = call.name.as_str();
            let matched = self.config.tools.is_empty()
                || self
                    .config
                    .tools
                    .iter()
                    .any(|glob| super::authorize::glob(glob, name));
            return (matched && cx.catalogue().tools.get(name).is_some()).then_some(Some(name));
        }
        match request {
            Request::Notification(_) => None,
            _ if self.config.methods.is_empty() => Some(None),
            other => self
                .config
                .methods
                .iter()
                .any(|m| m == other.method())
                .then_some(None),
        }
    }

    /// Whose limit a request counts against. Without `methods`, `initialize` (a new
    /// session) counts against its client IP whatever `per` says: a client cannot
    /// escape a per-session limit by opening sessions.
    fn who(&self, cx: &MiddlewareContext, request: &Request) -> String {
        let ip = || {
            cx.client_ip()
                .map_or_else(|| "local".into(), |ip| ip.to_string())
        };
        if matches!(request, Request::Initialize(_)) && self.config.methods.is_empty() {
            return format!("initialize/{}", ip());
        }
        match self.config.per {
            Per::Global => "*".into(),
            // A request without a session (MCP 2026-07-28, a stateless pier) counts
            // against its verified subject, else its client IP: never against a
            // session id it sent, which the client chooses.
            Per::Session if !cx.request().in_session() => match cx.subject() {
                Some(subject) => format!("subject/{subject}"),
                None => format!("ip/{}", ip()),
            },
            Per::Session => cx.request().session_key(),
            Per::ClientIp => ip(),
            Per::TokenSubject => cx.subject().unwrap_or("anonymous").to_string(),
        }
    }

    /// Takes one request from the limit under `key`.
    async fn take(&self, key: &str) -> Result<Verdict, StoreError> {
        for _ in 0..MAX_CAS {
            let current = self.store.get(key).await?;
            let now = now_ms();
            let (verdict, new, ttl) = match self.config.algorithm {
                Algorithm::TokenBucket => self.config.bucket(current.as_deref(), now),
                Algorithm::SlidingWindow => take_from_window(
                    current.as_deref(),
                    now,
                    (self.config.window() * 1000.0) as u64,
                    self.config.capacity,
                ),
            };
            let Some(new) = new else {
                return Ok(verdict);
            };
            if self
                .store
                .compare_and_set(key, current.as_deref(), new, Some(ttl))
                .await?
            {
                return Ok(verdict);
            }
        }
        tracing::warn!(
            key,
            "rate limit: too much contention on the counter; request allowed"
        );
        Ok(Verdict::Allowed)
    }
}

/// Takes one request from a sliding window of `window_ms` holding at most `capacity`,
/// whose state is `current` (`[[slot, count], …]`, slots of `window / SLOTS` ms: its
/// size is bounded by the slots, not by `capacity`): the verdict, the new state to
/// store (`None` when nothing changes) and how long to keep it.
pub(crate) fn take_from_window(
    current: Option<&[u8]>,
    now: u64,
    window_ms: u64,
    capacity: u32,
) -> (Verdict, Option<Vec<u8>>, Duration) {
    let window_ms = window_ms.max(1);
    let slot_ms = (window_ms / SLOTS).max(1);
    let slot = now / slot_ms;
    let oldest_live = now.saturating_sub(window_ms) / slot_ms;
    let mut slots: Vec<(u64, u32)> = current
        .and_then(|c| serde_json::from_slice(c).ok())
        .unwrap_or_default();
    slots.retain(|(s, _)| *s > oldest_live);
    let used: u32 = slots.iter().map(|(_, n)| n).sum();
    let ttl = Duration::from_millis(window_ms + slot_ms);
    if used >= capacity {
        // Room appears when the oldest slot leaves the window.
        let oldest = slots.iter().map(|(s, _)| *s).min().unwrap_or(slot);
        let frees_at = (oldest + 1) * slot_ms + window_ms;
        let retry_after = Duration::from_millis(frees_at.saturating_sub(now).max(1));
        return (Verdict::Limited { retry_after }, None, ttl);
    }
    match slots.last_mut() {
        Some((s, n)) if *s == slot => *n += 1,
        _ => slots.push((slot, 1)),
    }
    let new = serde_json::to_vec(&slots).unwrap_or_default();
    (Verdict::Allowed, Some(new), ttl)
}

#[async_trait]
impl Middleware for RateLimit {
    fn name(&self) -> &str {
        "rate-limit"
    }

    async fn on_request(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        // A plugin's read inside a client's request is part of that request, counted once.
        let tool = match self.counted(cx, &request) {
            Some(tool) if !cx.is_nested() => tool,
            _ => return next.run(cx, request).await,
        };
        let mut key = format!("{}{}", self.prefix, self.who(cx, &request));
        if let (true, Some(tool)) = (self.config.per_tool, tool) {
            key.push_str("/tool/");
            key.push_str(tool);
        }
        let retry_after = match self.take(&key).await {
            Ok(Verdict::Allowed) => return next.run(cx, request).await,
            Ok(Verdict::Limited { retry_after }) => retry_after,
            Err(e) => {
                // Storage down: serving beats refusing everyone.
                tracing::warn!("rate limit not applied: {e}");
                self.metrics.count("pier_rate_limit_errors_total", &[], 1);
                return next.run(cx, request).await;
            }
        };
        let method = request.method();
        self.metrics
            .count("pier_rate_limited_total", &[("method", method)], 1);
        // Rounded up, plus the millisecond the stored timestamps are truncated to: a
        // client that waits this long is let through.
        let ms = (retry_after.as_micros().div_ceil(1000) + 1) as u64;
        Err(McpError::new(
            ErrorCode(-32000),
            format!(
                "rate limit exceeded ({}); retry after {:.3} s",
                self.config.describe(),
                ms as f64 / 1000.0
            ),
            Some(json!({ "retryAfterMs": ms, "retryAfterSeconds": ms.div_ceil(1000) })),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(capacity: u32, refill: f64) -> Config {
        Config {
            capacity,
            refill_per_second: Some(refill),
            ..Config::default()
        }
    }

    #[test]
    fn a_refill_too_slow_or_too_fast_is_refused_at_load() {
        let error = bucket(5, 1e-20).check().unwrap_err();
        assert_eq!(error.key, "refill-per-second");
        assert_eq!(
            error.message,
            "an empty bucket of 5 would take 500000000000000000000 s to refill, more than a year: raise refill-per-second to at least 0.000000159"
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e9] {
            let error = bucket(5, bad).check().unwrap_err();
            assert_eq!(
                error.message, "expected a number above 0 (at most 1000000000)",
                "{bad}"
            );
        }
        assert!(bucket(5, 5.0 / MAX_STATE_SECONDS).check().is_ok());
        assert!(bucket(5, 1e9).check().is_ok());
    }

    #[test]
    fn an_unchecked_tiny_refill_saturates_instead_of_panicking() {
        let config = bucket(1, 1e-20);
        let (first, state, ttl) = config.bucket(None, 1_000);
        assert!(matches!(first, Verdict::Allowed));
        assert_eq!(ttl, Duration::from_secs(31_536_000));
        let (second, _, _) = config.bucket(state.as_deref(), 1_001);
        let Verdict::Limited { retry_after } = second else {
            panic!("the bucket is empty");
        };
        assert_eq!(retry_after, Duration::from_secs(31_536_000));
        assert_eq!(saturated(f64::NAN), Duration::ZERO);
        assert_eq!(saturated(-3.0), Duration::ZERO);
    }
}
