//! The end of the server-level middleware chain: finds the mount serving a request in
//! the catalogue, runs the mount's own chain, and calls the mount (a plugin or a
//! proxied server).

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::ErrorData as McpError;
use rmcp::model::*;
use serde_json::Value;

use super::context::Context;
use super::convert;
use super::forward;
use super::handler::Shared;
use crate::middleware::{
    MiddlewareContext, Outcome, PromptCall, Request, Response, Terminal, ToolCall,
};
use crate::registry::manifest::schema_errors;
use crate::registry::{Backend, Catalogue, Mount, ToolEntry};
use crate::runtime::CallError;
use crate::runtime::types::{CompletionRef, Error as GuestError};

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

/// The serving mount's chain around `request`, then the mount itself (`mount_call`).
async fn through_mount<'a>(
    shared: &Shared,
    cx: &MiddlewareContext,
    mount: &Arc<Mount>,
    request: Request,
    terminal: &(dyn Terminal + 'a),
) -> Outcome {
    let cx = cx.on(mount);
    match shared.pipeline.mount(&mount.namespace) {
        Some(chain) => chain.run(&cx, request, terminal).await,
        None => terminal.handle(&cx, request).await,
    }
}

/// Calls the mount of `cx` (set by [`through_mount`]) for the request.
struct MountCall<'a> {
    shared: &'a Shared,
}

impl Terminal for MountCall<'_> {
    fn handle<'a>(&'a self, cx: &'a MiddlewareContext, request: Request) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let Some(mount) = cx.mount().cloned() else {
                return Err(McpError::internal_error("no mount serves this call", None));
            };
            let context = cx.request().on(&mount);
            let response = match request {
                Request::CallTool(call) => {
                    call_tool(self.shared, cx, &mount, context.clone(), call)
                        .await
                        .map(Response::CallTool)
                }
                Request::ReadResource(uri) => read(cx, &mount, context.clone(), &uri)
                    .await
                    .map(Response::ReadResource),
                Request::GetPrompt(call) => prompt(cx, &mount, context.clone(), call)
                    .await
                    .map(Response::GetPrompt),
                Request::Complete(params) => complete(cx, &mount, context.clone(), *params)
                    .await
                    .map(Response::Complete),
                other => Err(McpError::internal_error(
                    format!("{} is not served by a mount", other.method()),
                    None,
                )),
            };
            if context.take_transient() {
                cx.set_transient();
            }
            response
        })
    }
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
            let items = T::from_response(response).ok_or_else(|| {
                McpError::internal_error(
                    format!(
                        "a middleware of mount `{}` answered {} with the result of another operation",
                        mount.namespace,
                        request.method()
                    ),
                    None,
                )
            })?;
            out.extend(items);
        }
        Ok(out)
    }

    async fn call_tool(&self, cx: &MiddlewareContext, call: ToolCall) -> Outcome {
        let _serving = self.shared.in_flight.start();
        let name = call.name.as_str();
        let entry = cx
            .catalogue()
            .tools
            .get(name)
            .ok_or_else(|| McpError::invalid_params(format!("unknown tool `{name}`"), None))?;
        let mount = entry.mount.clone();
        let terminal = MountCall {
            shared: self.shared,
        };
        through_mount(self.shared, cx, &mount, Request::CallTool(call), &terminal).await
    }

    async fn read_resource(&self, cx: &MiddlewareContext, uri: String) -> Outcome {
        let _serving = self.shared.in_flight.start();
        let mount = cx
            .catalogue()
            .resolve_resource(&uri)
            .map(|(mount, _)| mount.clone())
            .ok_or_else(|| resource_not_found(&uri))?;
        let terminal = MountCall {
            shared: self.shared,
        };
        through_mount(
            self.shared,
            cx,
            &mount,
            Request::ReadResource(uri),
            &terminal,
        )
        .await
    }

    async fn get_prompt(&self, cx: &MiddlewareContext, call: PromptCall) -> Outcome {
        let _serving = self.shared.in_flight.start();
        let name = call.name.as_str();
        let mount = cx
            .catalogue()
            .prompts
            .get(name)
            .map(|p| p.mount.clone())
            .ok_or_else(|| McpError::invalid_params(format!("unknown prompt `{name}`"), None))?;
        let terminal = MountCall {
            shared: self.shared,
        };
        through_mount(self.shared, cx, &mount, Request::GetPrompt(call), &terminal).await
    }

    async fn complete(&self, cx: &MiddlewareContext, params: CompleteRequestParams) -> Outcome {
        let _serving = self.shared.in_flight.start();
        let mount = completion_target(cx.catalogue(), &params.r#ref)?.0;
        let terminal = MountCall {
            shared: self.shared,
        };
        let request = Request::Complete(Box::new(params));
        through_mount(self.shared, cx, &mount, request, &terminal).await
    }
}

/// A read through the host by a plugin (`context.read-resource`): the serving mount's
/// chain and the mount, without the server-level chain (the client's request already
/// passed it).
pub async fn nested_read(
    shared: &Shared,
    context: Arc<Context>,
    uri: String,
) -> Result<ReadResourceResult, McpError> {
    let cx = MiddlewareContext::new("resources/read", context, shared.registry.snapshot(), None);
    let response = Dispatch { shared }.read_resource(&cx, uri).await?;
    match response {
        Response::ReadResource(result) => Ok(result),
        _ => Err(McpError::internal_error(
            "a middleware answered resources/read with the result of another operation",
            None,
        )),
    }
}

/// A prompt rendered through the host by a plugin (`context.get-prompt`), like
/// [`nested_read`].
pub async fn nested_prompt(
    shared: &Shared,
    context: Arc<Context>,
    call: PromptCall,
) -> Result<GetPromptResult, McpError> {
    let cx = MiddlewareContext::new("prompts/get", context, shared.registry.snapshot(), None);
    let response = Dispatch { shared }.get_prompt(&cx, call).await?;
    match response {
        Response::GetPrompt(result) => Ok(result),
        _ => Err(McpError::internal_error(
            "a middleware answered prompts/get with the result of another operation",
            None,
        )),
    }
}

fn resource_not_found(uri: &str) -> McpError {
    McpError::resource_not_found(
        format!("resource not found: {uri}"),
        Some(serde_json::json!({ "uri": uri })),
    )
}

/// The mount a completion reference points at, and the reference as the mount knows it.
fn completion_target(
    cat: &Catalogue,
    reference: &Reference,
) -> Result<(Arc<Mount>, CompletionRef), McpError> {
    match reference {
        Reference::Prompt(p) => {
            let entry = cat.prompts.get(&p.name).ok_or_else(|| {
                McpError::invalid_params(format!("unknown prompt `{}`", p.name), None)
            })?;
            Ok((
                entry.mount.clone(),
                CompletionRef::Prompt(entry.local_name.clone()),
            ))
        }
        Reference::Resource(r) => {
            let entry = cat.templates.get(&r.uri).ok_or_else(|| {
                McpError::invalid_params(format!("unknown resource template `{}`", r.uri), None)
            })?;
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

/// A guest error or failure of a resource read / prompt / completion, as a protocol error.
fn protocol_error(error: CallError, not_found: impl FnOnce(String) -> McpError) -> McpError {
    match error {
        CallError::Guest(GuestError::InvalidParams(m)) => McpError::invalid_params(m, None),
        CallError::Guest(GuestError::NotFound(m)) => not_found(m),
        other => McpError::internal_error(other.to_string(), None),
    }
}

fn invalid_result(e: convert::ConvertError) -> McpError {
    McpError::internal_error(e.to_string(), None)
}

/// A successful result of a tool with an output schema must carry matching structured
/// content (MCP requires it); anything else becomes a tool error saying why.
fn check_structured(
    entry: &ToolEntry,
    result: CallToolResult,
) -> Result<CallToolResult, convert::ConvertError> {
    let Some(validator) = &entry.output_validator else {
        return Ok(result);
    };
    if result.is_error == Some(true) {
        return Ok(result);
    }
    let Some(structured) = &result.structured_content else {
        return Err(convert::ConvertError::new(
            "no structured content, but the tool declares an output schema",
        ));
    };
    match schema_errors(validator, structured) {
        Some(errors) => Err(convert::ConvertError::new(format!(
            "structured content does not match the output schema: {errors}"
        ))),
        None => Ok(result),
    }
}

/// What a tool call came to: a result and its metrics label, or a protocol error and
/// its label.
pub(super) type Called = Result<(CallToolResult, &'static str), (McpError, &'static str)>;

/// Checks the arguments of `call` and calls its tool on `mount`; records the outcome
/// in the metrics and in `cx`.
async fn call_tool(
    shared: &Shared,
    cx: &MiddlewareContext,
    mount: &Arc<Mount>,
    context: Arc<Context>,
    call: ToolCall,
) -> Result<CallToolResult, McpError> {
    let name = call.name.as_str();
    // The mount's chain may have renamed the call: look it up again, on this mount.
    let entry = cx
        .catalogue()
        .tools
        .get(name)
        .filter(|e| Arc::ptr_eq(&e.mount, mount))
        .ok_or_else(|| McpError::invalid_params(format!("unknown tool `{name}`"), None))?;
    let arguments = Value::Object(call.arguments);
    if let Some(validator) = &entry.validator
        && let Some(errors) = schema_errors(validator, &arguments)
    {
        shared.metrics.tool_call(name, "invalid_arguments", 0.0);
        cx.set_outcome("invalid_arguments");
        return Err(McpError::invalid_params(
            format!("invalid arguments for tool `{name}`: {errors}"),
            None,
        ));
    }
    let started = std::time::Instant::now();
    let outcome = match &mount.backend {
        Backend::Plugin { plugin, .. } => {
            call_plugin(entry, plugin, context.clone(), arguments).await
        }
        Backend::Proxy(proxy) => forward::call_tool(proxy, entry, context.clone(), arguments).await,
    };
    let seconds = started.elapsed().as_secs_f64();
    let (label, result) = match outcome {
        Ok((result, label)) => (label, Ok(result)),
        Err((error, label)) => (label, Err(error)),
    };
    shared.metrics.tool_call(name, label, seconds);
    cx.set_outcome(label);
    result
}

/// Calls the tool of `entry` in `plugin`.
async fn call_plugin(
    entry: &ToolEntry,
    plugin: &crate::runtime::Plugin,
    context: Arc<Context>,
    arguments: Value,
) -> Called {
    let outcome = plugin
        .call_tool(context, &entry.local_name, arguments.to_string())
        .await;
    Ok(match outcome {
        Ok(result) => {
            match convert::tool_result(&entry.mount.namespace, &result)
                .and_then(|r| check_structured(entry, r))
            {
                Ok(r) if r.is_error == Some(true) => (r, "tool_error"),
                Ok(r) => (r, "ok"),
                Err(e) => (convert::tool_error(&e.to_string()), "invalid_result"),
            }
        }
        Err(CallError::Guest(GuestError::InvalidParams(m) | GuestError::NotFound(m))) => {
            return Err((McpError::invalid_params(m, None), "invalid_params"));
        }
        Err(error) => {
            tracing::warn!(
                plugin = plugin.name(),
                tool = entry.tool.name.as_ref() as &str,
                "tool call failed: {error}"
            );
            let label = match &error {
                CallError::Timeout { .. } => "timeout",
                CallError::OutOfMemory { .. } => "out_of_memory",
                CallError::Trap { .. } => "trap",
                CallError::Cancelled { .. } => "cancelled",
                CallError::Guest(_) => "tool_error",
            };
            (convert::tool_error(&error.to_string()), label)
        }
    })
}

/// Reads `uri` (namespaced) from `mount`.
async fn read(
    cx: &MiddlewareContext,
    mount: &Arc<Mount>,
    context: Arc<Context>,
    uri: &str,
) -> Result<ReadResourceResult, McpError> {
    let local = cx
        .catalogue()
        .resolve_resource(uri)
        .filter(|(m, _)| Arc::ptr_eq(m, mount))
        .map(|(_, local)| local)
        .ok_or_else(|| resource_not_found(uri))?;
    let not_found =
        |m: String| McpError::resource_not_found(m, Some(serde_json::json!({ "uri": uri })));
    let plugin = match &mount.backend {
        Backend::Plugin { plugin, .. } => plugin,
        Backend::Proxy(proxy) => {
            return forward::read_resource(proxy, mount, context, local).await;
        }
    };
    let contents = plugin
        .read_resource(context, &local)
        .await
        .map_err(|e| protocol_error(e, not_found))?;
    convert::read_result(&mount.namespace, &contents).map_err(invalid_result)
}

/// Renders prompt `call` on `mount`, checking its arguments.
async fn prompt(
    cx: &MiddlewareContext,
    mount: &Arc<Mount>,
    context: Arc<Context>,
    call: PromptCall,
) -> Result<GetPromptResult, McpError> {
    let name = call.name.as_str();
    let entry = cx
        .catalogue()
        .prompts
        .get(name)
        .filter(|p| Arc::ptr_eq(&p.mount, mount))
        .ok_or_else(|| McpError::invalid_params(format!("unknown prompt `{name}`"), None))?;
    let mut strings = Vec::new();
    for (key, value) in call.arguments {
        match value {
            Value::String(s) => strings.push((key, s)),
            other => {
                return Err(McpError::invalid_params(
                    format!("argument `{key}` of prompt `{name}` must be a string, got {other}"),
                    None,
                ));
            }
        }
    }
    for arg in entry.prompt.arguments.iter().flatten() {
        if arg.required == Some(true) && !strings.iter().any(|(k, _)| *k == arg.name) {
            return Err(McpError::invalid_params(
                format!(
                    "missing required argument `{}` of prompt `{name}`",
                    arg.name
                ),
                None,
            ));
        }
    }
    let plugin = match &mount.backend {
        Backend::Plugin { plugin, .. } => plugin,
        Backend::Proxy(proxy) => {
            return forward::get_prompt(proxy, entry, context, strings).await;
        }
    };
    let result = plugin
        .get_prompt(context, &entry.local_name, &strings)
        .await
        .map_err(|e| protocol_error(e, |m| McpError::invalid_params(m, None)))?;
    convert::prompt_result(&mount.namespace, &result).map_err(invalid_result)
}

/// Completes an argument of a prompt or resource template of `mount`.
async fn complete(
    cx: &MiddlewareContext,
    mount: &Arc<Mount>,
    context: Arc<Context>,
    request: CompleteRequestParams,
) -> Result<CompleteResult, McpError> {
    let (target, reference) = completion_target(cx.catalogue(), &request.r#ref)?;
    if !Arc::ptr_eq(&target, mount) {
        return Err(McpError::invalid_params(
            "the completion reference moved to another mount",
            None,
        ));
    }
    let plugin = match &mount.backend {
        Backend::Plugin { plugin, .. } => plugin,
        Backend::Proxy(proxy) => {
            return forward::complete(proxy, &reference, request, context).await;
        }
    };
    let mut values = plugin
        .complete(
            context,
            &reference,
            &request.argument.name,
            &request.argument.value,
        )
        .await
        .map_err(|e| protocol_error(e, |m| McpError::invalid_params(m, None)))?;
    values.truncate(CompletionInfo::MAX_VALUES);
    let info = CompletionInfo::new(values).map_err(|e| McpError::internal_error(e, None))?;
    Ok(CompleteResult::new(info))
}
