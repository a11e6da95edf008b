//! Validation of what a plugin's `describe` returns: names, JSON Schemas, URIs.
//! A plugin whose manifest fails any check is refused with the first reason found.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use super::template::UriTemplate;
use crate::runtime::types::{Manifest, Prompt, ResourceInfo, ResourceTemplate, Tool};

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid manifest: {0}")]
pub struct ManifestError(pub String);

/// A tool whose schemas parsed and compiled.
pub struct CheckedTool {
    /// The tool as described.
    pub tool: Tool,
    /// Its input schema.
    pub input_schema: Value,
    /// Its output schema, if any.
    pub output_schema: Option<Value>,
    /// Its annotations, if any.
    pub annotations: Option<Value>,
    /// The compiled input schema, used on every call.
    pub validator: Arc<jsonschema::Validator>,
    /// The compiled output schema, checked against every structured result.
    pub output_validator: Option<Arc<jsonschema::Validator>>,
    /// Whether a call may go on as a task (`None`: its annotations do not say; the
    /// sidecar's `tasks` then does).
    pub task: Option<TaskSupport>,
}

/// Whether a call of a tool may go on as a task (the MCP 2026-07-28 tasks extension):
/// `taskSupport` in the tool's annotations, which pier reads and does not list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskSupport {
    /// Never: the call always answers in its request.
    #[default]
    Forbidden,
    /// When the client declared the extension.
    Optional,
    /// Always: a client that did not declare the extension is refused (-32021).
    Required,
}

/// A manifest that passed every check.
pub struct CheckedManifest {
    /// Plugin name and version, as the plugin reported them.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// Tools.
    pub tools: Vec<CheckedTool>,
    /// Static resources.
    pub resources: Vec<ResourceInfo>,
    /// Resource templates with their parsed form.
    pub templates: Vec<(ResourceTemplate, UriTemplate)>,
    /// Prompts.
    pub prompts: Vec<Prompt>,
}

fn fail<T>(message: String) -> Result<T, ManifestError> {
    Err(ManifestError(message))
}

/// Checks a component name: 1–64 of `A–Z a–z 0–9 _ - .`.
fn check_name(kind: &str, name: &str) -> Result<(), ManifestError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        fail(format!(
            "{kind} name `{name}` must be 1 to 64 characters of A-Z a-z 0-9 _ - ."
        ))
    }
}

fn check_unique<'a>(
    seen: &mut HashSet<&'a str>,
    kind: &str,
    name: &'a str,
) -> Result<(), ManifestError> {
    if seen.insert(name) {
        Ok(())
    } else {
        fail(format!("duplicate {kind} `{name}`"))
    }
}

/// Checks that `uri` starts with a scheme and `://`.
fn check_uri(kind: &str, uri: &str) -> Result<(), ManifestError> {
    let scheme_ok = uri.split_once("://").is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    });
    if scheme_ok && !uri.chars().any(char::is_whitespace) {
        Ok(())
    } else {
        fail(format!("{kind} URI `{uri}` must look like `scheme://path`"))
    }
}

fn parse_object(what: &str, text: &str) -> Result<Value, ManifestError> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => fail(format!("{what} must be a JSON object")),
        Err(e) => fail(format!("{what} is not valid JSON: {e}")),
    }
}

/// Compiles `schema` (any JSON Schema draft it declares; 2020-12 by default).
pub fn compile_schema(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(schema).map_err(|e| e.to_string())
}

/// The JSON Schema dialect of MCP: a schema without `$schema` is read as this one.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The dialects a schema may name in `$schema` (MCP allows others than 2020-12; pier
/// checks these against their meta-schemas).
const KNOWN_DIALECTS: [&str; 5] = [
    DIALECT,
    "https://json-schema.org/draft/2019-09/schema",
    "http://json-schema.org/draft-07/schema",
    "http://json-schema.org/draft-06/schema",
    "http://json-schema.org/draft-04/schema",
];

/// Refuses a `$schema` pier cannot check a schema against.
fn check_dialect(what: &str, schema: &Value) -> Result<(), ManifestError> {
    let Some(dialect) = schema.get("$schema") else {
        return Ok(());
    };
    let known = dialect
        .as_str()
        .is_some_and(|d| KNOWN_DIALECTS.contains(&d.trim_end_matches('#')));
    if known {
        return Ok(());
    }
    fail(format!(
        "{what} names `$schema` {}, not a JSON Schema dialect pier knows (MCP's is {DIALECT})",
        crate::text::clip(&dialect.to_string())
    ))
}

/// Refuses `x-mcp-header` annotations (SEP-2243: tool arguments mirrored in
/// `Mcp-Param-*` HTTP headers) that clients would drop: each must sit on a property
/// reached from the root through `properties` alone, be a non-empty HTTP token unique
/// in the schema (ignoring case), and annotate a string, integer or boolean.
fn check_param_headers(what: &str, schema: &Value) -> Result<(), ManifestError> {
    /// Walks `schema` at JSON pointer `at`; `on_chain` while only `properties` led here.
    fn walk(
        what: &str,
        schema: &Value,
        at: &str,
        on_chain: bool,
        seen: &mut std::collections::HashSet<String>,
    ) -> Result<(), ManifestError> {
        match schema {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(what, item, &format!("{at}/{i}"), false, seen)?;
                }
                Ok(())
            }
            Value::Object(map) => {
                for (key, value) in map {
                    match key.as_str() {
                        "x-mcp-header" => check_header(what, map, value, at, on_chain, seen)?,
                        "properties" => {
                            let Some(properties) = value.as_object() else {
                                continue;
                            };
                            for (name, property) in properties {
                                let at = format!("{at}/properties/{name}");
                                walk(what, property, &at, on_chain, seen)?;
                            }
                        }
                        // Instance data or property names, not subschemas.
                        "default" | "const" | "enum" | "examples" | "dependentRequired" => {}
                        _ => walk(what, value, &format!("{at}/{key}"), false, seen)?,
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    fn check_header(
        what: &str,
        property: &serde_json::Map<String, Value>,
        header: &Value,
        at: &str,
        on_chain: bool,
        seen: &mut std::collections::HashSet<String>,
    ) -> Result<(), ManifestError> {
        let at = if at.is_empty() { "/" } else { at };
        if !on_chain || at == "/" {
            return fail(format!(
                "{what}: x-mcp-header at {} must annotate a property reached from the root through `properties` alone",
                crate::text::clip(at)
            ));
        }
        let Some(header) = header.as_str().filter(|h| !h.is_empty()) else {
            return fail(format!(
                "{what}: x-mcp-header at {} must be a non-empty string",
                crate::text::clip(at)
            ));
        };
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if !header.chars().all(token) {
            return fail(format!(
                "{what}: x-mcp-header `{}` at {} is not an HTTP token",
                crate::text::clip(header),
                crate::text::clip(at)
            ));
        }
        if !seen.insert(header.to_ascii_lowercase()) {
            return fail(format!(
                "{what}: x-mcp-header `{header}` at {} is used twice (ignoring case)",
                crate::text::clip(at)
            ));
        }
        match property.get("type").and_then(Value::as_str) {
            Some("string" | "integer" | "boolean") => Ok(()),
            _ => fail(format!(
                "{what}: x-mcp-header at {} needs a string, integer or boolean `type`",
                crate::text::clip(at)
            )),
        }
    }
    walk(
        what,
        schema,
        "",
        true,
        &mut std::collections::HashSet::new(),
    )
}

/// Parses and compiles a JSON Schema whose `type` must be `object`: checked against
/// the meta-schema of its dialect (`$schema`, 2020-12 when absent), errors naming the
/// path of the offending keyword.
fn check_schema(what: &str, text: &str) -> Result<(Value, jsonschema::Validator), ManifestError> {
    let schema = parse_object(what, text)?;
    if schema.get("type") != Some(&Value::String("object".into())) {
        return fail(format!("{what} must have \"type\": \"object\""));
    }
    check_dialect(what, &schema)?;
    if let Err(e) = jsonschema::meta::validate(&schema) {
        return fail(format!(
            "{what} is not a valid JSON Schema: {e} (at {})",
            e.instance_path()
        ));
    }
    check_param_headers(what, &schema)?;
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| ManifestError(format!("{what} is not a valid JSON Schema: {e}")))?;
    Ok((schema, validator))
}

fn check_tool(tool: Tool) -> Result<CheckedTool, ManifestError> {
    check_name("tool", &tool.name)?;
    let name = &tool.name;
    let (input_schema, validator) = check_schema(
        &format!("input schema of tool `{name}`"),
        &tool.input_schema,
    )?;
    let (output_schema, output_validator) = match &tool.output_schema {
        Some(text) => {
            let (schema, validator) =
                check_schema(&format!("output schema of tool `{name}`"), text)?;
            (Some(schema), Some(Arc::new(validator)))
        }
        None => (None, None),
    };
    let mut task = None;
    let annotations = match &tool.annotations {
        Some(text) => {
            let what = format!("annotations of tool `{name}`");
            let mut value = parse_object(&what, text)?;
            if let Some(support) = value.as_object_mut().and_then(|o| o.remove("taskSupport")) {
                task = match support.as_str() {
                    Some("forbidden") => Some(TaskSupport::Forbidden),
                    Some("optional") => Some(TaskSupport::Optional),
                    Some("required") => Some(TaskSupport::Required),
                    _ => {
                        return fail(format!(
                            "{what}: taskSupport is \"optional\", \"required\" or \"forbidden\", not {}",
                            crate::text::clip(&support.to_string())
                        ));
                    }
                };
            }
            if let Err(e) = serde_json::from_value::<rmcp::model::ToolAnnotations>(value.clone()) {
                return fail(format!("{what} do not fit MCP's ToolAnnotations: {e}"));
            }
            (value.as_object().is_some_and(|o| !o.is_empty())).then_some(value)
        }
        None => None,
    };
    Ok(CheckedTool {
        tool,
        input_schema,
        output_schema,
        annotations,
        validator: Arc::new(validator),
        output_validator,
        task,
    })
}

/// The most tools, resources, resource templates or prompts one plugin may offer (each
/// is also a label value of pier's metrics).
pub const MAX_ENTRIES: usize = 1024;

/// Checks everything in `manifest`.
pub fn check(manifest: Manifest) -> Result<CheckedManifest, ManifestError> {
    for (kind, count) in [
        ("tools", manifest.tools.len()),
        ("resources", manifest.resources.len()),
        ("resource templates", manifest.templates.len()),
        ("prompts", manifest.prompts.len()),
    ] {
        if count > MAX_ENTRIES {
            return fail(format!(
                "{count} {kind}; a plugin may offer at most {MAX_ENTRIES}"
            ));
        }
    }
    let mut seen = HashSet::new();
    for tool in &manifest.tools {
        check_unique(&mut seen, "tool", &tool.name)?;
    }
    let mut seen = HashSet::new();
    for prompt in &manifest.prompts {
        check_name("prompt", &prompt.name)?;
        check_unique(&mut seen, "prompt", &prompt.name)?;
        let mut args = HashSet::new();
        for arg in &prompt.arguments {
            check_name(&format!("argument of prompt `{}`:", prompt.name), &arg.name)?;
            check_unique(
                &mut args,
                &format!("argument of prompt `{}`", prompt.name),
                &arg.name,
            )?;
        }
    }
    let mut seen = HashSet::new();
    for resource in &manifest.resources {
        check_uri("resource", &resource.uri)?;
        check_unique(&mut seen, "resource", &resource.uri)?;
    }
    let mut templates = Vec::with_capacity(manifest.templates.len());
    let mut seen = HashSet::new();
    for template in &manifest.templates {
        check_uri("resource template", &template.uri_template)?;
        check_unique(&mut seen, "resource template", &template.uri_template)?;
        let parsed = UriTemplate::parse(&template.uri_template).map_err(ManifestError)?;
        if parsed.variables().next().is_none() {
            return fail(format!(
                "resource template `{}` has no variable; declare it as a resource",
                template.uri_template
            ));
        }
        templates.push((template.clone(), parsed));
    }
    let tools = manifest
        .tools
        .into_iter()
        .map(check_tool)
        .collect::<Result<_, _>>()?;
    Ok(CheckedManifest {
        name: manifest.name,
        version: manifest.version,
        tools,
        resources: manifest.resources,
        templates,
        prompts: manifest.prompts,
    })
}

/// Explains why `value` does not fit `validator`'s schema, naming the fields
/// (`/name: 5 is not of type "string"`); `None` when it fits.
pub fn schema_errors(validator: &jsonschema::Validator, value: &Value) -> Option<String> {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| {
            let path = e.instance_path().to_string();
            if path.is_empty() {
                e.to_string()
            } else {
                format!("{path}: {e}")
            }
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: String) -> Tool {
        Tool {
            name,
            title: None,
            description: String::new(),
            input_schema: r#"{"type":"object"}"#.into(),
            output_schema: None,
            annotations: None,
            tags: vec![],
        }
    }

    fn manifest(tools: usize) -> Manifest {
        Manifest {
            name: "many".into(),
            version: "0".into(),
            tools: (0..tools).map(|i| tool(format!("t{i}"))).collect(),
            resources: vec![],
            templates: vec![],
            prompts: vec![],
        }
    }

    #[test]
    fn a_plugin_offers_a_bounded_number_of_entries() {
        assert_eq!(
            check(manifest(MAX_ENTRIES)).unwrap().tools.len(),
            MAX_ENTRIES
        );
        assert_eq!(
            check(manifest(MAX_ENTRIES + 1)).err().unwrap().to_string(),
            "invalid manifest: 1025 tools; a plugin may offer at most 1024"
        );
    }

    fn schema_error(schema: &str) -> String {
        let mut m = manifest(1);
        m.tools[0].input_schema = schema.into();
        match check(m) {
            Ok(_) => "accepted".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn schemas_are_checked_against_their_dialect_with_the_path_of_the_error() {
        let ok = r##"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
            "$defs":{"a":{"$anchor":"a","type":"string"}},"properties":{"x":{"$ref":"#/$defs/a"}},
            "allOf":[{"anyOf":[{"required":["x"]}]}],"if":{"required":["x"]},"then":{},"else":{}}"##;
        assert_eq!(schema_error(ok), "accepted");
        let draft7 = r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}"#;
        assert_eq!(schema_error(draft7), "accepted");
        assert_eq!(
            schema_error(r#"{"$schema":"https://example.invalid/mine","type":"object"}"#),
            "invalid manifest: input schema of tool `t0` names `$schema` \"https://example.invalid/mine\", not a JSON Schema dialect pier knows (MCP's is https://json-schema.org/draft/2020-12/schema)"
        );
        assert_eq!(
            schema_error(
                r#"{"type":"object","properties":{"n":{"type":"integer","minimum":"zero"}}}"#
            ),
            "invalid manifest: input schema of tool `t0` is not a valid JSON Schema: \"zero\" is not of type \"number\" (at /properties/n/minimum)"
        );
    }

    #[test]
    fn param_header_annotations_must_be_usable() {
        let ok = r#"{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},
            "deep":{"type":"object","properties":{"id":{"type":"integer","x-mcp-header":"Id"}}}}}"#;
        assert_eq!(schema_error(ok), "accepted");
        for (schema, reason) in [
            (
                r#"{"type":"object","x-mcp-header":"Root"}"#,
                "x-mcp-header at / must annotate a property reached from the root through `properties` alone",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"array","items":{"type":"string","x-mcp-header":"Item"}}}}"#,
                "x-mcp-header at /properties/a/items must annotate a property reached from the root through `properties` alone",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"string","x-mcp-header":""}}}"#,
                "x-mcp-header at /properties/a must be a non-empty string",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"Bad Name"}}}"#,
                "x-mcp-header `Bad Name` at /properties/a is not an HTTP token",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"Twin"},"b":{"type":"string","x-mcp-header":"twin"}}}"#,
                "x-mcp-header `twin` at /properties/b is used twice (ignoring case)",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"number","x-mcp-header":"Num"}}}"#,
                "x-mcp-header at /properties/a needs a string, integer or boolean `type`",
            ),
        ] {
            assert_eq!(
                schema_error(schema),
                format!("invalid manifest: input schema of tool `t0`: {reason}"),
                "{schema}"
            );
        }
    }

    #[test]
    fn annotations_must_fit_mcps_tool_annotations() {
        let mut m = manifest(1);
        m.tools[0].annotations = Some(r#"{"readOnlyHint": "yes"}"#.into());
        assert_eq!(
            check(m).err().unwrap().to_string(),
            "invalid manifest: annotations of tool `t0` do not fit MCP's ToolAnnotations: invalid type: string \"yes\", expected a boolean"
        );
    }
}
