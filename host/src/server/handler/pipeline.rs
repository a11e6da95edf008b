//! How a session's requests pass the middleware: the server-level chain to a terminal,
//! in the request's span and metered, with the request's round trips and task; and the
//! small terminals the handler's own methods end in.

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::model::{CacheScope, InputRequests, InputRequiredResult, InputResponses, ResultType};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer};
use tokio_util::sync::CancellationToken;

use super::{PierServer, Shared};
use crate::middleware::{Answer, MiddlewareContext, Outcome, Request, Response, Terminal};
use crate::server::context::Context;
use crate::server::dispatch::Dispatch;
use crate::server::rounds::Rounds;
use crate::server::subscriptions::Subscriber;
use crate::server::tasks::Start;

/// The end of a `resources/subscribe` run (a session's, or one URI of a listen
/// stream): records the subscription of `who()`.
pub(super) fn subscribing(
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

/// Marks a final result `resultType: "complete"` (2026-07-28), whoever built it: a
/// guest's result or an upstream's carries none. rmcp drops the field for peers of
/// earlier revisions.
pub(super) fn complete(result_type: &mut Option<ResultType>) {
    result_type.get_or_insert(ResultType::COMPLETE);
}

/// A terminal answering a request with `Response::Empty` after `work`.
pub(super) fn answer_empty<F>(
    work: F,
) -> Answer<impl Fn(Request) -> BoxFuture<'static, Outcome> + Send + Sync>
where
    F: Fn() -> Result<(), McpError> + Send + Sync + 'static,
{
    Answer(move |_| {
        let done = work().map(|()| Response::Empty);
        Box::pin(std::future::ready(done)) as BoxFuture<'static, Outcome>
    })
}

impl PierServer {
    /// Runs `request` through the server-level chain to `terminal`.
    pub(super) async fn pipeline(
        &self,
        request: Request,
        context: &RequestContext<RoleServer>,
        terminal: &dyn Terminal,
    ) -> Outcome {
        self.pipeline_with(request, context, terminal, None).await
    }

    /// [`PierServer::pipeline`], questions to the client answered by round trips
    /// when `rounds` is given.
    pub(super) async fn pipeline_with(
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
    pub(super) async fn pipeline_task(
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
            crate::server::context::http_client_ip(&context.extensions),
        );
        self.shared
            .pipeline
            .server()
            .run(&cx, request, terminal)
            .await
    }

    /// Runs a catalogue request through the pipeline, metered and in its span.
    pub(super) async fn catalogue(
        &self,
        request: Request,
        context: &RequestContext<RoleServer>,
    ) -> Outcome {
        self.catalogue_with(request, context, None).await
    }

    /// [`PierServer::catalogue`] with the round trips of the request, if any.
    pub(super) async fn catalogue_with(
        &self,
        request: Request,
        context: &RequestContext<RoleServer>,
        rounds: Option<Arc<Rounds>>,
    ) -> Outcome {
        self.catalogue_task(request, context, rounds, None).await
    }

    /// [`PierServer::catalogue_with`] for a call that may go on as a task.
    pub(super) async fn catalogue_task(
        &self,
        request: Request,
        context: &RequestContext<RoleServer>,
        rounds: Option<Arc<Rounds>>,
        task: Option<(Arc<Start>, CancellationToken)>,
    ) -> Outcome {
        let method = request.method();
        let component = request.component().map(str::to_string);
        let dispatch = Dispatch {
            shared: &self.shared,
        };
        self.metered(
            method,
            component.as_deref(),
            context,
            self.pipeline_task(request, context, &dispatch, rounds, task),
        )
        .await
    }

    /// The caching hints of a list result (SEP-2549) for an MCP 2026-07-28 request:
    /// fresh for `server.list-ttl-ms`; `private` when middleware runs (what a client
    /// is shown may depend on who it is), else `public`. `None` for older revisions.
    pub(super) fn cache_hints(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Option<(u64, CacheScope)> {
        if !crate::server::context::is_modern(context) {
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
    pub(super) fn rounds(
        &self,
        context: &RequestContext<RoleServer>,
        binding: &[u8],
        state: Option<&str>,
        responses: Option<InputResponses>,
    ) -> Result<Option<Arc<Rounds>>, McpError> {
        if !crate::server::context::is_modern(context) {
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
    pub(super) fn input_required(
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
    pub(super) async fn subscription(
        &self,
        request: Request,
        context: &RequestContext<RoleServer>,
        end: &(dyn Terminal + Sync),
    ) -> Result<(), McpError> {
        let method = request.method();
        let component = request.component().map(str::to_string);
        let terminal = crate::server::dispatch::SubscriptionEnd {
            shared: &self.shared,
            end,
        };
        self.metered(
            method,
            component.as_deref(),
            context,
            self.pipeline(request, context, &terminal),
        )
        .await
        .map(drop)
    }

    /// Runs a client notification through the pipeline, then `terminal`.
    pub(super) async fn notification(
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
            crate::server::context::http_client_ip(&context.extensions),
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

/// What a 2026-07-28 `requestState` of this request is bound to
/// ([`rounds::binding`]: with the verified subject, so that another subject cannot
/// replay it); nothing for a request of an earlier revision, which has no round trips
/// (so its arguments are neither serialised nor hashed).
pub(super) fn binding(
    context: &RequestContext<RoleServer>,
    method: &str,
    target: &str,
    arguments: &impl serde::Serialize,
) -> Vec<u8> {
    if crate::server::context::is_modern(context) {
        crate::server::rounds::binding(method, target, arguments, super::subject_of(context))
    } else {
        Vec::new()
    }
}
