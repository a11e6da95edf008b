//! Other MCP servers mounted beside plugins: a remote server over streamable HTTP or a
//! local one started as a child process over stdio, reached through the rmcp client.
//!
//! Calls are forwarded with the caller's arguments. What the remote server sends back is
//! relayed ([`relay`]): its progress for a forwarded request to that request's client
//! (matched by progress token), its log messages (which carry no request id) to a client
//! only while that client's session has the mount to itself ([`calls`]), its sampling
//! and elicitation requests to the client of the one request in flight on this mount
//! (with several in flight, nothing tells which one asked, and the remote server gets an
//! error saying so). A remote `list_changed` is reported on [`Proxy::changes`], so a live
//! mount can fetch the remote catalogue again.
//!
//! pier offers the server MCP 2026-07-28 when `upstream.max-protocol-version` says so
//! (`lifecycle`); such a server asks by `input_required` rounds instead, answered by
//! the caller (`rounds`), and sends its list changes on a `subscriptions/listen`
//! stream (`watch_lists`). Every forwarded request carries the caller's trace context.

#![allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.

mod arrivals;
mod calls;
pub mod credentials;
mod relay;
mod rounds;
pub mod upstream;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rmcp::model::*;
use rmcp::service::{
    ClientInitializeError, ClientLifecycleMode, ClientServiceExt, PeerRequestOptions,
    RunningService,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ErrorData as McpError, RoleClient, ServiceError};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::manifest::{MAX_ENTRIES, compile_schema};
use super::template::UriTemplate;
use super::{Offer, OfferedTool};
use crate::runtime::CallContext;
use arrivals::{Arrivals, Ordered};
use calls::InFlight;
use relay::Relay;

/// Where a proxied server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// A server speaking streamable HTTP at `url`.
    Http {
        /// Its MCP endpoint.
        url: String,
        /// What pier shows the server as its identity: a bearer token, headers.
        credentials: credentials::Credentials,
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

/// How pier meets a proxied server: the revision it offers, and bounds on every
/// interaction (one that never answers, or pages its lists forever, costs a bounded
/// wait and is refused, never a stuck pier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// Connecting and initializing the session.
    pub connect_timeout: std::time::Duration,
    /// Each forwarded request, and each page of a list.
    pub request_timeout: std::time::Duration,
    /// Pages of one list pier follows (a cursor that never ends stops there).
    pub max_list_pages: usize,
    /// Whether pier offers MCP 2026-07-28 to the server (`upstream.max-protocol-version`).
    pub modern: bool,
}

/// A connection to another MCP server.
pub struct Proxy {
    label: Arc<str>,
    /// The host (and port) of a server reached over HTTP (`server.address` of spans).
    server: Option<Arc<str>>,
    limits: UpstreamLimits,
    service: RunningService<RoleClient, Relay>,
    in_flight: InFlight,
    /// The server's notifications not relayed yet, in their order.
    arrivals: Arc<Arrivals>,
    changes: Mutex<Option<mpsc::Receiver<()>>>,
    /// Stops what watches the remote server on the side (its listen stream).
    stop: CancellationToken,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// How pier meets a remote server: `server/discover` first, MCP 2026-07-28 when the
/// server speaks it; `initialize` with 2025-11-25 when its discover fails as a legacy
/// server's does.
fn lifecycle() -> ClientLifecycleMode {
    ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::V_2025_11_25),
    }
}

/// Whether the server behind `peer` was met in MCP 2026-07-28 or later (without
/// `initialize`).
fn speaks_modern(peer: &rmcp::service::Peer<RoleClient>) -> bool {
    peer.peer_info()
        .is_some_and(|info| !info.protocol_version.has_initialize())
}

/// How a proxied server is reached: its HTTP client with the mount's credentials (a
/// `url` mount), nothing more for a command.
#[derive(Clone, Default)]
struct Reach {
    http: Option<upstream::Upstream>,
}

/// A connection to `remote` served by `relay`, met as `lifecycle` says: `Err` when the
/// connection cannot be made, `Ok(Err)` when the MCP lifecycle fails.
async fn open(
    remote: &Remote,
    reach: &Reach,
    relay: Relay,
    arrivals: &Arc<Arrivals>,
    lifecycle: ClientLifecycleMode,
) -> Result<Result<RunningService<RoleClient, Relay>, ClientInitializeError>, String> {
    Ok(match remote {
        Remote::Http { url, .. } => {
            let config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
            let client = reach
                .http
                .clone()
                .ok_or_else(|| format!("no HTTP client for {url}"))?;
            let transport = Ordered {
                inner: StreamableHttpClientTransport::with_client(client, config),
                arrivals: arrivals.clone(),
            };
            relay.serve_with_lifecycle(transport, lifecycle).await
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
            let transport = Ordered {
                inner: transport,
                arrivals: arrivals.clone(),
            };
            relay.serve_with_lifecycle(transport, lifecycle).await
        }
    })
}

/// Follows the list changes of a remote server of MCP 2026-07-28 on a
/// `subscriptions/listen` stream, reporting each on `changes`, until `stop`; a stream
/// that ends is listened to again a second later (a server that refuses to listen is
/// left alone: its changes are seen when the mount is reloaded).
async fn watch_lists(
    peer: rmcp::service::Peer<RoleClient>,
    label: Arc<str>,
    changes: mpsc::Sender<()>,
    stop: CancellationToken,
) {
    let filter = SubscriptionFilter::builder()
        .tools_list_changed()
        .prompts_list_changed()
        .resources_list_changed()
        .build();
    while !stop.is_cancelled() && !peer.is_transport_closed() {
        let listening = tokio::select! {
            listening = peer.listen(filter.clone()) => listening,
            () = stop.cancelled() => return,
        };
        let mut subscription = match listening {
            Ok(subscription) => subscription,
            Err(ServiceError::McpError(e)) => {
                tracing::info!(mount = %label, "the server does not stream its list changes: {}", e.message);
                return;
            }
            Err(e) => {
                tracing::debug!(mount = %label, "subscriptions/listen: {e}");
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
                    () = stop.cancelled() => return,
                }
            }
        };
        loop {
            let next = tokio::select! {
                next = subscription.next() => next,
                () = stop.cancelled() => return,
            };
            match next {
                Ok(Some(
                    ServerNotification::ToolListChangedNotification(_)
                    | ServerNotification::PromptListChangedNotification(_)
                    | ServerNotification::ResourceListChangedNotification(_),
                )) => {
                    if let Err(mpsc::error::TrySendError::Closed(())) = changes.try_send(()) {
                        return;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            () = stop.cancelled() => return,
        }
    }
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
    /// logs and errors. A server over HTTP is reached with TLS trusting `caps.trust`,
    /// and the mount's credentials, their secrets read from `caps.secrets` now. The
    /// error is a sentence saying what failed and why.
    pub async fn connect(
        remote: &Remote,
        label: &str,
        limits: UpstreamLimits,
        caps: &crate::runtime::grants::GrantCaps,
    ) -> Result<Self, String> {
        let reach = match remote {
            Remote::Http { credentials, .. } => {
                let http = upstream::http_client(&caps.trust)?;
                let resolved =
                    credentials.resolve(label, &caps.secrets, &http, limits.connect_timeout)?;
                Reach {
                    http: Some(upstream::Upstream::new(http, resolved)),
                }
            }
            Remote::Command { .. } => Reach::default(),
        };
        // One change waiting is as good as many: the catalogue is fetched again once.
        let (changes_tx, changes_rx) = mpsc::channel(1);
        let in_flight = InFlight::default();
        let arrivals = Arc::new(Arrivals::default());
        let relay = Relay::new(
            label,
            in_flight.clone(),
            changes_tx.clone(),
            arrivals.clone(),
        );
        let connecting = async {
            if !limits.modern {
                return open(
                    remote,
                    &reach,
                    relay,
                    &arrivals,
                    ClientLifecycleMode::Initialize,
                )
                .await?
                .map_err(|e| upstream::explain_init(&e));
            }
            match open(remote, &reach, relay.clone(), &arrivals, lifecycle()).await? {
                Ok(service) => Ok(service),
                // A server that knows `server/discover` but no revision that has it (an
                // rmcp server capped at 2025-11-25): met again, with `initialize`.
                Err(ClientInitializeError::NoCompatibleProtocolVersion { .. }) => open(
                    remote,
                    &reach,
                    relay,
                    &arrivals,
                    ClientLifecycleMode::Initialize,
                )
                .await?
                .map_err(|e| upstream::explain_init(&e)),
                Err(e) => Err(upstream::explain_init(&e)),
            }
        };
        let service = tokio::time::timeout(limits.connect_timeout, connecting)
            .await
            .map_err(|_| {
                format!(
                    "no MCP session within {} ms (upstream.connect-timeout-ms)",
                    limits.connect_timeout.as_millis()
                )
            })??;
        let stop = CancellationToken::new();
        if speaks_modern(service.peer()) {
            // MCP 2026-07-28 sends list changes on a `subscriptions/listen` stream only.
            tokio::spawn(watch_lists(
                service.peer().clone(),
                label.into(),
                changes_tx,
                stop.clone(),
            ));
        }
        let server = match remote {
            Remote::Http { url, .. } => url
                .parse::<http::Uri>()
                .ok()
                .and_then(|uri| uri.host().map(|host| Arc::from(host.to_string()))),
            Remote::Command { .. } => None,
        };
        Ok(Self {
            label: label.into(),
            server,
            limits,
            service,
            in_flight,
            arrivals,
            changes: Mutex::new(Some(changes_rx)),
            stop,
        })
    }

    /// The mount's name, as logs and errors give it.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether the remote server speaks MCP 2026-07-28 or later (met without
    /// `initialize`).
    pub fn speaks_modern(&self) -> bool {
        speaks_modern(self.service.peer())
    }

    /// The remote server's `list_changed` notifications (once: the first caller gets them).
    pub fn changes(&self) -> Option<mpsc::Receiver<()>> {
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
                    applied: None,
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
                .map_err(|e| format!("{what}: {}", upstream::explain_service(&e)))?;
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

    /// Sends `request` upstream for the client request `caller`, with the caller's
    /// trace context: relays its progress, forwards its cancellation, answers the
    /// server's input rounds from the caller ([`rounds`]), returns the result or the
    /// remote JSON-RPC error.
    pub async fn forward(
        &self,
        caller: Arc<dyn CallContext>,
        request: ClientRequest,
    ) -> Result<ServerResult, McpError> {
        let target = match &request {
            ClientRequest::CallToolRequest(r) => Some(r.params.name.to_string()),
            ClientRequest::GetPromptRequest(r) => Some(r.params.name.clone()),
            _ => None,
        };
        let span = crate::telemetry::trace::client(
            request.method(),
            target.as_deref(),
            self.server.as_deref(),
        );
        crate::telemetry::trace::within(span, self.forward_in_span(caller, request)).await
    }

    /// [`Proxy::forward`], in its CLIENT span.
    async fn forward_in_span(
        &self,
        caller: Arc<dyn CallContext>,
        mut request: ClientRequest,
    ) -> Result<ServerResult, McpError> {
        // What the request's `_meta` passes on: the trace context (the CLIENT span's
        // when spans are exported, else the client's own), and (a server of
        // 2026-07-28 logs to a request that names a level only) the client's level.
        let mut meta = RequestMetaObject::new();
        if let Some(trace) = crate::telemetry::trace::outgoing(caller.request_info().trace) {
            meta.set_traceparent(trace.traceparent);
            if let Some(state) = trace.tracestate {
                meta.set_tracestate(state);
            }
        }
        if self.speaks_modern()
            && let Some(floor) = caller.log_floor()
        {
            meta.set_log_level(crate::levels::to_mcp(floor));
        }
        let meta = Some(meta).filter(|m| !m.is_empty());
        let mut keys = rounds::Keys::default();
        for round in 0..=rounds::MAX_ROUNDS {
            let asked = match self.send(&caller, request.clone(), meta.clone()).await? {
                ServerResult::InputRequiredResult(asked) => asked,
                result => return Ok(result),
            };
            if round == rounds::MAX_ROUNDS {
                break;
            }
            let questions = asked.input_requests.unwrap_or_default();
            let responses = rounds::answer(&self.label, &caller, questions, &mut keys).await?;
            request = rounds::retry(&self.label, &request, responses, asked.request_state)?;
        }
        Err(McpError::internal_error(
            format!(
                "mount `{}` still asked for input after {} rounds; pier relays at most {}",
                self.label,
                rounds::MAX_ROUNDS,
                rounds::MAX_ROUNDS
            ),
            None,
        ))
    }

    /// One request upstream (see [`Proxy::forward`]).
    async fn send(
        &self,
        caller: &Arc<dyn CallContext>,
        request: ClientRequest,
        meta: Option<RequestMetaObject>,
    ) -> Result<ServerResult, McpError> {
        // Not an answer of the server: the connection failed; trying again may pass.
        let unreachable = |e: ServiceError| {
            caller.mark_transient();
            McpError::internal_error(
                format!(
                    "mount `{}` could not be asked: {}",
                    self.label,
                    upstream::explain_service(&e)
                ),
                None,
            )
        };
        let peer = self.service.peer();
        let handle = peer
            .send_cancellable_request(request, {
                let mut options = PeerRequestOptions::no_options();
                options.meta = meta;
                options
            })
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
                // What the server sent before its answer reaches the caller before it.
                Ok(Ok(result)) => {
                    self.arrivals.settle(arrivals::SETTLE).await;
                    Ok(result)
                }
                Ok(Err(ServiceError::McpError(e))) => {
                    self.arrivals.settle(arrivals::SETTLE).await;
                    Err(e)
                }
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
        self.stop.cancel();
        self.service.cancellation_token().cancel();
    }
}
