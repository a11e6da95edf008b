//! The machinery behind [`plugin!`](crate::plugin): definitions built by the attribute
//! macros, and the dispatch of the exported functions to them. Not a stable API.

use serde::de::DeserializeOwned;

use crate::__bindings::pier::mcp::types as wit;
use crate::output::{PromptOutput, ResourceOutput, ToolOutput};
use crate::template;
use crate::{CompletionRef, Context, Error};

pub use schemars;
pub use serde;
pub use serde_json;

/// A tool, as built by `#[tool]`.
pub struct ToolDef {
    /// Name.
    pub name: &'static str,
    /// Title.
    pub title: Option<&'static str>,
    /// Description (the doc comment).
    pub description: &'static str,
    /// JSON Schema of the arguments.
    pub input_schema: fn() -> serde_json::Value,
    /// JSON Schema of the structured result, if any.
    pub output_schema: fn() -> Option<serde_json::Value>,
    /// MCP annotations, as JSON text.
    pub annotations: Option<&'static str>,
    /// Free-form tags (for middleware that filters by tag).
    pub tags: &'static [&'static str],
    /// Runs the tool on its JSON arguments.
    pub handler: fn(&Context, serde_json::Value) -> Result<ToolResult, Error>,
}

/// Reads a resource: the request, the URI, and the template variables.
pub type ResourceFn =
    fn(&Context, &str, &[(String, String)]) -> Result<Vec<wit::ResourceContents>, Error>;

/// Renders a prompt from its arguments.
pub type PromptFn = fn(&Context, &[(String, String)]) -> Result<Vec<wit::PromptMessage>, Error>;

/// A resource or resource template, as built by `#[resource]`.
pub struct ResourceDef {
    /// URI, or URI template when it contains `{`.
    pub uri: &'static str,
    /// Name.
    pub name: &'static str,
    /// Title.
    pub title: Option<&'static str>,
    /// Description.
    pub description: Option<&'static str>,
    /// Media type.
    pub mime_type: Option<&'static str>,
    /// Reads it, given the URI and the template variables.
    pub handler: ResourceFn,
}

/// A prompt, as built by `#[prompt]`.
pub struct PromptDef {
    /// Name.
    pub name: &'static str,
    /// Title.
    pub title: Option<&'static str>,
    /// Description.
    pub description: Option<&'static str>,
    /// Arguments: name, description, required.
    pub arguments: Vec<(&'static str, Option<&'static str>, bool)>,
    /// Renders it.
    pub handler: PromptFn,
}

/// The completion function of a plugin.
pub type CompleteFn = fn(&CompletionRef, &str, &str) -> Vec<String>;

/// Everything `plugin!` declares.
pub struct PluginDef {
    /// Plugin name.
    pub name: &'static str,
    /// Plugin version.
    pub version: &'static str,
    /// Tools.
    pub tools: Vec<ToolDef>,
    /// Resources and templates.
    pub resources: Vec<ResourceDef>,
    /// Prompts.
    pub prompts: Vec<PromptDef>,
    /// Completions.
    pub complete: Option<CompleteFn>,
}

pub use crate::output::ToolResult;

/// The JSON Schema (2020-12) of `T`, for tool arguments and results, as FastMCP would
/// write it: no Rust-specific `format` (`uint32`, `double`, …: the `minimum` of an
/// unsigned type stays), and an optional property is its type, not its type or
/// `null` with `default: null` (leaving it out is how a client says "none").
pub fn schema_for<T: schemars::JsonSchema>() -> serde_json::Value {
    let mut schema = schemars::SchemaGenerator::default()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(obj) = schema.as_object_mut() {
        // The title is the generated argument struct's name: noise for a model.
        obj.remove("title");
    }
    clean(&mut schema);
    schema
}

/// The `format`s schemars gives Rust's number types: not JSON Schema formats.
const RUST_FORMATS: [&str; 14] = [
    "int", "int8", "int16", "int32", "int64", "int128", "uint", "uint8", "uint16", "uint32",
    "uint64", "uint128", "float", "double",
];

/// Cleans `schema` and its subschemas in place (see [`schema_for`]).
fn clean(schema: &mut serde_json::Value) {
    use serde_json::Value;
    match schema {
        Value::Array(items) => items.iter_mut().for_each(clean),
        Value::Object(map) => {
            if map
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| RUST_FORMATS.contains(&f))
            {
                map.remove("format");
            }
            let required: Vec<String> = map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|n| n.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                for (name, property) in properties.iter_mut() {
                    if !required.contains(name) {
                        not_null(property);
                    }
                }
            }
            for (key, value) in map.iter_mut() {
                if !matches!(key.as_str(), "default" | "const" | "enum" | "examples") {
                    clean(value);
                }
            }
        }
        _ => {}
    }
}

/// An optional property's schema without its `null`: `type: [T, "null"]` becomes
/// `type: T`, `anyOf: [S, {type: null}]` becomes `S`, and `default: null` goes.
fn not_null(property: &mut serde_json::Value) {
    use serde_json::Value;
    let Value::Object(map) = property else {
        return;
    };
    let null = Value::String("null".into());
    if map.get("default") == Some(&Value::Null) {
        map.remove("default");
    }
    if let Some(Value::Array(types)) = map.get_mut("type")
        && types.contains(&null)
    {
        types.retain(|t| t != &null);
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
        return;
    }
    let one_other = |key: &str, map: &serde_json::Map<String, Value>| {
        let options = map.get(key)?.as_array()?;
        let is_null =
            |o: &Value| o.get("type") == Some(&null) && o.as_object().map(|o| o.len()) == Some(1);
        if options.len() != 2 || !options.iter().any(is_null) {
            return None;
        }
        options.iter().find(|o| !is_null(o)).cloned()
    };
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Object(inner)) = one_other(key, map) {
            map.remove(key);
            for (k, v) in inner {
                map.entry(k).or_insert(v);
            }
            return;
        }
    }
}

/// Parses tool arguments; a mismatch is an `invalid-params` error naming the problem.
pub fn parse_args<T: DeserializeOwned>(
    tool: &str,
    arguments: serde_json::Value,
) -> Result<T, Error> {
    serde_json::from_value(arguments)
        .map_err(|e| Error::InvalidParams(format!("invalid arguments for tool `{tool}`: {e}")))
}

/// The value of template variable or prompt argument `name`.
pub fn arg(args: &[(String, String)], name: &str) -> Option<String> {
    args.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// The value of required argument `name`, or an `invalid-params` error naming it.
pub fn required_arg(args: &[(String, String)], name: &str) -> Result<String, Error> {
    arg(args, name).ok_or_else(|| Error::InvalidParams(format!("missing argument `{name}`")))
}

/// Converts a tool's return value.
pub fn tool_output<T: ToolOutput>(value: T) -> Result<ToolResult, Error> {
    value.into_tool_result()
}

/// Converts a resource's return value.
pub fn resource_output<T: ResourceOutput>(
    value: T,
    uri: &str,
    mime: Option<&str>,
) -> Result<Vec<wit::ResourceContents>, Error> {
    value.into_contents(uri, mime)
}

/// Converts a prompt's return value.
pub fn prompt_output<T: PromptOutput>(value: T) -> Result<Vec<wit::PromptMessage>, Error> {
    value.into_messages()
}

/// The output schema of a tool returning `T`.
pub fn output_schema_of<T: ToolOutput>(_: fn() -> T) -> Option<serde_json::Value> {
    T::output_schema()
}

fn to_wit(error: Error) -> wit::Error {
    match error {
        Error::InvalidParams(m) => wit::Error::InvalidParams(m),
        Error::NotFound(m) => wit::Error::NotFound(m),
        Error::Failed(m) => wit::Error::Failed(m),
    }
}

fn own(s: Option<&'static str>) -> Option<String> {
    s.map(str::to_string)
}

/// `describe`.
pub fn describe(def: &PluginDef) -> wit::Manifest {
    let tools = def
        .tools
        .iter()
        .map(|t| wit::Tool {
            name: t.name.into(),
            title: own(t.title),
            description: t.description.into(),
            input_schema: (t.input_schema)().to_string(),
            output_schema: (t.output_schema)().map(|s| s.to_string()),
            annotations: own(t.annotations),
            tags: t.tags.iter().map(|t| t.to_string()).collect(),
        })
        .collect();
    let (templates, resources): (Vec<_>, Vec<_>) =
        def.resources.iter().partition(|r| r.uri.contains('{'));
    wit::Manifest {
        name: def.name.into(),
        version: def.version.into(),
        tools,
        resources: resources
            .iter()
            .map(|r| wit::ResourceInfo {
                uri: r.uri.into(),
                name: r.name.into(),
                title: own(r.title),
                description: own(r.description),
                mime_type: own(r.mime_type),
            })
            .collect(),
        templates: templates
            .iter()
            .map(|r| wit::ResourceTemplate {
                uri_template: r.uri.into(),
                name: r.name.into(),
                title: own(r.title),
                description: own(r.description),
                mime_type: own(r.mime_type),
            })
            .collect(),
        prompts: def
            .prompts
            .iter()
            .map(|p| wit::Prompt {
                name: p.name.into(),
                title: own(p.title),
                description: own(p.description),
                arguments: p
                    .arguments
                    .iter()
                    .map(|(name, description, required)| wit::PromptArgument {
                        name: (*name).into(),
                        description: own(*description),
                        required: *required,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// `call-tool`.
pub fn call_tool(
    def: &PluginDef,
    name: &str,
    arguments: &str,
) -> Result<wit::ToolResult, wit::Error> {
    let tool = def
        .tools
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| wit::Error::NotFound(format!("unknown tool `{name}`")))?;
    let arguments = if arguments.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_str(arguments)
            .map_err(|e| wit::Error::InvalidParams(format!("arguments are not JSON: {e}")))?
    };
    match (tool.handler)(&Context::new(), arguments) {
        Ok(result) => Ok(result.into_wit()),
        // A failing tool is a result the model sees, not a protocol error.
        Err(Error::Failed(message)) => Ok(ToolResult::error(message).into_wit()),
        Err(other) => Err(to_wit(other)),
    }
}

/// `read-resource`.
pub fn read_resource(def: &PluginDef, uri: &str) -> Result<Vec<wit::ResourceContents>, wit::Error> {
    let ctx = Context::new();
    if let Some(r) = def.resources.iter().find(|r| r.uri == uri) {
        return (r.handler)(&ctx, uri, &[]).map_err(to_wit);
    }
    for r in def.resources.iter().filter(|r| r.uri.contains('{')) {
        if let Some(vars) = template::matches(r.uri, uri) {
            return (r.handler)(&ctx, uri, &vars).map_err(to_wit);
        }
    }
    Err(wit::Error::NotFound(format!("resource not found: {uri}")))
}

/// `get-prompt`.
pub fn get_prompt(
    def: &PluginDef,
    name: &str,
    arguments: Vec<(String, String)>,
) -> Result<wit::PromptResult, wit::Error> {
    let prompt = def
        .prompts
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| wit::Error::NotFound(format!("unknown prompt `{name}`")))?;
    let messages = (prompt.handler)(&Context::new(), &arguments).map_err(to_wit)?;
    Ok(wit::PromptResult {
        description: own(prompt.description),
        messages,
    })
}

/// `complete`.
pub fn complete(
    def: &PluginDef,
    reference: wit::CompletionRef,
    argument: &str,
    value: &str,
) -> Result<Vec<String>, wit::Error> {
    let reference = match reference {
        wit::CompletionRef::Prompt(p) => CompletionRef::Prompt(p),
        wit::CompletionRef::ResourceTemplate(t) => CompletionRef::ResourceTemplate(t),
    };
    Ok(def
        .complete
        .map(|f| f(&reference, argument, value))
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A shape.
    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Shape {
        sides: u8,
    }

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Args {
        /// How many.
        count: u32,
        ratio: f64,
        #[serde(default)]
        limit: Option<u32>,
        #[serde(default)]
        label: Option<String>,
        #[serde(default)]
        shape: Option<Shape>,
    }

    #[test]
    fn generated_schemas_read_like_fastmcps() {
        assert_eq!(
            schema_for::<Args>(),
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "count": {"description": "How many.", "type": "integer", "minimum": 0},
                    "ratio": {"type": "number"},
                    "limit": {"type": "integer", "minimum": 0},
                    "label": {"type": "string"},
                    "shape": {"$ref": "#/$defs/Shape"},
                },
                "required": ["count", "ratio"],
                "$defs": {
                    "Shape": {
                        "description": "A shape.",
                        "type": "object",
                        "properties": {"sides": {"type": "integer", "minimum": 0, "maximum": 255}},
                        "required": ["sides"],
                    }
                },
            })
        );
    }
}
