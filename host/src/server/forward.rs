//! Requests for a proxied mount: sent to the other MCP server under the mount's own
//! names, with the namespace put back on every URI of the result.

use std::sync::Arc;

use rmcp::ErrorData as McpError;
use rmcp::model::*;
use serde_json::Value;

use super::call::Called;
use super::context::Context;
use crate::registry::proxy::Proxy;
use crate::registry::{Mount, PromptEntry, ToolEntry, namespace};
use crate::runtime::types::CompletionRef;

/// `value` (an MCP result) with `ns` put on the URIs of its content items and resource
/// contents.
fn namespaced<T: serde::Serialize + serde::de::DeserializeOwned>(
    ns: &str,
    result: T,
) -> Result<T, McpError> {
    if ns.is_empty() {
        return Ok(result);
    }
    let invalid = |e: serde_json::Error| {
        McpError::internal_error(format!("invalid result from the mounted server: {e}"), None)
    };
    let mut value = serde_json::to_value(result).map_err(invalid)?;
    fn rewrite(ns: &str, uri: &mut Value) {
        if let Some(text) = uri.as_str() {
            *uri = Value::String(namespace::uri(ns, text));
        }
    }
    fn content(ns: &str, item: &mut Value) {
        match item.get("type").and_then(Value::as_str) {
            Some("resource") => {
                if let Some(uri) = item.pointer_mut("/resource/uri") {
                    rewrite(ns, uri);
                }
            }
            Some("resource_link") => {
                if let Some(uri) = item.get_mut("uri") {
                    rewrite(ns, uri);
                }
            }
            _ => {}
        }
    }
    if let Some(items) = value.get_mut("content").and_then(Value::as_array_mut) {
        items.iter_mut().for_each(|item| content(ns, item));
    }
    if let Some(items) = value.get_mut("contents").and_then(Value::as_array_mut) {
        for item in items {
            if let Some(uri) = item.get_mut("uri") {
                rewrite(ns, uri);
            }
        }
    }
    if let Some(messages) = value.get_mut("messages").and_then(Value::as_array_mut) {
        for message in messages {
            if let Some(item) = message.get_mut("content") {
                content(ns, item);
            }
        }
    }
    serde_json::from_value(value).map_err(invalid)
}

fn unexpected(proxy: &Proxy, what: &str) -> McpError {
    McpError::internal_error(
        format!(
            "mount `{}` answered {what} with something that is not a {what} result",
            proxy.label()
        ),
        None,
    )
}

/// `tools/call` of `entry` on the mounted server.
pub(super) async fn call_tool(
    proxy: &Proxy,
    entry: &ToolEntry,
    context: Arc<Context>,
    arguments: Value,
) -> Called {
    let mut params = CallToolRequestParams::new(entry.local_name.clone());
    if let Value::Object(map) = arguments {
        params = params.with_arguments(map);
    }
    let request = ClientRequest::CallToolRequest(Request::new(params));
    match proxy.forward(context.clone(), request).await {
        Ok(ServerResult::CallToolResult(result)) => {
            let result =
                namespaced(&entry.mount.namespace, result).map_err(|e| (e, "invalid_result"))?;
            let label = if result.is_error == Some(true) {
                "tool_error"
            } else {
                "ok"
            };
            Ok((result, label))
        }
        Ok(_) => Err((unexpected(proxy, "tools/call"), "invalid_result")),
        // Stopped for the client's input: its round trip answers it.
        Err(e) if crate::runtime::CallContext::suspended(&*context) => Err((e, "input_required")),
        Err(e) if e.code == ErrorCode::INVALID_PARAMS => Err((e, "invalid_params")),
        Err(e) => Err((e, "error")),
    }
}

/// `resources/read` of `uri` (the mount's own URI) on the mounted server.
pub(super) async fn read_resource(
    proxy: &Proxy,
    mount: &Mount,
    context: Arc<Context>,
    uri: String,
) -> Result<ReadResourceResult, McpError> {
    let request =
        ClientRequest::ReadResourceRequest(Request::new(ReadResourceRequestParams::new(uri)));
    match proxy.forward(context, request).await? {
        ServerResult::ReadResourceResult(result) => namespaced(&mount.namespace, result),
        _ => Err(unexpected(proxy, "resources/read")),
    }
}

/// `prompts/get` of `entry` on the mounted server.
pub(super) async fn get_prompt(
    proxy: &Proxy,
    entry: &PromptEntry,
    context: Arc<Context>,
    arguments: Vec<(String, String)>,
) -> Result<GetPromptResult, McpError> {
    let arguments = arguments
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let params = GetPromptRequestParams::new(entry.local_name.clone()).with_arguments(arguments);
    match proxy
        .forward(
            context,
            ClientRequest::GetPromptRequest(Request::new(params)),
        )
        .await?
    {
        ServerResult::GetPromptResult(result) => namespaced(&entry.mount.namespace, result),
        _ => Err(unexpected(proxy, "prompts/get")),
    }
}

/// `completion/complete` on the mounted server, for the mount's own `reference`.
pub(super) async fn complete(
    proxy: &Proxy,
    reference: &CompletionRef,
    mut request: CompleteRequestParams,
    context: Arc<Context>,
) -> Result<CompleteResult, McpError> {
    request.r#ref = match reference {
        CompletionRef::Prompt(name) => Reference::for_prompt(name.clone()),
        CompletionRef::ResourceTemplate(template) => Reference::for_resource(template.clone()),
    };
    match proxy
        .forward(
            context,
            ClientRequest::CompleteRequest(Request::new(request)),
        )
        .await?
    {
        ServerResult::CompleteResult(result) => Ok(result),
        _ => Err(unexpected(proxy, "completion/complete")),
    }
}
