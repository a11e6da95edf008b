//! `visibility`: hides components by name or tool tag. A hidden component is absent
//! from its list and answers as if it did not exist (unknown tool or prompt, resource
//! not found); attached to a mount, it hides that mount's components only.

use async_trait::async_trait;
use rmcp::model::{
    CallToolResult, CompleteRequestParams, CompleteResult, GetPromptResult, Prompt,
    ReadResourceResult, Reference, Resource, ResourceTemplate, Tool,
};
use serde::{Deserialize, Serialize};

use super::{Middleware, MiddlewareContext, Next, Outcome, PromptCall, Request, ToolCall};
use crate::error::not_served;
use crate::registry::namespace;

/// `[[middleware]] type = "visibility"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Hidden tools and prompts (by name) and resources and templates (by URI). In a
    /// mount's chain, the mount's own names match too.
    pub disable: Vec<String>,
    /// Tools with any of these tags are hidden.
    pub disable_tags: Vec<String>,
    /// When not empty, only tools with one of these tags are shown.
    pub enable_tags: Vec<String>,
}

/// The visibility middleware.
pub struct Visibility {
    config: Config,
}

impl Visibility {
    /// A visibility middleware configured by `config`.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// Whether `served` (or, in a mount's chain, `local`) is disabled by name.
    fn disabled(&self, cx: &MiddlewareContext, served: &str, local: Option<&str>) -> bool {
        let in_mount = cx.mount().is_some();
        self.config
            .disable
            .iter()
            .any(|d| d == served || (in_mount && Some(d.as_str()) == local))
    }

    /// Whether the tool named `name` (as served) is hidden.
    fn tool_hidden(&self, cx: &MiddlewareContext, name: &str) -> bool {
        let entry = cx.catalogue().tools.get(name);
        let local = entry.map(|e| e.local_name.as_str());
        if self.disabled(cx, name, local) {
            return true;
        }
        let tags: &[String] = entry.map(|e| e.tags.as_slice()).unwrap_or_default();
        let tagged = |wanted: &[String]| tags.iter().any(|t| wanted.contains(t));
        tagged(&self.config.disable_tags)
            || (!self.config.enable_tags.is_empty() && !tagged(&self.config.enable_tags))
    }

    fn prompt_hidden(&self, cx: &MiddlewareContext, name: &str) -> bool {
        let local = cx
            .catalogue()
            .prompts
            .get(name)
            .map(|p| p.local_name.as_str());
        self.disabled(cx, name, local)
    }

    /// Whether the resource or template `uri` (as served) is hidden.
    fn uri_hidden(&self, cx: &MiddlewareContext, uri: &str) -> bool {
        let local = cx
            .mount()
            .and_then(|m| namespace::strip_uri(&m.namespace, uri));
        self.disabled(cx, uri, local.as_deref())
    }

    /// Whether a read of `uri` reaches a hidden resource or template.
    fn read_hidden(&self, cx: &MiddlewareContext, uri: &str) -> bool {
        if self.uri_hidden(cx, uri) {
            return true;
        }
        cx.resource(uri)
            .and_then(|r| r.template.clone())
            .is_some_and(|template| self.uri_hidden(cx, &template))
    }
}

#[async_trait]
impl Middleware for Visibility {
    fn name(&self) -> &str {
        "visibility"
    }

    /// A hidden resource cannot be subscribed to either (nor its existence learnt).
    async fn on_request(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        if let Request::Subscribe(uri) = &request
            && self.read_hidden(cx, uri)
        {
            return Err(not_served::resource(uri));
        }
        next.run(cx, request).await
    }

    async fn on_list_tools(&self, cx: &MiddlewareContext, next: Next<'_>) -> Outcome<Vec<Tool>> {
        let mut tools = next.list_tools(cx, ()).await?;
        tools.retain(|t| !self.tool_hidden(cx, &t.name));
        Ok(tools)
    }

    async fn on_call_tool(
        &self,
        cx: &MiddlewareContext,
        call: ToolCall,
        next: Next<'_>,
    ) -> Outcome<CallToolResult> {
        if self.tool_hidden(cx, &call.name) {
            return Err(not_served::tool(&call.name));
        }
        next.call_tool(cx, call).await
    }

    async fn on_list_resources(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<Resource>> {
        let mut resources = next.list_resources(cx, ()).await?;
        resources.retain(|r| !self.uri_hidden(cx, &r.uri));
        Ok(resources)
    }

    async fn on_list_resource_templates(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<ResourceTemplate>> {
        let mut templates = next.list_resource_templates(cx, ()).await?;
        templates.retain(|t| !self.uri_hidden(cx, &t.uri_template));
        Ok(templates)
    }

    async fn on_read_resource(
        &self,
        cx: &MiddlewareContext,
        uri: String,
        next: Next<'_>,
    ) -> Outcome<ReadResourceResult> {
        if self.read_hidden(cx, &uri) {
            return Err(not_served::resource(&uri));
        }
        next.read_resource(cx, uri).await
    }

    async fn on_list_prompts(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<Prompt>> {
        let mut prompts = next.list_prompts(cx, ()).await?;
        prompts.retain(|p| !self.prompt_hidden(cx, &p.name));
        Ok(prompts)
    }

    async fn on_complete(
        &self,
        cx: &MiddlewareContext,
        params: Box<CompleteRequestParams>,
        next: Next<'_>,
    ) -> Outcome<CompleteResult> {
        match &params.r#ref {
            Reference::Prompt(p) if self.prompt_hidden(cx, &p.name) => {
                Err(not_served::prompt(&p.name))
            }
            Reference::Resource(r) if self.uri_hidden(cx, &r.uri) => {
                Err(not_served::template(&r.uri))
            }
            _ => next.complete(cx, params).await,
        }
    }

    async fn on_get_prompt(
        &self,
        cx: &MiddlewareContext,
        call: PromptCall,
        next: Next<'_>,
    ) -> Outcome<GetPromptResult> {
        if self.prompt_hidden(cx, &call.name) {
            return Err(not_served::prompt(&call.name));
        }
        next.get_prompt(cx, call).await
    }
}
