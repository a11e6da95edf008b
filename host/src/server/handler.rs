//! The MCP server: one [`ServerHandler`] per client session, routing each request to the
//! mount that serves it through the current catalogue snapshot.

#![allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.

use std::sync::Arc;

use rmcp::model::*;
use rmcp::service::{NotificationContext, Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::Value;
use tracing::Instrument;

use super::context::Context;
use super::convert;
use super::forward;
use super::in_flight::InFlight;
use super::session::Session;
use super::subscriptions::Subscriptions;
use crate::registry::manifest::schema_errors;
use crate::registry::{Backend, Changes, Mount, Registry, ToolEntry};
use crate::runtime::CallError;
use crate::runtime::types::{CompletionRef, Error as GuestError};
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
            .id
            .clone()
            .or_else(|| super::context::http_session_id(request));
        tracing::info_span!(
            "request",
            method,
            target,
            session = session.as_deref().unwrap_or("-"),
            request_id = %request.id
        )
    }
}

/// Sends `notifications/{tools,resources,prompts}/list_changed` to `peer` for every
/// catalogue change, until the session closes.
async fn forward_changes(
    peer: Peer<RoleServer>,
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
        if let Err(e) = sent.await {
            tracing::debug!("session closed; no more list_changed notifications: {e}");
            return;
        }
    }
}

/// One page of `items` starting at `cursor` (an offset written by a previous page).
fn page<T: Clone>(
    items: &[T],
    cursor: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), McpError> {
    let start = match cursor {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .ok()
            .filter(|&s| s <= items.len())
            .ok_or_else(|| McpError::invalid_params(format!("invalid cursor `{c}`"), None))?,
    };
    let end = start.saturating_add(size.max(1)).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

fn cursor(request: &Option<PaginatedRequestParams>) -> Option<&str> {
    request.as_ref().and_then(|r| r.cursor.as_deref())
}

/// A guest error or failure of a resource read / prompt / completion, as a protocol error.
fn protocol_error(error: CallError, not_found: impl FnOnce(String) -> McpError) -> McpError {
    match error {
        CallError::Guest(GuestError::InvalidParams(m)) => McpError::invalid_params(m, None),
        CallError::Guest(GuestError::NotFound(m)) => not_found(m),
        other => McpError::internal_error(other.to_string(), None),
    }
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

fn invalid_result(e: convert::ConvertError) -> McpError {
    McpError::internal_error(e.to_string(), None)
}

/// Reads resource `uri` (namespaced) from the mount that serves it, for a client or for
/// a plugin reading through the host (`context`).
pub(super) async fn read(
    shared: &Shared,
    uri: &str,
    context: &Context,
) -> Result<ReadResourceResult, McpError> {
    let _serving = shared.in_flight.start();
    let cat = shared.registry.snapshot();
    let not_found =
        |m: String| McpError::resource_not_found(m, Some(serde_json::json!({ "uri": uri })));
    let (mount, local) = cat
        .resolve_resource(uri)
        .ok_or_else(|| not_found(format!("resource not found: {uri}")))?;
    let plugin = match &mount.backend {
        Backend::Plugin { plugin, .. } => plugin,
        Backend::Proxy(proxy) => {
            return forward::read_resource(proxy, mount, context.on(mount), local).await;
        }
    };
    let contents = plugin
        .read_resource(context.on(mount), &local)
        .await
        .map_err(|e| protocol_error(e, not_found))?;
    convert::read_result(&mount.namespace, &contents).map_err(invalid_result)
}

/// Renders prompt `name` (namespaced) with `arguments` (strings), for a client or for a
/// plugin through the host (`context`).
pub(super) async fn prompt(
    shared: &Shared,
    name: &str,
    arguments: serde_json::Map<String, Value>,
    context: &Context,
) -> Result<GetPromptResult, McpError> {
    let _serving = shared.in_flight.start();
    let cat = shared.registry.snapshot();
    let entry = cat
        .prompts
        .get(name)
        .ok_or_else(|| McpError::invalid_params(format!("unknown prompt `{name}`"), None))?;
    let mut strings = Vec::new();
    for (key, value) in arguments {
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
    let mount: &Arc<Mount> = &entry.mount;
    let plugin = match &mount.backend {
        Backend::Plugin { plugin, .. } => plugin,
        Backend::Proxy(proxy) => {
            return forward::get_prompt(proxy, entry, context.on(mount), strings).await;
        }
    };
    let result = plugin
        .get_prompt(context.on(mount), &entry.local_name, &strings)
        .await
        .map_err(|e| protocol_error(e, |m| McpError::invalid_params(m, None)))?;
    convert::prompt_result(&mount.namespace, &result).map_err(invalid_result)
}

impl ServerHandler for PierServer {
    /// pier implements MCP up to revision 2025-11-25 (sessions, server-to-client
    /// requests); newer clients negotiate down to it.
    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        std::borrow::Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_logging()
            .enable_completions()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("pier", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Tools, resources and prompts served by sandboxed WebAssembly plugins.",
            )
    }

    /// From now on the session hears of catalogue changes (hot mount, swap, unmount).
    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        tokio::spawn(forward_changes(
            context.peer,
            self.shared.registry.subscribe(),
            self.session.closed(),
        ));
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.metered("logging/setLevel", async move {
            self.session.set_log_level(request.level);
            Ok(())
        })
        .await
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        self.metered("tools/list", async move {
            let cat = self.shared.registry.snapshot();
            let tools: Vec<Tool> = cat.tools.items().iter().map(|t| t.tool.clone()).collect();
            let (items, next) = page(&tools, cursor(&request), self.shared.page_size)?;
            let mut result = ListToolsResult::with_all_items(items);
            result.next_cursor = next;
            Ok(result)
        })
        .await
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.metered("tools/call", async move {
            let _serving = self.shared.in_flight.start();
            let cat = self.shared.registry.snapshot();
            let name = request.name.as_ref();
            let entry = cat
                .tools
                .get(name)
                .ok_or_else(|| McpError::invalid_params(format!("unknown tool `{name}`"), None))?;
            let arguments = Value::Object(request.arguments.unwrap_or_default());
            if let Some(validator) = &entry.validator
                && let Some(errors) = schema_errors(validator, &arguments)
            {
                self.shared
                    .metrics
                    .tool_call(name, "invalid_arguments", 0.0);
                return Err(McpError::invalid_params(
                    format!("invalid arguments for tool `{name}`: {errors}"),
                    None,
                ));
            }
            let span = self.span("tools/call", name, &context);
            let started = std::time::Instant::now();
            let outcome = match &entry.mount.backend {
                Backend::Plugin { plugin, .. } => {
                    call_plugin(
                        entry,
                        plugin,
                        self.context(&context).on(&entry.mount),
                        arguments,
                    )
                    .instrument(span)
                    .await
                }
                Backend::Proxy(proxy) => {
                    forward::call_tool(
                        proxy,
                        entry,
                        self.context(&context).on(&entry.mount),
                        arguments,
                    )
                    .instrument(span)
                    .await
                }
            };
            let seconds = started.elapsed().as_secs_f64();
            let (result, label) = match outcome {
                Ok(done) => done,
                Err((error, label)) => {
                    self.shared.metrics.tool_call(name, label, seconds);
                    return Err(error);
                }
            };
            self.shared.metrics.tool_call(name, label, seconds);
            Ok(result.into())
        })
        .await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        self.metered("resources/list", async move {
            let cat = self.shared.registry.snapshot();
            let all: Vec<Resource> = cat
                .resources
                .items()
                .iter()
                .map(|r| r.resource.clone())
                .collect();
            let (items, next) = page(&all, cursor(&request), self.shared.page_size)?;
            let mut result = ListResourcesResult::with_all_items(items);
            result.next_cursor = next;
            Ok(result)
        })
        .await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        self.metered("resources/templates/list", async move {
            let cat = self.shared.registry.snapshot();
            let all: Vec<ResourceTemplate> = cat
                .templates
                .items()
                .iter()
                .map(|t| t.template.clone())
                .collect();
            let (items, next) = page(&all, cursor(&request), self.shared.page_size)?;
            let mut result = ListResourceTemplatesResult::with_all_items(items);
            result.next_cursor = next;
            Ok(result)
        })
        .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.metered("resources/read", async move {
            let span = self.span("resources/read", &request.uri, &context);
            read(&self.shared, &request.uri, &self.context(&context))
                .instrument(span)
                .await
                .map(Into::into)
        })
        .await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.metered("resources/subscribe", async move {
            let cat = self.shared.registry.snapshot();
            if cat.resolve_resource(&request.uri).is_none() {
                return Err(McpError::resource_not_found(
                    format!("resource not found: {}", request.uri),
                    Some(serde_json::json!({ "uri": request.uri })),
                ));
            }
            self.shared
                .subscriptions
                .subscribe(&request.uri, &self.session, context.peer);
            Ok(())
        })
        .await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.metered("resources/unsubscribe", async move {
            self.shared
                .subscriptions
                .unsubscribe(&request.uri, &self.session);
            Ok(())
        })
        .await
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        self.metered("prompts/list", async move {
            let cat = self.shared.registry.snapshot();
            let all: Vec<Prompt> = cat
                .prompts
                .items()
                .iter()
                .map(|p| p.prompt.clone())
                .collect();
            let (items, next) = page(&all, cursor(&request), self.shared.page_size)?;
            let mut result = ListPromptsResult::with_all_items(items);
            result.next_cursor = next;
            Ok(result)
        })
        .await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        self.metered("prompts/get", async move {
            let span = self.span("prompts/get", &request.name, &context);
            prompt(
                &self.shared,
                &request.name,
                request.arguments.unwrap_or_default(),
                &self.context(&context),
            )
            .instrument(span)
            .await
            .map(Into::into)
        })
        .await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        self.metered("completion/complete", async move {
            let _serving = self.shared.in_flight.start();
            let cat = self.shared.registry.snapshot();
            let (mount, reference) = match &request.r#ref {
                Reference::Prompt(p) => {
                    let entry = cat.prompts.get(&p.name).ok_or_else(|| {
                        McpError::invalid_params(format!("unknown prompt `{}`", p.name), None)
                    })?;
                    (
                        entry.mount.clone(),
                        CompletionRef::Prompt(entry.local_name.clone()),
                    )
                }
                Reference::Resource(r) => {
                    let entry = cat.templates.get(&r.uri).ok_or_else(|| {
                        McpError::invalid_params(
                            format!("unknown resource template `{}`", r.uri),
                            None,
                        )
                    })?;
                    (
                        entry.mount.clone(),
                        CompletionRef::ResourceTemplate(entry.local_template.clone()),
                    )
                }
                _ => {
                    return Err(McpError::invalid_params(
                        "unsupported completion reference",
                        None,
                    ));
                }
            };
            let span = self.span("completion/complete", &request.argument.name, &context);
            let plugin = match &mount.backend {
                Backend::Plugin { plugin, .. } => plugin,
                Backend::Proxy(proxy) => {
                    return forward::complete(
                        proxy,
                        &reference,
                        request.clone(),
                        self.context(&context).on(&mount),
                    )
                    .instrument(span)
                    .await;
                }
            };
            let mut values = plugin
                .complete(
                    self.context(&context).on(&mount),
                    &reference,
                    &request.argument.name,
                    &request.argument.value,
                )
                .instrument(span)
                .await
                .map_err(|e| protocol_error(e, |m| McpError::invalid_params(m, None)))?;
            values.truncate(CompletionInfo::MAX_VALUES);
            let info =
                CompletionInfo::new(values).map_err(|e| McpError::internal_error(e, None))?;
            Ok(CompleteResult::new(info))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::page;

    #[test]
    fn pages_follow_each_other_until_the_end() {
        let items: Vec<u32> = (0..5).collect();
        assert_eq!(
            page(&items, None, 2).unwrap(),
            (vec![0, 1], Some("2".into()))
        );
        assert_eq!(
            page(&items, Some("2"), 2).unwrap(),
            (vec![2, 3], Some("4".into()))
        );
        assert_eq!(page(&items, Some("4"), 2).unwrap(), (vec![4], None));
        assert_eq!(page(&items, None, 10).unwrap(), (items.clone(), None));
    }

    #[test]
    fn a_bad_cursor_is_an_invalid_params_error() {
        let items = [1, 2];
        let err = page(&items, Some("x"), 2).unwrap_err();
        assert_eq!(err.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        assert!(page(&items, Some("3"), 2).is_err());
    }
}
