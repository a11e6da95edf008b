//! The end of a mount's middleware chain: the call into the mount itself — a plugin
//! instance or a proxied server — with the checks the protocol asks for (arguments
//! against the input schema, structured results against the output schema, required
//! prompt arguments) and the tool call's outcome in the metrics.

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::ErrorData as McpError;
use rmcp::model::*;
use serde_json::Value;

use super::context::Context;
use super::convert;
use super::dispatch::completion_target;
use super::forward;
use super::handler::Shared;
use crate::error::not_served;
use crate::middleware::{
    MiddlewareContext, Outcome, PromptCall, Request, Response, Terminal, ToolCall,
};
use crate::registry::manifest::schema_errors;
use crate::registry::{Backend, Mount, ToolEntry};
use crate::runtime::CallError;
use crate::runtime::types::Error as GuestError;

/// Calls the mount of `cx` (set by the dispatch, after the mount's chain) for the request.
pub(super) struct MountCall<'a> {
    /// What the server's sessions share.
    pub(super) shared: &'a Shared,
}

impl Terminal for MountCall<'_> {
    fn handle<'a>(&'a self, cx: &'a MiddlewareContext, request: Request) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let Some(mount) = cx.mount().cloned() else {
                return Err(McpError::internal_error("no mount serves this call", None));
            };
            // What the authorization gate let in may have been retargeted since.
            if let Some(gate) = &self.shared.gate
                && let Some(refused) = crate::middleware::gate::refusal(gate.as_ref(), cx, &request)
            {
                self.shared
                    .metrics
                    .auth_refused("rule", Some(&refused.message));
                return Err(refused);
            }
            let context = cx.request().on(&mount);
            let what = match &request {
                Request::CallTool(call) => format!("tool `{}`", call.name),
                Request::ReadResource(uri) => format!("resource `{}`", crate::text::clip(uri)),
                Request::GetPrompt(call) => format!("prompt `{}`", call.name),
                other => other.method().to_string(),
            };
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
            // Questions left for the client end the call, whatever it answered.
            if let Some(questions) = context.take_questions() {
                return Ok(Response::InputRequired(questions));
            }
            // A request that failed after asking what its client cannot answer needed
            // that capability (MCP 2026-07-28: -32021).
            let failed = match &response {
                Ok(Response::CallTool(result)) => result.is_error == Some(true),
                Ok(_) => false,
                Err(_) => true,
            };
            if failed && let Some(error) = context.missing_capabilities(&what) {
                return Err(error);
            }
            response
        })
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
        .ok_or_else(|| not_served::tool(name))?;
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
    // Checked against the schema clients see; the tool gets its own names and values.
    let arguments = match arguments {
        Value::Object(given) => Value::Object(entry.own_arguments(given)),
        other => other,
    };
    let started = std::time::Instant::now();
    let outcome = match &mount.backend {
        Backend::Plugin { plugin, .. } => {
            call_plugin(entry, plugin, context.clone(), arguments).await
        }
        Backend::Proxy(proxy) => forward::call_tool(proxy, entry, context.clone(), arguments).await,
        Backend::Api(api) => {
            let arguments = match arguments {
                Value::Object(map) => map,
                _ => Default::default(),
            };
            let result = api.call(&entry.local_name, arguments).await;
            let label = if result.is_error == Some(true) {
                "tool_error"
            } else {
                "ok"
            };
            Ok((result, label))
        }
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
        .call_tool(context.clone(), &entry.local_name, arguments.to_string())
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
            use crate::runtime::CallContext;
            // A call stopped for the client's input is not a failure (its round trip
            // answers it).
            let waiting = context.suspended();
            if !waiting {
                tracing::warn!(
                    plugin = plugin.name(),
                    tool = entry.tool.name.as_ref() as &str,
                    "tool call failed: {error}"
                );
            }
            if !waiting
                && matches!(
                    error,
                    CallError::Timeout { .. }
                        | CallError::OutOfMemory { .. }
                        | CallError::Trap { .. }
                )
            {
                context.note_crash(error.to_string());
            }
            let label = match &error {
                _ if waiting => "input_required",
                CallError::Guest(_) => "tool_error",
                other => other.kind(),
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
        .resource(uri)
        .filter(|r| Arc::ptr_eq(&r.mount, mount))
        .map(|r| r.local.clone())
        .ok_or_else(|| not_served::resource(uri))?;
    let not_found =
        |m: String| McpError::resource_not_found(m, Some(serde_json::json!({ "uri": uri })));
    let plugin = match &mount.backend {
        Backend::Plugin { plugin, .. } => plugin,
        Backend::Proxy(proxy) => {
            return forward::read_resource(proxy, mount, context, local).await;
        }
        Backend::Api(_) => return Err(not_served::resource(uri)),
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
        .ok_or_else(|| not_served::prompt(name))?;
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
        Backend::Api(_) => return Err(not_served::prompt(name)),
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
        Backend::Api(_) => {
            return Err(McpError::invalid_params(
                "a REST API mount completes nothing",
                None,
            ));
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
