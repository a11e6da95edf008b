//! The request [`Context`]: what a plugin call may ask of the client request it serves,
//! over whatever transport the request came on.

#![allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.

use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use rmcp::ErrorData as McpError;
use rmcp::RoleServer;
use rmcp::model::{
    ClientCapabilities, CreateMessageRequestParams, ElicitRequestParams, ElicitationAction,
    ErrorCode, LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam,
    ProgressToken,
};
use rmcp::service::{NotificationContext, Peer, RequestContext};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::convert::guest;
use super::handler::Shared;
use super::rounds::Rounds;
use super::session::Session;
use crate::middleware::PromptCall;
use crate::registry::{Mount, namespace};
use crate::runtime::types::{Error as GuestError, LogLevel, PromptResult, ResourceContents};
use crate::runtime::{
    CallContext, Elicited, Question, Reply, RequestInfo, RequestState, TraceContext,
};
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

/// The `Mcp-Session-Id` of a request that came over HTTP.
pub(crate) fn http_session_id(request: &RequestContext<RoleServer>) -> Option<String> {
    session_header(&request.extensions)
}

/// What names the session of `request` in logs and to plugins: `None` for a request
/// without one (MCP 2026-07-28, a stateless pier), whatever `Mcp-Session-Id` it sent:
/// a value the client chooses never stands for a session.
pub(crate) fn public_session_id(
    request: &RequestContext<RoleServer>,
    session: &Session,
) -> Option<String> {
    if !super::scope::has_session(request, session) {
        return None;
    }
    session.public_id(http_session_id(request))
}

/// The `Mcp-Session-Id` of `request` when it names a session rmcp holds (never a value
/// a sessionless request sends): what names the session on every replica of a fleet.
pub(crate) fn transport_session_id(
    request: &RequestContext<RoleServer>,
    session: &Session,
) -> Option<String> {
    if !super::scope::has_session(request, session) {
        return None;
    }
    http_session_id(request)
}

fn session_header(extensions: &rmcp::model::Extensions) -> Option<String> {
    let parts = extensions.get::<axum::http::request::Parts>()?;
    let id = parts.headers.get("mcp-session-id")?.to_str().ok()?;
    Some(id.to_string())
}

/// Request info with what `initialize` said of the client.
fn of_client(client: Option<rmcp::model::Implementation>) -> RequestInfo {
    RequestInfo {
        client_name: client.as_ref().map(|c| c.name.clone()),
        client_version: client.map(|c| c.version),
        ..RequestInfo::default()
    }
}

/// Whether a request came over HTTP.
pub(crate) fn over_http(extensions: &rmcp::model::Extensions) -> bool {
    extensions.get::<axum::http::request::Parts>().is_some()
}

/// The caller `[auth]` verified for a request that came over HTTP.
pub(crate) fn identity(extensions: &rmcp::model::Extensions) -> Option<&crate::auth::Identity> {
    let parts = extensions.get::<axum::http::request::Parts>()?;
    parts.extensions.get::<crate::auth::Identity>()
}

/// The address of the client of a request that came over HTTP.
pub(crate) fn http_client_ip(extensions: &rmcp::model::Extensions) -> Option<IpAddr> {
    let parts = extensions.get::<axum::http::request::Parts>()?;
    let info = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?;
    Some(info.0.ip())
}

/// What every mount a request reaches shares: the client, the session, the progress
/// token, cancellation, who asked, and the request-scoped state.
struct Request {
    peer: Peer<RoleServer>,
    session: Arc<Session>,
    shared: Arc<Shared>,
    progress_token: Option<ProgressToken>,
    last_progress: Mutex<Option<f64>>,
    cancelled: CancellationToken,
    info: RequestInfo,
    state: RequestState,
    transient: AtomicBool,
    /// How the last plugin call of the request got its instance: 0 not told, 1 a new
    /// one, 2 a warm one.
    instance: std::sync::atomic::AtomicU8,
    /// `context.set-enabled` calls so far (each may rebuild the catalogue and notify
    /// every client).
    switches: std::sync::atomic::AtomicUsize,
    /// The round trips of an MCP 2026-07-28 request (`None`: questions go to the
    /// client as server requests).
    rounds: Option<Arc<Rounds>>,
    /// The least severe log message the client hears.
    logs: LogGate,
    /// How a tool call that may run as a task becomes one (`None`: it cannot).
    task: Option<Arc<super::tasks::Start>>,
    /// Whether the request belongs to its session (else to its principal: `super::scope`).
    in_session: bool,
    /// Whether anything serving the request asked the client a question (sampling,
    /// elicitation, roots; answered or not): its result depends on the answers.
    asked: AtomicBool,
}

/// Which log messages of a request reach its client.
#[derive(Clone, Copy)]
enum LogGate {
    /// The session's level (`logging/setLevel`, MCP 2025-11-25 and earlier).
    Session,
    /// The request's own `_meta` `logLevel` (MCP 2026-07-28); none without one.
    Request(Option<LoggingLevel>),
}

/// The W3C trace context of `request`: its `_meta`'s (SEP-414), else its HTTP
/// request's `traceparent` header, when well-formed.
pub(crate) fn trace_of(request: &RequestContext<RoleServer>) -> Option<TraceContext> {
    if let Some(parent) = request.meta.get_traceparent() {
        return TraceContext::parse(parent, request.meta.get_tracestate());
    }
    let parts = request.extensions.get::<axum::http::request::Parts>()?;
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    TraceContext::parse(header("traceparent")?, header("tracestate"))
}

/// Whether `request` speaks MCP 2026-07-28 or later: self-describing, no session.
pub(crate) fn is_modern(request: &RequestContext<RoleServer>) -> bool {
    request
        .protocol_version()
        .is_some_and(|v| v.as_str() >= rmcp::model::ProtocolVersion::V_2026_07_28.as_str())
}

/// Deepest chain of cross-mount reads (`read-resource`, `get-prompt`) one request may
/// make: a plugin that reads itself ends there with an error, not a stack overflow.
pub const MAX_NESTING: u8 = 8;

/// Most `context.set-enabled` calls one request may make: each can rebuild the
/// catalogue and send `list_changed` to every client, so a guest switching in a loop
/// is stopped.
pub const MAX_SWITCHES: usize = 16;

/// The context of one client request, as seen by the mount serving it.
pub struct Context {
    request: Arc<Request>,
    mount: Option<Arc<Mount>>,
    depth: u8,
}

impl Context {
    /// The context of the request `request` of `session`.
    pub fn new(
        request: &RequestContext<RoleServer>,
        session: Arc<Session>,
        shared: Arc<Shared>,
    ) -> Self {
        let who = identity(&request.extensions);
        let in_session = super::scope::has_session(request, &session);
        let info = RequestInfo {
            request_id: serde_json::to_string(&request.id).unwrap_or_default(),
            // A request without a session names none, whatever it sent
            // ([`public_session_id`]).
            session_id: in_session
                .then(|| session.public_id(http_session_id(request)))
                .flatten(),
            trace: trace_of(request),
            subject: who.map(|w| w.subject.clone()),
            scopes: who.map(|w| w.scopes.clone()).unwrap_or_default(),
            ..of_client(request.client_info())
        };
        let progress = request.meta.get_progress_token();
        let logs = if is_modern(request) {
            LogGate::Request(request.meta.log_level())
        } else {
            // The level the session set on another replica of a fleet.
            if in_session
                && shared.fleet.shared()
                && let Some(id) = http_session_id(request)
                && let Some(level) = shared.session_levels.get(&id)
            {
                session.set_log_level(level);
            }
            LogGate::Session
        };
        let mut context = Self::of(
            &request.peer,
            session,
            shared,
            info,
            progress,
            request.ct.clone(),
            logs,
        );
        if let Some(request) = Arc::get_mut(&mut context.request) {
            request.in_session = in_session;
        }
        context
    }

    fn of(
        peer: &Peer<RoleServer>,
        session: Arc<Session>,
        shared: Arc<Shared>,
        info: RequestInfo,
        progress_token: Option<ProgressToken>,
        cancelled: CancellationToken,
        logs: LogGate,
    ) -> Self {
        let max_state_bytes = shared.max_state_bytes;
        Self {
            request: Arc::new(Request {
                peer: peer.clone(),
                session,
                shared,
                progress_token,
                last_progress: Mutex::new(None),
                cancelled,
                info,
                state: RequestState::new(max_state_bytes),
                transient: AtomicBool::new(false),
                instance: Default::default(),
                switches: Default::default(),
                rounds: None,
                logs,
                task: None,
                in_session: true,
                asked: AtomicBool::new(false),
            }),
            mount: None,
            depth: 0,
        }
    }

    /// This context, its questions answered by round trips (`rounds`) rather than by
    /// server requests. Only before the context is shared.
    pub fn with_rounds(mut self, rounds: Option<Arc<Rounds>>) -> Self {
        if let Some(request) = Arc::get_mut(&mut self.request) {
            request.rounds = rounds;
        }
        self
    }

    /// This context as a call that may go on as a task (`start`), cancelled by
    /// `cancelled` rather than by its request. Only before the context is shared.
    pub fn with_task(
        mut self,
        start: Option<Arc<super::tasks::Start>>,
        cancelled: Option<CancellationToken>,
    ) -> Self {
        if let Some(request) = Arc::get_mut(&mut self.request) {
            if let Some(cancelled) = cancelled {
                request.cancelled = cancelled;
            }
            request.task = start;
        }
        self
    }

    /// Notes that the call ended without a result (a trap, its time or memory limit):
    /// as a task, it fails rather than completing with a tool error.
    pub fn note_crash(&self, reason: String) {
        if let Some(start) = &self.request.task
            && self.depth == 0
        {
            start.crashed(reason);
        }
    }

    /// The context of a notification from the client (no id, nothing to cancel).
    pub fn of_notification(
        notification: &NotificationContext<RoleServer>,
        session: Arc<Session>,
        shared: Arc<Shared>,
    ) -> Self {
        let client = notification.peer.peer_info().map(|p| p.client_info.clone());
        let info = RequestInfo {
            session_id: session.public_id(session_header(&notification.extensions)),
            ..of_client(client)
        };
        let peer = &notification.peer;
        let logs = LogGate::Session;
        Self::of(
            peer,
            session,
            shared,
            info,
            None,
            CancellationToken::new(),
            logs,
        )
    }

    /// This request as served by `mount`.
    pub fn on(&self, mount: &Arc<Mount>) -> Arc<Self> {
        Arc::new(Self {
            request: self.request.clone(),
            mount: Some(mount.clone()),
            depth: self.depth,
        })
    }

    /// The verified subject of the request's token, if it carried one.
    pub fn subject(&self) -> Option<&str> {
        self.request.info.subject.as_deref()
    }

    /// The scopes of the request's token.
    pub fn scopes(&self) -> &[String] {
        &self.request.info.scopes
    }

    /// What identifies the request's session in logs, limits and to plugins: a hash of
    /// the transport's session id ([`Session::public_id`]), else the session's local id.
    pub fn session_key(&self) -> String {
        self.request
            .info
            .session_id
            .clone()
            .unwrap_or_else(|| self.request.session.local_id.to_string())
    }

    /// Whether the work done for this request met a transient failure since the last
    /// call; clears the mark.
    pub fn take_transient(&self) -> bool {
        self.request.transient.swap(false, Ordering::Relaxed)
    }

    /// How the request's last plugin call got its instance (`warm` or `new`), when the
    /// plugin said (plugins that may reuse instances); clears the mark.
    pub fn take_instance(&self) -> Option<&'static str> {
        match self.request.instance.swap(0, Ordering::Relaxed) {
            1 => Some("new"),
            2 => Some("warm"),
            _ => None,
        }
    }

    /// Whether the request belongs to a session that outlives it (else it stands alone,
    /// and its caller is its principal: `super::scope`).
    pub fn in_session(&self) -> bool {
        self.request.in_session
    }

    /// Whether anything serving the request asked the client a question so far.
    pub fn asked(&self) -> bool {
        self.request.asked.load(Ordering::Relaxed)
    }

    /// Whether the request carries answers to earlier questions (an MCP 2026-07-28
    /// retry with `inputResponses` or a `requestState`, a task resumed with answers).
    pub fn carries_answers(&self) -> bool {
        self.request
            .rounds
            .as_ref()
            .is_some_and(|rounds| rounds.has_answers())
    }

    /// The questions the request's call left for the client's next round trip, taken:
    /// by the outermost call only (a nested read's questions are its caller's).
    pub fn take_questions(&self) -> Option<rmcp::model::InputRequests> {
        let rounds = self.request.rounds.as_ref()?;
        if self.depth > 0 || !rounds.suspended() {
            return None;
        }
        Some(rounds.take_pending())
    }

    /// The `MissingRequiredClientCapability` error of a request that failed after asking
    /// what its client did not declare it can answer (outermost call only).
    pub fn missing_capabilities(&self, what: &str) -> Option<McpError> {
        let rounds = self.request.rounds.as_ref()?;
        if self.depth > 0 {
            return None;
        }
        rounds.missing_capabilities(what)
    }

    /// The context of a read or prompt that the current mount makes through the host.
    fn nested(&self) -> Result<Arc<Self>, GuestError> {
        if self.depth >= MAX_NESTING {
            return Err(GuestError::Failed(format!(
                "cross-mount reads nest deeper than {MAX_NESTING} levels (does a plugin read itself?)"
            )));
        }
        Ok(Arc::new(Self {
            request: self.request.clone(),
            mount: None,
            depth: self.depth + 1,
        }))
    }

    /// The client's label (`client `NAME``) when its `initialize` declared `capability`;
    /// otherwise the error a plugin sees.
    fn client_declared(
        &self,
        capability: &str,
        declared: impl Fn(&ClientCapabilities) -> bool,
    ) -> Result<String, GuestError> {
        let client = self.client_label();
        match self.request.peer.peer_info() {
            Some(info) if declared(&info.capabilities) => Ok(client),
            _ => Err(GuestError::Unsupported(format!(
                "{client} does not support {capability} (it declared no `{capability}` capability)"
            ))),
        }
    }

    /// `sampling/createMessage` sent to the client (MCP 2025-11-25).
    async fn sampled(&self, request: Value) -> Result<Value, GuestError> {
        let client = self.client_declared("sampling", |c| c.sampling.is_some())?;
        let params: CreateMessageRequestParams = serde_json::from_value(request).map_err(|e| {
            GuestError::InvalidParams(format!(
                "sample: not the params of sampling/createMessage: {e}"
            ))
        })?;
        let answer = self
            .request
            .peer
            .create_message(params)
            .await
            .map_err(|e| client_error("sampling", &client, e))?;
        serde_json::to_value(answer).map_err(|e| GuestError::Failed(e.to_string()))
    }

    /// `elicitation/create` sent to the client (MCP 2025-11-25).
    async fn elicited(&self, message: String, schema: Value) -> Result<Elicited, GuestError> {
        let client = self.client_declared("elicitation", |c| c.elicitation.is_some())?;
        let params: ElicitRequestParams = serde_json::from_value(json!({
            "mode": "form",
            "message": message,
            "requestedSchema": schema,
        }))
        .map_err(|e| {
            GuestError::InvalidParams(format!(
                "elicit: not an elicitation schema (an object of primitive properties): {e}"
            ))
        })?;
        let answer = self
            .request
            .peer
            .create_elicitation(params)
            .await
            .map_err(|e| client_error("elicitation", &client, e))?;
        Ok(match answer.action {
            ElicitationAction::Accept => {
                Elicited::Accept(answer.content.unwrap_or_else(|| json!({})))
            }
            ElicitationAction::Decline => Elicited::Decline,
            // `cancel`, and whatever a newer revision adds: no answer.
            _ => Elicited::Cancel,
        })
    }

    /// `roots/list` sent to the client (MCP 2025-11-25).
    async fn roots(&self) -> Result<Value, GuestError> {
        let client = self.client_declared("roots", |c| c.roots.is_some())?;
        let answer = self
            .request
            .peer
            .list_roots()
            .await
            .map_err(|e| client_error("roots", &client, e))?;
        serde_json::to_value(answer).map_err(|e| GuestError::Failed(e.to_string()))
    }

    fn client_label(&self) -> String {
        match &self.request.info.client_name {
            Some(name) => format!("client `{name}`"),
            None => "the client".into(),
        }
    }
}

/// A protocol error of a read or prompt made through the host, as the guest sees it.
fn guest_error(error: McpError) -> GuestError {
    let message = error.message.to_string();
    match error.code {
        ErrorCode::RESOURCE_NOT_FOUND => GuestError::NotFound(message),
        ErrorCode::INVALID_PARAMS if message.starts_with("unknown prompt") => {
            GuestError::NotFound(message)
        }
        ErrorCode::INVALID_PARAMS => GuestError::InvalidParams(message),
        _ => GuestError::Failed(message),
    }
}

/// A failed client request (sampling, elicitation) as the guest sees it.
fn client_error(what: &str, client: &str, error: rmcp::service::ServiceError) -> GuestError {
    match error {
        rmcp::service::ServiceError::McpError(e) => {
            GuestError::Failed(format!("{client} refused {what}: {}", e.message))
        }
        other => GuestError::Failed(format!("{what} failed: {other}")),
    }
}

impl Context {
    /// The least severe level the client hears, if any.
    fn floor(&self) -> Option<LoggingLevel> {
        match self.request.logs {
            LogGate::Session => Some(self.request.session.log_level()),
            LogGate::Request(floor) => floor,
        }
    }
}

impl CallContext for Context {
    fn instance_used(&self, warm: bool) {
        self.request
            .instance
            .store(if warm { 2 } else { 1 }, Ordering::Relaxed);
    }

    fn log_floor(&self) -> Option<LogLevel> {
        self.floor().map(crate::levels::from_mcp)
    }

    fn log(
        &self,
        level: LogLevel,
        logger: &str,
        message: String,
        data: Option<Value>,
    ) -> BoxFuture<'_, ()> {
        let level = crate::levels::to_mcp(level);
        let logger = logger.to_string();
        Box::pin(async move {
            let Some(floor) = self.floor() else {
                return;
            };
            if rank(level) < rank(floor) {
                return;
            }
            let data = match data {
                None => Value::String(message),
                Some(data) => json!({ "message": message, "data": data }),
            };
            let param = LoggingMessageNotificationParam::new(level, data).with_logger(logger);
            if let Err(e) = self.request.peer.notify_logging_message(param).await {
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
            let Some(token) = self.request.progress_token.clone() else {
                return;
            };
            {
                // Progress must increase: a value that does not is dropped.
                let Ok(mut last) = self.request.last_progress.lock() else {
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
            if let Err(e) = self.request.peer.notify_progress(param).await {
                tracing::debug!("could not send progress to the client: {e}");
            }
        })
    }

    fn request_info(&self) -> RequestInfo {
        self.request.info.clone()
    }

    fn is_cancelled(&self) -> bool {
        self.request.cancelled.is_cancelled()
    }

    fn cancellation(&self) -> CancellationToken {
        self.request.cancelled.clone()
    }

    fn state(&self) -> &RequestState {
        &self.request.state
    }

    fn ask(
        &self,
        questions: Vec<(String, Question)>,
    ) -> BoxFuture<'_, Result<Vec<Reply>, GuestError>> {
        Box::pin(async move {
            self.request.asked.store(true, Ordering::Relaxed);
            if let Some(rounds) = &self.request.rounds {
                return rounds.ask(questions);
            }
            // A cancelled request drops the whole guest call, these waits included.
            let mut replies = Vec::with_capacity(questions.len());
            for (_, question) in questions {
                replies.push(match question {
                    Question::Sample(params) => Reply::Sampled(self.sampled(params).await?),
                    Question::Elicit { message, schema } => {
                        Reply::Elicited(self.elicited(message, schema).await?)
                    }
                    Question::ListRoots => Reply::Roots(self.roots().await?),
                });
            }
            Ok(replies)
        })
    }

    fn suspended(&self) -> bool {
        self.request.rounds.as_ref().is_some_and(|r| r.suspended())
    }

    fn next_key(&self, kind: &str) -> String {
        match &self.request.rounds {
            Some(rounds) => rounds.next_key(kind),
            None => String::new(),
        }
    }

    fn read_resource(
        &self,
        uri: String,
    ) -> BoxFuture<'_, Result<Vec<ResourceContents>, GuestError>> {
        Box::pin(async move {
            let nested = self.nested()?;
            let result = super::dispatch::nested_read(&self.request.shared, nested, uri)
                .await
                .map_err(guest_error)?;
            let value =
                serde_json::to_value(&result).map_err(|e| GuestError::Failed(e.to_string()))?;
            guest::resource_contents_list(&value["contents"]).map_err(GuestError::Failed)
        })
    }

    fn get_prompt(
        &self,
        name: String,
        arguments: Vec<(String, String)>,
    ) -> BoxFuture<'_, Result<PromptResult, GuestError>> {
        Box::pin(async move {
            let nested = self.nested()?;
            let arguments = arguments
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            let call = PromptCall { name, arguments };
            let result = super::dispatch::nested_prompt(&self.request.shared, nested, call)
                .await
                .map_err(guest_error)?;
            let value =
                serde_json::to_value(&result).map_err(|e| GuestError::Failed(e.to_string()))?;
            guest::prompt_result(&value).map_err(GuestError::Failed)
        })
    }

    fn notify_resource_updated(&self, uri: String) -> BoxFuture<'_, Result<(), GuestError>> {
        Box::pin(async move {
            let Some(mount) = &self.mount else {
                return Err(GuestError::Unsupported(
                    "notify-resource-updated: this call serves no mount".into(),
                ));
            };
            let uri = namespace::uri(&mount.namespace, &uri);
            let shared = &self.request.shared;
            shared.subscriptions.notify(&uri).await;
            shared
                .fleet
                .tell(
                    crate::fleet::RESOURCE_UPDATED,
                    crate::fleet::ResourceUpdated { uri },
                )
                .await;
            Ok(())
        })
    }

    fn set_enabled(
        &self,
        kind: crate::runtime::bindings::context::ComponentKind,
        name: String,
        enabled: bool,
    ) -> Result<bool, GuestError> {
        use crate::registry::Component;
        use crate::runtime::bindings::context::ComponentKind;
        let Some(mount) = &self.mount else {
            return Err(GuestError::Unsupported(
                "set-enabled: this call serves no mount".into(),
            ));
        };
        if self.request.switches.fetch_add(1, Ordering::Relaxed) >= MAX_SWITCHES {
            return Err(GuestError::Failed(format!(
                "set-enabled: at most {MAX_SWITCHES} switches per request"
            )));
        }
        let kind = match kind {
            ComponentKind::Tool => Component::Tool,
            ComponentKind::Prompt => Component::Prompt,
            ComponentKind::Resource => Component::Resource,
        };
        let changed = mount
            .set_enabled(kind, &name, enabled)
            .map_err(GuestError::NotFound)?;
        if changed {
            let changes = self.request.shared.registry.rebuild();
            self.request
                .shared
                .metrics
                .feed()
                .publish(|| crate::telemetry::feed::Event::Lists {
                    mount: mount.namespace.clone(),
                    component: format!(
                        "{} {}",
                        crate::fleet::kind_name(kind),
                        crate::text::clip(&name)
                    ),
                    enabled,
                    lists: changes.lists(),
                });
            tracing::info!(
                mount = %mount.name,
                component = %crate::text::clip(&name),
                enabled,
                ?changes,
                "a plugin switched one of its components"
            );
            let switched = crate::fleet::Switched {
                namespace: mount.namespace.clone(),
                version: mount.version.clone(),
                kind: crate::fleet::kind_name(kind).to_string(),
                name,
                enabled,
            };
            self.request
                .shared
                .fleet
                .tell_soon(crate::fleet::SWITCHED, switched);
        }
        Ok(changed)
    }

    fn mark_transient(&self) {
        self.request.transient.store(true, Ordering::Relaxed);
    }

    fn session_key(&self) -> String {
        Context::session_key(self)
    }

    fn trust_scope(&self) -> Option<Arc<str>> {
        // The session object's own random id (one per MCP session over stateful HTTP,
        // per connection over stdio), or for a request without a session its principal
        // (`super::scope`). Never the `Mcp-Session-Id` header, which a client chooses
        // when pier is stateless.
        let request = &self.request;
        Some(if request.in_session {
            request.session.scope()
        } else {
            super::scope::principal(request.info.subject.as_deref())
        })
    }

    fn start_task(&self) -> bool {
        match &self.request.task {
            Some(start) if self.depth == 0 => start.request(),
            _ => false,
        }
    }
}
