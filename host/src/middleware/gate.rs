//! What `visibility` and `authorization` share: a middleware that hides components and
//! refuses their use. A [`Gate`] says, per component, whether and how a request is
//! refused; [`Gated`] filters every list by it and refuses calls, reads, renders,
//! completions and subscriptions it refuses.

use async_trait::async_trait;
use rmcp::ErrorData;
use rmcp::model::{Prompt, Reference, Resource, ResourceTemplate, Tool};

use super::{Middleware, MiddlewareContext, Next, Outcome, Request};

/// Per component: the error refusing it to the caller of `cx`, or `None`.
pub trait Gate: Send + Sync + 'static {
    /// The middleware's name.
    fn name(&self) -> &str;
    /// Tool `name` (as served).
    fn tool(&self, cx: &MiddlewareContext, name: &str) -> Option<ErrorData>;
    /// Prompt `name` (as served).
    fn prompt(&self, cx: &MiddlewareContext, name: &str) -> Option<ErrorData>;
    /// A static resource or a template `uri`, as listed.
    fn listed(&self, cx: &MiddlewareContext, uri: &str) -> Option<ErrorData>;
    /// A completion about template `uri`.
    fn template(&self, cx: &MiddlewareContext, uri: &str) -> Option<ErrorData>;
    /// A read of (or subscription to) `uri`.
    fn read(&self, cx: &MiddlewareContext, uri: &str) -> Option<ErrorData>;
    /// Whether the caller with `subject` and `scopes` may read `uri` (served as
    /// `resolved`), asked before a request has a middleware context (what a
    /// `subscriptions/listen` acknowledgement may name). By default: it may.
    fn may_read(
        &self,
        _subject: Option<&str>,
        _scopes: &[String],
        _uri: &str,
        _resolved: &crate::registry::Resolved,
    ) -> bool {
        true
    }
}

/// The error refusing `request` (a call, read, render, completion or subscription) to
/// the caller of `cx`, or `None`: what [`Gated`] checks on the way in, and what the
/// end of the chain checks again on the request as it arrives there, so that no
/// middleware after the gate can retarget a request to a component it refuses.
pub fn refusal(gate: &dyn Gate, cx: &MiddlewareContext, request: &Request) -> Option<ErrorData> {
    match request {
        Request::CallTool(call) => gate.tool(cx, &call.name),
        Request::ReadResource(uri) | Request::Subscribe(uri) => gate.read(cx, uri),
        Request::GetPrompt(call) => gate.prompt(cx, &call.name),
        Request::Complete(params) => match &params.r#ref {
            Reference::Prompt(p) => gate.prompt(cx, &p.name),
            Reference::Resource(r) => gate.template(cx, &r.uri),
            _ => None,
        },
        _ => None,
    }
}

/// The middleware of a [`Gate`]: refuses what [`refusal`] refuses, and filters lists.
/// The authorization gate counts its refusals (`pier_auth_refusals_total`).
pub struct Gated(
    pub std::sync::Arc<dyn Gate>,
    pub Option<std::sync::Arc<crate::telemetry::Metrics>>,
);

#[async_trait]
impl Middleware for Gated {
    fn name(&self) -> &str {
        self.0.name()
    }

    async fn on_request(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        if let Some(error) = refusal(self.0.as_ref(), cx, &request) {
            if let Some(metrics) = &self.1 {
                metrics.auth_refused("rule", Some(&error.message));
            }
            return Err(error);
        }
        next.run(cx, request).await
    }

    async fn on_list_tools(&self, cx: &MiddlewareContext, next: Next<'_>) -> Outcome<Vec<Tool>> {
        let mut tools = next.list_tools(cx, ()).await?;
        tools.retain(|t| self.0.tool(cx, &t.name).is_none());
        Ok(tools)
    }

    async fn on_list_resources(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<Resource>> {
        let mut resources = next.list_resources(cx, ()).await?;
        resources.retain(|r| self.0.listed(cx, &r.uri).is_none());
        Ok(resources)
    }

    async fn on_list_resource_templates(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<ResourceTemplate>> {
        let mut templates = next.list_resource_templates(cx, ()).await?;
        templates.retain(|t| self.0.listed(cx, &t.uri_template).is_none());
        Ok(templates)
    }

    async fn on_list_prompts(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<Prompt>> {
        let mut prompts = next.list_prompts(cx, ()).await?;
        prompts.retain(|p| self.0.prompt(cx, &p.name).is_none());
        Ok(prompts)
    }
}
