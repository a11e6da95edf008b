//! The end of the server-level middleware chain: finds the mount serving a request in
//! the catalogue and runs the mount's own chain around the call into it
//! ([`super::call`]); assembles lists, each mount's items through its own chain.

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::ErrorData as McpError;
use rmcp::model::*;

use super::call::MountCall;
use super::context::Context;
use super::handler::Shared;
use crate::error::not_served;
use crate::middleware::{
    MiddlewareContext, Outcome, PromptCall, Request, Response, Terminal, ToolCall, mismatched,
};
use crate::registry::{Catalogue, Mount};
use crate::runtime::types::CompletionRef;

/// Serves catalogue requests (calls, reads, prompts, completions, lists) after the
/// server-level chain.
pub struct Dispatch<'a> {
    /// What the server's sessions share.
    pub shared: &'a Shared,
}

impl Terminal for Dispatch<'_> {
    fn handle<'a>(&'a self, cx: &'a MiddlewareContext, request: Request) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            match request {
                Request::CallTool(call) => self.call_tool(cx, call).await,
                Request::ReadResource(uri) => self.read_resource(cx, uri).await,
                Request::GetPrompt(call) => self.get_prompt(cx, call).await,
                Request::Complete(params) => self.complete(cx, *params).await,
                Request::ListTools => Ok(Response::Tools(
                    self.list(cx, Request::ListTools, tools).await?,
                )),
                Request::ListResources => Ok(Response::Resources(
                    self.list(cx, Request::ListResources, resources).await?,
                )),
                Request::ListResourceTemplates => Ok(Response::ResourceTemplates(
                    self.list(cx, Request::ListResourceTemplates, templates)
                        .await?,
                )),
                Request::ListPrompts => Ok(Response::Prompts(
                    self.list(cx, Request::ListPrompts, prompts).await?,
                )),
                other => Err(McpError::internal_error(
                    format!("{} is not served by the catalogue", other.method()),
                    None,
                )),
            }
        })
    }
}

/// The serving mount's chain around `request`, then the mount itself ([`MountCall`]),
/// counted as in flight.
async fn through_mount(
    shared: &Shared,
    cx: &MiddlewareContext,
    mount: &Arc<Mount>,
    request: Request,
) -> Outcome {
    let _serving = shared.in_flight.start();
    let cx = cx.on(mount);
    let terminal = MountCall { shared };
    use crate::telemetry::trace;
    let span = trace::mount(&mount.namespace);
    let content = trace::records_content(&mount.namespace);
    if content && let Request::CallTool(call) = &request {
        trace::record_content(&span, "gen_ai.tool.call.arguments", &call.arguments);
    }
    let feed = shared.metrics.feed();
    let target =
        (feed.listeners() > 0).then(|| request.component().unwrap_or_default().to_string());
    let started = std::time::Instant::now();
    let outcome = trace::within(span.clone(), async {
        match shared.pipeline.mount(&mount.namespace) {
            Some(chain) => chain.run(&cx, request, &terminal).await,
            None => terminal.handle(&cx, request).await,
        }
    })
    .await;
    if content && let Ok(Response::CallTool(result)) = &outcome {
        trace::record_content(&span, "gen_ai.tool.call.result", result);
    }
    let label = match &outcome {
        Ok(Response::CallTool(result)) if result.is_error == Some(true) => "tool_error",
        Ok(_) => "ok",
        Err(_) => "error",
    };
    let elapsed = started.elapsed();
    shared
        .metrics
        .mount_call(&mount.namespace, label, elapsed.as_secs_f64());
    // A plugin that may reuse instances says which it used; any other makes a new one.
    let instance = cx
        .request()
        .take_instance()
        .or_else(|| mount.wasm().map(|_| "new"));
    if let Some(target) = target {
        use crate::telemetry::feed::{Event, clipped};
        feed.publish(|| Event::Call {
            method: cx.method(),
            target: clipped(&target),
            mount: mount.namespace.clone(),
            subject: cx.subject().map(clipped),
            ms: elapsed.as_secs_f64() * 1000.0,
            outcome: label,
            instance,
            error: match &outcome {
                Err(e) => Some(clipped(&e.message)),
                Ok(Response::CallTool(result)) if result.is_error == Some(true) => result
                    .content
                    .iter()
                    .find_map(|c| c.as_text().map(|t| clipped(&t.text))),
                _ => None,
            },
        });
    }
    outcome
}

/// The items of one kind of list, each with the mount serving it.
type Items<T> = Vec<(Arc<Mount>, T)>;

/// Lists of one kind: per item, the mount serving it.
fn tools(cat: &Catalogue) -> Items<Tool> {
    let items = cat.tools.items().iter();
    items.map(|t| (t.mount.clone(), t.tool.clone())).collect()
}

fn resources(cat: &Catalogue) -> Items<Resource> {
    let items = cat.resources.items().iter();
    items
        .map(|r| (r.mount.clone(), r.resource.clone()))
        .collect()
}

fn templates(cat: &Catalogue) -> Items<ResourceTemplate> {
    let items = cat.templates.items().iter();
    items
        .map(|t| (t.mount.clone(), t.template.clone()))
        .collect()
}

fn prompts(cat: &Catalogue) -> Items<Prompt> {
    let items = cat.prompts.items().iter();
    items.map(|p| (p.mount.clone(), p.prompt.clone())).collect()
}

/// A list response's items of type `T`.
trait Listed: Sized + Send + 'static {
    fn from_response(response: Response) -> Option<Vec<Self>>;
    fn into_response(items: Vec<Self>) -> Response;
}

macro_rules! listed {
    ($t:ty, $variant:ident) => {
        impl Listed for $t {
            fn from_response(response: Response) -> Option<Vec<Self>> {
                match response {
                    Response::$variant(items) => Some(items),
                    _ => None,
                }
            }
            fn into_response(items: Vec<Self>) -> Response {
                Response::$variant(items)
            }
        }
    };
}
listed!(Tool, Tools);
listed!(Resource, Resources);
listed!(ResourceTemplate, ResourceTemplates);
listed!(Prompt, Prompts);

/// Answers a list request of one mount with the items it serves.
struct MountItems<T> {
    items: Vec<T>,
}

impl<T: Listed + Clone + Sync> Terminal for MountItems<T> {
    fn handle<'a>(&'a self, _: &'a MiddlewareContext, _: Request) -> BoxFuture<'a, Outcome> {
        Box::pin(async move { Ok(T::into_response(self.items.clone())) })
    }
}

impl Dispatch<'_> {
    /// The whole list of one kind, in catalogue order; the items of a mount with a
    /// chain of its own are what that chain made of them, in the place of the mount's
    /// first item.
    async fn list<T: Listed + Clone + Sync>(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        all: fn(&Catalogue) -> Items<T>,
    ) -> Result<Vec<T>, McpError> {
        let entries = all(cx.catalogue());
        let mut out = Vec::with_capacity(entries.len());
        let mut done: Vec<usize> = Vec::new();
        for (mount, item) in &entries {
            let Some(chain) = self.shared.pipeline.mount(&mount.namespace) else {
                out.push(item.clone());
                continue;
            };
            if done.contains(&(Arc::as_ptr(mount) as usize)) {
                continue;
            }
            done.push(Arc::as_ptr(mount) as usize);
            let terminal = MountItems {
                items: entries
                    .iter()
                    .filter(|(m, _)| Arc::ptr_eq(m, mount))
                    .map(|(_, item)| item.clone())
                    .collect(),
            };
            let response = chain.run(&cx.on(mount), request.clone(), &terminal).await?;
            let items = T::from_response(response).ok_or_else(|| mismatched(request.method()))?;
            out.extend(items);
        }
        Ok(out)
    }

    async fn call_tool(&self, cx: &MiddlewareContext, call: ToolCall) -> Outcome {
        let name = call.name.as_str();
        let entry = cx
            .catalogue()
            .tools
            .get(name)
            .ok_or_else(|| not_served::tool(name))?;
        let mount = entry.mount.clone();
        through_mount(self.shared, cx, &mount, Request::CallTool(call)).await
    }

    async fn read_resource(&self, cx: &MiddlewareContext, uri: String) -> Outcome {
        let mount = cx
            .resource(&uri)
            .map(|r| r.mount.clone())
            .ok_or_else(|| not_served::resource(&uri))?;
        through_mount(self.shared, cx, &mount, Request::ReadResource(uri)).await
    }

    async fn get_prompt(&self, cx: &MiddlewareContext, call: PromptCall) -> Outcome {
        let name = call.name.as_str();
        let mount = cx
            .catalogue()
            .prompts
            .get(name)
            .map(|p| p.mount.clone())
            .ok_or_else(|| not_served::prompt(name))?;
        through_mount(self.shared, cx, &mount, Request::GetPrompt(call)).await
    }

    async fn complete(&self, cx: &MiddlewareContext, params: CompleteRequestParams) -> Outcome {
        let mount = completion_target(cx.catalogue(), &params.r#ref)?.0;
        let request = Request::Complete(Box::new(params));
        through_mount(self.shared, cx, &mount, request).await
    }
}

/// A read or prompt a plugin asks for through the host (`context.read-resource`,
/// `context.get-prompt`): the server-level chain, the serving mount's chain and the
/// mount, as for a client's request, so that what is hidden from clients is hidden
/// here too. The context is marked nested (a rate limit does not count it again).
async fn nested(shared: &Shared, context: Arc<Context>, request: Request) -> Outcome {
    let cx = MiddlewareContext::new(request.method(), context, shared.registry.snapshot(), None)
        .nested();
    let span = crate::telemetry::trace::nested(request.method());
    crate::telemetry::trace::within(
        span,
        shared
            .pipeline
            .server()
            .run(&cx, request, &Dispatch { shared }),
    )
    .await
}

/// A read through the host by a plugin (`context.read-resource`); see [`nested`].
pub async fn nested_read(
    shared: &Shared,
    context: Arc<Context>,
    uri: String,
) -> Result<ReadResourceResult, McpError> {
    shared.check_uri(&uri)?;
    match nested(shared, context, Request::ReadResource(uri)).await? {
        Response::ReadResource(result) => Ok(result),
        _ => Err(mismatched("resources/read")),
    }
}

/// A prompt rendered through the host by a plugin (`context.get-prompt`); see
/// [`nested`].
pub async fn nested_prompt(
    shared: &Shared,
    context: Arc<Context>,
    call: PromptCall,
) -> Result<GetPromptResult, McpError> {
    match nested(shared, context, Request::GetPrompt(call)).await? {
        Response::GetPrompt(result) => Ok(result),
        _ => Err(mismatched("prompts/get")),
    }
}

/// Ends the server-level chain of `resources/subscribe` and `resources/unsubscribe`:
/// the chain of the mount serving the URI (its visibility applies), then `end`, which
/// records the subscription. A subscription to a URI nothing serves is refused; an
/// unsubscription always reaches `end` (the resource may be gone).
pub struct SubscriptionEnd<'a> {
    /// What the server's sessions share.
    pub shared: &'a Shared,
    /// Records the (un)subscription.
    pub end: &'a (dyn Terminal + Sync),
}

impl Terminal for SubscriptionEnd<'_> {
    fn handle<'a>(&'a self, cx: &'a MiddlewareContext, request: Request) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let (Request::Subscribe(uri) | Request::Unsubscribe(uri)) = &request else {
                return self.end.handle(cx, request).await;
            };
            let Some(mount) = cx.resource(uri).map(|r| r.mount.clone()) else {
                if matches!(request, Request::Subscribe(_)) {
                    return Err(not_served::resource(uri));
                }
                return self.end.handle(cx, request).await;
            };
            let cx = cx.on(&mount);
            match self.shared.pipeline.mount(&mount.namespace) {
                Some(chain) => chain.run(&cx, request, self.end).await,
                None => self.end.handle(&cx, request).await,
            }
        })
    }
}

/// The mount a completion reference points at, and the reference as the mount knows it.
pub(super) fn completion_target(
    cat: &Catalogue,
    reference: &Reference,
) -> Result<(Arc<Mount>, CompletionRef), McpError> {
    match reference {
        Reference::Prompt(p) => {
            let entry = cat
                .prompts
                .get(&p.name)
                .ok_or_else(|| not_served::prompt(&p.name))?;
            Ok((
                entry.mount.clone(),
                CompletionRef::Prompt(entry.local_name.clone()),
            ))
        }
        Reference::Resource(r) => {
            let entry = cat
                .templates
                .get(&r.uri)
                .ok_or_else(|| not_served::template(&r.uri))?;
            Ok((
                entry.mount.clone(),
                CompletionRef::ResourceTemplate(entry.local_template.clone()),
            ))
        }
        _ => Err(McpError::invalid_params(
            "unsupported completion reference",
            None,
        )),
    }
}
