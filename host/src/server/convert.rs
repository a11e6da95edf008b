//! Plugin results (WIT types) to MCP results, putting namespaces back on URIs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmcp::model::{CallToolResult, GetPromptResult, ReadResourceResult};
use serde_json::{Value, json};

use crate::registry::namespace;
use crate::runtime::types::{
    Content, PromptResult, ResourceBody, ResourceContents, Role, ToolResult,
};

/// Why a plugin result could not be turned into an MCP result.
#[derive(Debug, thiserror::Error)]
#[error("plugin returned an invalid result: {0}")]
pub struct ConvertError(String);

impl ConvertError {
    /// An error saying `why` the result is invalid.
    pub fn new(why: impl Into<String>) -> Self {
        Self(why.into())
    }
}

fn model<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ConvertError> {
    serde_json::from_value(value).map_err(|e| ConvertError(e.to_string()))
}

/// MCP JSON of one resource item.
pub fn resource_contents(ns: &str, c: &ResourceContents) -> Value {
    let mut v = json!({ "uri": namespace::uri(ns, &c.uri) });
    if let Some(mime) = &c.mime_type {
        v["mimeType"] = json!(mime);
    }
    match &c.body {
        ResourceBody::Text(text) => v["text"] = json!(text),
        ResourceBody::Blob(bytes) => v["blob"] = json!(BASE64.encode(bytes)),
    }
    v
}

/// MCP JSON of one content item.
pub fn content(ns: &str, c: &Content) -> Value {
    match c {
        Content::Text(text) => json!({ "type": "text", "text": text }),
        Content::Image(b) => {
            json!({ "type": "image", "data": BASE64.encode(&b.data), "mimeType": b.mime_type })
        }
        Content::Audio(b) => {
            json!({ "type": "audio", "data": BASE64.encode(&b.data), "mimeType": b.mime_type })
        }
        Content::EmbeddedResource(r) => {
            json!({ "type": "resource", "resource": resource_contents(ns, r) })
        }
        Content::ResourceLink(l) => {
            let mut v = json!({ "type": "resource_link", "uri": namespace::uri(ns, &l.uri), "name": l.name });
            if let Some(d) = &l.description {
                v["description"] = json!(d);
            }
            if let Some(m) = &l.mime_type {
                v["mimeType"] = json!(m);
            }
            v
        }
    }
}

/// The MCP result of a tool call.
pub fn tool_result(ns: &str, r: &ToolResult) -> Result<CallToolResult, ConvertError> {
    let content: Vec<Value> = r.content.iter().map(|c| content(ns, c)).collect();
    let mut v = json!({ "content": content, "isError": r.is_error });
    if let Some(structured) = &r.structured {
        let value: Value = serde_json::from_str(structured)
            .map_err(|e| ConvertError(format!("structured content is not JSON: {e}")))?;
        v["structuredContent"] = value;
    }
    model(v)
}

/// A tool result with `isError: true` and `message` as its text.
pub fn tool_error(message: &str) -> CallToolResult {
    CallToolResult::error(vec![rmcp::model::ContentBlock::text(message)])
}

/// The MCP result of a resource read.
pub fn read_result(
    ns: &str,
    contents: &[ResourceContents],
) -> Result<ReadResourceResult, ConvertError> {
    let contents: Vec<Value> = contents.iter().map(|c| resource_contents(ns, c)).collect();
    model(json!({ "contents": contents }))
}

/// The MCP result of a prompt.
pub fn prompt_result(ns: &str, r: &PromptResult) -> Result<GetPromptResult, ConvertError> {
    let messages: Vec<Value> = r
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            json!({ "role": role, "content": content(ns, &m.content) })
        })
        .collect();
    let mut v = json!({ "messages": messages });
    if let Some(d) = &r.description {
        v["description"] = json!(d);
    }
    model(v)
}
