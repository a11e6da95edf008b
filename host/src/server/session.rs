//! Per-session state: what one connected client has set.

#![allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.

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
    pub local_id: String,
    log_level: Mutex<LoggingLevel>,
    metrics: Arc<Metrics>,
    closed: CancellationToken,
}

impl Session {
    /// A session whose log level starts at `info`; counted in `pier_active_sessions`
    /// until dropped.
    pub fn new(id: Option<String>, metrics: Arc<Metrics>) -> Self {
        metrics.sessions(1.0);
        Self {
            id,
            local_id: format!("local-{:016x}", fastrand::u64(..)),
            log_level: Mutex::new(LoggingLevel::Info),
            metrics,
            closed: CancellationToken::new(),
        }
    }

    /// Cancelled when the session ends (its handler is dropped).
    pub fn closed(&self) -> CancellationToken {
        self.closed.clone()
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

impl Drop for Session {
    fn drop(&mut self) {
        self.closed.cancel();
        self.metrics.sessions(-1.0);
    }
}
