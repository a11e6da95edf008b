//! `visibility`: hides components by name or tool tag. A hidden component is absent
//! from its list and answers as if it did not exist (unknown tool or prompt, resource
//! not found); attached to a mount, it hides that mount's components only.

use rmcp::ErrorData;
use serde::{Deserialize, Serialize};

use super::MiddlewareContext;
use super::gate::Gate;
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

impl Gate for Visibility {
    fn name(&self) -> &str {
        "visibility"
    }

    fn tool(&self, cx: &MiddlewareContext, name: &str) -> Option<ErrorData> {
        self.tool_hidden(cx, name).then(|| not_served::tool(name))
    }

    fn prompt(&self, cx: &MiddlewareContext, name: &str) -> Option<ErrorData> {
        self.prompt_hidden(cx, name)
            .then(|| not_served::prompt(name))
    }

    fn listed(&self, cx: &MiddlewareContext, uri: &str) -> Option<ErrorData> {
        self.uri_hidden(cx, uri).then(|| not_served::resource(uri))
    }

    fn template(&self, cx: &MiddlewareContext, uri: &str) -> Option<ErrorData> {
        self.uri_hidden(cx, uri).then(|| not_served::template(uri))
    }

    /// A hidden resource cannot be subscribed to either (nor its existence learnt).
    fn read(&self, cx: &MiddlewareContext, uri: &str) -> Option<ErrorData> {
        self.read_hidden(cx, uri).then(|| not_served::resource(uri))
    }
}
