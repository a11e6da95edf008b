//! What one call into a plugin carries: its WASI context, its limits, and a view of the
//! client request it serves ([`CallContext`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::BoxFuture;
use serde_json::Value;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::types::{Error as GuestError, LogLevel, PromptResult, ResourceContents};
use super::limits::MemoryLimiter;
use super::output::LogStream;

/// Who made the request a call serves (the `request-info` of the `context` interface).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInfo {
    /// JSON-RPC id of the request, as JSON text.
    pub request_id: String,
    /// Transport session id, when the transport has sessions.
    pub session_id: Option<String>,
    /// `clientInfo.name` from `initialize`.
    pub client_name: Option<String>,
    /// `clientInfo.version` from `initialize`.
    pub client_version: Option<String>,
    /// Subject of the verified access token.
    pub subject: Option<String>,
    /// Scopes of the verified access token.
    pub scopes: Vec<String>,
    /// The W3C trace context the request carried in `_meta` (SEP-414): `traceparent`
    /// and `tracestate`, when well-formed; passed on to proxied servers.
    pub trace: Option<TraceContext>,
}

/// A W3C trace context (`traceparent`, and `tracestate` when given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// `VERSION-TRACEID-PARENTID-FLAGS`, 55 characters for version 00.
    pub traceparent: String,
    /// Vendor entries, at most [`MAX_TRACESTATE`] bytes.
    pub tracestate: Option<String>,
}

/// Longest `tracestate` kept (W3C asks vendors to keep theirs within 512 characters).
pub const MAX_TRACESTATE: usize = 512;

impl TraceContext {
    /// The trace context of `traceparent` and `tracestate`, when `traceparent` is
    /// well-formed (W3C Trace Context: lower-case hex fields, a trace id and a parent
    /// id that are not all zeros); a `tracestate` that is too long or not printable
    /// ASCII is left out. Anything else from a client is dropped, not passed on.
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<Self> {
        let fields: Vec<&str> = traceparent.split('-').collect();
        let [version, trace, parent, flags] = fields.as_slice() else {
            return None;
        };
        let hex = |s: &str, n: usize| {
            s.len() == n
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let zeros = |s: &str| s.bytes().all(|b| b == b'0');
        if !hex(version, 2)
            || *version == "ff"
            || !hex(trace, 32)
            || zeros(trace)
            || !hex(parent, 16)
            || zeros(parent)
            || !hex(flags, 2)
        {
            return None;
        }
        let tracestate = tracestate
            .filter(|s| !s.is_empty() && s.len() <= MAX_TRACESTATE)
            .filter(|s| s.bytes().all(|b| (0x20..0x7f).contains(&b)))
            .map(String::from);
        Some(Self {
            traceparent: traceparent.to_string(),
            tracestate,
        })
    }
}

/// Request-scoped key-value state, shared by middleware and the plugins one request
/// reaches. Its memory is the host's, so its size is bounded: keys and values (as JSON
/// text) may take at most `max_bytes` in all (`server.max-request-state-bytes`).
pub struct RequestState {
    values: Mutex<Held>,
    max_bytes: usize,
}

/// The values with their sizes, and the sum of those sizes (kept, not recounted: a
/// guest setting many keys must not make each `set` slower than the last).
#[derive(Default)]
struct Held {
    values: HashMap<String, (Value, usize)>,
    bytes: usize,
}

/// Request state the default limit applies to (4 MiB).
pub const DEFAULT_STATE_BYTES: usize = 4 << 20;

impl Default for RequestState {
    fn default() -> Self {
        Self::new(DEFAULT_STATE_BYTES)
    }
}

impl RequestState {
    /// Empty state holding at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            values: Mutex::default(),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.lock().values.get(key).map(|(v, _)| v.clone())
    }

    /// Sets `key` to `value`; refused (nothing changed) when the state would exceed its
    /// size limit.
    pub fn set(&self, key: String, value: Value) -> Result<(), String> {
        let size = key.len() + value.to_string().len();
        let mut held = self.lock();
        let replaced = held.values.get(&key).map_or(0, |(_, n)| *n);
        let after = held.bytes - replaced + size;
        if after > self.max_bytes {
            return Err(format!(
                "the request state would hold {after} bytes, over its limit of {} (server.max-request-state-bytes)",
                self.max_bytes
            ));
        }
        held.values.insert(key, (value, size));
        held.bytes = after;
        Ok(())
    }
}

/// The server side of the `context` interface: what a call may ask of the request it
/// serves. The server implements it per request; the runtime only calls it.
pub trait CallContext: Send + Sync {
    /// Send a log message to the client (subject to its log level).
    fn log(
        &self,
        level: LogLevel,
        logger: &str,
        message: String,
        data: Option<Value>,
    ) -> BoxFuture<'_, ()>;
    /// Send a progress notification, when the client gave a progress token.
    fn progress(
        &self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> BoxFuture<'_, ()>;
    /// Who made the request.
    fn request_info(&self) -> RequestInfo;
    /// True once the client cancelled the request.
    fn is_cancelled(&self) -> bool;
    /// Cancelled when the client cancels the request (never, by default).
    fn cancellation(&self) -> tokio_util::sync::CancellationToken {
        tokio_util::sync::CancellationToken::new()
    }
    /// The call ran on a warm instance (`true`) or a new one (`false`): told by
    /// plugins that may reuse instances, for the console's live view.
    fn instance_used(&self, _warm: bool) {}
    /// The request-scoped state.
    fn state(&self) -> &RequestState;
    /// Ask the client the `questions`, each under its key; the answers in order. When a
    /// question must wait for a later round trip (MCP 2026-07-28), this fails and
    /// [`CallContext::suspended`] is true from then on: the call must stop.
    fn ask(
        &self,
        _questions: Vec<(String, Question)>,
    ) -> BoxFuture<'_, Result<Vec<Reply>, GuestError>> {
        Box::pin(async { Err(no_client("ask")) })
    }
    /// [`CallContext::ask`] of one `sampling/createMessage` (params and result as
    /// JSON), under the next `sample-N` key.
    fn sample(&self, request: Value) -> BoxFuture<'_, Result<Value, GuestError>> {
        Box::pin(async move {
            let key = self.next_key("sample");
            match self
                .ask(vec![(key, Question::Sample(request))])
                .await?
                .pop()
            {
                Some(Reply::Sampled(answer)) => Ok(answer),
                other => Err(unanswered(other)),
            }
        })
    }
    /// [`CallContext::ask`] of one `elicitation/create`, under the next `elicit-N` key.
    fn elicit(
        &self,
        message: String,
        schema: Value,
    ) -> BoxFuture<'_, Result<Elicited, GuestError>> {
        Box::pin(async move {
            let key = self.next_key("elicit");
            let question = Question::Elicit { message, schema };
            match self.ask(vec![(key, question)]).await?.pop() {
                Some(Reply::Elicited(answer)) => Ok(answer),
                other => Err(unanswered(other)),
            }
        })
    }
    /// The least severe log level the client hears (`None`: no log message reaches
    /// it); a proxied server of MCP 2026-07-28 is asked for messages from there up.
    fn log_floor(&self) -> Option<LogLevel> {
        None
    }
    /// Whether a question waits for the client's answer on a later round trip.
    fn suspended(&self) -> bool {
        false
    }
    /// The key of the next question a plugin asks without naming it (`sample-N`,
    /// `elicit-N`): N counts the call's questions from 1.
    fn next_key(&self, _kind: &str) -> String {
        String::new()
    }
    /// Read a resource of any mount by its namespaced URI, as a client would.
    fn read_resource(
        &self,
        _uri: String,
    ) -> BoxFuture<'_, Result<Vec<ResourceContents>, GuestError>> {
        Box::pin(async { Err(no_client("read-resource")) })
    }
    /// Render a prompt of any mount by its namespaced name, as a client would.
    fn get_prompt(
        &self,
        _name: String,
        _arguments: Vec<(String, String)>,
    ) -> BoxFuture<'_, Result<PromptResult, GuestError>> {
        Box::pin(async { Err(no_client("get-prompt")) })
    }
    /// Tell the sessions subscribed to the calling mount's resource `uri` (as the plugin
    /// knows it) that it changed.
    fn notify_resource_updated(&self, _uri: String) -> BoxFuture<'_, Result<(), GuestError>> {
        Box::pin(async { Err(no_client("notify-resource-updated")) })
    }
    /// Switches one of the calling mount's own components on or off
    /// (`context.set-enabled`): whether that changed anything.
    fn set_enabled(
        &self,
        _kind: super::bindings::context::ComponentKind,
        _name: String,
        _enabled: bool,
    ) -> Result<bool, GuestError> {
        Err(no_client("set-enabled"))
    }
    /// Notes that the call met a transient failure (storage unavailable, a proxied
    /// server unreachable): a retrying middleware may try the request again.
    fn mark_transient(&self) {}
    /// Lets the call go on as a task (`context.start-task`); whether it is one now.
    fn start_task(&self) -> bool {
        false
    }
    /// What tells the client sessions apart (calls of one session may share what a
    /// proxied server sends without a request id, such as its log messages).
    fn session_key(&self) -> String {
        String::new()
    }
    /// Who may share a warm instance with this call ([`super::limits::ReuseScope::Session`]):
    /// an id pier gave the client's session (its connection over stdio), or for a request
    /// without a session its principal (the verified subject, or every caller while auth
    /// is off); never a value the client chose. `None`: nobody.
    fn trust_scope(&self) -> Option<Arc<str>> {
        None
    }
}

/// One question for the client (`context.ask`).
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// `sampling/createMessage` with these params.
    Sample(Value),
    /// `elicitation/create`: a message and the requested schema.
    Elicit {
        /// Shown to the user.
        message: String,
        /// The form, a JSON Schema.
        schema: Value,
    },
    /// `roots/list`.
    ListRoots,
}

/// The client's answer to one [`Question`].
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The `sampling/createMessage` result.
    Sampled(Value),
    /// The user's answer to the form.
    Elicited(Elicited),
    /// The `roots/list` result.
    Roots(Value),
}

/// The user's answer to an elicitation.
#[derive(Debug, Clone, PartialEq)]
pub enum Elicited {
    /// Accepted, with the form's content (a JSON object).
    Accept(Value),
    /// Declined.
    Decline,
    /// Dismissed.
    Cancel,
}

/// The error of a question answered with something else, or not at all.
fn unanswered(reply: Option<Reply>) -> GuestError {
    GuestError::Failed(match reply {
        Some(other) => format!("the client answered another question: {other:?}"),
        None => "the client gave no answer".into(),
    })
}

/// The error of a context function called outside any client request.
fn no_client(what: &str) -> GuestError {
    GuestError::Unsupported(format!(
        "context.{what} needs a client request; this call serves none"
    ))
}

/// The context of calls that serve no client request (`describe`, local tools):
/// logs go to pier's own log only.
#[derive(Default)]
pub struct NoRequest {
    state: RequestState,
    scope: Option<Arc<str>>,
}

impl NoRequest {
    /// A context whose calls may share warm instances with every other call of
    /// `scope` (a benchmark standing for one session).
    pub fn scoped(scope: &str) -> Self {
        Self {
            scope: Some(scope.into()),
            ..Self::default()
        }
    }
}

impl CallContext for NoRequest {
    fn log(&self, _: LogLevel, _: &str, _: String, _: Option<Value>) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn progress(&self, _: f64, _: Option<f64>, _: Option<String>) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn request_info(&self) -> RequestInfo {
        RequestInfo::default()
    }
    fn is_cancelled(&self) -> bool {
        false
    }
    fn state(&self) -> &RequestState {
        &self.state
    }
    fn trust_scope(&self) -> Option<Arc<str>> {
        self.scope.clone()
    }
}

/// The data of one `Store`: everything host functions need during one call.
pub struct CallState {
    pub(crate) plugin: Arc<str>,
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) ctx: Arc<dyn CallContext>,
    /// The plugin's view of the store; `None` for middleware components, whose world
    /// (and linker) has no storage.
    pub(crate) store: Option<crate::storage::PluginStore>,
    /// What the call may still send as logs, progress and output lines.
    pub(crate) budget: super::budget::OutputBudget,
    /// `wasi:http`'s own state.
    pub(crate) http: wasmtime_wasi_http::WasiHttpCtx,
    /// The call's outbound HTTP: grants, budget, audit.
    pub(crate) egress: super::grants::Egress,
    /// What `wasi:config/store` answers.
    pub(crate) config: Arc<wasmtime_wasi_config::WasiConfigVariables>,
    pub(crate) deadline: Instant,
    pub(crate) timed_out: bool,
    pub(crate) stderr: LogStream,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_http::WasiHttpView for CallState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            hooks: &mut self.egress,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_TRACESTATE, RequestState, TraceContext};
    use serde_json::json;

    #[test]
    fn a_well_formed_trace_context_is_kept_and_anything_else_dropped() {
        let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        assert_eq!(
            TraceContext::parse(parent, Some("a=1,b=2")),
            Some(TraceContext {
                traceparent: parent.into(),
                tracestate: Some("a=1,b=2".into())
            })
        );
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333\n-01",
        ] {
            assert_eq!(TraceContext::parse(bad, None), None, "{bad:?}");
        }
        let long = "k=".to_string() + &"v".repeat(MAX_TRACESTATE);
        for state in [long.as_str(), "a=1\nb=2", ""] {
            assert_eq!(
                TraceContext::parse(parent, Some(state)).unwrap().tracestate,
                None
            );
        }
    }

    #[test]
    fn state_counts_what_it_holds_and_a_replaced_value_frees_its_bytes() {
        let state = RequestState::new(10);
        assert_eq!(state.set("a".into(), json!(1234)), Ok(())); // 5 bytes
        assert_eq!(state.set("b".into(), json!(123)), Ok(())); // 4: 9 in all
        assert!(state.set("c".into(), json!(1)).is_err(), "11 > 10");
        assert_eq!(state.set("a".into(), json!(12)), Ok(())); // 3: 7 in all
        assert_eq!(state.set("c".into(), json!(12)), Ok(())); // 3: 10 in all
        assert_eq!(state.get("a"), Some(json!(12)));
        assert_eq!(state.get("c"), Some(json!(12)));
    }
}
