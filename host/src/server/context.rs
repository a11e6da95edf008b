//! The request [`Context`]: what a plugin call may ask of the client request it serves,
//! over whatever transport the request came on.

#![allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.

use std::sync::Mutex;

use futures::future::BoxFuture;
use rmcp::RoleServer;
use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::service::{Peer, RequestContext};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::session::Session;
use crate::runtime::types::LogLevel;
use crate::runtime::{CallContext, RequestInfo, RequestState};
use std::sync::Arc;

/// Severity rank of an MCP log level (debug = 0 … emergency = 7).
pub fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

fn to_mcp(level: LogLevel) -> LoggingLevel {
    match level {
        LogLevel::Debug => LoggingLevel::Debug,
        LogLevel::Info => LoggingLevel::Info,
        LogLevel::Notice => LoggingLevel::Notice,
        LogLevel::Warning => LoggingLevel::Warning,
        LogLevel::Error => LoggingLevel::Error,
        LogLevel::Critical => LoggingLevel::Critical,
        LogLevel::Alert => LoggingLevel::Alert,
        LogLevel::Emergency => LoggingLevel::Emergency,
    }
}

/// The `Mcp-Session-Id` of a request that came over HTTP.
pub(crate) fn http_session_id(request: &RequestContext<RoleServer>) -> Option<String> {
    let parts = request.extensions.get::<axum::http::request::Parts>()?;
    let id = parts.headers.get("mcp-session-id")?.to_str().ok()?;
    Some(id.to_string())
}

/// The context of one client request.
pub struct Context {
    peer: Peer<RoleServer>,
    session: Arc<Session>,
    progress_token: Option<ProgressToken>,
    last_progress: Mutex<Option<f64>>,
    cancelled: CancellationToken,
    info: RequestInfo,
    state: RequestState,
}

impl Context {
    /// The context of the request `request` of `session`.
    pub fn new(request: &RequestContext<RoleServer>, session: Arc<Session>) -> Self {
        let client = request.client_info();
        let info = RequestInfo {
            request_id: serde_json::to_string(&request.id).unwrap_or_default(),
            session_id: session.id.clone().or_else(|| http_session_id(request)),
            client_name: client.as_ref().map(|c| c.name.clone()),
            client_version: client.as_ref().map(|c| c.version.clone()),
            subject: None,
            scopes: Vec::new(),
        };
        Self {
            peer: request.peer.clone(),
            session,
            progress_token: request.meta.get_progress_token(),
            last_progress: Mutex::new(None),
            cancelled: request.ct.clone(),
            info,
            state: RequestState::default(),
        }
    }
}

impl CallContext for Context {
    fn log(
        &self,
        level: LogLevel,
        logger: &str,
        message: String,
        data: Option<Value>,
    ) -> BoxFuture<'_, ()> {
        let level = to_mcp(level);
        let logger = logger.to_string();
        Box::pin(async move {
            if rank(level) < rank(self.session.log_level()) {
                return;
            }
            let data = match data {
                None => Value::String(message),
                Some(data) => json!({ "message": message, "data": data }),
            };
            let param = LoggingMessageNotificationParam::new(level, data).with_logger(logger);
            if let Err(e) = self.peer.notify_logging_message(param).await {
                tracing::debug!("could not send a log message to the client: {e}");
            }
        })
    }

    fn progress(
        &self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let Some(token) = self.progress_token.clone() else {
                return;
            };
            {
                // Progress must increase: a value that does not is dropped.
                let Ok(mut last) = self.last_progress.lock() else {
                    return;
                };
                if last.is_some_and(|l| progress <= l) {
                    tracing::debug!("dropped non-increasing progress {progress}");
                    return;
                }
                *last = Some(progress);
            }
            let mut param = ProgressNotificationParam::new(token, progress);
            if let Some(total) = total {
                param = param.with_total(total);
            }
            if let Some(message) = message {
                param = param.with_message(message);
            }
            if let Err(e) = self.peer.notify_progress(param).await {
                tracing::debug!("could not send progress to the client: {e}");
            }
        })
    }

    fn request_info(&self) -> RequestInfo {
        self.info.clone()
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.is_cancelled()
    }

    fn cancellation(&self) -> CancellationToken {
        self.cancelled.clone()
    }

    fn state(&self) -> &RequestState {
        &self.state
    }
}
