//! The request a plugin function serves: log to the client, report progress, ask the
//! client's model (sampling) or its user (elicitation), read request information and
//! request-scoped state, read other mounts' resources and prompts, notify subscribers.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::__bindings::pier::mcp::context as host;
use crate::__bindings::pier::mcp::types as wit;
use crate::Error;
use crate::output::{Content, Message, Role};

/// Severity of a log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Significant but normal.
    Notice,
    /// Something looks wrong.
    Warning,
    /// Something failed.
    Error,
}

/// Who made the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// JSON-RPC id of the request, as JSON text.
    pub request_id: String,
    /// An opaque id of the client's session (stable for the session, the same on every
    /// pier instance), if it has one. It is not the transport's `Mcp-Session-Id`, which
    /// is the session's credential and never handed to plugins.
    pub session_id: Option<String>,
    /// The client's name.
    pub client_name: Option<String>,
    /// The client's version.
    pub client_version: Option<String>,
    /// Subject of the verified access token, when auth is on.
    pub subject: Option<String>,
    /// Scopes of the verified access token, when auth is on.
    pub scopes: Vec<String>,
}

/// A request to the client's model (`sampling/createMessage`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    messages: Vec<(Role, String)>,
    system_prompt: Option<String>,
    max_tokens: u32,
    temperature: Option<f64>,
}

impl Sampling {
    /// One user message, answered in at most 1000 tokens.
    pub fn new(prompt: impl Into<String>) -> Self {
        Self {
            messages: vec![(Role::User, prompt.into())],
            system_prompt: None,
            max_tokens: 1000,
            temperature: None,
        }
    }

    /// Adds a message to the conversation.
    pub fn message(mut self, role: Role, text: impl Into<String>) -> Self {
        self.messages.push((role, text.into()));
        self
    }

    /// The system prompt.
    pub fn system(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = Some(prompt.into());
        self
    }

    /// The longest answer, in tokens.
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = n;
        self
    }

    /// The sampling temperature.
    pub fn temperature(mut self, t: f64) -> Self {
        self.temperature = Some(t);
        self
    }

    /// The JSON params of `sampling/createMessage`.
    pub fn to_params(&self) -> Value {
        let messages: Vec<Value> = self
            .messages
            .iter()
            .map(|(role, text)| {
                let role = match role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                json!({ "role": role, "content": { "type": "text", "text": text } })
            })
            .collect();
        let mut params = json!({ "messages": messages, "maxTokens": self.max_tokens });
        if let Some(system) = &self.system_prompt {
            params["systemPrompt"] = json!(system);
        }
        if let Some(t) = self.temperature {
            params["temperature"] = json!(t);
        }
        params
    }
}

/// The model's answer to a [`Sampling`] request.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    /// The text of the answer (`None` when it is not text).
    pub text: Option<String>,
    /// The model that answered, as the client names it.
    pub model: String,
    /// Why it stopped (`endTurn`, `maxTokens`, …), when the client says.
    pub stop_reason: Option<String>,
    /// The whole `sampling/createMessage` result.
    pub raw: Value,
}

/// The user's answer to an elicitation.
#[derive(Debug, Clone, PartialEq)]
pub enum Elicitation<T> {
    /// The user filled the form.
    Accept(T),
    /// The user declined.
    Decline,
    /// The user dismissed the request.
    Cancel,
}

/// A question for the client, asked with [`Context::ask`].
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// Ask the client's model: the JSON params of `sampling/createMessage` (see
    /// [`Sampling::to_params`]).
    Sample(Value),
    /// Ask the user to fill a form: a message and the requested JSON Schema (see
    /// [`form_schema`]).
    Elicit {
        /// Shown to the user.
        message: String,
        /// The form.
        schema: Value,
    },
    /// Ask for the client's roots (`roots/list`).
    ListRoots,
}

/// The client's answer to a [`Question`], in the order asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The JSON of the `sampling/createMessage` result.
    Sampled(Value),
    /// The user's answer to the form.
    Elicited(Elicitation<Value>),
    /// The JSON of the `roots/list` result (`{"roots": [{"uri": …, "name": …}]}`).
    Roots(Value),
}

/// One of the client's roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// Its URI (`file:///…`).
    pub uri: String,
    /// Its name, when the client gives one.
    pub name: Option<String>,
}

fn elicitation(result: host::ElicitResult) -> Elicitation<Value> {
    match result {
        host::ElicitResult::Accept(content) => {
            Elicitation::Accept(serde_json::from_str(&content).unwrap_or(Value::Null))
        }
        host::ElicitResult::Decline => Elicitation::Decline,
        host::ElicitResult::Cancel => Elicitation::Cancel,
    }
}

fn parsed(what: &str, text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::Failed(format!("the {what} is not JSON: {e}")))
}

fn from_host(error: wit::Error) -> Error {
    match error {
        wit::Error::InvalidParams(m) => Error::InvalidParams(m),
        wit::Error::NotFound(m) => Error::NotFound(m),
        wit::Error::Failed(m) | wit::Error::Unsupported(m) => Error::Failed(m),
    }
}

/// The JSON Schema of `T` as an elicitation form: an object of primitive properties,
/// without the keywords (`$schema`, `format` of numbers, nullable unions) that
/// elicitation schemas do not allow.
pub fn form_schema<T: JsonSchema>() -> Value {
    let mut schema = crate::runtime::schema_for::<T>();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("$schema");
    }
    if let Some(props) = schema["properties"].as_object_mut() {
        for prop in props.values_mut() {
            let Some(p) = prop.as_object_mut() else {
                continue;
            };
            // `Option<String>` is `"type": ["string", "null"]`: the form field is optional.
            if let Some(types) = p.get("type").and_then(Value::as_array).cloned()
                && let Some(t) = types.iter().find(|t| *t != "null")
            {
                p.insert("type".into(), t.clone());
            }
            if p.get("type")
                .is_some_and(|t| t == "integer" || t == "number")
            {
                p.remove("format");
            }
        }
    }
    schema
}

/// A handle on the request being served. Take `ctx: &Context` as a parameter of a
/// `#[tool]`, `#[resource]` or `#[prompt]` function to receive it.
#[derive(Debug)]
pub struct Context {
    _private: (),
}

impl Context {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// Sends a log message to the client (and pier's log).
    pub fn log(&self, level: LogLevel, message: impl AsRef<str>) {
        let level = match level {
            LogLevel::Debug => wit::LogLevel::Debug,
            LogLevel::Info => wit::LogLevel::Info,
            LogLevel::Notice => wit::LogLevel::Notice,
            LogLevel::Warning => wit::LogLevel::Warning,
            LogLevel::Error => wit::LogLevel::Error,
        };
        host::log(level, message.as_ref(), None);
    }

    /// Logs at `debug`.
    pub fn debug(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Debug, message);
    }

    /// Logs at `info`.
    pub fn info(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Info, message);
    }

    /// Logs at `warning`.
    pub fn warn(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Warning, message);
    }

    /// Logs at `error`.
    pub fn error(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Error, message);
    }

    /// Reports progress (sent only when the client asked for it). `progress` must increase.
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        host::report_progress(progress, total, message);
    }

    /// Who made the request.
    pub fn request(&self) -> RequestInfo {
        let info = host::request();
        RequestInfo {
            request_id: info.request_id,
            session_id: info.session_id,
            client_name: info.client_name,
            client_version: info.client_version,
            subject: info.subject,
            scopes: info.scopes,
        }
    }

    /// A request-scoped value set earlier in this request.
    pub fn get_state(&self, key: &str) -> Option<serde_json::Value> {
        host::get_state(key).and_then(|text| serde_json::from_str(&text).ok())
    }

    /// Sets a request-scoped value; it is gone when the request ends.
    pub fn set_state(&self, key: &str, value: &serde_json::Value) {
        host::set_state(key, &value.to_string());
    }

    /// True once the client cancelled the request. A guest that never asks is stopped
    /// anyway; asking lets a long loop end cleanly.
    pub fn is_cancelled(&self) -> bool {
        host::is_cancelled()
    }

    /// Asks the client's model for a completion (`sampling/createMessage`) and waits
    /// for the answer. Fails when the client does not support sampling or refuses.
    pub fn sample(&self, request: &Sampling) -> Result<Sampled, Error> {
        let raw = self.sample_raw(&request.to_params())?;
        let text = match &raw["content"] {
            Value::Array(items) => items.iter().find_map(|c| c["text"].as_str()),
            single => single["text"].as_str(),
        }
        .map(str::to_string);
        Ok(Sampled {
            text,
            model: raw["model"].as_str().unwrap_or_default().to_string(),
            stop_reason: raw["stopReason"].as_str().map(str::to_string),
            raw,
        })
    }

    /// [`sample`](Self::sample) with the params and result as JSON, for what
    /// [`Sampling`] does not cover (model preferences, images, tools).
    pub fn sample_raw(&self, params: &Value) -> Result<Value, Error> {
        let answer = host::sample(&params.to_string()).map_err(from_host)?;
        serde_json::from_str(&answer)
            .map_err(|e| Error::Failed(format!("the sampling answer is not JSON: {e}")))
    }

    /// Asks the user to fill a form for `T` (`elicitation/create`; the form is `T`'s
    /// JSON Schema, see [`form_schema`]) and waits for the answer.
    pub fn elicit<T: JsonSchema + DeserializeOwned>(
        &self,
        message: &str,
    ) -> Result<Elicitation<T>, Error> {
        Ok(match self.elicit_raw(message, &form_schema::<T>())? {
            Elicitation::Accept(value) => {
                Elicitation::Accept(serde_json::from_value(value).map_err(|e| {
                    Error::Failed(format!("the user's answer does not fit the form: {e}"))
                })?)
            }
            Elicitation::Decline => Elicitation::Decline,
            Elicitation::Cancel => Elicitation::Cancel,
        })
    }

    /// [`elicit`](Self::elicit) with the requested schema and the answer as JSON.
    pub fn elicit_raw(&self, message: &str, schema: &Value) -> Result<Elicitation<Value>, Error> {
        Ok(elicitation(
            host::elicit(message, &schema.to_string()).map_err(from_host)?,
        ))
    }

    /// Asks the client several questions, each under a key of your choosing (unique
    /// within the call), and waits for the answers, in the order asked.
    ///
    /// Over MCP 2026-07-28 the questions are one round trip: pier stops this call and
    /// answers the client `input_required`; the client's retry runs the call again
    /// **from the start** in a fresh instance, and this time `ask` returns the answers.
    /// Whatever the function does before `ask` runs once per round: keep it free of
    /// side effects, or do them after the last question. Over 2025-11-25 the questions
    /// go to the client one by one. A question the client declared no capability for
    /// fails with [`Error::Failed`] (`unsupported`), asking nothing.
    pub fn ask(&self, questions: &[(&str, Question)]) -> Result<Vec<Answer>, Error> {
        let questions: Vec<(String, host::InputRequest)> = questions
            .iter()
            .map(|(key, question)| {
                let request = match question {
                    Question::Sample(params) => host::InputRequest::Sample(params.to_string()),
                    Question::Elicit { message, schema } => {
                        host::InputRequest::Elicit((message.clone(), schema.to_string()))
                    }
                    Question::ListRoots => host::InputRequest::ListRoots,
                };
                (key.to_string(), request)
            })
            .collect();
        host::ask(&questions)
            .map_err(from_host)?
            .into_iter()
            .map(|answer| {
                Ok(match answer {
                    host::InputResponse::Sampled(text) => {
                        Answer::Sampled(parsed("sampling answer", &text)?)
                    }
                    host::InputResponse::Elicited(result) => Answer::Elicited(elicitation(result)),
                    host::InputResponse::Roots(text) => {
                        Answer::Roots(parsed("roots answer", &text)?)
                    }
                })
            })
            .collect()
    }

    /// The client's roots (`roots/list`, asked under the key `roots`).
    pub fn list_roots(&self) -> Result<Vec<Root>, Error> {
        let answer = self.ask(&[("roots", Question::ListRoots)])?;
        let Some(Answer::Roots(raw)) = answer.into_iter().next() else {
            return Err(Error::Failed("the client gave no roots".into()));
        };
        Ok(raw["roots"]
            .as_array()
            .map(|roots| {
                roots
                    .iter()
                    .filter_map(|r| {
                        Some(Root {
                            uri: r["uri"].as_str()?.to_string(),
                            name: r["name"].as_str().map(str::to_string),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Reads a resource of any mount by its namespaced URI, as a client would: the text
    /// of each item, or its bytes.
    pub fn read_resource(&self, uri: &str) -> Result<Vec<Content>, Error> {
        let contents = host::read_resource(uri).map_err(from_host)?;
        Ok(contents
            .into_iter()
            .map(Content::from_wit_resource)
            .collect())
    }

    /// Renders a prompt of any mount by its namespaced name, as a client would.
    pub fn get_prompt(
        &self,
        name: &str,
        arguments: &[(&str, &str)],
    ) -> Result<Vec<Message>, Error> {
        let arguments: Vec<(String, String)> = arguments
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let result = host::get_prompt(name, &arguments).map_err(from_host)?;
        Ok(result.messages.into_iter().map(Message::from_wit).collect())
    }

    /// Tells the clients subscribed to this plugin's resource `uri` (as the plugin
    /// knows it, without the namespace) that it changed.
    pub fn notify_resource_updated(&self, uri: &str) -> Result<(), Error> {
        host::notify_resource_updated(uri).map_err(from_host)
    }

    /// Lets this tool call go on as a task (MCP 2026-07-28): the client gets the task
    /// now and fetches the result later; questions asked from now on belong to the
    /// task, those asked before were round trips of the call. Needs
    /// `#[tool(task = "optional")]` (or `"required"`) and a client that declared the
    /// tasks extension; returns whether the call is a task from now on. A task tool
    /// that runs longer than `server.task-after-ms` becomes one by itself.
    pub fn start_task(&self) -> bool {
        host::start_task()
    }

    /// Switches one of this plugin's own tools, prompts or resources (named as the
    /// plugin knows it; a resource by its URI or template) on or off. A component
    /// switched off leaves every list and cannot be used until switched on again;
    /// clients hear `list_changed`. Everything starts on, and a swapped plugin starts
    /// over; each pier process keeps its own switches. Returns whether this changed
    /// anything; `Error::NotFound` when the plugin offers no such component; an error
    /// past 16 switches in one request (each may notify every client).
    pub fn set_enabled(&self, kind: Component, name: &str, enabled: bool) -> Result<bool, Error> {
        let kind = match kind {
            Component::Tool => host::ComponentKind::Tool,
            Component::Prompt => host::ComponentKind::Prompt,
            Component::Resource => host::ComponentKind::Resource,
        };
        host::set_enabled(kind, name, enabled).map_err(from_host)
    }
}

/// A kind of component [`Context::set_enabled`] switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// A tool, by name.
    Tool,
    /// A prompt, by name.
    Prompt,
    /// A static resource by URI, or a resource template by its template.
    Resource,
}
