//! The MCP server: one [`ServerHandler`] per client session, routing each request to the
//! mount that serves it through the current catalogue snapshot.

#![allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.

use std::sync::Arc;

use rmcp::model::*;
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use futures::future::BoxFuture;

use super::context::Context;
use super::dispatch::Dispatch;
use super::in_flight::InFlight;
use super::page::{cursor, page};
use super::rounds::{self, Rounds};
use super::session::Session;
use super::subscriptions::{Subscriber, Subscriptions, Target};
use super::tasks::{self, Start, Tasks};
use crate::middleware::{
    Answer, MiddlewareContext, Outcome, Pipeline, PromptCall, Request, Response, Terminal, ToolCall,
};
use crate::registry::manifest::TaskSupport;
use crate::registry::{Changes, Registry};
use crate::telemetry::Metrics;

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
    /// Distinct resource URIs one session may subscribe to.
    pub max_subscriptions: usize,
    /// Longest resource URI a request may name.
    pub max_uri_bytes: usize,
    /// The MCP revisions negotiated (`server.max-protocol-version` and older).
    pub protocol_versions: &'static [ProtocolVersion],
    /// Seals the `requestState` of input round trips.
    pub seal: super::rounds::Seal,
    /// Bytes of request-scoped state one request may hold.
    pub max_state_bytes: usize,
    /// The middleware chains requests pass.
    pub pipeline: Arc<Pipeline>,
    /// Cancelled when the server begins to shut down: listen streams end.
    pub draining: tokio_util::sync::CancellationToken,
    /// How long an MCP 2026-07-28 client may cache a list result.
    pub list_ttl_ms: u64,
    /// Tool calls that went on as tasks.
    pub tasks: Arc<Tasks>,
    /// How long a call of a tool that may run as a task runs in its request before it
    /// becomes one.
    pub task_after: std::time::Duration,
}

/// The handler of one client session.
#[derive(Clone)]
pub struct PierServer {
    shared: Arc<Shared>,
    session: Arc<Session>,
}

impl PierServer {
    /// A handler for a new session with transport id `session_id`.
    pub fn new(shared: Arc<Shared>, session_id: Option<String>) -> Self {
        let session = Arc::new(Session::new(session_id, shared.metrics.clone()));
        Self { shared, session }
    }

    fn context(&self, request: &RequestContext<RoleServer>) -> Context {
        Context::new(request, self.session.clone(), self.shared.clone())
    }

    /// Runs one request's work, counting it by method and outcome (every transport).
    async fn metered<T>(
        &self,
        method: &'static str,
        work: impl Future<Output = Result<T, McpError>>,
    ) -> Result<T, McpError> {
        let started = std::time::Instant::now();
        let result = work.await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.shared
            .metrics
            .mcp_request(method, outcome, started.elapsed().as_secs_f64());
        result
    }

    /// The span of one request: method, what it targets (tool, URI, prompt), session, id.
    fn span(
        &self,
        method: &'static str,
        target: &str,
        request: &RequestContext<RoleServer>,
    ) -> tracing::Span {
        let session = self
            .session
            .public_id(super::context::http_session_id(request))
            .unwrap_or_else(|| self.session.local_id.clone());
        let span = tracing::info_span!(
            "request",
            method,
            target = %crate::text::clip(target),
            session,
            request_id = %request.id,
            traceparent = tracing::field::Empty,
        );
        // The client's trace (SEP-414) names the request in pier's log as well.
        if let Some(trace) = request
            .meta
            .get_traceparent()
            .and_then(|parent| crate::runtime::TraceContext::parse(parent, None))
        {
            span.record("traceparent", trace.traceparent.as_str());
        }
        span
    }
}

/// Sends `notifications/{tools,resources,prompts}/list_changed` to `target` for every
/// catalogue change, until `closed` (the session or the listen stream ends). A listen
/// stream hears only the kinds it accepted.
async fn forward_changes(
    target: Target,
    mut changes: tokio::sync::broadcast::Receiver<Changes>,
    closed: tokio_util::sync::CancellationToken,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let changed = tokio::select! {
            () = closed.cancelled() => return,
            changed = changes.recv() => match changed {
                Ok(changed) => changed,
                // Fell behind: some changes were missed, so everything may have changed.
                Err(RecvError::Lagged(_)) => Changes::ALL,
                Err(RecvError::Closed) => return,
            },
        };
        if let Err(e) = send_changes(&target, changed).await {
            tracing::debug!("no more list_changed notifications: {e}");
            return;
        }
    }
}

/// One catalogue change as `list_changed` notifications to `target`.
async fn send_changes(target: &Target, changed: Changes) -> Result<(), String> {
    match target {
        Target::Session(peer) => {
            let sent = async {
                if changed.tools {
                    peer.notify_tool_list_changed().await?;
                }
                if changed.resources {
                    peer.notify_resource_list_changed().await?;
                }
                if changed.prompts {
                    peer.notify_prompt_list_changed().await?;
                }
                Ok::<(), rmcp::service::ServiceError>(())
            };
            sent.await.map_err(|e| e.to_string())
        }
        Target::Listen(sink) => {
            let accepted = sink.accepted().clone();
            let sent = async {
                if changed.tools && accepted.tools_list_changed == Some(true) {
                    sink.notify_tool_list_changed().await?;
                }
                if changed.resources && accepted.resources_list_changed == Some(true) {
                    sink.notify_resource_list_changed().await?;
                }
                if changed.prompts && accepted.prompts_list_changed == Some(true) {
                    sink.notify_prompt_list_changed().await?;
                }
                Ok::<(), rmcp::service::SubscriptionSendError>(())
            };
            sent.await.map_err(|e| e.to_string())
        }
    }
}

/// The end of a `resources/subscribe` run (a session's, or one URI of a listen
/// stream): records the subscription of `who()`.
fn subscribing(
    shared: Arc<Shared>,
    who: impl Fn() -> Subscriber + Send + Sync + 'static,
) -> Answer<impl Fn(Request) -> BoxFuture<'static, Outcome> + Send + Sync> {
    Answer(move |request| {
        let done = match request {
            Request::Subscribe(uri) => shared
                .subscriptions
                .subscribe(&uri, who(), shared.max_subscriptions)
                .map(|()| Response::Empty)
                .map_err(|e| McpError::invalid_request(e.to_string(), None)),
            other => Err(crate::middleware::mismatched(other.method())),
        };
        Box::pin(std::future::ready(done)) as BoxFuture<'static, Outcome>
    })
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

/// Most resource URIs one `subscriptions/listen` request may name, repeats included:
/// a longer list accepts none (rmcp intersects the lists pairwise).
const MAX_LISTEN_URIS: usize = 1024;

/// The response `$response` of a pipeline run as the `$variant` it must be.
macro_rules! expect {
    ($response:expr, $variant:ident, $method:literal) => {
        match $response {
            Response::$variant(result) => Ok(result),
            _ => Err(crate::middleware::mismatched($method)),
        }
    };
}

/// Marks a final result `resultType: "complete"` (2026-07-28), whoever built it: a
/// guest's result or an upstream's carries none. rmcp drops the field for peers of
/// earlier revisions.
fn complete(result_type: &mut Option<ResultType>) {
    result_type.get_or_insert(ResultType::COMPLETE);
}

/// A terminal answering a request with `Response::Empty` after `work`.
fn answer_empty<F>(work: F) -> Answer<impl Fn(Request) -> BoxFuture<'static, Outcome> + Send + Sync>
where
    F: Fn() -> Result<(), McpError> + Send + Sync + 'static,
{
    Answer(move |_| {
        let done = work().map(|()| Response::Empty);
        Box::pin(std::future::ready(done)) as BoxFuture<'static, Outcome>
    })
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

impl PierServer {
    /// Runs `request` through the server-level chain to `terminal`.
    async fn pipeline(
        &self,
        request: Request,
        context: &RequestContext<RoleServer>,
        terminal: &dyn Terminal,
    ) -> Outcome {
        self.pipeline_with(request, context, terminal, None).await
    }

    /// [`PierServer::pipeline`], questions to the client answered by round trips
    /// when `rounds` is given.
    async fn pipeline_with(
        &self,
        request: Request,
        context: &RequestContext<RoleServer>,
        terminal: &dyn Terminal,
        rounds: Option<Arc<Rounds>>,
    ) -> Outcome {
        self.pipeline_task(request, context, terminal, rounds, None)
            .await
    }

    /// [`PierServer::pipeline_with`] for a call that may go on as a task (`task`: how
    /// it becomes one, and what cancels it instead of its request).
    async fn pipeline_task(
        &self,
        request: Request,
        context: &RequestContext<RoleServer>,
        terminal: &dyn Terminal,
        rounds: Option<Arc<Rounds>>,
        task: Option<(Arc<Start>, CancellationToken)>,
    ) -> Outcome {
        let (start, cancelled) = task.unzip();
        let request_context = self
            .context(context)
            .with_rounds(rounds)
            .with_task(start, cancelled);
        let cx = MiddlewareContext::new(
            request.method(),
            Arc::new(request_context),
            self.shared.registry.snapshot(),
            super::context::http_client_ip(&context.extensions),
        );
        self.shared
            .pipeline
            .server()
            .run(&cx, request, terminal)
            .await
    }

    /// Runs a catalogue request through the pipeline, metered and in its span.
    async fn catalogue(&self, request: Request, context: &RequestContext<RoleServer>) -> Outcome {
        self.catalogue_with(request, context, None).await
    }

    /// [`PierServer::catalogue`] with the round trips of the request, if any.
    async fn catalogue_with(
        &self,
        request: Request,
        context: &RequestContext<RoleServer>,
        rounds: Option<Arc<Rounds>>,
    ) -> Outcome {
        self.catalogue_task(request, context, rounds, None).await
    }

    /// [`PierServer::catalogue_with`] for a call that may go on as a task.
    async fn catalogue_task(
        &self,
        request: Request,
        context: &RequestContext<RoleServer>,
        rounds: Option<Arc<Rounds>>,
        task: Option<(Arc<Start>, CancellationToken)>,
    ) -> Outcome {
        let method = request.method();
        let span = self.span(method, request.component().unwrap_or(""), context);
        let dispatch = Dispatch {
            shared: &self.shared,
        };
        self.metered(
            method,
            self.pipeline_task(request, context, &dispatch, rounds, task)
                .instrument(span),
        )
        .await
    }

    /// The caching hints of a list result (SEP-2549) for an MCP 2026-07-28 request:
    /// fresh for `server.list-ttl-ms`; `private` when middleware runs (what a client
    /// is shown may depend on who it is), else `public`. `None` for older revisions.
    fn cache_hints(&self, context: &RequestContext<RoleServer>) -> Option<(u64, CacheScope)> {
        if !super::context::is_modern(context) {
            return None;
        }
        let scope = if self.shared.pipeline.is_empty() {
            CacheScope::Public
        } else {
            CacheScope::Private
        };
        Some((self.shared.list_ttl_ms, scope))
    }

    /// The round trips of an MCP 2026-07-28 request bound to `binding`, from its
    /// `requestState` and `inputResponses`; `None` for earlier revisions, whose
    /// questions go to the client as server requests.
    fn rounds(
        &self,
        context: &RequestContext<RoleServer>,
        binding: &[u8],
        state: Option<&str>,
        responses: Option<InputResponses>,
    ) -> Result<Option<Arc<Rounds>>, McpError> {
        if !super::context::is_modern(context) {
            return Ok(None);
        }
        let capabilities = context.client_capabilities().unwrap_or_default();
        let rounds = self
            .shared
            .seal
            .open(binding, state, responses, capabilities)?;
        Ok(Some(Arc::new(rounds)))
    }

    /// The `input_required` answer of a call that stopped at `questions`.
    fn input_required(
        &self,
        binding: &[u8],
        rounds: Option<&Rounds>,
        questions: InputRequests,
    ) -> Result<InputRequiredResult, McpError> {
        let Some(rounds) = rounds else {
            return Err(McpError::internal_error(
                "a call of an earlier MCP revision asked for a round trip",
                None,
            ));
        };
        self.shared.seal.input_required(binding, rounds, questions)
    }

    /// Runs `resources/subscribe` or `unsubscribe` through the server-level chain and
    /// the serving mount's chain to `end`, metered.
    async fn subscription(
        &self,
        request: Request,
        context: &RequestContext<RoleServer>,
        end: &(dyn Terminal + Sync),
    ) -> Result<(), McpError> {
        let method = request.method();
        let span = self.span(method, request.component().unwrap_or(""), context);
        let terminal = super::dispatch::SubscriptionEnd {
            shared: &self.shared,
            end,
        };
        self.metered(
            method,
            self.pipeline(request, context, &terminal).instrument(span),
        )
        .await
        .map(drop)
    }

    /// Runs a client notification through the pipeline, then `terminal`.
    async fn notification(
        &self,
        method: &'static str,
        context: &NotificationContext<RoleServer>,
        terminal: &dyn Terminal,
    ) {
        let request = Context::of_notification(context, self.session.clone(), self.shared.clone());
        let cx = MiddlewareContext::new(
            method,
            Arc::new(request),
            self.shared.registry.snapshot(),
            super::context::http_client_ip(&context.extensions),
        );
        let chain = self.shared.pipeline.server();
        if let Err(e) = chain
            .run(&cx, Request::Notification(method), terminal)
            .await
        {
            tracing::debug!("{method}: {}", e.message);
        }
    }
}

impl PierServer {
    /// The answer to a `tools/call` whose call came to `response`.
    fn call_answer(
        &self,
        response: Outcome,
        binding: &[u8],
        rounds: Option<&Rounds>,
    ) -> Result<CallToolResponse, McpError> {
        match response? {
            Response::CallTool(mut result) => {
                complete(&mut result.result_type);
                Ok(result.into())
            }
            Response::InputRequired(questions) => self
                .input_required(binding, rounds, questions)
                .map(Into::into),
            _ => Err(crate::middleware::mismatched("tools/call")),
        }
    }

    /// A call of a tool that may go on as a task, for a client that declared the
    /// extension: it runs in its request until it finishes or asks (answered as any
    /// call), or until the guest starts the task or `server.task-after-ms` passes:
    /// then the task is recorded, the request answered with it, and the call runs on.
    async fn call_as_task(
        &self,
        call: ToolCall,
        binding: Vec<u8>,
        rounds: Arc<Rounds>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let start = Arc::new(Start::default());
        let cancel = CancellationToken::new();
        let done = CancellationToken::new();
        {
            // The request's cancellation reaches the call until it becomes a task.
            let (request, cancel, start, done) = (
                context.ct.clone(),
                cancel.clone(),
                start.clone(),
                done.clone(),
            );
            tokio::spawn(async move {
                tokio::select! {
                    () = request.cancelled() => if !start.started() { cancel.cancel() },
                    () = done.cancelled() => {}
                }
            });
        }
        let (name, arguments) = (call.name.clone(), call.arguments.clone());
        let capabilities = context.client_capabilities().unwrap_or_default();
        let mut run = {
            let (this, context, rounds) = (self.clone(), context.clone(), rounds.clone());
            let task = Some((start.clone(), cancel.clone()));
            tokio::spawn(async move {
                let _done = done.drop_guard();
                this.catalogue_task(Request::CallTool(call), &context, Some(rounds), task)
                    .await
            })
        };
        tokio::select! {
            // A call that started its task and ended at once is still a task.
            biased;
            () = start.asked() => {}
            joined = &mut run => {
                let response = joined.unwrap_or_else(|e| Err(joined_error(e)));
                return self.call_answer(response, &binding, Some(&rounds));
            }
            () = tokio::time::sleep(self.shared.task_after) => start.make(),
        }
        let created = self
            .shared
            .tasks
            .create(&name, arguments, rounds.answers(), capabilities)
            .await;
        match created {
            Ok(created) => {
                let id = created.task.task_id.clone();
                self.shared.tasks.spawn(id, cancel, async move {
                    let response = run.await.unwrap_or_else(|e| Err(joined_error(e)));
                    outcome(response, &start)
                });
                Ok(CallToolResponse::Task(created))
            }
            Err(e) => {
                // Without a record there is no task: the call answers in its request.
                tracing::warn!("tool `{name}` not run as a task: {}", e.message);
                let response = run.await.unwrap_or_else(|e| Err(joined_error(e)));
                self.call_answer(response, &binding, Some(&rounds))
            }
        }
    }

    /// Runs task `id` again from the start with every answer of its `record` (after
    /// `tasks/update` answered its last question), under the middleware as a call.
    fn resume(&self, id: String, record: tasks::Record, context: &RequestContext<RoleServer>) {
        let rounds = Arc::new(Rounds::with_answers(record.answers, record.capabilities));
        let cancel = CancellationToken::new();
        let start = Arc::new(Start::made());
        let task = Some((start.clone(), cancel.clone()));
        let call = ToolCall {
            name: record.tool,
            arguments: record.arguments,
        };
        let (this, context) = (self.clone(), context.clone());
        self.shared.tasks.spawn(id, cancel, async move {
            let response = this
                .catalogue_task(Request::CallTool(call), &context, Some(rounds), task)
                .await;
            outcome(response, &start)
        });
    }
}

/// A call's spawned run that panicked or was aborted, as a protocol error.
fn joined_error(e: tokio::task::JoinError) -> McpError {
    McpError::internal_error(format!("the call ended abnormally: {e}"), None)
}

/// What a task's run came to: a run that ended without a result (`start` says why)
/// failed.
fn outcome(response: Outcome, start: &Start) -> tasks::Outcome {
    if let Some(reason) = start.crash() {
        return tasks::Outcome::Failed(McpError::internal_error(reason, None));
    }
    match response {
        Ok(Response::CallTool(mut result)) => {
            complete(&mut result.result_type);
            tasks::Outcome::Done(result)
        }
        Ok(Response::InputRequired(questions)) => tasks::Outcome::Asked(questions),
        Ok(_) => tasks::Outcome::Failed(crate::middleware::mismatched("tools/call")),
        Err(e) => tasks::Outcome::Failed(e),
    }
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

    fn get_info(&self) -> ServerConfig {
        let modern = self
            .shared
            .protocol_versions
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
        // The tasks extension exists in MCP 2026-07-28 only.
        let capabilities = if modern {
            builder.enable_tasks().build()
        } else {
            builder.build()
        };
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("pier", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tools, resources and prompts served by sandboxed WebAssembly plugins.",
            )
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
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
        self.metered("initialize", async {
            let request = Request::Initialize(Box::new(request));
            let response = self.pipeline(request, &context, &terminal).await?;
            expect!(response, Initialize, "initialize").map(|r| *r)
        })
        .await
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
        let terminal = answer_empty(move || {
            session.set_log_level(request.level);
            Ok(())
        });
        let request = Request::Other("logging/setLevel");
        self.metered(
            "logging/setLevel",
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
        let arguments = serde_json::Value::Object(call.arguments.clone());
        let binding = rounds::binding("tools/call", &call.name, &arguments);
        let state = request.request_state.as_deref();
        let rounds = self.rounds(&context, &binding, state, request.input_responses)?;
        if let Some(rounds) = &rounds {
            let support = self
                .shared
                .registry
                .snapshot()
                .tools
                .get(&call.name)
                .map_or(TaskSupport::Forbidden, |entry| entry.task);
            let declared = context
                .client_capabilities()
                .is_some_and(|c| c.supports_tasks());
            match support {
                TaskSupport::Required if !declared => {
                    let mut refused = McpError::missing_required_client_capability(
                        ClientCapabilities::builder().enable_tasks().build(),
                    );
                    refused.message = format!(
                        "tool `{}` runs as a task: the request must declare the `{}` extension",
                        call.name,
                        rmcp::model::TASKS_EXTENSION_ID
                    )
                    .into();
                    return Err(refused);
                }
                TaskSupport::Optional | TaskSupport::Required
                    if declared && self.shared.tasks.has_room() =>
                {
                    return self
                        .call_as_task(call, binding, rounds.clone(), context)
                        .await;
                }
                _ => {}
            }
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
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let record = self.shared.tasks.get(&request.task_id).await?;
        Ok(GetTaskResult::new(record.detailed()))
    }

    /// `tasks/update`: answers questions the task waits for; with the last one, the
    /// call runs again (here) with every answer.
    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let id = request.task_id;
        let (record, resume) = self
            .shared
            .tasks
            .answer(&id, &request.input_responses)
            .await?;
        if resume {
            self.resume(id, record, &context);
        }
        Ok(())
    }

    /// `tasks/cancel`: a task that has not ended is cancelled and its run interrupted,
    /// wherever it runs; an ended one stays as it is.
    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared.tasks.cancel(&request.task_id).await
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
        let binding = rounds::binding("resources/read", &request.uri, &serde_json::Value::Null);
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
        let end = subscribing(self.shared.clone(), move || Subscriber {
            key: session.local_id.clone(),
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
        let session = self.session.clone();
        let end = Answer(move |request| {
            if let Request::Unsubscribe(uri) = &request {
                shared.subscriptions.unsubscribe(uri, &session.local_id);
            }
            Box::pin(std::future::ready(Ok(Response::Empty))) as BoxFuture<'static, Outcome>
        });
        self.subscription(Request::Unsubscribe(request.uri), &context, &end)
            .await
    }

    /// `subscriptions/listen` (MCP 2026-07-28) accepts the list changes asked for and
    /// the first `server.max-subscriptions` resource URIs a mount serves (none when the
    /// request names more than [`MAX_LISTEN_URIS`], repeats included), each within
    /// `server.max-uri-bytes`; the acknowledgement names what was accepted.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = requested.clone();
        if let Some(uris) = accepted.resource_subscriptions.take() {
            let mut seen = std::collections::HashSet::new();
            let limit = self.shared.max_subscriptions.min(MAX_LISTEN_URIS);
            let kept: Vec<String> = if uris.len() > MAX_LISTEN_URIS {
                tracing::debug!(
                    "subscriptions/listen named {} resource URIs, more than {MAX_LISTEN_URIS}: none accepted",
                    uris.len()
                );
                Vec::new()
            } else {
                let catalogue = self.shared.registry.snapshot();
                uris.into_iter()
                    .filter(|uri| uri.len() <= self.shared.max_uri_bytes)
                    .filter(|uri| catalogue.resolve_resource(uri).is_some())
                    .filter(|uri| seen.insert(uri.clone()))
                    .take(limit)
                    .collect()
            };
            accepted.resource_subscriptions = (!kept.is_empty()).then_some(kept);
        }
        Some(accepted)
    }

    /// Serves one `subscriptions/listen` stream until the client cancels it or the
    /// server stops: each accepted resource URI passes the middleware as a
    /// `resources/subscribe` would (a refused one is dropped from the stream), and the
    /// catalogue's changes go out as the list changes the stream accepted.
    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), McpError> {
        let context = subscription.request_context().clone();
        let closed = context.ct.child_token();
        let _stop = closed.clone().drop_guard();
        let sink = subscription.sink().clone();
        let key = format!("listen-{:016x}", fastrand::u64(..));
        let mut uris = subscription
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        // rmcp keeps the repeats of the request in the accepted filter.
        uris.sort_unstable();
        uris.dedup();
        for uri in uris {
            let (key, closed, sink) = (key.clone(), closed.clone(), sink.clone());
            let end = subscribing(self.shared.clone(), move || Subscriber {
                key: key.clone(),
                closed: closed.clone(),
                target: Target::Listen(sink.clone()),
            });
            if let Err(e) = self
                .subscription(Request::Subscribe(uri.clone()), &context, &end)
                .await
            {
                tracing::debug!(
                    "subscriptions/listen: {} not subscribed: {}",
                    crate::text::clip(&uri),
                    e.message
                );
            }
        }
        let changes = self.shared.registry.subscribe();
        tokio::select! {
            () = forward_changes(Target::Listen(sink), changes, closed.clone()) => {}
            () = subscription.cancelled() => {}
            () = self.shared.draining.cancelled() => {}
        }
        Ok(())
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
        let arguments = serde_json::Value::Object(call.arguments.clone());
        let binding = rounds::binding("prompts/get", &call.name, &arguments);
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
