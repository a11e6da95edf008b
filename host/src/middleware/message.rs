//! What passes through the pipeline: one MCP message and its result, typed per
//! operation, with their JSON forms (payload logs and WASM middlewares see those).

use rmcp::model::{
    CallToolResult, CompleteRequestParams, CompleteResult, GetPromptResult,
    InitializeRequestParams, InitializeResult, InputRequests, Prompt, ReadResourceResult, Resource,
    ResourceTemplate, Tool,
};
use serde_json::{Map, Value, json};

/// A `tools/call`: the tool's (namespaced) name and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The tool, as clients name it.
    pub name: String,
    /// Its arguments (an object).
    pub arguments: Map<String, Value>,
}

/// A `prompts/get`: the prompt's (namespaced) name and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptCall {
    /// The prompt, as clients name it.
    pub name: String,
    /// Its arguments (strings, by the protocol; checked after the pipeline).
    pub arguments: Map<String, Value>,
}

/// One MCP message as middleware sees it.
#[derive(Debug, Clone)]
pub enum Request {
    /// `initialize`.
    Initialize(Box<InitializeRequestParams>),
    /// `tools/call`.
    CallTool(ToolCall),
    /// `resources/read` of a (namespaced) URI.
    ReadResource(String),
    /// `prompts/get`.
    GetPrompt(PromptCall),
    /// `completion/complete`.
    Complete(Box<CompleteRequestParams>),
    /// `tools/list` (the whole list).
    ListTools,
    /// `resources/list` (the whole list).
    ListResources,
    /// `resources/templates/list` (the whole list).
    ListResourceTemplates,
    /// `prompts/list` (the whole list).
    ListPrompts,
    /// `resources/subscribe` to a (namespaced) URI: only `on_message` and `on_request`
    /// see it (visibility refuses hidden resources there).
    Subscribe(String),
    /// `resources/unsubscribe` from a (namespaced) URI, like [`Request::Subscribe`].
    Unsubscribe(String),
    /// Any other request (`logging/setLevel`, …): only
    /// `on_message` and `on_request` see it.
    Other(&'static str),
    /// A notification from the client (`notifications/initialized`, …): only
    /// `on_message` and `on_notification` see it; its response is [`Response::Empty`].
    Notification(&'static str),
}

impl Request {
    /// The MCP method.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Initialize(_) => "initialize",
            Self::CallTool(_) => "tools/call",
            Self::ReadResource(_) => "resources/read",
            Self::GetPrompt(_) => "prompts/get",
            Self::Complete(_) => "completion/complete",
            Self::ListTools => "tools/list",
            Self::ListResources => "resources/list",
            Self::ListResourceTemplates => "resources/templates/list",
            Self::ListPrompts => "prompts/list",
            Self::Subscribe(_) => "resources/subscribe",
            Self::Unsubscribe(_) => "resources/unsubscribe",
            Self::Other(method) | Self::Notification(method) => method,
        }
    }

    /// What the request targets: the tool or prompt name, or the resource URI.
    pub fn component(&self) -> Option<&str> {
        match self {
            Self::CallTool(call) => Some(&call.name),
            Self::ReadResource(uri) | Self::Subscribe(uri) | Self::Unsubscribe(uri) => Some(uri),
            Self::GetPrompt(call) => Some(&call.name),
            _ => None,
        }
    }

    /// Whether it is a notification (no response goes back).
    pub fn is_notification(&self) -> bool {
        matches!(self, Self::Notification(_))
    }

    /// The same request with `params` (the shape [`Request::params`] gives) instead of
    /// its own; the method stays. Lists and other requests have nothing to replace.
    pub fn with_params(&self, params: Value) -> Result<Self, String> {
        fn field<T: serde::de::DeserializeOwned>(params: &Value, key: &str) -> Result<T, String> {
            serde_json::from_value(params.get(key).cloned().unwrap_or(Value::Null))
                .map_err(|e| format!("`{key}`: {e}"))
        }
        let arguments = |params: &Value| -> Result<Map<String, Value>, String> {
            match params.get("arguments") {
                None | Some(Value::Null) => Ok(Map::new()),
                Some(_) => field(params, "arguments"),
            }
        };
        Ok(match self {
            Self::CallTool(_) => Self::CallTool(ToolCall {
                name: field(&params, "name")?,
                arguments: arguments(&params)?,
            }),
            Self::ReadResource(_) => Self::ReadResource(field(&params, "uri")?),
            Self::Subscribe(_) => Self::Subscribe(field(&params, "uri")?),
            Self::Unsubscribe(_) => Self::Unsubscribe(field(&params, "uri")?),
            Self::GetPrompt(_) => Self::GetPrompt(PromptCall {
                name: field(&params, "name")?,
                arguments: arguments(&params)?,
            }),
            Self::Complete(_) => {
                Self::Complete(serde_json::from_value(params).map_err(|e| e.to_string())?)
            }
            other => other.clone(),
        })
    }

    /// Its params as JSON, as the client sent them (payload logs and WASM middlewares
    /// see this).
    pub fn params(&self) -> Value {
        match self {
            Self::CallTool(call) => json!({ "name": call.name, "arguments": call.arguments }),
            Self::ReadResource(uri) | Self::Subscribe(uri) | Self::Unsubscribe(uri) => {
                json!({ "uri": uri })
            }
            Self::GetPrompt(call) => json!({ "name": call.name, "arguments": call.arguments }),
            Self::Complete(params) => serde_json::to_value(params).unwrap_or_default(),
            Self::Initialize(params) => serde_json::to_value(params).unwrap_or_default(),
            _ => json!({}),
        }
    }
}

/// The result of one MCP message as middleware sees it.
#[derive(Debug, Clone)]
pub enum Response {
    /// Of `initialize`.
    Initialize(Box<InitializeResult>),
    /// Of `tools/call`.
    CallTool(CallToolResult),
    /// Of `resources/read`.
    ReadResource(ReadResourceResult),
    /// Of `prompts/get`.
    GetPrompt(GetPromptResult),
    /// Of `completion/complete`.
    Complete(CompleteResult),
    /// Of `tools/list`.
    Tools(Vec<Tool>),
    /// Of `resources/list`.
    Resources(Vec<Resource>),
    /// Of `resources/templates/list`.
    ResourceTemplates(Vec<ResourceTemplate>),
    /// Of `prompts/list`.
    Prompts(Vec<Prompt>),
    /// Of `tools/call`, `resources/read` or `prompts/get` over MCP 2026-07-28: the call
    /// stopped at questions for the client (under their keys), to be answered by a
    /// retry of the request.
    InputRequired(InputRequests),
    /// Of a request without a result worth showing, or of a notification.
    Empty,
}

impl Response {
    /// The response of `method` from its JSON (what [`Response::to_json`] gives).
    pub fn from_json(method: &str, value: Value) -> Result<Self, String> {
        fn parse<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
            serde_json::from_value(value).map_err(|e| e.to_string())
        }
        let items = |key: &str| value.get(key).cloned().unwrap_or(Value::Null);
        if value.get("resultType").and_then(Value::as_str) == Some("input_required") {
            return Ok(Self::InputRequired(parse(items("inputRequests"))?));
        }
        Ok(match method {
            "tools/call" => Self::CallTool(parse(value)?),
            "resources/read" => Self::ReadResource(parse(value)?),
            "prompts/get" => Self::GetPrompt(parse(value)?),
            "completion/complete" => Self::Complete(parse(value)?),
            "initialize" => Self::Initialize(parse(value)?),
            "tools/list" => Self::Tools(parse(items("tools"))?),
            "resources/list" => Self::Resources(parse(items("resources"))?),
            "resources/templates/list" => {
                Self::ResourceTemplates(parse(items("resourceTemplates"))?)
            }
            "prompts/list" => Self::Prompts(parse(items("prompts"))?),
            _ => Self::Empty,
        })
    }

    /// The result as JSON, as the client receives it.
    pub fn to_json(&self) -> Value {
        let value = match self {
            Self::Initialize(r) => serde_json::to_value(r),
            Self::CallTool(r) => serde_json::to_value(r),
            Self::ReadResource(r) => serde_json::to_value(r),
            Self::GetPrompt(r) => serde_json::to_value(r),
            Self::Complete(r) => serde_json::to_value(r),
            Self::Tools(items) => serde_json::to_value(json!({ "tools": items })),
            Self::Resources(items) => serde_json::to_value(json!({ "resources": items })),
            Self::ResourceTemplates(items) => {
                serde_json::to_value(json!({ "resourceTemplates": items }))
            }
            Self::Prompts(items) => serde_json::to_value(json!({ "prompts": items })),
            Self::InputRequired(requests) => serde_json::to_value(
                json!({ "resultType": "input_required", "inputRequests": requests }),
            ),
            Self::Empty => Ok(json!({})),
        };
        value.unwrap_or_default()
    }
}
