//! The MCP server: one [`ServerHandler`] per client session, routing each request to the
//! mount that serves it through the current catalogue snapshot.

#![allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::model::*;
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use super::context::Context;
use super::in_flight::InFlight;
use super::page::{cursor, page};
use super::session::Session;
use super::subscriptions::{Subscriber, Subscriptions, Target};
use super::tasks::{Tasks, Who};
use crate::middleware::{Answer, Outcome, Pipeline, PromptCall, Request, Response, ToolCall};
use crate::registry::Registry;
use crate::telemetry::Metrics;

use changes::forward_changes;
use pipeline::{answer_empty, binding, complete, subscribing};

mod as_task;
mod changes;
mod listen;
pub use listen::listens;
mod observed;
mod pipeline;

/// The verified subject of a request that came over authenticated HTTP.
fn subject_of(context: &RequestContext<RoleServer>) -> Option<&str> {
    super::context::identity(&context.extensions).map(|identity| identity.subject.as_str())
}

tokio::task_local! {
    /// The verified caller of the HTTP request being served (set around rmcp's handling
    /// of it, which makes the request's handler): what runs before the request has a
    /// context of its own (the acknowledgement of `subscriptions/listen`) knows its
    /// caller from this.
    pub static CALLER: Option<Arc<crate::auth::Identity>>;
}

/// The verified caller of the request being served, when there is one.
fn current_caller() -> Option<Arc<crate::auth::Identity>> {
    CALLER.try_with(Clone::clone).ok().flatten()
}

/// What every session of one server shares.
pub struct Shared {
    /// The live catalogue.
    pub registry: Arc<Registry>,
    /// Items per page of a list result.
    pub page_size: usize,
    /// Requests being served (tool calls, reads, prompts, completions).
    pub in_flight: Arc<InFlight>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Which sessions subscribed to which resources.
    pub subscriptions: Subscriptions,
    /// The open `subscriptions/listen` streams of each client.
    pub listens: super::quota::Quota,
    /// The HTTP sessions of each client (`server.max-sessions`,
    /// `server.max-sessions-per-client`).
    pub sessions: super::quota::Quota,
    /// Distinct resource URIs one session may subscribe to.
    pub max_subscriptions: usize,
    /// Longest resource URI a request may name.
    pub max_uri_bytes: usize,
    /// The MCP revisions negotiated (`server.max-protocol-version` and older).
    pub protocol_versions: &'static [ProtocolVersion],
    /// The server's description and capabilities for those revisions ([`server_info`]).
    pub info: ServerConfig,
    /// Seals the `requestState` of input round trips.
    pub seal: super::rounds::Seal,
    /// Bytes of request-scoped state one request may hold.
    pub max_state_bytes: usize,
    /// The middleware chains requests pass.
    pub pipeline: Arc<Pipeline>,
    /// Authorization (`[[auth.rule]]`, plugins' required scopes), when configured: the
    /// outermost middleware, checked again where a request reaches its mount.
    pub gate: Option<Arc<dyn crate::middleware::gate::Gate>>,
    /// Cancelled when the server begins to shut down: listen streams end.
    pub draining: tokio_util::sync::CancellationToken,
    /// How long an MCP 2026-07-28 client may cache a list result.
    pub list_ttl_ms: u64,
    /// Tool calls that went on as tasks.
    pub tasks: Arc<Tasks>,
    /// How long a call of a tool that may run as a task runs in its request before it
    /// becomes one.
    pub task_after: std::time::Duration,
    /// The other replicas sharing the store, if any.
    pub fleet: Arc<crate::fleet::Fleet>,
    /// The log levels of 2025-11-25 sessions, set on any replica.
    pub session_levels: crate::fleet::Levels,
}

/// The handler of one client session.
#[derive(Clone)]
pub struct PierServer {
    shared: Arc<Shared>,
    session: Arc<Session>,
    /// The verified caller of the HTTP request this handler was made for (see
    /// [`CALLER`]); `None` without one.
    caller: Option<Arc<crate::auth::Identity>>,
}

impl PierServer {
    /// A handler for a new session with transport id `session_id`.
    pub fn new(shared: Arc<Shared>, session_id: Option<String>) -> Self {
        let session = Arc::new(
            Session::new(session_id, shared.metrics.clone())
                .releasing_instances_of(shared.registry.clone()),
        );
        Self {
            shared,
            session,
            caller: current_caller(),
        }
    }

    /// The handler of one request to a stateless pier ([`Session::one_request`]).
    pub fn one_request(shared: Arc<Shared>) -> Self {
        let session = Arc::new(Session::one_request(shared.metrics.clone()));
        Self {
            shared,
            session,
            caller: current_caller(),
        }
    }

    fn context(&self, request: &RequestContext<RoleServer>) -> Context {
        Context::new(request, self.session.clone(), self.shared.clone())
    }

    /// The span of one request: method, what it targets (tool, URI, prompt), session, id.
    fn span(
        &self,
        method: &'static str,
        target: &str,
        request: &RequestContext<RoleServer>,
    ) -> tracing::Span {
        let session = super::context::public_session_id(request, &self.session)
            .unwrap_or_else(|| self.session.local_id.to_string());
        let span = tracing::info_span!(
            "request",
            method,
            target = %crate::text::clip(target),
            session,
            request_id = %request.id,
            subject = tracing::field::Empty,
            traceparent = tracing::field::Empty,
        );
        if let Some(subject) = subject_of(request) {
            span.record("subject", subject);
        }
        // The client's trace (SEP-414) names the request in pier's log as well.
        if let Some(trace) = super::context::trace_of(request) {
            span.record("traceparent", trace.traceparent.as_str());
        }
        span
    }

    /// `tasks/update`'s work: answers the questions a task waits for; with the last
    /// one, the call runs again (here) with every answer.
    async fn answer_task(
        &self,
        request: UpdateTaskParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let id = request.task_id;
        // The last answer runs the task again here: a place for the run is taken
        // first, so that answers are never accepted for a run that cannot start.
        let place = self.shared.tasks.reserve().ok_or_else(|| {
            McpError::new(
                rmcp::model::ErrorCode(-32000),
                format!(
                    "this server runs its most tasks ({}): send the answers again later",
                    crate::server::tasks::MAX_RUNNING
                ),
                None,
            )
        })?;
        let (record, resume) = self
            .shared
            .tasks
            .answer(
                &id,
                &request.input_responses,
                Who::Client(subject_of(context)),
            )
            .await?;
        if resume {
            self.resume(place, id, record, context);
        }
        Ok(())
    }

    /// An HTTP session takes its place among the sessions its client and everyone hold
    /// open (`server.max-sessions`, `server.max-sessions-per-client`), or is refused.
    fn admit(&self, context: &RequestContext<RoleServer>) -> Result<(), McpError> {
        if self.session.is_per_request()
            || self.session.admitted()
            || !super::context::over_http(&context.extensions)
        {
            return Ok(());
        }
        let place = self
            .shared
            .sessions
            .take(super::quota::client_of(context))
            .map_err(|full| {
                let message = match full {
                    super::quota::Full::Total(n) => format!(
                        "pier has {n} sessions open, its limit (server.max-sessions): try again when one closes, or send requests without a session (MCP 2026-07-28)"
                    ),
                    super::quota::Full::Client(n) => format!(
                        "this client has {n} sessions open, the most one client may (server.max-sessions-per-client): close one (DELETE /mcp) first"
                    ),
                };
                McpError::new(rmcp::model::ErrorCode(-32000), message, None)
            })?;
        self.session.admit(place);
        Ok(())
    }
}

/// Sets the caching hints of an MCP 2026-07-28 request on a list result.
macro_rules! cache_hints {
    ($server:expr, $context:expr, $result:expr) => {
        if let Some((ttl, scope)) = $server.cache_hints($context) {
            $result.ttl_ms = Some(ttl);
            $result.cache_scope = Some(scope);
        }
    };
}

/// The response `$response` of a pipeline run as the `$variant` it must be.
macro_rules! expect {
    ($response:expr, $variant:ident, $method:literal) => {
        match $response {
            Response::$variant(result) => Ok(result),
            _ => Err(crate::middleware::mismatched($method)),
        }
    };
}

impl Shared {
    /// Refuses a resource URI longer than `server.max-uri-bytes` (before any matching,
    /// logging or echoing of it).
    pub fn check_uri(&self, uri: &str) -> Result<(), McpError> {
        if uri.len() <= self.max_uri_bytes {
            return Ok(());
        }
        Err(McpError::invalid_params(
            format!(
                "resource URI of {} bytes is longer than the limit of {} (server.max-uri-bytes): {}",
                uri.len(),
                self.max_uri_bytes,
                crate::text::clip(uri)
            ),
            None,
        ))
    }
}

/// pier's description and capabilities when it negotiates `protocol_versions`: the
/// tasks extension exists in MCP 2026-07-28 only.
pub fn server_info(protocol_versions: &[ProtocolVersion]) -> ServerConfig {
    let modern = protocol_versions
        .iter()
        .any(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
    let builder = ServerCapabilities::builder()
        .enable_tools()
        .enable_tool_list_changed()
        .enable_resources()
        .enable_resources_list_changed()
        .enable_resources_subscribe()
        .enable_prompts()
        .enable_prompts_list_changed()
        .enable_logging()
        .enable_completions();
    let capabilities = if modern {
        builder.enable_tasks().build()
    } else {
        builder.build()
    };
    ServerConfig::new(capabilities)
        .with_server_info(Implementation::new("pier", env!("CARGO_PKG_VERSION")))
        .with_instructions("Tools, resources and prompts served by sandboxed WebAssembly plugins.")
}

impl ServerHandler for PierServer {
    /// The revisions up to `server.max-protocol-version`; newer clients negotiate down.
    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        std::borrow::Cow::Borrowed(self.shared.protocol_versions)
    }

    /// The tool `name` as the catalogue lists it: its input schema's `x-mcp-header`
    /// annotations are what the HTTP transport checks `Mcp-Param-*` headers against
    /// (SEP-2243).
    fn get_tool(&self, name: &str) -> Option<Tool> {
        let catalogue = self.shared.registry.snapshot();
        catalogue.tools.get(name).map(|entry| entry.tool.clone())
    }

    /// What `initialize` answers (rmcp asks for it on every request: built once).
    fn get_info(&self) -> ServerConfig {
        self.shared.info.clone()
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        self.admit(&context)?;
        let this = self.clone();
        let peer = context.peer.clone();
        let terminal = Answer(move |request| {
            let answer = match request {
                Request::Initialize(params) => {
                    peer.set_peer_info((*params).clone());
                    this.negotiate_initialize(&params).map(|mut r| {
                        // `initialize` is of the revisions before the tasks extension.
                        if let Some(extensions) = &mut r.capabilities.extensions {
                            extensions.remove(rmcp::model::TASKS_EXTENSION_ID);
                            if extensions.is_empty() {
                                r.capabilities.extensions = None;
                            }
                        }
                        Response::Initialize(Box::new(r))
                    })
                }
                other => Err(McpError::internal_error(
                    format!("initialize became {}", other.method()),
                    None,
                )),
            };
            Box::pin(std::future::ready(answer)) as BoxFuture<'static, Outcome>
        });
        let result = self
            .metered("initialize", None, &context, async {
                let request = Request::Initialize(Box::new(request));
                let response = self.pipeline(request, &context, &terminal).await?;
                expect!(response, Initialize, "initialize").map(|r| *r)
            })
            .await?;
        // The session begins with the revision it negotiated.
        let protocol = self.known_protocol(&result.protocol_version);
        self.session
            .began(protocol, super::context::over_http(&context.extensions));
        Ok(result)
    }

    /// From now on the session hears of catalogue changes (hot mount, swap, unmount).
    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let peer = context.peer.clone();
        let shared = self.shared.clone();
        let session = self.session.clone();
        let terminal = Answer(move |_| {
            // A client may send `initialized` more than once: one forwarder per session.
            if session.start_forwarding_changes() {
                tokio::spawn(forward_changes(
                    Target::Session(peer.clone()),
                    shared.registry.subscribe(),
                    session.closed(),
                ));
            }
            Box::pin(std::future::ready(Ok(Response::Empty))) as BoxFuture<'static, Outcome>
        });
        self.notification("notifications/initialized", &context, &terminal)
            .await;
    }

    async fn on_cancelled(
        &self,
        _: CancelledNotificationParam,
        context: NotificationContext<RoleServer>,
    ) {
        // rmcp itself cancels the request; middleware only hears of it.
        let terminal = answer_empty(|| Ok(()));
        self.notification("notifications/cancelled", &context, &terminal)
            .await;
    }

    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        let terminal = answer_empty(|| Ok(()));
        self.notification("notifications/roots/list_changed", &context, &terminal)
            .await;
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let session = self.session.clone();
        let shared = self.shared.clone();
        let transport_id = super::context::transport_session_id(&context, &self.session);
        let terminal = answer_empty(move || {
            session.set_log_level(request.level);
            // The session's other requests may reach other replicas.
            if let Some(id) = transport_id.clone()
                && shared.fleet.shared()
            {
                shared.session_levels.set(id.clone(), request.level);
                let said = crate::fleet::SessionLevel {
                    session: id,
                    level: request.level,
                };
                shared.fleet.tell_soon(crate::fleet::SESSION_LEVEL, said);
            }
            Ok(())
        });
        let request = Request::Other("logging/setLevel");
        self.metered(
            "logging/setLevel",
            None,
            &context,
            self.pipeline(request, &context, &terminal),
        )
        .await
        .map(drop)
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let all = self.catalogue(Request::ListTools, &context).await?;
        let all = expect!(all, Tools, "tools/list")?;
        let (items, next) = page(&all, cursor(&request), self.shared.page_size)?;
        let mut result = ListToolsResult::with_all_items(items);
        result.next_cursor = next;
        cache_hints!(self, &context, result);
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let call = ToolCall {
            name: request.name.to_string(),
            arguments: request.arguments.unwrap_or_default(),
        };
        let binding = binding(&context, "tools/call", &call.name, &call.arguments);
        let state = request.request_state.as_deref();
        let rounds = self.rounds(&context, &binding, state, request.input_responses)?;
        if let Some(rounds) = &rounds
            && let Some(place) = self.runs_as_task(&call.name, &context)?
        {
            return self
                .call_as_task(place, call, binding, rounds.clone(), context)
                .await;
        }
        let response = self
            .catalogue_with(Request::CallTool(call), &context, rounds.clone())
            .await;
        self.call_answer(response, &binding, rounds.as_deref())
    }

    /// `tasks/get`: the task as its record shows it (`-32602` for an unknown id).
    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        self.metered("tasks/get", None, &context, async {
            let subject = subject_of(&context);
            let record = self
                .shared
                .tasks
                .get(&request.task_id, Who::Client(subject))
                .await?;
            Ok(GetTaskResult::new(record.detailed()))
        })
        .await
    }

    /// `tasks/update`: answers questions the task waits for; with the last one, the
    /// call runs again (here) with every answer.
    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.metered("tasks/update", None, &context, async {
            self.answer_task(request, &context).await
        })
        .await
    }

    /// `tasks/cancel`: a task that has not ended is cancelled and its run interrupted,
    /// wherever it runs; an ended one stays as it is.
    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.metered("tasks/cancel", None, &context, async {
            let subject = subject_of(&context);
            self.shared
                .tasks
                .cancel(&request.task_id, Who::Client(subject))
                .await
        })
        .await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let all = self.catalogue(Request::ListResources, &context).await?;
        let all = expect!(all, Resources, "resources/list")?;
        let (items, next) = page(&all, cursor(&request), self.shared.page_size)?;
        let mut result = ListResourcesResult::with_all_items(items);
        result.next_cursor = next;
        cache_hints!(self, &context, result);
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let all = self
            .catalogue(Request::ListResourceTemplates, &context)
            .await?;
        let all = expect!(all, ResourceTemplates, "resources/templates/list")?;
        let (items, next) = page(&all, cursor(&request), self.shared.page_size)?;
        let mut result = ListResourceTemplatesResult::with_all_items(items);
        result.next_cursor = next;
        cache_hints!(self, &context, result);
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.shared.check_uri(&request.uri)?;
        let binding = binding(&context, "resources/read", &request.uri, &());
        let state = request.request_state.as_deref();
        let rounds = self.rounds(&context, &binding, state, request.input_responses)?;
        let request = Request::ReadResource(request.uri);
        match self
            .catalogue_with(request, &context, rounds.clone())
            .await?
        {
            Response::ReadResource(mut result) => {
                complete(&mut result.result_type);
                Ok(result.into())
            }
            Response::InputRequired(questions) => self
                .input_required(&binding, rounds.as_deref(), questions)
                .map(Into::into),
            _ => Err(crate::middleware::mismatched("resources/read")),
        }
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared.check_uri(&request.uri)?;
        let session = self.session.clone();
        let peer = context.peer.clone();
        // Over HTTP, the session's id: the one an unsubscribe reaching another
        // replica names.
        let key = super::context::transport_session_id(&context, &session)
            .unwrap_or_else(|| session.local_id.to_string());
        let end = subscribing(self.shared.clone(), move || Subscriber {
            key: key.clone(),
            closed: session.closed(),
            target: Target::Session(peer.clone()),
        });
        self.subscription(Request::Subscribe(request.uri), &context, &end)
            .await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared.check_uri(&request.uri)?;
        let shared = self.shared.clone();
        let transport_id = super::context::transport_session_id(&context, &self.session);
        let key = transport_id
            .clone()
            .unwrap_or_else(|| self.session.local_id.to_string());
        let end = Answer(move |request| {
            if let Request::Unsubscribe(uri) = &request {
                shared.subscriptions.unsubscribe(uri, &key);
                // The subscription may be held by the replica that took the subscribe.
                if let Some(session) = transport_id.clone() {
                    let said = crate::fleet::Unsubscribed {
                        session,
                        uri: uri.clone(),
                    };
                    shared.fleet.tell_soon(crate::fleet::UNSUBSCRIBED, said);
                }
            }
            Box::pin(std::future::ready(Ok(Response::Empty))) as BoxFuture<'static, Outcome>
        });
        self.subscription(Request::Unsubscribe(request.uri), &context, &end)
            .await
    }

    /// `subscriptions/listen` (MCP 2026-07-28): see [`PierServer::accept_filter`].
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.accept_filter(requested)
    }

    /// One `subscriptions/listen` stream: see [`PierServer::serve_listen`].
    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), McpError> {
        self.serve_listen(subscription).await
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let all = self.catalogue(Request::ListPrompts, &context).await?;
        let all = expect!(all, Prompts, "prompts/list")?;
        let (items, next) = page(&all, cursor(&request), self.shared.page_size)?;
        let mut result = ListPromptsResult::with_all_items(items);
        result.next_cursor = next;
        cache_hints!(self, &context, result);
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let call = PromptCall {
            name: request.name,
            arguments: request.arguments.unwrap_or_default(),
        };
        let binding = binding(&context, "prompts/get", &call.name, &call.arguments);
        let state = request.request_state.as_deref();
        let rounds = self.rounds(&context, &binding, state, request.input_responses)?;
        match self
            .catalogue_with(Request::GetPrompt(call), &context, rounds.clone())
            .await?
        {
            Response::GetPrompt(mut result) => {
                complete(&mut result.result_type);
                Ok(result.into())
            }
            Response::InputRequired(questions) => self
                .input_required(&binding, rounds.as_deref(), questions)
                .map(Into::into),
            _ => Err(crate::middleware::mismatched("prompts/get")),
        }
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        if let Reference::Resource(r) = &request.r#ref {
            self.shared.check_uri(&r.uri)?;
        }
        let request = Request::Complete(Box::new(request));
        let response = self.catalogue(request, &context).await?;
        expect!(response, Complete, "completion/complete").map(|mut result| {
            complete(&mut result.result_type);
            result
        })
    }
}
