//! Per-session state: what one connected client has set.

#![allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::LoggingLevel;
use tokio_util::sync::CancellationToken;

use crate::telemetry::Metrics;

/// One client connection (a stdio pipe, or an HTTP session).
#[derive(Debug)]
pub struct Session {
    /// The transport's session id, when it has one.
    pub id: Option<String>,
    /// A random id of this session object: what tells sessions without a transport id
    /// (stdio, in-process pipes) apart, e.g. for rate limits per session.
    pub local_id: Arc<str>,
    log_level: Mutex<LoggingLevel>,
    forwarding_changes: AtomicBool,
    metrics: Arc<Metrics>,
    closed: CancellationToken,
    /// Whose plugins' warm instances of this session go when it ends.
    registry: Option<Releasing>,
    /// Whether [`Session::local_id`] was handed out as a trust scope (only then may a
    /// plugin keep a warm instance of it, to be dropped when the session ends).
    scoped: AtomicBool,
    /// Made for one request (a stateless pier's handler): never a trust scope.
    per_request: bool,
    /// Counted in `pier_active_sessions` ([`Session::began`]).
    counted: AtomicBool,
    /// When it began, its MCP revision and whether it is over HTTP
    /// (`mcp.server.session.duration`).
    began: Mutex<Option<(std::time::Instant, Option<&'static str>, bool)>>,
    /// The last transport id [`Session::public_id`] hashed, and its hash: every request
    /// of an HTTP session names the same one.
    hashed: Mutex<Option<(String, String)>>,
    /// Its place among the sessions its client and everyone hold open
    /// (`server.max-sessions`), given back when it ends.
    admitted: Mutex<Option<crate::server::quota::Held>>,
}

/// The registry a session releases its warm instances in.
struct Releasing(Arc<crate::registry::Registry>);

impl std::fmt::Debug for Releasing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Releasing")
    }
}

impl Session {
    /// A session whose log level starts at `info`; counted in `pier_active_sessions`
    /// from its `initialize` ([`Session::began`]) until dropped.
    pub fn new(id: Option<String>, metrics: Arc<Metrics>) -> Self {
        Self::made(id, metrics, false)
    }

    /// The session object of one request to a stateless pier: not a session a client
    /// holds (never counted in `pier_active_sessions`), never a trust scope (its
    /// requests belong to their principal, [`super::scope`]).
    pub fn one_request(metrics: Arc<Metrics>) -> Self {
        Self::made(None, metrics, true)
    }

    /// The client initialized the session: from now on (once) it counts in
    /// `pier_active_sessions`. A handler made for a sessionless request (MCP
    /// 2026-07-28, a stateless pier) never begins, and is never counted.
    /// `protocol` is its revision, when pier negotiates it; `http`: over HTTP (else
    /// stdio).
    pub fn began(&self, protocol: Option<&'static str>, http: bool) {
        if !self.per_request && !self.counted.swap(true, Ordering::AcqRel) {
            self.metrics.sessions(1.0);
            *self.began.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((std::time::Instant::now(), protocol, http));
        }
    }

    fn made(id: Option<String>, metrics: Arc<Metrics>, per_request: bool) -> Self {
        Self {
            id,
            local_id: format!("local-{:016x}", fastrand::u64(..)).into(),
            scoped: AtomicBool::new(false),
            per_request,
            counted: AtomicBool::new(false),
            began: Mutex::new(None),
            log_level: Mutex::new(LoggingLevel::Info),
            forwarding_changes: AtomicBool::new(false),
            metrics,
            closed: CancellationToken::new(),
            registry: None,
            hashed: Mutex::new(None),
            admitted: Mutex::new(None),
        }
    }

    /// Drops the warm instances this session leaves in `registry`'s plugins when it
    /// ends (rather than when they idle out).
    pub fn releasing_instances_of(mut self, registry: Arc<crate::registry::Registry>) -> Self {
        self.registry = Some(Releasing(registry));
        self
    }

    /// Whether it holds a place among the open sessions ([`Session::admit`]).
    pub fn admitted(&self) -> bool {
        self.admitted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Holds `place` among the open sessions until the session ends.
    pub fn admit(&self, place: crate::server::quota::Held) {
        *self.admitted.lock().unwrap_or_else(|e| e.into_inner()) = Some(place);
    }

    /// Whether it serves one request only ([`Session::one_request`]).
    pub fn is_per_request(&self) -> bool {
        self.per_request
    }

    /// The session as a trust scope: warm instances of it are dropped when it ends.
    pub fn scope(&self) -> Arc<str> {
        self.scoped.store(true, Ordering::Relaxed);
        self.local_id.clone()
    }

    /// Cancelled when the session ends (its handler is dropped).
    pub fn closed(&self) -> CancellationToken {
        self.closed.clone()
    }

    /// True the first time only: whoever gets it starts the session's list_changed
    /// forwarder.
    pub fn start_forwarding_changes(&self) -> bool {
        !self.forwarding_changes.swap(true, Ordering::AcqRel)
    }

    /// What names this session in logs and to plugins ([`hashed_id`] of its transport id,
    /// or of `header`, the `Mcp-Session-Id` of an HTTP request); `None` when it has no
    /// transport id.
    pub fn public_id(&self, header: Option<String>) -> Option<String> {
        let id = self.id.clone().or(header)?;
        let mut last = self.hashed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, hashed)) = &*last
            && *seen == id
        {
            return Some(hashed.clone());
        }
        let hashed = hashed_id(&id);
        *last = Some((id, hashed.clone()));
        Some(hashed)
    }

    /// The least severe level sent to this client.
    pub fn log_level(&self) -> LoggingLevel {
        self.log_level
            .lock()
            .map(|l| *l)
            .unwrap_or(LoggingLevel::Info)
    }

    /// Sets the least severe level sent to this client (`logging/setLevel`).
    pub fn set_log_level(&self, level: LoggingLevel) {
        if let Ok(mut l) = self.log_level.lock() {
            *l = level;
        }
    }
}

/// What names a session in log lines and to plugins and middleware: a short hash of its
/// transport id. The transport id (`Mcp-Session-Id`) is the session's credential: whoever
/// knows it can send requests in the session, so it is never logged nor handed out.
pub fn hashed_id(transport_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("pier session {transport_id}").as_bytes());
    format!("s-{}", hex::encode(&digest[..8]))
}

impl Drop for Session {
    fn drop(&mut self) {
        self.closed.cancel();
        if self.counted.load(Ordering::Acquire) {
            self.metrics.sessions(-1.0);
        }
        let began = self
            .began
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((at, protocol, http)) = began {
            self.metrics
                .session_ended(protocol, http, at.elapsed().as_secs_f64());
        }
        if let Some(Releasing(registry)) = &self.registry
            && self.scoped.load(Ordering::Relaxed)
        {
            for plugin in registry.snapshot().mounts.iter().filter_map(|m| m.wasm()) {
                plugin.forget_scope(&self.local_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: Option<&str>) -> Session {
        Session::new(id.map(str::to_string), Arc::new(Metrics::default()))
    }

    #[test]
    fn public_id_is_the_hash_of_the_transport_id_even_when_remembered() {
        let s = session(None);
        let a = hashed_id("aaaa");
        assert_eq!(s.public_id(Some("aaaa".into())), Some(a.clone()));
        assert_eq!(s.public_id(Some("aaaa".into())), Some(a.clone()));
        // Another id is hashed anew, not answered with the remembered one.
        assert_eq!(s.public_id(Some("bbbb".into())), Some(hashed_id("bbbb")));
        assert_eq!(s.public_id(Some("aaaa".into())), Some(a));
        assert_eq!(s.public_id(None), None);
        assert_ne!(hashed_id("aaaa"), hashed_id("bbbb"));
        assert!(hashed_id("aaaa").starts_with("s-") && hashed_id("aaaa").len() == 18);
    }

    #[test]
    fn the_session_own_transport_id_wins_over_a_header() {
        let s = session(Some("own"));
        assert_eq!(s.public_id(Some("other".into())), Some(hashed_id("own")));
        assert_eq!(s.public_id(None), Some(hashed_id("own")));
    }
}
