//! Other MCP servers mounted beside plugins: a remote server over streamable HTTP or a
//! local one started as a child process over stdio, reached through the rmcp client.
//!
//! Calls are forwarded with the caller's arguments; the remote server's progress for a
//! forwarded request goes back to that request's client (matched by progress token), and
//! its log messages (which carry no request id) to a client only while that client's
//! session has the mount to itself ([`calls`]). The remote server's sampling and elicitation requests
//! go to the client of the one request in flight on this mount (with several in flight,
//! nothing tells which one asked, and the remote server gets an error saying so). A
//! remote `list_changed` is reported on [`Proxy::changes`], so a live mount can fetch the
//! remote catalogue again.

#![allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.

mod calls;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rmcp::model::*;
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ErrorData as McpError, RoleClient, ServiceError, ServiceExt};
use serde_json::Value;
use tokio::sync::mpsc;

use super::manifest::{MAX_ENTRIES, compile_schema};
use super::template::UriTemplate;
use super::{Offer, OfferedTool};
use crate::runtime::types::{Error as GuestError, LogLevel};
use crate::runtime::{CallContext, Elicited};
use calls::{Calls, InFlight};

/// Where a proxied server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// A server speaking streamable HTTP at `url`.
    Http {
        /// Its MCP endpoint.
        url: String,
        /// Bearer token sent as `Authorization: Bearer …`.
        token: Option<String>,
    },
    /// A server pier starts and speaks to over stdio.
    Command {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Its environment, besides `PATH` and `HOME` (pier's own environment, with its
        /// secrets, is not passed on).
        env: BTreeMap<String, String>,
    },
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Remote::Http { url, .. } => f.write_str(url),
            Remote::Command { command, args, .. } => {
                f.write_str(command)?;
                for arg in args {
                    write!(f, " {arg}")?;
                }
                Ok(())
            }
        }
    }
}

/// One page of a remote list: its items and the next cursor.
type Page<T> = futures::future::BoxFuture<'static, Result<(Vec<T>, Option<String>), ServiceError>>;

/// Bounds on every interaction with a proxied server: one that never answers, or pages
/// its lists forever, costs a bounded wait and is refused, never a stuck pier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// Connecting and initializing the session.
    pub connect_timeout: std::time::Duration,
    /// Each forwarded request, and each page of a list.
    pub request_timeout: std::time::Duration,
    /// Pages of one list pier follows (a cursor that never ends stops there).
    pub max_list_pages: usize,
}

/// The client side of a proxy: relays what the remote server sends.
#[derive(Clone)]
struct Relay {
    label: Arc<str>,
    in_flight: InFlight,
    changes: mpsc::UnboundedSender<()>,
}

fn level_of(level: LoggingLevel) -> LogLevel {
    match level {
        LoggingLevel::Debug => LogLevel::Debug,
        LoggingLevel::Info => LogLevel::Info,
        LoggingLevel::Notice => LogLevel::Notice,
        LoggingLevel::Warning => LogLevel::Warning,
        LoggingLevel::Error => LogLevel::Error,
        LoggingLevel::Critical => LogLevel::Critical,
        LoggingLevel::Alert => LogLevel::Alert,
        LoggingLevel::Emergency => LogLevel::Emergency,
    }
}

impl Relay {
    fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn callers(&self) -> Vec<Arc<dyn CallContext>> {
        let calls = self.calls();
        calls.by_token.values().map(|c| c.ctx.clone()).collect()
    }

    /// The client a request of the remote server (`what`) is passed on to: the caller of
    /// the one request in flight on this mount.
    fn asker(&self, what: &str) -> Result<Arc<dyn CallContext>, McpError> {
        let mut callers = self.callers();
        match callers.len() {
            1 => Ok(callers.remove(0)),
            0 => Err(McpError::invalid_request(
                format!(
                    "pier: {what} outside a request pier forwarded to `{}`",
                    self.label
                ),
                None,
            )),
            n => Err(McpError::invalid_request(
                format!(
                    "pier: {what} while {n} requests are in flight on `{}`: which client to ask is unknown",
                    self.label
                ),
                None,
            )),
        }
    }
}

/// A `context` error of the calling client, for the remote server that asked.
fn refused(error: GuestError) -> McpError {
    match error {
        GuestError::InvalidParams(m) => McpError::invalid_params(m, None),
        GuestError::NotFound(m) | GuestError::Failed(m) | GuestError::Unsupported(m) => {
            McpError::invalid_request(m, None)
        }
    }
}

impl ClientHandler for Relay {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        let caller = {
            let calls = self.calls();
            calls
                .by_token
                .get(&params.progress_token)
                .map(|c| c.ctx.clone())
        };
        if let Some(caller) = caller {
            caller
                .progress(params.progress, params.total, params.message)
                .await;
        }
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        let (message, data) = match params.data {
            Value::String(text) => (text, None),
            Value::Object(mut object) => match object.remove("message") {
                Some(Value::String(text)) => (text, object.remove("data")),
                Some(other) => {
                    object.insert("message".into(), other);
                    (String::new(), Some(Value::Object(object)))
                }
                None => (String::new(), Some(Value::Object(object))),
            },
            other => (String::new(), Some(other)),
        };
        tracing::info!(mount = %self.label, level = ?params.level, "{}", crate::text::clip(&message));
        // MCP log messages name no request: only while one request has had the mount
        // to itself is a message surely its caller's; otherwise it could be anyone's,
        // and a stranger must not see it: it stays in pier's own log.
        let Some(caller) = self.calls().log_owner() else {
            return;
        };
        let logger = params.logger.unwrap_or_else(|| self.label.to_string());
        caller
            .log(level_of(params.level), &logger, message, data)
            .await;
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        let _ = self.changes.send(());
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        let _ = self.changes.send(());
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        let _ = self.changes.send(());
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let caller = self.asker("sampling/createMessage")?;
        let params = serde_json::to_value(params)
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        let answer = caller.sample(params).await.map_err(refused)?;
        serde_json::from_value(answer).map_err(|e| McpError::internal_error(e.to_string(), None))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let caller = self.asker("elicitation/create")?;
        let request = serde_json::to_value(request)
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        if request["mode"] != "form" {
            return Err(McpError::invalid_params(
                "pier relays form elicitations only",
                None,
            ));
        }
        let message = request["message"].as_str().unwrap_or_default().to_string();
        let answer = caller
            .elicit(message, request["requestedSchema"].clone())
            .await
            .map_err(refused)?;
        let answer = match answer {
            Elicited::Accept(content) => {
                serde_json::json!({"action": "accept", "content": content})
            }
            Elicited::Decline => serde_json::json!({"action": "decline"}),
            Elicited::Cancel => serde_json::json!({"action": "cancel"}),
        };
        serde_json::from_value(answer).map_err(|e| McpError::internal_error(e.to_string(), None))
    }

    fn get_info(&self) -> ClientConfig {
        // Sampling and elicitation are passed on to pier's own caller, who may refuse.
        let mut capabilities = ClientCapabilities::default();
        capabilities.sampling = Some(Default::default());
        capabilities.elicitation = Some(Default::default());
        let mut config = ClientConfig::new(
            capabilities,
            Implementation::new("pier", env!("CARGO_PKG_VERSION")),
        );
        // The revision pier serves; newer ones change how list_changed is delivered.
        config.protocol_version = ProtocolVersion::V_2025_11_25;
        config
    }
}

/// A connection to another MCP server.
pub struct Proxy {
    label: Arc<str>,
    limits: UpstreamLimits,
    service: RunningService<RoleClient, Relay>,
    in_flight: InFlight,
    changes: Mutex<Option<mpsc::UnboundedReceiver<()>>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").field("label", &self.label).finish()
    }
}

/// Removes a forwarded request from the in-flight map when it ends, however it ends.
struct Forwarded<'a> {
    in_flight: &'a InFlight,
    token: ProgressToken,
}

impl Drop for Forwarded<'_> {
    fn drop(&mut self) {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .end(&self.token);
    }
}

impl Proxy {
    /// Connects to `remote` and initializes an MCP session; `label` names the mount in
    /// logs and errors.
    pub async fn connect(
        remote: &Remote,
        label: &str,
        limits: UpstreamLimits,
    ) -> Result<Self, String> {
        let (changes_tx, changes_rx) = mpsc::unbounded_channel();
        let in_flight = InFlight::default();
        let relay = Relay {
            label: label.into(),
            in_flight: in_flight.clone(),
            changes: changes_tx,
        };
        let connecting = async {
            Ok::<_, String>(match remote {
                Remote::Http { url, token } => {
                    let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                    if let Some(token) = token {
                        config = config.auth_header(token.clone());
                    }
                    let transport = StreamableHttpClientTransport::from_config(config);
                    relay.serve(transport).await.map_err(|e| e.to_string())?
                }
                Remote::Command { command, args, env } => {
                    let mut cmd = tokio::process::Command::new(command);
                    cmd.args(args).env_clear();
                    for inherited in ["PATH", "HOME"] {
                        if let Some(value) = std::env::var_os(inherited) {
                            cmd.env(inherited, value);
                        }
                    }
                    cmd.envs(env);
                    let (transport, _) = TokioChildProcess::builder(cmd)
                        .stderr(std::process::Stdio::inherit())
                        .spawn()
                        .map_err(|e| format!("cannot start `{command}`: {e}"))?;
                    relay.serve(transport).await.map_err(|e| e.to_string())?
                }
            })
        };
        let service = tokio::time::timeout(limits.connect_timeout, connecting)
            .await
            .map_err(|_| {
                format!(
                    "no MCP session within {} ms (upstream.connect-timeout-ms)",
                    limits.connect_timeout.as_millis()
                )
            })??;
        Ok(Self {
            label: label.into(),
            limits,
            service,
            in_flight,
            changes: Mutex::new(Some(changes_rx)),
        })
    }

    /// The remote server's `list_changed` notifications (once: the first caller gets them).
    pub fn changes(&self) -> Option<mpsc::UnboundedReceiver<()>> {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The remote server's name and version, as it reported them.
    pub fn server_info(&self) -> Option<Implementation> {
        self.service.peer().peer_info()?.server_info.clone()
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.service.peer().is_transport_closed()
    }

    /// Everything the remote server offers now.
    pub async fn offer(&self) -> Result<Offer, String> {
        let peer = self.service.peer();
        let caps = peer
            .peer_info()
            .map(|i| i.capabilities.clone())
            .unwrap_or_default();
        let mut offer = Offer::default();
        if caps.tools.is_some() {
            let tools = self
                .list_all("tools/list", |p| {
                    let peer = peer.clone();
                    Box::pin(
                        async move { peer.list_tools(p).await.map(|r| (r.tools, r.next_cursor)) },
                    )
                })
                .await?;
            for tool in tools {
                let schema = Value::Object((*tool.input_schema).clone());
                let validator = compile_schema(&schema).ok().map(Arc::new);
                // FastMCP servers put their tags under `_meta.fastmcp.tags` (older
                // releases: `_meta._fastmcp.tags`).
                let tags = tool
                    .meta
                    .as_ref()
                    .and_then(|m| m.get("fastmcp").or_else(|| m.get("_fastmcp")))
                    .and_then(|f| f.get("tags"))
                    .and_then(Value::as_array)
                    .map(|tags| {
                        tags.iter()
                            .filter_map(|t| t.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                offer.tools.push(OfferedTool {
                    tool,
                    validator,
                    output_validator: None,
                    tags,
                    // An upstream's own tasks are not relayed yet.
                    task: Default::default(),
                });
            }
        }
        if caps.resources.is_some() {
            offer.resources = self
                .list_all("resources/list", |p| {
                    let peer = peer.clone();
                    Box::pin(async move {
                        peer.list_resources(p)
                            .await
                            .map(|r| (r.resources, r.next_cursor))
                    })
                })
                .await?;
            let templates = self
                .list_all("resources/templates/list", |p| {
                    let peer = peer.clone();
                    Box::pin(async move {
                        peer.list_resource_templates(p)
                            .await
                            .map(|r| (r.resource_templates, r.next_cursor))
                    })
                })
                .await?;
            for template in templates {
                match UriTemplate::parse(&template.uri_template) {
                    Ok(parsed) => offer.templates.push((template, parsed)),
                    Err(e) => tracing::warn!(
                        mount = %self.label,
                        "resource template `{}` left out: {e}",
                        template.uri_template
                    ),
                }
            }
        }
        if caps.prompts.is_some() {
            offer.prompts = self
                .list_all("prompts/list", |p| {
                    let peer = peer.clone();
                    Box::pin(async move {
                        peer.list_prompts(p)
                            .await
                            .map(|r| (r.prompts, r.next_cursor))
                    })
                })
                .await?;
        }
        Ok(offer)
    }

    /// Every page of one list of the remote server, each page within the request
    /// timeout, at most `max_list_pages` pages and [`MAX_ENTRIES`] items.
    async fn list_all<T>(
        &self,
        what: &str,
        page: impl Fn(Option<PaginatedRequestParams>) -> Page<T>,
    ) -> Result<Vec<T>, String> {
        let limits = self.limits;
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..limits.max_list_pages {
            let params = cursor
                .take()
                .map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
            let (page_items, next) = tokio::time::timeout(limits.request_timeout, page(params))
                .await
                .map_err(|_| {
                    format!(
                        "{what}: no answer within {} ms (upstream.request-timeout-ms)",
                        limits.request_timeout.as_millis()
                    )
                })?
                .map_err(|e| format!("{what}: {e}"))?;
            items.extend(page_items);
            if items.len() > MAX_ENTRIES {
                return Err(format!(
                    "{what}: more than {MAX_ENTRIES} items; a mount may offer at most {MAX_ENTRIES}"
                ));
            }
            match next {
                None => return Ok(items),
                Some(next) => cursor = Some(next),
            }
        }
        Err(format!(
            "{what}: still more pages after {} (upstream.max-list-pages)",
            limits.max_list_pages
        ))
    }

    /// Sends `request` upstream for the client request `caller`: relays its progress,
    /// forwards its cancellation, returns the result or the remote JSON-RPC error.
    pub async fn forward(
        &self,
        caller: Arc<dyn CallContext>,
        request: ClientRequest,
    ) -> Result<ServerResult, McpError> {
        // Not an answer of the server: the connection failed; trying again may pass.
        let unreachable = |e: ServiceError| {
            caller.mark_transient();
            McpError::internal_error(format!("mount `{}`: {e}", self.label), None)
        };
        let peer = self.service.peer();
        let handle = peer
            .send_cancellable_request(request, PeerRequestOptions::no_options())
            .await
            .map_err(unreachable)?;
        let id = handle.id.clone();
        let _forwarded = {
            let token = handle.progress_token.clone();
            self.in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .start(token.clone(), caller.clone());
            Forwarded {
                in_flight: &self.in_flight,
                token,
            }
        };
        let cancelled = caller.cancellation();
        let timeout = self.limits.request_timeout;
        // The server stops working on a request pier gives up on.
        let give_up = async |why: &str, error: McpError| {
            let notice = CancelledNotificationParam::new(Some(id), Some(why.into()));
            if let Err(e) = peer.notify_cancelled(notice).await {
                tracing::debug!(mount = %self.label, "could not forward a cancellation: {e}");
            }
            Err(error)
        };
        tokio::select! {
            response = tokio::time::timeout(timeout, handle.await_response()) => match response {
                Ok(Ok(result)) => Ok(result),
                Ok(Err(ServiceError::McpError(e))) => Err(e),
                Ok(Err(e)) => Err(unreachable(e)),
                Err(_) => {
                    let message = format!(
                        "mount `{}` did not answer within {} ms (upstream.request-timeout-ms)",
                        self.label,
                        timeout.as_millis()
                    );
                    give_up("timed out", McpError::internal_error(message, None)).await
                }
            },
            () = cancelled.cancelled() => {
                give_up(
                    "cancelled by the client",
                    McpError::internal_error("request cancelled", None),
                )
                .await
            }
        }
    }

    /// Closes the connection (and stops a child process).
    pub async fn close(&self) {
        self.service.cancellation_token().cancel();
    }
}
