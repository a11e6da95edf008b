//! The client side of a proxy: what a proxied server sends pier (progress, logs, list
//! changes, sampling and elicitation requests) is relayed to the caller it belongs to.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::*;
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, ErrorData as McpError, RoleClient};
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};

use super::arrivals::{self, Arrivals};
use super::calls::{Calls, InFlight};
use super::rounds;
use crate::runtime::CallContext;
use crate::runtime::types::Error as GuestError;

/// Progress and log notifications of one proxied server relayed at once: beyond (a
/// server flooding them faster than its callers take them), the next are dropped.
const MAX_RELAYING: usize = 64;

/// The proxied server's log messages written to pier's own log per second; beyond,
/// they are counted and the count written instead.
const LOG_LINES_PER_SECOND: u32 = 50;

/// The client side of a proxy: relays what the remote server sends.
#[derive(Clone)]
pub(super) struct Relay {
    pub(super) label: Arc<str>,
    pub(super) in_flight: InFlight,
    changes: mpsc::Sender<()>,
    relaying: Arc<Semaphore>,
    flood: Arc<Mutex<Flood>>,
    /// The numbered notifications: each is relayed after those before it.
    arrivals: Arc<Arrivals>,
}

/// What a flooding server costs, counted for the log.
struct Flood {
    /// Start of the current second of [`LOG_LINES_PER_SECOND`].
    second: Instant,
    lines: u32,
    /// Log lines left out of pier's log since last said.
    unwritten: u64,
    /// Notifications dropped since last said, and when that was.
    dropped: u64,
    said: Option<Instant>,
}

impl Relay {
    pub(super) fn new(
        label: &str,
        in_flight: InFlight,
        changes: mpsc::Sender<()>,
        arrivals: Arc<Arrivals>,
    ) -> Self {
        Self {
            label: label.into(),
            in_flight,
            changes,
            arrivals,
            relaying: Arc::new(Semaphore::new(MAX_RELAYING)),
            flood: Arc::new(Mutex::new(Flood {
                second: Instant::now(),
                lines: 0,
                unwritten: 0,
                dropped: 0,
                said: None,
            })),
        }
    }

    fn flood(&self) -> std::sync::MutexGuard<'_, Flood> {
        self.flood.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place among the notifications being relayed; `None` (and the notification
    /// counted as dropped) when [`MAX_RELAYING`] are.
    fn relaying(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let permit = self.relaying.clone().try_acquire_owned().ok();
        if permit.is_none() {
            let mut flood = self.flood();
            flood.dropped += 1;
            let now = Instant::now();
            if flood
                .said
                .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(10))
            {
                tracing::warn!(
                    mount = %self.label,
                    "the mounted server sends notifications faster than its callers take them: {} dropped",
                    flood.dropped
                );
                flood.dropped = 0;
                flood.said = Some(now);
            }
        }
        permit
    }

    /// Whether a log message of the server may go to pier's own log now
    /// ([`LOG_LINES_PER_SECOND`]).
    fn may_write_line(&self) -> bool {
        let mut flood = self.flood();
        let now = Instant::now();
        if now.duration_since(flood.second) >= Duration::from_secs(1) {
            if flood.unwritten > 0 {
                tracing::warn!(
                    mount = %self.label,
                    "{} log messages of the mounted server were left out of this log",
                    flood.unwritten
                );
            }
            flood.second = now;
            flood.lines = 0;
            flood.unwritten = 0;
        }
        if flood.lines < LOG_LINES_PER_SECOND {
            flood.lines += 1;
            return true;
        }
        if flood.unwritten == 0 {
            tracing::warn!(
                mount = %self.label,
                "the mounted server sends more than {LOG_LINES_PER_SECOND} log messages a second: the rest of this second's are left out of this log (its callers still get them)"
            );
        }
        flood.unwritten += 1;
        false
    }

    /// A catalogue change to fetch (one waiting stands for any number).
    fn changed(&self) {
        let _ = self.changes.try_send(());
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn callers(&self) -> Vec<Arc<dyn CallContext>> {
        let calls = self.calls();
        calls.by_token.values().map(|c| c.ctx.clone()).collect()
    }

    /// The client a request of the remote server (`what`) is passed on to: the caller of
    /// the one request in flight on this mount.
    fn asker(&self, what: &str) -> Result<Arc<dyn CallContext>, McpError> {
        let mut callers = self.callers();
        match callers.len() {
            1 => Ok(callers.remove(0)),
            0 => Err(McpError::invalid_request(
                format!(
                    "pier: {what} outside a request pier forwarded to `{}`",
                    self.label
                ),
                None,
            )),
            n => Err(McpError::invalid_request(
                format!(
                    "pier: {what} while {n} requests are in flight on `{}`: which client to ask is unknown",
                    self.label
                ),
                None,
            )),
        }
    }
}

/// A `context` error of the calling client, for the remote server that asked.
pub(super) fn refused(error: GuestError) -> McpError {
    match error {
        GuestError::InvalidParams(m) => McpError::invalid_params(m, None),
        GuestError::NotFound(m) | GuestError::Failed(m) | GuestError::Unsupported(m) => {
            McpError::invalid_request(m, None)
        }
    }
}

impl ClientHandler for Relay {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        context: NotificationContext<RoleClient>,
    ) {
        self.arrivals
            .turn(context.extensions.get(), arrivals::SETTLE)
            .await;
        let caller = {
            let calls = self.calls();
            calls
                .by_token
                .get(&params.progress_token)
                .map(|c| c.ctx.clone())
        };
        if let Some(caller) = caller
            && let Some(_relaying) = self.relaying()
        {
            let sent = caller.progress(params.progress, params.total, params.message);
            let _ = tokio::time::timeout(crate::server::subscriptions::SEND_TIMEOUT, sent).await;
        }
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        context: NotificationContext<RoleClient>,
    ) {
        self.arrivals
            .turn(context.extensions.get(), arrivals::SETTLE)
            .await;
        let (message, data) = match params.data {
            Value::String(text) => (text, None),
            Value::Object(mut object) => match object.remove("message") {
                Some(Value::String(text)) => (text, object.remove("data")),
                Some(other) => {
                    object.insert("message".into(), other);
                    (String::new(), Some(Value::Object(object)))
                }
                None => (String::new(), Some(Value::Object(object))),
            },
            other => (String::new(), Some(other)),
        };
        if self.may_write_line() {
            tracing::info!(mount = %self.label, level = ?params.level, "{}", crate::text::clip(&message));
        }
        // MCP log messages name no request: only while one request has had the mount
        // to itself is a message surely its caller's; otherwise it could be anyone's,
        // and a stranger must not see it: it stays in pier's own log.
        let Some(caller) = self.calls().log_owner() else {
            return;
        };
        let Some(_relaying) = self.relaying() else {
            return;
        };
        let logger = params.logger.unwrap_or_else(|| self.label.to_string());
        let sent = caller.log(
            crate::levels::from_mcp(params.level),
            &logger,
            message,
            data,
        );
        let _ = tokio::time::timeout(crate::server::subscriptions::SEND_TIMEOUT, sent).await;
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.changed();
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.changed();
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.changed();
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let caller = self.asker("sampling/createMessage")?;
        let params = serde_json::to_value(params)
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        let answer = caller.sample(params).await.map_err(refused)?;
        serde_json::from_value(answer).map_err(|e| McpError::internal_error(e.to_string(), None))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let caller = self.asker("elicitation/create")?;
        let request = serde_json::to_value(request)
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        if request["mode"] != "form" {
            return Err(McpError::invalid_params(
                "pier relays form elicitations only",
                None,
            ));
        }
        let message = request["message"].as_str().unwrap_or_default().to_string();
        let answer = caller
            .elicit(message, request["requestedSchema"].clone())
            .await
            .map_err(refused)?;
        serde_json::from_value(rounds::elicit_answer(answer))
            .map_err(|e| McpError::internal_error(e.to_string(), None))
    }

    fn get_info(&self) -> ClientConfig {
        // Sampling and elicitation are passed on to pier's own caller, who may refuse.
        let mut capabilities = ClientCapabilities::default();
        capabilities.sampling = Some(Default::default());
        capabilities.elicitation = Some(Default::default());
        let mut config = ClientConfig::new(
            capabilities,
            Implementation::new("pier", env!("CARGO_PKG_VERSION")),
        );
        // For a server that does not speak 2026-07-28 (its `server/discover` fails).
        config.protocol_version = ProtocolVersion::V_2025_11_25;
        config
    }
}
