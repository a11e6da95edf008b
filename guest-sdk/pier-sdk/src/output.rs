//! What plugin functions may return, and how it becomes a result of the contract.

use schemars::JsonSchema;
use serde::Serialize;

use crate::__bindings::pier::mcp::types as wit;
use crate::Error;

/// A tool result built by hand: content items, optional structured data, error flag.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolResult {
    texts: Vec<String>,
    structured: Option<serde_json::Value>,
    is_error: bool,
}

impl ToolResult {
    /// A result with one text item.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            texts: vec![text.into()],
            ..Self::default()
        }
    }

    /// A failed result (`isError: true`) the model sees, with `message` as its text.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            texts: vec![message.into()],
            structured: None,
            is_error: true,
        }
    }

    /// Adds structured data (`structuredContent`).
    pub fn with_structured(mut self, value: serde_json::Value) -> Self {
        self.structured = Some(value);
        self
    }

    pub(crate) fn into_wit(self) -> wit::ToolResult {
        wit::ToolResult {
            content: self.texts.into_iter().map(wit::Content::Text).collect(),
            structured: self.structured.map(|v| v.to_string()),
            is_error: self.is_error,
        }
    }
}

/// Structured tool output: `value` becomes `structuredContent`, its type's JSON Schema
/// becomes the tool's `outputSchema`, and `text` (default: the JSON) the text content.
#[derive(Debug, Clone)]
pub struct Structured<T> {
    /// The structured value.
    pub value: T,
    /// The text shown alongside it.
    pub text: Option<String>,
}

impl<T> Structured<T> {
    /// Structured output whose text is the JSON of `value`.
    pub fn new(value: T) -> Self {
        Self { value, text: None }
    }

    /// Sets the text content shown with the structured value.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }
}

/// A value a `#[tool]` function may return.
pub trait ToolOutput {
    /// The JSON Schema of the structured result, when there is one.
    fn output_schema() -> Option<serde_json::Value> {
        None
    }
    /// The tool result; `Err` for failures.
    fn into_tool_result(self) -> Result<ToolResult, Error>;
}

impl ToolOutput for ToolResult {
    fn into_tool_result(self) -> Result<ToolResult, Error> {
        Ok(self)
    }
}

impl ToolOutput for String {
    fn into_tool_result(self) -> Result<ToolResult, Error> {
        Ok(ToolResult::text(self))
    }
}

impl ToolOutput for &str {
    fn into_tool_result(self) -> Result<ToolResult, Error> {
        Ok(ToolResult::text(self))
    }
}

macro_rules! display_output {
    ($($t:ty),*) => {$(
        impl ToolOutput for $t {
            fn into_tool_result(self) -> Result<ToolResult, Error> {
                Ok(ToolResult::text(self.to_string()))
            }
        }
    )*};
}
display_output!(bool, i32, i64, u32, u64, f32, f64);

impl<T: Serialize + JsonSchema> ToolOutput for Structured<T> {
    fn output_schema() -> Option<serde_json::Value> {
        Some(crate::runtime::schema_for::<T>())
    }
    fn into_tool_result(self) -> Result<ToolResult, Error> {
        let value = serde_json::to_value(&self.value)
            .map_err(|e| Error::Failed(format!("cannot serialise the result: {e}")))?;
        let text = self.text.unwrap_or_else(|| value.to_string());
        Ok(ToolResult::text(text).with_structured(value))
    }
}

impl<T: ToolOutput, E: std::fmt::Display> ToolOutput for Result<T, E> {
    fn output_schema() -> Option<serde_json::Value> {
        T::output_schema()
    }
    fn into_tool_result(self) -> Result<ToolResult, Error> {
        match self {
            Ok(value) => value.into_tool_result(),
            Err(e) => Err(Error::Failed(e.to_string())),
        }
    }
}

/// A value a `#[resource]` function may return.
pub trait ResourceOutput {
    /// The contents of the resource at `uri`.
    fn into_contents(
        self,
        uri: &str,
        mime: Option<&str>,
    ) -> Result<Vec<wit::ResourceContents>, Error>;
}

impl ResourceOutput for String {
    fn into_contents(
        self,
        uri: &str,
        mime: Option<&str>,
    ) -> Result<Vec<wit::ResourceContents>, Error> {
        Ok(vec![wit::ResourceContents {
            uri: uri.into(),
            mime_type: Some(mime.unwrap_or("text/plain").into()),
            body: wit::ResourceBody::Text(self),
        }])
    }
}

impl ResourceOutput for &str {
    fn into_contents(
        self,
        uri: &str,
        mime: Option<&str>,
    ) -> Result<Vec<wit::ResourceContents>, Error> {
        self.to_string().into_contents(uri, mime)
    }
}

impl ResourceOutput for Vec<u8> {
    fn into_contents(
        self,
        uri: &str,
        mime: Option<&str>,
    ) -> Result<Vec<wit::ResourceContents>, Error> {
        Ok(vec![wit::ResourceContents {
            uri: uri.into(),
            mime_type: Some(mime.unwrap_or("application/octet-stream").into()),
            body: wit::ResourceBody::Blob(self),
        }])
    }
}

impl<T: ResourceOutput, E: std::fmt::Display> ResourceOutput for Result<T, E> {
    fn into_contents(
        self,
        uri: &str,
        mime: Option<&str>,
    ) -> Result<Vec<wit::ResourceContents>, Error> {
        match self {
            Ok(value) => value.into_contents(uri, mime),
            Err(e) => Err(Error::Failed(e.to_string())),
        }
    }
}

/// One message of a rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Said by the user.
    User(String),
    /// Said by the assistant.
    Assistant(String),
}

/// A value a `#[prompt]` function may return: a `String` is one user message.
pub trait PromptOutput {
    /// The messages.
    fn into_messages(self) -> Result<Vec<wit::PromptMessage>, Error>;
}

impl PromptOutput for String {
    fn into_messages(self) -> Result<Vec<wit::PromptMessage>, Error> {
        vec![Message::User(self)].into_messages()
    }
}

impl PromptOutput for Vec<Message> {
    fn into_messages(self) -> Result<Vec<wit::PromptMessage>, Error> {
        Ok(self
            .into_iter()
            .map(|m| match m {
                Message::User(t) => wit::PromptMessage {
                    role: wit::Role::User,
                    content: wit::Content::Text(t),
                },
                Message::Assistant(t) => wit::PromptMessage {
                    role: wit::Role::Assistant,
                    content: wit::Content::Text(t),
                },
            })
            .collect())
    }
}

impl<T: PromptOutput, E: std::fmt::Display> PromptOutput for Result<T, E> {
    fn into_messages(self) -> Result<Vec<wit::PromptMessage>, Error> {
        match self {
            Ok(value) => value.into_messages(),
            Err(e) => Err(Error::Failed(e.to_string())),
        }
    }
}

impl ToolOutput for () {
    fn into_tool_result(self) -> Result<ToolResult, Error> {
        Ok(ToolResult::default())
    }
}
