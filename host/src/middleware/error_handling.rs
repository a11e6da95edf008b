//! `error-handling`: counts failed requests per method and component in
//! `pier_errors_total` (`kind`: the tool call's outcome, or the JSON-RPC error code when
//! it is one of JSON-RPC's, MCP's or pier's, else `other`), logs them, and with `mask-errors` hides internal details
//! (traps, host failures, internal JSON-RPC errors) from clients behind a reference.

use std::sync::Arc;

use async_trait::async_trait;
use rmcp::ErrorData as McpError;
use rmcp::model::{CallToolResult, ContentBlock as Content, ErrorCode};
use serde::{Deserialize, Serialize};

use super::{Middleware, MiddlewareContext, Next, Outcome, Request, Response};
use crate::telemetry::Metrics;

/// `[[middleware]] type = "error-handling"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Replace internal error details with `internal error (ref …)`; the details go to
    /// the server's log under the same reference.
    pub mask_errors: bool,
}

/// The error-handling middleware.
pub struct ErrorHandling {
    config: Config,
    metrics: Arc<Metrics>,
}

/// Tool call outcomes whose message is the host's, not the tool's: internal details.
const INTERNAL_OUTCOMES: &[&str] = &["trap", "out_of_memory", "invalid_result"];

impl ErrorHandling {
    /// An error-handling middleware configured by `config`, counting into `metrics`.
    pub fn new(config: Config, metrics: Arc<Metrics>) -> Self {
        Self { config, metrics }
    }

    fn count(&self, method: &str, component: &str, kind: &str) {
        self.metrics.count(
            "pier_errors_total",
            &[("method", method), ("component", component), ("kind", kind)],
            1,
        );
    }
}

/// JSON-RPC error codes counted under their own `kind`: JSON-RPC's, MCP's and pier's.
const KNOWN_CODES: &[i32] = &[
    -32700, // parse error
    -32600, // invalid request
    -32601, // method not found
    -32602, // invalid params
    -32603, // internal error
    -32000, // pier: rate limited, busy, a limit exceeded
    -32001, // request timed out
    -32002, // resource not found
    -32021, // missing required client capability
    -32042, // URL elicitation required
    -32800, // request cancelled
];

/// The `kind` label of a JSON-RPC error `code`: the code when it is a known one, else
/// `other` (a proxied server's own codes cannot grow the label set).
fn kind_of(code: i32) -> String {
    if KNOWN_CODES.contains(&code) {
        code.to_string()
    } else {
        "other".to_string()
    }
}

/// A short reference that ties a masked message to its log line.
fn reference() -> String {
    format!("{:08x}", fastrand::u32(..))
}

/// The text of a tool result's content.
fn text_of(result: &CallToolResult) -> String {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    texts.join("\n")
}

#[async_trait]
impl Middleware for ErrorHandling {
    fn name(&self) -> &str {
        "error-handling"
    }

    async fn on_message(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        // A plugin's nested read fails into the client's request, which is counted and
        // masked once, with the details logged under the reference the client sees.
        if cx.is_nested() {
            return next.run(cx, request).await;
        }
        let method = request.method();
        let component = cx.component_label(&request);
        match next.run(cx, request).await {
            Err(error) => {
                let kind = kind_of(error.code.0);
                self.count(method, &component, &kind);
                if !(self.config.mask_errors && error.code == ErrorCode::INTERNAL_ERROR) {
                    tracing::info!(method, component, "request failed: {}", error.message);
                    return Err(error);
                }
                let reference = reference();
                tracing::error!(
                    method,
                    component,
                    reference,
                    "request failed: {}",
                    error.message
                );
                Err(McpError::internal_error(
                    format!("internal error (ref {reference})"),
                    None,
                ))
            }
            Ok(Response::CallTool(result)) if result.is_error == Some(true) => {
                let outcome = cx.outcome().unwrap_or("tool_error");
                self.count(method, &component, outcome);
                if !(self.config.mask_errors && INTERNAL_OUTCOMES.contains(&outcome)) {
                    return Ok(Response::CallTool(result));
                }
                let reference = reference();
                tracing::error!(
                    method,
                    component,
                    reference,
                    outcome,
                    "tool call failed: {}",
                    text_of(&result)
                );
                Ok(Response::CallTool(CallToolResult::error(vec![
                    Content::text(format!(
                        "tool `{component}` failed: internal error (ref {reference})"
                    )),
                ])))
            }
            other => other,
        }
    }
}
