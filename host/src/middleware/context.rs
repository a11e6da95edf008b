//! What a middleware knows of the request it handles.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::registry::{Catalogue, Mount, Resolved};
use crate::runtime::{CallContext, RequestInfo, RequestState};
use crate::server::Context;

/// The request a middleware handles: who asked, over which session, the catalogue
/// snapshot it is served from, and (inside a mount's chain) the mount serving it.
#[derive(Clone)]
pub struct MiddlewareContext {
    method: &'static str,
    request: Arc<Context>,
    catalogue: Arc<Catalogue>,
    mount: Option<Arc<Mount>>,
    client_ip: Option<IpAddr>,
    started: Instant,
    report: Arc<Report>,
    nested: bool,
}

/// What the end of the chain tells middlewares beyond the response itself.
#[derive(Default)]
struct Report {
    /// How a tool call ended (`ok`, `tool_error`, `trap`, `timeout`, …).
    outcome: Mutex<Option<&'static str>>,
    /// The last failure was transient (a proxied server unreachable, storage down):
    /// trying again may succeed.
    transient: AtomicBool,
    /// The last resource URI resolved for this request, and where it led: one match
    /// per request, whoever asks (dispatch, visibility, cache, metrics labels).
    resolved: Mutex<Option<(String, Option<Arc<Resolved>>)>>,
}

impl MiddlewareContext {
    /// The context of `method`, a request described by `request`, served from
    /// `catalogue`.
    pub fn new(
        method: &'static str,
        request: Arc<Context>,
        catalogue: Arc<Catalogue>,
        client_ip: Option<IpAddr>,
    ) -> Self {
        Self {
            method,
            request,
            catalogue,
            mount: None,
            client_ip,
            started: Instant::now(),
            report: Arc::default(),
            nested: false,
        }
    }

    /// The same context, for a read or prompt a plugin asks for while serving the
    /// client's request (not a request of the client's own).
    pub fn nested(self) -> Self {
        Self {
            nested: true,
            ..self
        }
    }

    /// Whether this is a plugin's read or prompt inside a client's request.
    pub fn is_nested(&self) -> bool {
        self.nested
    }

    /// The same request, inside the chain of `mount`.
    pub fn on(&self, mount: &Arc<Mount>) -> Self {
        Self {
            mount: Some(mount.clone()),
            ..self.clone()
        }
    }

    /// The MCP method (`tools/call`, …).
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The request context plugins see (log to the client, progress, state, …).
    pub fn request(&self) -> &Arc<Context> {
        &self.request
    }

    /// Who asked: request id, session, client, token subject.
    pub fn info(&self) -> RequestInfo {
        self.request.request_info()
    }

    /// The verified subject of the request's token (no copy of the rest of [`Self::info`]).
    pub fn subject(&self) -> Option<&str> {
        self.request.subject()
    }

    /// The scopes of the request's token.
    pub fn scopes(&self) -> &[String] {
        self.request.scopes()
    }

    /// The request-scoped state, shared with the plugin serving the request.
    pub fn state(&self) -> &RequestState {
        self.request.state()
    }

    /// Whether anything serving the request asked the client a question so far (its
    /// result depends on the answers: never to be reused for another request).
    pub fn asked(&self) -> bool {
        self.request.asked()
    }

    /// Whether the request carries answers to earlier questions (a retry of an MCP
    /// 2026-07-28 round trip, a task resumed with answers).
    pub fn carries_answers(&self) -> bool {
        self.request.carries_answers()
    }

    /// The catalogue the request is served from.
    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.catalogue
    }

    /// The mount serving the request (inside a mount's chain).
    pub fn mount(&self) -> Option<&Arc<Mount>> {
        self.mount.as_ref()
    }

    /// Where the resource at `uri` is served in this request's catalogue (resolved once
    /// per request and URI, then shared).
    pub fn resource(&self, uri: &str) -> Option<Arc<Resolved>> {
        let mut cached = self
            .report
            .resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((seen, resolved)) = cached.as_ref()
            && seen == uri
        {
            return resolved.clone();
        }
        let resolved = self.catalogue.resolve_resource(uri).map(Arc::new);
        *cached = Some((uri.to_string(), resolved.clone()));
        resolved
    }

    /// The client's IP address (HTTP only).
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    /// When the request reached the pipeline.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// A bounded label for what `request` targets (metrics): the tool or prompt name,
    /// the static resource's URI or the template a URI matches; `unknown` for names
    /// the catalogue does not have (so that clients cannot grow the label set), `-`
    /// for requests without a component.
    pub fn component_label(&self, request: &super::Request) -> String {
        use super::Request;
        let cat = &self.catalogue;
        let known = match request {
            Request::CallTool(call) => cat.tools.get(&call.name).map(|_| call.name.clone()),
            Request::GetPrompt(call) => cat.prompts.get(&call.name).map(|_| call.name.clone()),
            Request::ReadResource(uri) => self
                .resource(uri)
                .map(|r| r.template.clone().unwrap_or_else(|| uri.clone())),
            _ => return "-".into(),
        };
        known.unwrap_or_else(|| "unknown".into())
    }

    /// How the last tool call through this context ended (`ok`, `tool_error`, `trap`,
    /// `timeout`, `out_of_memory`, `invalid_result`, `cancelled`, `invalid_params`, …).
    pub fn outcome(&self) -> Option<&'static str> {
        *self
            .report
            .outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Records how a tool call ended (the end of the chain does).
    pub fn set_outcome(&self, outcome: &'static str) {
        *self
            .report
            .outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    }

    /// Marks the last failure as transient (worth a retry).
    pub fn set_transient(&self) {
        self.report.transient.store(true, Ordering::Relaxed);
    }

    /// Whether the last failure was transient; clears the mark.
    pub fn take_transient(&self) -> bool {
        self.report.transient.swap(false, Ordering::Relaxed)
    }
}
