//! The spans pier exports (when [`super::otel`] is installed), named and attributed by
//! the OpenTelemetry semantic conventions for MCP, and the W3C trace context passed to
//! what pier calls.
//!
//! Every constructor returns [`Span::none`] when nothing is exported, before building a
//! name or an attribute: a pier without a receiver pays one atomic load per span.
//!
//! The tree of one tool call:
//!
//! ```text
//! tools/call calc_add                  SERVER   (parent: _meta traceparent, else HTTP's)
//! └─ middleware authorization          INTERNAL (the gate, then each middleware, nested)
//!    └─ mount calc                     INTERNAL (its own chain and the call into it)
//!       ├─ instantiate calc | reuse calc
//!       └─ run calc                    INTERNAL (the guest's own time)
//!          ├─ storage get              INTERNAL (each host call)
//!          ├─ GET                      CLIENT   (outbound HTTP; traceparent sent on)
//!          ├─ sampling/createMessage   CLIENT   (a question to the client)
//!          └─ nested resources/read    INTERNAL (a read of another mount)
//! ```
//!
//! Nothing a client or a plugin sends goes into a span name; into attributes only
//! clipped, and never arguments, results, tokens, headers or query strings unless the
//! operator lists the mount in `telemetry.trace-content`.

use std::sync::RwLock;

use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::otel::enabled;
use crate::runtime::state::TraceContext;

/// Longest text of a client or a plugin put in an attribute.
pub const MAX_ATTRIBUTE_BYTES: usize = 256;

/// Longest tool arguments or result put in a span of a mount in `trace-content`.
pub const MAX_CONTENT_BYTES: usize = 4096;

/// The mounts whose tool arguments and results go into spans.
static CONTENT_OF: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Sets the mounts whose tool arguments and results go into spans.
pub fn set_content_of(namespaces: Vec<String>) {
    *CONTENT_OF.write().unwrap_or_else(|e| e.into_inner()) = namespaces;
}

/// Whether the arguments and results of `namespace`'s tools go into spans.
pub fn records_content(namespace: &str) -> bool {
    enabled()
        && CONTENT_OF
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|n| n == namespace)
}

/// `text` cut to [`MAX_ATTRIBUTE_BYTES`] on a character boundary.
pub fn clipped(text: &str) -> &str {
    clip_to(text, MAX_ATTRIBUTE_BYTES)
}

/// `text` cut to `max` bytes on a character boundary.
pub fn clip_to(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What the propagator writes.
#[derive(Default)]
struct Written {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Injector for Written {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = Some(value),
            "tracestate" => self.tracestate = Some(value).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
}

/// The remote span context of `parent` (a W3C context [`TraceContext::parse`] took):
/// read here rather than by the SDK's propagator, which refuses the flags of W3C Trace
/// Context Level 2 (`03`: sampled, with a random trace id, as OpenTelemetry's Python
/// SDK sends). Only the sampled flag is kept.
fn remote(parent: &TraceContext) -> Option<SpanContext> {
    let fields: Vec<&str> = parent.traceparent.split('-').collect();
    let [_, trace, span, flags] = fields.as_slice() else {
        return None;
    };
    let trace = TraceId::from_hex(trace).ok()?;
    let span = SpanId::from_hex(span).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let state = parent
        .tracestate
        .as_deref()
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    let context = SpanContext::new(
        trace,
        span,
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
        true,
        state,
    );
    context.is_valid().then_some(context)
}

/// Makes `span` a child of the remote span `parent` (a well-formed W3C context).
pub fn set_parent(span: &Span, parent: &TraceContext) {
    if span.is_none() {
        return;
    }
    if let Some(remote) = remote(parent) {
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
}

/// Whether the code running now is in a recorded trace: only then are child spans
/// made (a plugin's `describe` at mount is in no request; the children of a trace
/// left unsampled would be dropped anyway, after costing their bookkeeping).
fn in_recorded_trace() -> bool {
    enabled()
        && opentelemetry::Context::map_current(|cx| {
            let span = cx.span();
            let context = span.span_context();
            context.is_valid() && context.is_sampled()
        })
}

/// The trace context to send with a request pier makes now: the current exported
/// span's (sampled or not, so that what pier calls decides as pier did) when spans
/// are exported, else `fallback` (the client's own, passed on unchanged).
pub fn outgoing(fallback: Option<TraceContext>) -> Option<TraceContext> {
    if !enabled() {
        return fallback;
    }
    opentelemetry::Context::map_current(written).or(fallback)
}

/// The W3C trace context naming `span` as the parent, when it is exported.
pub fn context_of(span: &Span) -> Option<TraceContext> {
    if span.is_none() {
        return None;
    }
    written(&span.context())
}

/// The W3C trace context of `context`'s span, when it has a valid one.
fn written(context: &opentelemetry::Context) -> Option<TraceContext> {
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut written = Written::default();
    TraceContextPropagator::new().inject_context(context, &mut written);
    Some(TraceContext {
        traceparent: written.traceparent?,
        tracestate: written.tracestate,
    })
}

/// Runs `work` in `span`, marking it failed when `work` ends in a JSON-RPC error.
pub async fn within<T>(
    span: Span,
    work: impl Future<Output = Result<T, rmcp::ErrorData>>,
) -> Result<T, rmcp::ErrorData> {
    use tracing::Instrument;
    if span.is_none() {
        return work.await;
    }
    let result = work.instrument(span.clone()).await;
    if let Err(e) = &result {
        fail(&span, &error_type(e.code.0), &e.message);
    }
    result
}

/// Marks `span` failed with `error_type` (a JSON-RPC code, `tool_error`, `timeout`, …)
/// and `description`.
pub fn fail(span: &Span, error_type: &str, description: &str) {
    if span.is_none() {
        return;
    }
    span.record("error.type", error_type);
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", clipped(description));
}

/// The SERVER span of one MCP request: `{method} {target}`.
pub struct Server<'a> {
    /// `mcp.method.name`.
    pub method: &'static str,
    /// The tool or prompt named, when the catalogue has it (else the span is named by
    /// the method only: a name a client makes up never names a span).
    pub target: Option<&'a str>,
    /// Whether the target is a tool (`gen_ai.tool.name`) or a prompt.
    pub tool: bool,
    /// The resource URI of a read or a subscription.
    pub uri: Option<&'a str>,
    /// The JSON-RPC id, as text.
    pub request_id: &'a str,
    /// The session's public id (a hash of its transport id), when it has one.
    pub session: Option<&'a str>,
    /// `mcp.protocol.version`.
    pub protocol: Option<&'a str>,
    /// Whether it came over HTTP (else stdio).
    pub http: bool,
    /// The client's address.
    pub client: Option<std::net::IpAddr>,
}

impl Server<'_> {
    /// The span, child of `parent` when given; [`Span::none`] when nothing is exported.
    pub fn span(&self, parent: Option<&TraceContext>) -> Span {
        if !enabled() {
            return Span::none();
        }
        let name = match self.target {
            Some(target) => format!("{} {target}", self.method),
            None => self.method.to_string(),
        };
        let span = tracing::info_span!(
            target: "pier::otel",
            "mcp",
            otel.name = name,
            otel.kind = "server",
            otel.status_code = Empty,
            otel.status_description = Empty,
            mcp.method.name = self.method,
            gen_ai.tool.name = Empty,
            gen_ai.prompt.name = Empty,
            gen_ai.operation.name = Empty,
            mcp.resource.uri = Empty,
            jsonrpc.request.id = clipped(self.request_id),
            mcp.session.id = self.session,
            mcp.protocol.version = self.protocol,
            network.transport = if self.http { "tcp" } else { "pipe" },
            network.protocol.name = self.http.then_some("http"),
            client.address = self.client.map(tracing::field::display),
            error.type = Empty,
            rpc.response.status_code = Empty,
        );
        if let Some(target) = self.target {
            if self.tool {
                span.record("gen_ai.tool.name", target);
                span.record("gen_ai.operation.name", "execute_tool");
            } else {
                span.record("gen_ai.prompt.name", target);
            }
        }
        if let Some(uri) = self.uri {
            span.record("mcp.resource.uri", clipped(uri));
        }
        if let Some(parent) = parent {
            set_parent(&span, parent);
        }
        span
    }
}

/// An INTERNAL span named `{what} {name}`, with `pier.{what}` = `name` (a name of
/// pier's own or of its configuration: a middleware, a mount, a plugin).
fn internal(what: &'static str, name: &str) -> Span {
    if !in_recorded_trace() {
        return Span::none();
    }
    tracing::info_span!(
        target: "pier::otel",
        "internal",
        otel.name = format!("{what} {name}"),
        otel.kind = "internal",
        otel.status_code = Empty,
        otel.status_description = Empty,
        error.type = Empty,
        pier.component = name,
    )
}

/// One middleware's hooks (with everything after it inside).
pub fn middleware(name: &str) -> Span {
    internal("middleware", name)
}

/// The call into a mount (its own chain, then the plugin or the upstream); a tool
/// call of a mount in `telemetry.trace-content` records its arguments and result
/// ([`record_content`]).
pub fn mount(namespace: &str) -> Span {
    if !in_recorded_trace() {
        return Span::none();
    }
    tracing::info_span!(
        target: "pier::otel",
        "mount",
        otel.name = format!("mount {namespace}"),
        otel.kind = "internal",
        otel.status_code = Empty,
        otel.status_description = Empty,
        error.type = Empty,
        pier.component = namespace,
        gen_ai.tool.call.arguments = Empty,
        gen_ai.tool.call.result = Empty,
    )
}

/// Records `value` (JSON) as `field` of `span`, cut to [`MAX_CONTENT_BYTES`].
pub fn record_content(span: &Span, field: &'static str, value: &impl serde::Serialize) {
    if span.is_none() {
        return;
    }
    if let Ok(text) = serde_json::to_string(value) {
        span.record(field, clip_to(&text, MAX_CONTENT_BYTES));
    }
}

/// A new instance of `plugin` made for a call.
pub fn instantiate(plugin: &str) -> Span {
    internal("instantiate", plugin)
}

/// A warm instance of `plugin` picked up for a call (instead of a new one).
pub fn reuse(plugin: &str) -> Span {
    internal("reuse", plugin)
}

/// The guest code of `plugin` running a call (its host calls inside).
pub fn run(plugin: &str) -> Span {
    internal("run", plugin)
}

/// Questions a plugin asks its client at once (`context.ask`): server requests to
/// the client (MCP 2025-11-25), or an input round (2026-07-28).
pub fn ask() -> Span {
    internal("ask", "client")
}

/// A read or prompt a plugin asks for through the host (`method`: `resources/read`,
/// `prompts/get`).
pub fn nested(method: &str) -> Span {
    internal("nested", method)
}

/// One storage operation of a plugin (`get`, `set`, `delete`, `list`, …).
pub fn storage(operation: &'static str) -> Span {
    if !in_recorded_trace() {
        return Span::none();
    }
    tracing::info_span!(
        target: "pier::otel",
        "storage",
        otel.name = format!("storage {operation}"),
        otel.kind = "internal",
        otel.status_code = Empty,
        otel.status_description = Empty,
        error.type = Empty,
        db.operation.name = operation,
    )
}

/// An outbound HTTP request of a plugin: `{METHOD}` to `host:port` (never its path,
/// query or headers).
pub fn egress(method: &str, scheme: &str, host: &str, port: u16) -> Span {
    if !in_recorded_trace() {
        return Span::none();
    }
    tracing::info_span!(
        target: "pier::otel",
        "egress",
        otel.name = clipped(method),
        otel.kind = "client",
        otel.status_code = Empty,
        otel.status_description = Empty,
        error.type = Empty,
        http.request.method = clipped(method),
        url.scheme = clipped(scheme),
        server.address = clipped(host),
        server.port = port,
        http.response.status_code = Empty,
    )
}

/// A request pier sends as an MCP client (`method` to an upstream, or to the client:
/// sampling, elicitation, roots): `{method} {target}`.
pub fn client(method: &str, target: Option<&str>, server: Option<&str>) -> Span {
    if !in_recorded_trace() {
        return Span::none();
    }
    let name = match target {
        Some(target) => format!("{method} {target}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        target: "pier::otel",
        "client",
        otel.name = name,
        otel.kind = "client",
        otel.status_code = Empty,
        otel.status_description = Empty,
        error.type = Empty,
        rpc.response.status_code = Empty,
        mcp.method.name = clipped(method),
        gen_ai.tool.name = Empty,
        gen_ai.operation.name = Empty,
        server.address = server.map(clipped),
    );
    if method == "tools/call"
        && let Some(tool) = target
    {
        span.record("gen_ai.tool.name", tool);
        span.record("gen_ai.operation.name", "execute_tool");
    }
    span
}

/// The error type of a JSON-RPC error `code`: its number, for the codes JSON-RPC
/// reserves (-32768 to -32000, where MCP's are), else `_OTHER` (an upstream's own codes
/// must not make a metric's label set grow).
pub fn error_type(code: i32) -> std::borrow::Cow<'static, str> {
    match code {
        -32700 => "-32700".into(),
        -32600 => "-32600".into(),
        -32601 => "-32601".into(),
        -32602 => "-32602".into(),
        -32603 => "-32603".into(),
        -32768..=-32000 => code.to_string().into(),
        _ => "_OTHER".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_reserved_codes_or_other() {
        assert_eq!(error_type(-32602), "-32602");
        assert_eq!(error_type(-32042), "-32042");
        assert_eq!(error_type(-32000), "-32000");
        assert_eq!(error_type(-31999), "_OTHER");
        assert_eq!(error_type(42), "_OTHER");
        assert_eq!(error_type(i32::MIN), "_OTHER");
    }

    #[test]
    fn attributes_are_clipped_on_a_character_boundary() {
        let long = "é".repeat(200);
        let cut = clipped(&long);
        assert!(cut.len() <= MAX_ATTRIBUTE_BYTES);
        assert_eq!(cut.len() % 2, 0);
        assert_eq!(clipped("short"), "short");
    }

    #[test]
    fn a_remote_parent_keeps_its_ids_and_only_the_sampled_flag() {
        let parse = |flags: &str, state: Option<&str>| {
            let parent = TraceContext::parse(
                &format!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-{flags}"),
                state,
            )
            .unwrap();
            remote(&parent).unwrap()
        };
        // Level 2's random-trace-id flag, as OpenTelemetry's Python SDK sends it.
        let sampled = parse("03", Some("vendor=1"));
        assert_eq!(
            sampled.trace_id(),
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap()
        );
        assert_eq!(
            sampled.span_id(),
            SpanId::from_hex("b7ad6b7169203331").unwrap()
        );
        assert!(sampled.is_sampled() && sampled.is_remote());
        assert_eq!(sampled.trace_flags(), TraceFlags::SAMPLED);
        assert_eq!(sampled.trace_state().header(), "vendor=1");
        assert!(!parse("00", None).is_sampled());
        assert!(!parse("02", None).is_sampled());
    }

    #[test]
    fn without_an_exporter_no_span_is_made_and_the_client_context_passes_on() {
        assert!(!enabled());
        assert!(middleware("authorize").is_none());
        assert!(egress("GET", "http", "example.com", 80).is_none());
        let trace = TraceContext::parse(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            None,
        );
        assert_eq!(outgoing(trace.clone()), trace);
    }
}
