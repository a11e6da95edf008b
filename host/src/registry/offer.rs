//! What a mount offers under its own names, in MCP's types: built from a plugin's
//! checked manifest, or fetched from a proxied server.

use std::sync::Arc;

use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};
use serde_json::{Value, json};

use super::manifest::{CheckedManifest, ManifestError};
use super::template::UriTemplate;

/// A tool a mount offers, under its own name.
pub struct OfferedTool {
    /// The tool as the mount names it.
    pub tool: Tool,
    /// Its compiled input schema (absent when a remote schema does not compile: the
    /// remote server then checks the arguments itself).
    pub validator: Option<Arc<jsonschema::Validator>>,
    /// Its compiled output schema, checked against a plugin's structured results.
    pub output_validator: Option<Arc<jsonschema::Validator>>,
    /// Its tags (for middleware that filters by tag).
    pub tags: Vec<String>,
    /// Whether a call may go on as a task.
    pub task: super::manifest::TaskSupport,
    /// The operator's transformation, when one changed the tool: its own name, and how
    /// a call's arguments map back.
    pub applied: Option<Arc<super::transform::Applied>>,
}

impl OfferedTool {
    /// The tool's name in the mount (before any transformation).
    pub fn own_name(&self) -> &str {
        match &self.applied {
            Some(applied) => &applied.original,
            None => &self.tool.name,
        }
    }
}

/// What a mount offers, under its own names (before namespacing).
#[derive(Default)]
pub struct Offer {
    /// Tools.
    pub tools: Vec<OfferedTool>,
    /// Static resources.
    pub resources: Vec<Resource>,
    /// Resource templates, with their parsed form.
    pub templates: Vec<(ResourceTemplate, UriTemplate)>,
    /// Prompts.
    pub prompts: Vec<Prompt>,
}

impl Offer {
    /// The offer of a plugin's checked manifest, in MCP's types; an entry MCP's types
    /// cannot hold refuses the manifest, naming the entry.
    pub fn from_manifest(m: &CheckedManifest) -> Result<Self, ManifestError> {
        let tools = m
            .tools
            .iter()
            .map(|t| {
                let what = format!("tool `{}`", t.tool.name);
                Ok(OfferedTool {
                    tool: model(
                        &what,
                        json!({
                            "name": t.tool.name,
                            "title": t.tool.title,
                            "description": t.tool.description,
                            "inputSchema": t.input_schema,
                            "outputSchema": t.output_schema,
                            "annotations": t.annotations,
                        }),
                    )?,
                    validator: Some(t.validator.clone()),
                    output_validator: t.output_validator.clone(),
                    tags: t.tool.tags.clone(),
                    task: t.task.unwrap_or_default(),
                    applied: None,
                })
            })
            .collect::<Result<_, ManifestError>>()?;
        let resources = m
            .resources
            .iter()
            .map(|r| {
                model(
                    &format!("resource `{}`", r.uri),
                    json!({
                        "uri": r.uri, "name": r.name, "title": r.title,
                        "description": r.description, "mimeType": r.mime_type,
                    }),
                )
            })
            .collect::<Result<_, _>>()?;
        let templates = m
            .templates
            .iter()
            .map(|(t, parsed)| {
                let template = model(
                    &format!("resource template `{}`", t.uri_template),
                    json!({
                        "uriTemplate": t.uri_template, "name": t.name, "title": t.title,
                        "description": t.description, "mimeType": t.mime_type,
                    }),
                )?;
                Ok((template, parsed.clone()))
            })
            .collect::<Result<_, ManifestError>>()?;
        let prompts = m
            .prompts
            .iter()
            .map(|p| {
                let arguments: Vec<Value> = p
                    .arguments
                    .iter()
                    .map(|a| json!({"name": a.name, "description": a.description, "required": a.required}))
                    .collect();
                model(
                    &format!("prompt `{}`", p.name),
                    json!({
                        "name": p.name, "title": p.title, "description": p.description, "arguments": arguments,
                    }),
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            tools,
            resources,
            templates,
            prompts,
        })
    }
}

/// `value` as MCP's type `T`; the error names `what` and the field that does not fit.
fn model<T: serde::de::DeserializeOwned>(what: &str, value: Value) -> Result<T, ManifestError> {
    serde_json::from_value(value)
        .map_err(|e| ManifestError(format!("{what} does not fit MCP's types: {e}")))
}
