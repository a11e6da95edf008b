//! Plugin results (WIT types) to MCP results, putting namespaces back on URIs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmcp::model::{CallToolResult, ContentBlock, GetPromptResult, ReadResourceResult};
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
///
/// Built directly (text, the common case, without a detour through JSON); the result
/// carries no `resultType`, as a guest's result does not (the handler marks it).
pub fn tool_result(ns: &str, r: &ToolResult) -> Result<CallToolResult, ConvertError> {
    let mut result = CallToolResult::default();
    result.result_type = None;
    result.is_error = Some(r.is_error);
    result.content = r
        .content
        .iter()
        .map(|c| match c {
            Content::Text(text) => Ok(ContentBlock::text(text.as_str())),
            other => model(content(ns, other)),
        })
        .collect::<Result<_, _>>()?;
    if let Some(structured) = &r.structured {
        let value: Value = serde_json::from_str(structured)
            .map_err(|e| ConvertError(format!("structured content is not JSON: {e}")))?;
        result.structured_content = Some(value);
    }
    Ok(result)
}

/// A tool result with `isError: true` and `message` as its text.
pub fn tool_error(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
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

/// MCP results (as JSON) back to WIT types, for reads and prompts a plugin makes through
/// the host: URIs stay namespaced, as the client would see them.
pub mod guest {
    use base64::Engine as _;
    use serde_json::Value;

    use super::BASE64;
    use crate::runtime::types::{
        Blob, Content, PromptMessage, PromptResult, ResourceBody, ResourceContents, ResourceLink,
        Role,
    };

    /// `v` as an error repeats it: cut to [`crate::text::CLIP_CHARS`] characters (a
    /// guest's value can be megabytes).
    fn shown(v: &Value) -> String {
        crate::text::clip(&v.to_string()).into_owned()
    }

    fn text(v: &Value, field: &str) -> Result<String, String> {
        v[field]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("`{field}` missing in {}", shown(v)))
    }

    fn optional(v: &Value, field: &str) -> Option<String> {
        v[field].as_str().map(str::to_string)
    }

    fn bytes(v: &Value, field: &str) -> Result<Vec<u8>, String> {
        BASE64
            .decode(text(v, field)?)
            .map_err(|e| format!("`{field}` is not base64: {e}"))
    }

    /// One resource item (`{uri, mimeType?, text | blob}`).
    pub fn resource_contents(v: &Value) -> Result<ResourceContents, String> {
        let body = if v.get("blob").is_some() {
            ResourceBody::Blob(bytes(v, "blob")?)
        } else {
            ResourceBody::Text(text(v, "text")?)
        };
        Ok(ResourceContents {
            uri: text(v, "uri")?,
            mime_type: optional(v, "mimeType"),
            body,
        })
    }

    /// The `contents` array of a read result.
    pub fn resource_contents_list(v: &Value) -> Result<Vec<ResourceContents>, String> {
        v.as_array()
            .ok_or_else(|| format!("not a list of resource contents: {}", shown(v)))?
            .iter()
            .map(resource_contents)
            .collect()
    }

    /// One content item.
    pub fn content(v: &Value) -> Result<Content, String> {
        let blob = |v: &Value| -> Result<Blob, String> {
            Ok(Blob {
                data: bytes(v, "data")?,
                mime_type: text(v, "mimeType")?,
            })
        };
        match v["type"].as_str() {
            Some("text") => Ok(Content::Text(text(v, "text")?)),
            Some("image") => Ok(Content::Image(blob(v)?)),
            Some("audio") => Ok(Content::Audio(blob(v)?)),
            Some("resource") => Ok(Content::EmbeddedResource(resource_contents(
                &v["resource"],
            )?)),
            Some("resource_link") => Ok(Content::ResourceLink(ResourceLink {
                uri: text(v, "uri")?,
                name: text(v, "name")?,
                description: optional(v, "description"),
                mime_type: optional(v, "mimeType"),
            })),
            _ => Err(format!("unknown content {}", shown(v))),
        }
    }

    /// A prompt result.
    pub fn prompt_result(v: &Value) -> Result<PromptResult, String> {
        let messages = v["messages"]
            .as_array()
            .ok_or_else(|| format!("a prompt result without messages: {}", shown(v)))?
            .iter()
            .map(|m| {
                let role = match m["role"].as_str() {
                    Some("assistant") => Role::Assistant,
                    _ => Role::User,
                };
                Ok(PromptMessage {
                    role,
                    content: content(&m["content"])?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(PromptResult {
            description: optional(v, "description"),
            messages,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::runtime::types::{Blob, ResourceLink};

    fn result(content: Vec<Content>, structured: Option<&str>, is_error: bool) -> ToolResult {
        ToolResult {
            content,
            structured: structured.map(str::to_string),
            is_error,
        }
    }

    #[test]
    fn a_tool_result_is_the_mcp_json_of_every_content_kind() {
        let r = result(
            vec![
                Content::Text("hi".into()),
                Content::Image(Blob {
                    data: vec![1, 2, 3],
                    mime_type: "image/png".into(),
                }),
                Content::ResourceLink(ResourceLink {
                    uri: "notes://a".into(),
                    name: "a".into(),
                    description: None,
                    mime_type: Some("text/plain".into()),
                }),
                Content::Text("bye".into()),
            ],
            Some(r#"{"n":1}"#),
            true,
        );
        let converted = tool_result("ns", &r).expect("a valid result");
        assert_eq!(converted.result_type, None, "the handler marks it");
        assert_eq!(
            serde_json::to_value(&converted).expect("serializes"),
            json!({
                "content": [
                    { "type": "text", "text": "hi" },
                    { "type": "image", "data": "AQID", "mimeType": "image/png" },
                    {
                        "type": "resource_link",
                        "uri": namespace::uri("ns", "notes://a"),
                        "name": "a",
                        "mimeType": "text/plain",
                    },
                    { "type": "text", "text": "bye" },
                ],
                "structuredContent": { "n": 1 },
                "isError": true,
            })
        );
    }

    #[test]
    fn structured_content_that_is_not_json_is_refused_and_null_is_kept() {
        let bad = result(vec![Content::Text("x".into())], Some("{not json"), false);
        let error = tool_result("ns", &bad).expect_err("refused");
        assert!(
            error
                .to_string()
                .starts_with("plugin returned an invalid result: structured content is not JSON:"),
            "{error}"
        );
        let null = tool_result("ns", &result(vec![], Some("null"), false)).expect("valid");
        assert_eq!(null.structured_content, Some(serde_json::Value::Null));
        assert_eq!(null.content, vec![]);
        assert_eq!(null.is_error, Some(false));
    }
}
