//! What a request's answer is measured and traced by: the SERVER span of each request
//! (named and attributed by the OpenTelemetry conventions for MCP), its log span, and
//! `mcp.server.operation.duration` beside pier's own request counters.

use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use tracing::Instrument;

use super::PierServer;
use crate::middleware::Response;
use crate::telemetry::Named;

/// What an answer came to, for the conventions' `error.type`: a JSON-RPC error is
/// one; a result may be one too (a tool's `isError`).
pub(in crate::server) trait Answered {
    /// The `error.type` of a result that reports a failure.
    fn error_type(&self) -> Option<&'static str> {
        None
    }

    /// The MCP revision the answer settles on (`initialize`'s).
    fn negotiated(&self) -> Option<&ProtocolVersion> {
        None
    }
}

impl Answered for Response {
    fn error_type(&self) -> Option<&'static str> {
        match self {
            Response::CallTool(result) if result.is_error == Some(true) => Some("tool_error"),
            _ => None,
        }
    }
}

impl Answered for () {}

impl Answered for GetTaskResult {}

impl Answered for InitializeResult {
    fn negotiated(&self) -> Option<&ProtocolVersion> {
        Some(&self.protocol_version)
    }
}

impl PierServer {
    /// Runs one request's work in its spans (the log's, and the SERVER span exported
    /// over OTLP), counting it by method and outcome, and in
    /// `mcp.server.operation.duration` (every transport). `component` is the tool,
    /// prompt or resource URI it names.
    pub(super) async fn metered<T: Answered>(
        &self,
        method: &'static str,
        component: Option<&str>,
        context: &RequestContext<RoleServer>,
        work: impl Future<Output = Result<T, McpError>>,
    ) -> Result<T, McpError> {
        let target = self.target_of(method, component);
        let http = crate::server::context::over_http(&context.extensions);
        let mut protocol = self.protocol_of(context);
        let span = self.server_span(method, component, target.as_ref(), protocol, context);
        let log = self.span(method, component.unwrap_or(""), context);
        let started = std::time::Instant::now();
        let result = work.instrument(log).instrument(span.clone()).await;
        let seconds = started.elapsed().as_secs_f64();
        if let Ok(answer) = &result
            && let Some(version) = answer.negotiated()
        {
            protocol = self.known_protocol(version);
            span.record("mcp.protocol.version", protocol);
        }
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.shared.metrics.mcp_request(method, outcome, seconds);
        let error = match &result {
            Err(e) => {
                let error = crate::telemetry::trace::error_type(e.code.0);
                crate::telemetry::trace::fail(&span, &error, &e.message);
                span.record("rpc.response.status_code", e.code.0.to_string());
                Some(error)
            }
            Ok(answer) => answer.error_type().map(|error| {
                crate::telemetry::trace::fail(&span, error, "the tool answered with isError");
                std::borrow::Cow::Borrowed(error)
            }),
        };
        let operation = crate::telemetry::Operation {
            method,
            target,
            error,
            protocol,
            http,
        };
        self.shared.metrics.operation(operation, seconds);
        result
    }

    /// The tool or prompt `component` of a `method` request, when the catalogue has it:
    /// what may name a span and label a metric (a name a client makes up never does).
    fn target_of(&self, method: &str, component: Option<&str>) -> Option<Named> {
        let name = component?;
        let catalogue = self.shared.registry.snapshot();
        match method {
            "tools/call" if catalogue.tools.get(name).is_some() => {
                Some(Named::Tool(name.to_string()))
            }
            "prompts/get" if catalogue.prompts.get(name).is_some() => {
                Some(Named::Prompt(name.to_string()))
            }
            _ => None,
        }
    }

    /// The MCP revision of `context`, when it is one pier negotiates.
    fn protocol_of(&self, context: &RequestContext<RoleServer>) -> Option<&'static str> {
        self.known_protocol(&context.protocol_version()?)
    }

    /// `version` as one of the revisions pier negotiates (`None` for any other: a
    /// client's text never labels a metric).
    pub(super) fn known_protocol(&self, version: &ProtocolVersion) -> Option<&'static str> {
        self.shared
            .protocol_versions
            .iter()
            .find(|v| v.as_str() == version.as_str())
            .map(|v| v.as_str())
    }

    /// The SERVER span of a request (none when nothing is exported).
    fn server_span(
        &self,
        method: &'static str,
        component: Option<&str>,
        target: Option<&Named>,
        protocol: Option<&'static str>,
        context: &RequestContext<RoleServer>,
    ) -> tracing::Span {
        if !crate::telemetry::otel::enabled() {
            return tracing::Span::none();
        }
        let session = crate::server::context::public_session_id(context, &self.session);
        let request_id = context.id.to_string();
        let (name, tool) = match target {
            Some(Named::Tool(name)) => (Some(name.as_str()), true),
            Some(Named::Prompt(name)) => (Some(name.as_str()), false),
            None => (None, false),
        };
        let uri = component.filter(|_| method.starts_with("resources/"));
        crate::telemetry::trace::Server {
            method,
            target: name,
            tool,
            uri,
            request_id: &request_id,
            session: session.as_deref(),
            protocol,
            http: crate::server::context::over_http(&context.extensions),
            client: crate::server::context::http_client_ip(&context.extensions),
        }
        .span(crate::server::context::trace_of(context).as_ref())
    }
}
