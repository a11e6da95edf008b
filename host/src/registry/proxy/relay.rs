//! The client side of a proxy: what a proxied server sends pier (progress, logs, list
//! changes, sampling and elicitation requests) is relayed to the caller it belongs to.

use std::sync::Arc;

use rmcp::model::*;
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, ErrorData as McpError, RoleClient};
use serde_json::Value;
use tokio::sync::mpsc;

use super::calls::{Calls, InFlight};
use super::rounds;
use crate::runtime::CallContext;
use crate::runtime::types::Error as GuestError;

/// The client side of a proxy: relays what the remote server sends.
#[derive(Clone)]
pub(super) struct Relay {
    pub(super) label: Arc<str>,
    pub(super) in_flight: InFlight,
    pub(super) changes: mpsc::UnboundedSender<()>,
}

impl Relay {
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
        _: NotificationContext<RoleClient>,
    ) {
        let caller = {
            let calls = self.calls();
            calls
                .by_token
                .get(&params.progress_token)
                .map(|c| c.ctx.clone())
        };
        if let Some(caller) = caller {
            caller
                .progress(params.progress, params.total, params.message)
                .await;
        }
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
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
        tracing::info!(mount = %self.label, level = ?params.level, "{}", crate::text::clip(&message));
        // MCP log messages name no request: only while one request has had the mount
        // to itself is a message surely its caller's; otherwise it could be anyone's,
        // and a stranger must not see it: it stays in pier's own log.
        let Some(caller) = self.calls().log_owner() else {
            return;
        };
        let logger = params.logger.unwrap_or_else(|| self.label.to_string());
        caller
            .log(
                crate::levels::from_mcp(params.level),
                &logger,
                message,
                data,
            )
            .await;
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        let _ = self.changes.send(());
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        let _ = self.changes.send(());
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        let _ = self.changes.send(());
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
