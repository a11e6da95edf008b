//! `response-limit`: caps the size of tool results and resource contents. A larger
//! result is cut with a marker saying so (`on-exceed = "truncate"`) or refused with an
//! error naming the sizes (`"error"`).

use async_trait::async_trait;
use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolResult, ContentBlock as Content, ErrorCode, ReadResourceResult, ResourceContents,
};
use serde::{Deserialize, Serialize};

use super::spec::SpecError;
use super::{Middleware, MiddlewareContext, Next, Outcome, ToolCall};

/// What to do with a result over the limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnExceed {
    /// Keep the first part of the text, with a marker.
    #[default]
    Truncate,
    /// Answer with an error instead.
    Error,
}

/// `[[middleware]] type = "response-limit"`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Largest result, in bytes of JSON.
    pub max_bytes: usize,
    /// Truncate or refuse a larger one.
    pub on_exceed: OnExceed,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 20,
            on_exceed: OnExceed::Truncate,
        }
    }
}

impl Config {
    /// Checks the limit leaves room for a marker.
    pub fn check(&self) -> Result<(), SpecError> {
        if self.max_bytes < 256 {
            return Err(SpecError::new("max-bytes", "expected at least 256"));
        }
        Ok(())
    }
}

/// The response-limit middleware.
pub struct ResponseLimit {
    config: Config,
}

/// Room kept for the JSON around the text and the marker.
const ENVELOPE: usize = 200;

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl ResponseLimit {
    /// A response-limit middleware configured by `config`.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    fn marker(&self, size: usize) -> String {
        format!(
            "\n[truncated by pier: the result was {size} bytes, over the limit of {} (response-limit)]",
            self.config.max_bytes
        )
    }

    fn too_large(&self, what: &str, size: usize) -> String {
        format!(
            "the result of {what} is {size} bytes, over the limit of {} bytes (response-limit)",
            self.config.max_bytes
        )
    }
}

#[async_trait]
impl Middleware for ResponseLimit {
    fn name(&self) -> &str {
        "response-limit"
    }

    async fn on_call_tool(
        &self,
        cx: &MiddlewareContext,
        call: ToolCall,
        next: Next<'_>,
    ) -> Outcome<CallToolResult> {
        let name = call.name.clone();
        let result = next.call_tool(cx, call).await?;
        let size = serde_json::to_vec(&result).map(|v| v.len()).unwrap_or(0);
        if size <= self.config.max_bytes {
            return Ok(result);
        }
        let what = format!("tool `{name}`");
        if self.config.on_exceed == OnExceed::Error {
            return Ok(CallToolResult::error(vec![Content::text(
                self.too_large(&what, size),
            )]));
        }
        let text: Vec<&str> = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
            .collect();
        let text = text.join("\n");
        let marker = self.marker(size);
        let room = self
            .config
            .max_bytes
            .saturating_sub(ENVELOPE + marker.len());
        // JSON escaping can grow text: cut until the whole result fits.
        let mut keep = cut(&text, room);
        loop {
            let content = vec![Content::text(format!("{keep}{marker}"))];
            // A tool with an output schema must return matching structured content on
            // success, which a cut result no longer has: it becomes an error result.
            let declares_output = cx
                .catalogue()
                .tools
                .get(&name)
                .is_some_and(|t| t.tool.output_schema.is_some());
            let truncated = if result.is_error == Some(true) || declares_output {
                CallToolResult::error(content)
            } else {
                CallToolResult::success(content)
            };
            let fits = serde_json::to_vec(&truncated).map(|v| v.len()).unwrap_or(0)
                <= self.config.max_bytes;
            if fits || keep.is_empty() {
                return Ok(truncated);
            }
            keep = cut(keep, keep.len() / 2);
        }
    }

    async fn on_read_resource(
        &self,
        cx: &MiddlewareContext,
        uri: String,
        next: Next<'_>,
    ) -> Outcome<ReadResourceResult> {
        let result = next.read_resource(cx, uri.clone()).await?;
        let size = serde_json::to_vec(&result).map(|v| v.len()).unwrap_or(0);
        if size <= self.config.max_bytes {
            return Ok(result);
        }
        let what = format!("resource `{uri}`");
        let only_text = result
            .contents
            .iter()
            .all(|c| matches!(c, ResourceContents::TextResourceContents { .. }));
        if self.config.on_exceed == OnExceed::Error || !only_text {
            return Err(McpError::new(
                ErrorCode(-32000),
                self.too_large(&what, size),
                Some(
                    serde_json::json!({ "uri": uri, "bytes": size, "limit": self.config.max_bytes }),
                ),
            ));
        }
        let marker = self.marker(size);
        let mut room = self
            .config
            .max_bytes
            .saturating_sub(ENVELOPE + marker.len());
        let mut contents = Vec::new();
        for item in result.contents {
            if let ResourceContents::TextResourceContents {
                uri,
                mime_type,
                text,
                meta,
            } = item
            {
                let kept = cut(&text, room).to_string();
                room -= kept.len();
                let cut_here = kept.len() < text.len();
                let text = if cut_here {
                    format!("{kept}{marker}")
                } else {
                    kept
                };
                contents.push(ResourceContents::TextResourceContents {
                    uri,
                    mime_type,
                    text,
                    meta,
                });
                if cut_here {
                    break;
                }
            }
        }
        Ok(ReadResourceResult::new(contents))
    }
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cuts_fall_on_character_boundaries() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("abc", 10), "abc");
    }
}
