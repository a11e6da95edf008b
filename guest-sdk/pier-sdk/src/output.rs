//! What plugin functions may return, and how it becomes a result of the contract.

use schemars::JsonSchema;
use serde::Serialize;

use crate::__bindings::pier::mcp::types as wit;
use crate::Error;

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The user.
    User,
    /// The assistant (the model).
    Assistant,
}

/// The body of a resource: text or bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Text.
    Text(String),
    /// Bytes (sent base64-encoded).
    Blob(Vec<u8>),
}

/// One content item of a tool result or a prompt message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Text.
    Text(String),
    /// An image (`data` is the raw bytes, e.g. a PNG file).
    Image {
        /// The bytes.
        data: Vec<u8>,
        /// E.g. `image/png`.
        mime_type: String,
    },
    /// Audio (`data` is the raw bytes, e.g. a WAV file).
    Audio {
        /// The bytes.
        data: Vec<u8>,
        /// E.g. `audio/wav`.
        mime_type: String,
    },
    /// An embedded resource. In a plugin's own results `uri` is as the plugin knows it
    /// (pier adds the namespace); read from another mount it is namespaced.
    Resource {
        /// The resource's URI.
        uri: String,
        /// Its MIME type.
        mime_type: Option<String>,
        /// Its contents.
        body: Body,
    },
    /// A link to a resource.
    Link {
        /// The resource's URI.
        uri: String,
        /// Its name.
        name: String,
        /// What it is.
        description: Option<String>,
        /// Its MIME type.
        mime_type: Option<String>,
    },
}

impl Content {
    /// A text item.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// An embedded text resource.
    pub fn resource(uri: impl Into<String>, mime_type: &str, text: impl Into<String>) -> Self {
        Self::Resource {
            uri: uri.into(),
            mime_type: Some(mime_type.to_string()),
            body: Body::Text(text.into()),
        }
    }

    /// The text of a text item or of a text resource.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t)
            | Self::Resource {
                body: Body::Text(t),
                ..
            } => Some(t),
            _ => None,
        }
    }

    pub(crate) fn into_wit(self) -> wit::Content {
        match self {
            Self::Text(t) => wit::Content::Text(t),
            Self::Image { data, mime_type } => wit::Content::Image(wit::Blob { data, mime_type }),
            Self::Audio { data, mime_type } => wit::Content::Audio(wit::Blob { data, mime_type }),
            Self::Resource {
                uri,
                mime_type,
                body,
            } => wit::Content::EmbeddedResource(wit::ResourceContents {
                uri,
                mime_type,
                body: match body {
                    Body::Text(t) => wit::ResourceBody::Text(t),
                    Body::Blob(b) => wit::ResourceBody::Blob(b),
                },
            }),
            Self::Link {
                uri,
                name,
                description,
                mime_type,
            } => wit::Content::ResourceLink(wit::ResourceLink {
                uri,
                name,
                description,
                mime_type,
            }),
        }
    }

    pub(crate) fn from_wit_resource(r: wit::ResourceContents) -> Self {
        Self::Resource {
            uri: r.uri,
            mime_type: r.mime_type,
            body: match r.body {
                wit::ResourceBody::Text(t) => Body::Text(t),
                wit::ResourceBody::Blob(b) => Body::Blob(b),
            },
        }
    }

    pub(crate) fn from_wit(c: wit::Content) -> Self {
        match c {
            wit::Content::Text(t) => Self::Text(t),
            wit::Content::Image(b) => Self::Image {
                data: b.data,
                mime_type: b.mime_type,
            },
            wit::Content::Audio(b) => Self::Audio {
                data: b.data,
                mime_type: b.mime_type,
            },
            wit::Content::EmbeddedResource(r) => Self::from_wit_resource(r),
            wit::Content::ResourceLink(l) => Self::Link {
                uri: l.uri,
                name: l.name,
                description: l.description,
                mime_type: l.mime_type,
            },
        }
    }
}

/// A tool result built by hand: content items, optional structured data, error flag.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolResult {
    content: Vec<Content>,
    structured: Option<serde_json::Value>,
    is_error: bool,
}

impl ToolResult {
    /// A result with one text item.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(vec![Content::Text(text.into())])
    }

    /// A result with these content items.
    pub fn new(content: Vec<Content>) -> Self {
        Self {
            content,
            ..Self::default()
        }
    }

    /// Adds a content item.
    pub fn with(mut self, item: Content) -> Self {
        self.content.push(item);
        self
    }

    /// A failed result (`isError: true`) the model sees, with `message` as its text.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            content: vec![Content::Text(message.into())],
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
            content: self.content.into_iter().map(Content::into_wit).collect(),
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

/// Any `Err` of a tool is a tool error the model sees and can act on (MCP reports input
/// validation failures that way too); only arguments that do not decode are a protocol
/// error.
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

/// An `Err` keeps its kind: [`Error::NotFound`] is "resource not found" for the client.
impl<T: ResourceOutput, E: Into<Error>> ResourceOutput for Result<T, E> {
    fn into_contents(
        self,
        uri: &str,
        mime: Option<&str>,
    ) -> Result<Vec<wit::ResourceContents>, Error> {
        self.map_err(Into::into)?.into_contents(uri, mime)
    }
}

/// One message of a rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Text said by the user.
    User(String),
    /// Text said by the assistant.
    Assistant(String),
    /// Any content (an image, an embedded resource, …) said by `role`.
    Content(Role, Content),
}

impl Message {
    pub(crate) fn into_wit(self) -> wit::PromptMessage {
        let (role, content) = match self {
            Message::User(t) => (wit::Role::User, wit::Content::Text(t)),
            Message::Assistant(t) => (wit::Role::Assistant, wit::Content::Text(t)),
            Message::Content(Role::User, c) => (wit::Role::User, c.into_wit()),
            Message::Content(Role::Assistant, c) => (wit::Role::Assistant, c.into_wit()),
        };
        wit::PromptMessage { role, content }
    }

    pub(crate) fn from_wit(m: wit::PromptMessage) -> Self {
        match (m.role, Content::from_wit(m.content)) {
            (wit::Role::User, Content::Text(t)) => Message::User(t),
            (wit::Role::Assistant, Content::Text(t)) => Message::Assistant(t),
            (wit::Role::User, c) => Message::Content(Role::User, c),
            (wit::Role::Assistant, c) => Message::Content(Role::Assistant, c),
        }
    }
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
        Ok(self.into_iter().map(Message::into_wit).collect())
    }
}

/// An `Err` keeps its kind: [`Error::InvalidParams`] is a protocol error for the client.
impl<T: PromptOutput, E: Into<Error>> PromptOutput for Result<T, E> {
    fn into_messages(self) -> Result<Vec<wit::PromptMessage>, Error> {
        self.map_err(Into::into)?.into_messages()
    }
}

impl ToolOutput for () {
    fn into_tool_result(self) -> Result<ToolResult, Error> {
        Ok(ToolResult::default())
    }
}
