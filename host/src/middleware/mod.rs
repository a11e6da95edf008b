//! The middleware pipeline: ordered hooks around every MCP request, as in FastMCP.
//!
//! A request passes each middleware of the server-level [`Chain`] in configuration
//! order, then (for calls into one mount: tools, resources, prompts, completions) the
//! chain of the mount that serves it, then the mount itself; its result flows back
//! through the same middlewares in reverse. Each middleware sees the request as
//! `on_message` → `on_request` (or `on_notification`) → the hook of the operation
//! (`on_call_tool`, `on_list_tools`, …), and each hook decides whether to call `next`
//! (or answer itself), and may change the request on the way in and the result on the
//! way out. List operations see the whole list (before pagination), so a middleware
//! that filters it keeps pages consistent.

pub mod authorize;
mod context;
pub mod detailed_timing;
pub mod error_handling;
pub mod gate;
pub mod logging;
mod message;
pub mod rate_limit;
pub mod response_cache;
pub mod response_limit;
pub mod retry;
pub mod spec;
pub mod timing;
pub mod visibility;
pub mod wasm;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use futures::future::BoxFuture;
use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolResult, CompleteRequestParams, CompleteResult, GetPromptResult,
    InitializeRequestParams, InitializeResult, Prompt, ReadResourceResult, Resource,
    ResourceTemplate, Tool,
};

pub use context::MiddlewareContext;
pub use message::{PromptCall, Request, Response, ToolCall};

/// What a middleware hook returns: the operation's response, or a JSON-RPC error.
pub type Outcome<T = Response> = Result<T, McpError>;

/// A middleware that answered a hook with the response of another operation.
pub(crate) fn mismatched(method: &str) -> McpError {
    McpError::internal_error(
        format!("a middleware answered {method} with the result of another operation"),
        None,
    )
}

/// The key of the error data that carries a call's questions through a typed hook.
const QUESTIONS: &str = "pier/inputRequired";

/// A typed hook (`on_call_tool` → `Outcome<CallToolResult>`) has no place for an
/// `input_required` answer: it passes through the hook as this error, which the hook
/// returns like any other, and [`operation`] turns back into
/// [`Response::InputRequired`]. Only the hook's own code sees it; every `on_request`
/// sees the response.
fn input_required(questions: rmcp::model::InputRequests) -> McpError {
    McpError::internal_error(
        "the call waits for the client's input",
        Some(serde_json::json!({ QUESTIONS: questions })),
    )
}

/// `outcome` of a typed hook as a response, its questions back as
/// [`Response::InputRequired`].
fn typed<T>(outcome: Outcome<T>, wrap: impl FnOnce(T) -> Response) -> Outcome {
    match outcome {
        Ok(result) => Ok(wrap(result)),
        Err(mut error) => match error.data.as_mut().and_then(|d| d.get_mut(QUESTIONS)) {
            Some(questions) => serde_json::from_value(questions.take())
                .map(Response::InputRequired)
                .map_err(|e| McpError::internal_error(e.to_string(), None)),
            None => Err(error),
        },
    }
}

/// Generates the typed `Next` helper of one operation.
macro_rules! typed_next {
    ($(#[$doc:meta])* $fn:ident, $input:ty => $wrap:expr, $output:ty => $out:ident) => {
        $(#[$doc])*
        pub async fn $fn(self, cx: &MiddlewareContext, input: $input) -> Outcome<$output> {
            let request = $wrap(input);
            let method = Request::method(&request);
            match self.run(cx, request).await? {
                Response::$out(result) => Ok(result),
                Response::InputRequired(questions) => Err(input_required(questions)),
                _ => Err(mismatched(method)),
            }
        }
    };
}

/// The rest of the pipeline after the current hook: call it to go on, or do not to
/// answer without reaching the mount.
#[derive(Clone, Copy)]
pub struct Next<'a> {
    chain: &'a [Arc<dyn Middleware>],
    /// The middleware whose hooks are running.
    index: usize,
    stage: Stage,
    terminal: &'a dyn Terminal,
}

/// Which hook of the current middleware runs next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// `on_request` or `on_notification`.
    Kind,
    /// The hook of the operation.
    Operation,
    /// The next middleware (or the terminal).
    Done,
}

impl<'a> Next<'a> {
    /// Runs the rest of the pipeline for `request`.
    pub fn run(self, cx: &'a MiddlewareContext, request: Request) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            match self.stage {
                Stage::Done => {
                    let index = self.index.wrapping_add(1);
                    match self.chain.get(index) {
                        Some(middleware) => {
                            let next = Next {
                                index,
                                stage: Stage::Kind,
                                ..self
                            };
                            let span = crate::telemetry::trace::middleware(middleware.name());
                            crate::telemetry::trace::within(
                                span,
                                middleware.on_message(cx, request, next),
                            )
                            .await
                        }
                        None => self.terminal.handle(cx, request).await,
                    }
                }
                Stage::Kind => {
                    let middleware = &self.chain[self.index];
                    let next = Next {
                        stage: Stage::Operation,
                        ..self
                    };
                    if request.is_notification() {
                        middleware.on_notification(cx, request, next).await
                    } else {
                        middleware.on_request(cx, request, next).await
                    }
                }
                Stage::Operation => {
                    let middleware = &self.chain[self.index];
                    let next = Next {
                        stage: Stage::Done,
                        ..self
                    };
                    operation(middleware.as_ref(), cx, request, next).await
                }
            }
        })
    }

    typed_next!(
        /// Runs the rest of the pipeline for a `tools/call`.
        call_tool, ToolCall => Request::CallTool, CallToolResult => CallTool
    );
    typed_next!(
        /// Runs the rest of the pipeline for a `resources/read`.
        read_resource, String => Request::ReadResource, ReadResourceResult => ReadResource
    );
    typed_next!(
        /// Runs the rest of the pipeline for a `prompts/get`.
        get_prompt, PromptCall => Request::GetPrompt, GetPromptResult => GetPrompt
    );
    typed_next!(
        /// Runs the rest of the pipeline for a `completion/complete`.
        complete, Box<CompleteRequestParams> => Request::Complete, CompleteResult => Complete
    );
    typed_next!(
        /// Runs the rest of the pipeline for an `initialize`.
        initialize, Box<InitializeRequestParams> => Request::Initialize, Box<InitializeResult> => Initialize
    );
    typed_next!(
        /// Runs the rest of the pipeline for a `tools/list`.
        list_tools, () => |()| Request::ListTools, Vec<Tool> => Tools
    );
    typed_next!(
        /// Runs the rest of the pipeline for a `resources/list`.
        list_resources, () => |()| Request::ListResources, Vec<Resource> => Resources
    );
    typed_next!(
        /// Runs the rest of the pipeline for a `resources/templates/list`.
        list_resource_templates, () => |()| Request::ListResourceTemplates, Vec<ResourceTemplate> => ResourceTemplates
    );
    typed_next!(
        /// Runs the rest of the pipeline for a `prompts/list`.
        list_prompts, () => |()| Request::ListPrompts, Vec<Prompt> => Prompts
    );
}

/// Calls the operation hook of `middleware` that fits `request`.
async fn operation(
    middleware: &dyn Middleware,
    cx: &MiddlewareContext,
    request: Request,
    next: Next<'_>,
) -> Outcome {
    Ok(match request {
        Request::CallTool(call) => {
            return typed(
                middleware.on_call_tool(cx, call, next).await,
                Response::CallTool,
            );
        }
        Request::ReadResource(uri) => {
            return typed(
                middleware.on_read_resource(cx, uri, next).await,
                Response::ReadResource,
            );
        }
        Request::GetPrompt(call) => {
            return typed(
                middleware.on_get_prompt(cx, call, next).await,
                Response::GetPrompt,
            );
        }
        Request::Complete(params) => {
            Response::Complete(middleware.on_complete(cx, params, next).await?)
        }
        Request::Initialize(params) => {
            Response::Initialize(middleware.on_initialize(cx, params, next).await?)
        }
        Request::ListTools => Response::Tools(middleware.on_list_tools(cx, next).await?),
        Request::ListResources => {
            Response::Resources(middleware.on_list_resources(cx, next).await?)
        }
        Request::ListResourceTemplates => {
            Response::ResourceTemplates(middleware.on_list_resource_templates(cx, next).await?)
        }
        Request::ListPrompts => Response::Prompts(middleware.on_list_prompts(cx, next).await?),
        other @ (Request::Subscribe(_)
        | Request::Unsubscribe(_)
        | Request::Other(_)
        | Request::Notification(_)) => next.run(cx, other).await?,
    })
}

/// One middleware: every hook defaults to calling `next` unchanged, so a middleware
/// implements only the hooks it needs.
#[async_trait]
pub trait Middleware: Send + Sync {
    /// Its name, for logs and errors (`rate-limit`, `redact`, …).
    fn name(&self) -> &str;

    /// Every message, first.
    async fn on_message(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        next.run(cx, request).await
    }

    /// Every request (not notifications), after `on_message`.
    async fn on_request(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        next.run(cx, request).await
    }

    /// Every notification, after `on_message`.
    async fn on_notification(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        next.run(cx, request).await
    }

    /// `initialize`.
    async fn on_initialize(
        &self,
        cx: &MiddlewareContext,
        params: Box<InitializeRequestParams>,
        next: Next<'_>,
    ) -> Outcome<Box<InitializeResult>> {
        next.initialize(cx, params).await
    }

    /// `tools/call`.
    async fn on_call_tool(
        &self,
        cx: &MiddlewareContext,
        call: ToolCall,
        next: Next<'_>,
    ) -> Outcome<CallToolResult> {
        next.call_tool(cx, call).await
    }

    /// `resources/read`.
    async fn on_read_resource(
        &self,
        cx: &MiddlewareContext,
        uri: String,
        next: Next<'_>,
    ) -> Outcome<ReadResourceResult> {
        next.read_resource(cx, uri).await
    }

    /// `prompts/get`.
    async fn on_get_prompt(
        &self,
        cx: &MiddlewareContext,
        call: PromptCall,
        next: Next<'_>,
    ) -> Outcome<GetPromptResult> {
        next.get_prompt(cx, call).await
    }

    /// `completion/complete`.
    async fn on_complete(
        &self,
        cx: &MiddlewareContext,
        params: Box<CompleteRequestParams>,
        next: Next<'_>,
    ) -> Outcome<CompleteResult> {
        next.complete(cx, params).await
    }

    /// `tools/list` (the whole list).
    async fn on_list_tools(&self, cx: &MiddlewareContext, next: Next<'_>) -> Outcome<Vec<Tool>> {
        next.list_tools(cx, ()).await
    }

    /// `resources/list` (the whole list).
    async fn on_list_resources(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<Resource>> {
        next.list_resources(cx, ()).await
    }

    /// `resources/templates/list` (the whole list).
    async fn on_list_resource_templates(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<ResourceTemplate>> {
        next.list_resource_templates(cx, ()).await
    }

    /// `prompts/list` (the whole list).
    async fn on_list_prompts(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<Prompt>> {
        next.list_prompts(cx, ()).await
    }
}

/// What answers a request at the end of a chain.
pub trait Terminal: Send + Sync {
    /// Serves `request`.
    fn handle<'a>(&'a self, cx: &'a MiddlewareContext, request: Request) -> BoxFuture<'a, Outcome>;
}

/// A terminal made of a function of the request (which may run more than once: a
/// retrying middleware calls `next` again).
pub struct Answer<F>(pub F);

impl<F> Terminal for Answer<F>
where
    F: Fn(Request) -> BoxFuture<'static, Outcome> + Send + Sync,
{
    fn handle<'a>(&'a self, _: &'a MiddlewareContext, request: Request) -> BoxFuture<'a, Outcome> {
        (self.0)(request)
    }
}

/// Middlewares in order.
#[derive(Clone, Default)]
pub struct Chain {
    middlewares: Vec<Arc<dyn Middleware>>,
}

impl Chain {
    /// A chain of `middlewares`, outermost first.
    pub fn new(middlewares: Vec<Arc<dyn Middleware>>) -> Self {
        Self { middlewares }
    }

    /// Puts `middleware` outermost.
    pub fn prepend(&mut self, middleware: Arc<dyn Middleware>) {
        self.middlewares.insert(0, middleware);
    }

    /// Puts `middleware` innermost (after the configured ones, as FastMCP's
    /// `add_middleware`).
    pub fn push(&mut self, middleware: Arc<dyn Middleware>) {
        self.middlewares.push(middleware);
    }

    /// Whether the chain has no middleware.
    pub fn is_empty(&self) -> bool {
        self.middlewares.is_empty()
    }

    /// The names of its middlewares, in order.
    pub fn names(&self) -> Vec<String> {
        self.middlewares
            .iter()
            .map(|m| m.name().to_string())
            .collect()
    }

    /// Runs `request` through every middleware, then `terminal`.
    pub async fn run(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        terminal: &dyn Terminal,
    ) -> Outcome {
        if self.middlewares.is_empty() {
            return terminal.handle(cx, request).await;
        }
        let start = Next {
            chain: &self.middlewares,
            index: usize::MAX,
            stage: Stage::Done,
            terminal,
        };
        start.run(cx, request).await
    }
}

/// The server-level chain and the chains of mounts, by the mount's namespace.
#[derive(Default)]
pub struct Pipeline {
    server: RwLock<Arc<Chain>>,
    mounts: RwLock<HashMap<String, Arc<Chain>>>,
}

impl Pipeline {
    /// A pipeline running `server` around every request.
    pub fn new(server: Chain) -> Self {
        Self {
            server: RwLock::new(Arc::new(server)),
            mounts: RwLock::default(),
        }
    }

    /// The server-level chain.
    pub fn server(&self) -> Arc<Chain> {
        self.server
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the server-level chain (requests already in it finish with the old one).
    pub fn set_server(&self, chain: Chain) {
        *self.server.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(chain);
    }

    /// The chain of the mount with namespace `namespace`, if it has one.
    pub fn mount(&self, namespace: &str) -> Option<Arc<Chain>> {
        self.mounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(namespace)
            .cloned()
    }

    /// Whether any middleware runs (on the server or a mount): what a client is shown
    /// may then depend on who it is.
    pub fn is_empty(&self) -> bool {
        self.server().is_empty()
            && self
                .mounts
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
    }

    /// Attaches `chain` to the mount `namespace` (none when empty).
    pub fn set_mount(&self, namespace: &str, chain: Chain) {
        let mut mounts = self.mounts.write().unwrap_or_else(|e| e.into_inner());
        if chain.is_empty() {
            mounts.remove(namespace);
        } else {
            mounts.insert(namespace.to_string(), Arc::new(chain));
        }
    }
}
