//! Tool transformations: what the operator changes of a mount's tools before clients
//! see them (`[[mount.tool]]` in `pier.toml`, `[[tool]]` in a plugin's sidecar), the same
//! for a plugin and a proxied server. A tool may be renamed, retitled, redescribed,
//! tagged, re-annotated or hidden; its arguments renamed, redescribed, given a default,
//! or hidden with a value pinned. Clients see the transformed tool (its input schema
//! too, and are checked against it); a call's arguments are mapped back to the tool's
//! own before it runs; its result and errors pass unchanged.
//!
//! A transformation is applied each time the mount is made (a new version of a plugin,
//! a proxied server's new catalogue): one naming a tool or argument the mount no longer
//! has is a warning, and the rest applies.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::OfferedTool;
use crate::text::clip;

/// The most transformations one mount has.
pub const MAX_TRANSFORMS: usize = 1024;
/// The most argument transformations one tool has.
const MAX_ARGUMENTS: usize = 256;

/// One `[[mount.tool]]` (or sidecar `[[tool]]`) table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ToolTransform {
    /// The tool, as the mount names it.
    pub name: String,
    /// Its new name (the mount's namespace still goes before it).
    pub rename: Option<String>,
    /// A new title.
    pub title: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// Leaves the tool out: not listed, not callable.
    #[serde(default)]
    pub hide: bool,
    /// Tags added to its own (for the visibility middleware).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Behaviour hints that replace the tool's own.
    #[serde(default)]
    pub annotations: Hints,
    /// Its arguments, by their own names.
    #[serde(default)]
    pub arguments: BTreeMap<String, ArgTransform>,
}

/// MCP's tool annotations, as `pier.toml` spells them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Hints {
    /// `readOnlyHint`.
    pub read_only: Option<bool>,
    /// `destructiveHint`.
    pub destructive: Option<bool>,
    /// `idempotentHint`.
    pub idempotent: Option<bool>,
    /// `openWorldHint`.
    pub open_world: Option<bool>,
}

/// What becomes of one argument.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ArgTransform {
    /// The name clients use.
    pub rename: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// Left out of the schema: with `default`, the call always gets that value (pinned,
    /// whatever the client sends); without, the call never gets the argument (only for
    /// an optional one).
    #[serde(default)]
    pub hide: bool,
    /// The value a call gets when the client gives none (the argument becomes optional).
    pub default: Option<Value>,
}

/// Whether `name` may name a tool or an argument: 1–64 of `A–Z a–z 0–9 _ - .`.
fn is_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Checks transformations as configured; the error names the field (`tool[i].key`).
pub fn check(transforms: &[ToolTransform]) -> Result<(), (String, String)> {
    let fail = |i: usize, key: &str, message: String| Err((format!("tool[{i}].{key}"), message));
    if transforms.len() > MAX_TRANSFORMS {
        return Err((
            "tool".into(),
            format!("at most {MAX_TRANSFORMS} tool transformations"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, t) in transforms.iter().enumerate() {
        if !is_name(&t.name) {
            return fail(
                i,
                "name",
                "must be the tool's name: 1 to 64 of A-Z a-z 0-9 _ - .".into(),
            );
        }
        if !seen.insert(t.name.as_str()) {
            return fail(
                i,
                "name",
                format!("`{}` is transformed twice: one table per tool", t.name),
            );
        }
        if let Some(rename) = &t.rename
            && !is_name(rename)
        {
            return fail(i, "rename", "must be 1 to 64 of A-Z a-z 0-9 _ - .".into());
        }
        if let Some(bad) = t.tags.iter().find(|tag| tag.is_empty() || tag.len() > 64) {
            return fail(
                i,
                "tags",
                format!("`{}` is not a tag (1 to 64 characters)", clip(bad)),
            );
        }
        if t.arguments.len() > MAX_ARGUMENTS {
            return fail(i, "arguments", format!("at most {MAX_ARGUMENTS} arguments"));
        }
        for (name, arg) in &t.arguments {
            let key = format!("arguments.{}", clip(name));
            if let Some(rename) = &arg.rename {
                if !is_name(rename) {
                    return fail(
                        i,
                        &key,
                        "rename: must be 1 to 64 of A-Z a-z 0-9 _ - .".into(),
                    );
                }
                if arg.hide {
                    return fail(
                        i,
                        &key,
                        "a hidden argument has no name for clients: `rename` or `hide`, not both"
                            .into(),
                    );
                }
            }
        }
    }
    Ok(())
}

/// The transformations of `first`, with those of `then` in place of any for the same
/// tool (a sidecar's, then a `[[mount]]`'s).
pub fn merged(first: &[ToolTransform], then: &[ToolTransform]) -> Vec<ToolTransform> {
    let mut all: Vec<ToolTransform> = first
        .iter()
        .filter(|t| !then.iter().any(|u| u.name == t.name))
        .cloned()
        .collect();
    all.extend(then.iter().cloned());
    all
}

/// How a call's arguments, as a client sends them, become the tool's own.
#[derive(Debug, Default, PartialEq)]
pub struct Mapping {
    /// Client name → the tool's own.
    renamed: HashMap<String, String>,
    /// The tool's own names a client may not set (renamed away, or hidden).
    withheld: std::collections::HashSet<String>,
    /// Set whatever the client sends.
    pinned: Map<String, Value>,
    /// Set when the client sends nothing.
    defaults: Map<String, Value>,
}

impl Mapping {
    /// The tool's own arguments for the client's `given`.
    pub fn map_back(&self, given: Map<String, Value>) -> Map<String, Value> {
        let mut own = Map::with_capacity(given.len() + self.pinned.len());
        for (name, value) in given {
            match self.renamed.get(&name) {
                Some(original) => {
                    own.insert(original.clone(), value);
                }
                None if self.withheld.contains(&name) => {}
                None => {
                    own.insert(name, value);
                }
            }
        }
        for (name, value) in &self.defaults {
            if !own.contains_key(name) {
                own.insert(name.clone(), value.clone());
            }
        }
        for (name, value) in &self.pinned {
            own.insert(name.clone(), value.clone());
        }
        own
    }
}

/// A transformed tool's record: its own name and how its arguments map back.
#[derive(Debug)]
pub struct Applied {
    /// The tool's name in the mount.
    pub original: String,
    /// Its arguments' mapping (`None`: passed as they are).
    pub mapping: Option<Mapping>,
}

/// `tools` transformed by `transforms`; a warning for each part that could not apply
/// (it is left out, the rest applies). `who` names the mount in warnings.
pub fn apply(
    tools: Vec<OfferedTool>,
    transforms: &[ToolTransform],
    who: &str,
) -> (Vec<OfferedTool>, Vec<String>) {
    let mut warnings = Vec::new();
    if transforms.is_empty() {
        return (tools, warnings);
    }
    let by_name: HashMap<&str, &ToolTransform> =
        transforms.iter().map(|t| (t.name.as_str(), t)).collect();
    for t in transforms {
        if !tools.iter().any(|tool| tool.tool.name == t.name) {
            warnings.push(format!(
                "{who}: the tool transformation of `{}` is left out: the mount offers no tool `{}`",
                t.name, t.name
            ));
        }
    }
    // Names clients will see, to refuse a rename onto a name in use: those of the tools
    // neither hidden nor renamed.
    let mut taken: std::collections::HashSet<String> = tools
        .iter()
        .filter(|tool| {
            by_name
                .get(tool.tool.name.as_ref())
                .is_none_or(|t| !t.hide && t.rename.is_none())
        })
        .map(|tool| tool.tool.name.to_string())
        .collect();
    let mut out = Vec::with_capacity(tools.len());
    for tool in tools {
        let Some(t) = by_name.get(tool.tool.name.as_ref()) else {
            out.push(tool);
            continue;
        };
        if t.hide {
            continue;
        }
        let mut name = tool.tool.name.to_string();
        if let Some(rename) = &t.rename {
            if taken.contains(rename) {
                warnings.push(format!(
                    "{who}: tool `{name}` is not renamed `{rename}`: another tool has that name"
                ));
            } else {
                name = rename.clone();
            }
        }
        taken.insert(name.clone());
        match transform_tool(&tool, t, &name, who) {
            Ok((new, more)) => {
                warnings.extend(more);
                out.push(new);
            }
            Err(why) => {
                warnings.push(why);
                out.push(tool);
            }
        }
    }
    (out, warnings)
}

/// `tool` as `t` says, named `name`; the warnings of the arguments that could not be
/// transformed. `Err` says why MCP's types cannot hold it (the tool is left as it is).
fn transform_tool(
    tool: &OfferedTool,
    t: &ToolTransform,
    name: &str,
    who: &str,
) -> Result<(OfferedTool, Vec<String>), String> {
    let original = tool.tool.name.to_string();
    let mut warnings = Vec::new();
    let mut json = match serde_json::to_value(&tool.tool) {
        Ok(Value::Object(json)) => json,
        _ => {
            return Err(format!("{who}: tool `{original}` cannot be transformed"));
        }
    };
    json.insert("name".into(), Value::String(name.to_string()));
    if let Some(title) = &t.title {
        json.insert("title".into(), Value::String(title.clone()));
    }
    if let Some(description) = &t.description {
        json.insert("description".into(), Value::String(description.clone()));
    }
    let hints = [
        ("readOnlyHint", t.annotations.read_only),
        ("destructiveHint", t.annotations.destructive),
        ("idempotentHint", t.annotations.idempotent),
        ("openWorldHint", t.annotations.open_world),
    ];
    if hints.iter().any(|(_, v)| v.is_some()) {
        let annotations = json
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if !annotations.is_object() {
            *annotations = Value::Object(Map::new());
        }
        if let Value::Object(annotations) = annotations {
            for (key, value) in hints {
                if let Some(value) = value {
                    annotations.insert(key.into(), Value::Bool(value));
                }
            }
        }
    }
    let mapping = if t.arguments.is_empty() {
        None
    } else {
        let schema = json
            .entry("inputSchema")
            .or_insert_with(|| serde_json::json!({"type": "object"}));
        Some(transform_arguments(
            schema,
            t,
            &original,
            who,
            &mut warnings,
        ))
    };
    let validator = match &mapping {
        // The schema clients are checked against is the new one.
        Some(_) => json
            .get("inputSchema")
            .and_then(|s| super::manifest::compile_schema(s).ok())
            .map(Arc::new),
        None => tool.validator.clone(),
    };
    let new: rmcp::model::Tool = match serde_json::from_value(Value::Object(json)) {
        Ok(new) => new,
        Err(e) => {
            return Err(format!(
                "{who}: tool `{original}` cannot be transformed: {e}"
            ));
        }
    };
    let mut tags = tool.tags.clone();
    for tag in &t.tags {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    Ok((
        OfferedTool {
            tool: new,
            validator,
            output_validator: tool.output_validator.clone(),
            tags,
            task: tool.task,
            applied: Some(Arc::new(Applied { original, mapping })),
        },
        warnings,
    ))
}

/// Changes the input `schema` of tool `tool` as `t.arguments` say; how calls map back.
fn transform_arguments(
    schema: &mut Value,
    t: &ToolTransform,
    tool: &str,
    who: &str,
    warnings: &mut Vec<String>,
) -> Mapping {
    let mut mapping = Mapping::default();
    let Some(schema) = schema.as_object_mut() else {
        warnings.push(format!(
            "{who}: the arguments of tool `{tool}` are left as they are: its input schema is not an object"
        ));
        return mapping;
    };
    let mut properties = match schema.remove("properties") {
        Some(Value::Object(p)) => p,
        _ => Map::new(),
    };
    let mut required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for (own, arg) in &t.arguments {
        let Some(mut property) = properties.remove(own) else {
            warnings.push(format!(
                "{who}: argument `{own}` of tool `{tool}` is left out of its transformation: the tool has no such argument"
            ));
            continue;
        };
        let is_required = required.iter().any(|r| r == own);
        if arg.hide {
            match &arg.default {
                Some(value) => {
                    mapping.pinned.insert(own.clone(), value.clone());
                }
                None if is_required => {
                    warnings.push(format!(
                        "{who}: argument `{own}` of tool `{tool}` stays visible: it is required, and hiding it needs a `default` to pin"
                    ));
                    properties.insert(own.clone(), property);
                    continue;
                }
                None => {}
            }
            mapping.withheld.insert(own.clone());
            required.retain(|r| r != own);
            continue;
        }
        if let (Some(description), Some(p)) = (&arg.description, property.as_object_mut()) {
            p.insert("description".into(), Value::String(description.clone()));
        }
        if let Some(value) = &arg.default {
            if let Some(p) = property.as_object_mut() {
                p.insert("default".into(), value.clone());
            }
            mapping.defaults.insert(own.clone(), value.clone());
            required.retain(|r| r != own);
        }
        let mut client = own.clone();
        if let Some(rename) = &arg.rename {
            let clash = properties.contains_key(rename)
                || t.arguments.keys().any(|k| k == rename && k != own);
            if clash {
                warnings.push(format!(
                    "{who}: argument `{own}` of tool `{tool}` is not renamed `{rename}`: the tool has an argument of that name"
                ));
            } else {
                client = rename.clone();
                for r in required.iter_mut().filter(|r| *r == own) {
                    *r = rename.clone();
                }
                mapping.renamed.insert(rename.clone(), own.clone());
                mapping.withheld.insert(own.clone());
            }
        }
        properties.insert(client, property);
    }
    schema.insert("properties".into(), Value::Object(properties));
    if required.is_empty() {
        schema.remove("required");
    } else {
        schema.insert(
            "required".into(),
            Value::Array(required.into_iter().map(Value::String).collect()),
        );
    }
    mapping
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn offered(tool: Value) -> OfferedTool {
        OfferedTool {
            tool: serde_json::from_value(tool).unwrap(),
            validator: None,
            output_validator: None,
            tags: vec!["own".into()],
            task: Default::default(),
            applied: None,
        }
    }

    fn search() -> OfferedTool {
        offered(json!({
            "name": "search",
            "description": "Searches.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What to look for"},
                    "limit": {"type": "integer"},
                    "tenant": {"type": "string"},
                },
                "required": ["query", "tenant"],
                "additionalProperties": false,
            },
        }))
    }

    fn parse(text: &str) -> Vec<ToolTransform> {
        #[derive(Deserialize)]
        struct T {
            tool: Vec<ToolTransform>,
        }
        toml::from_str::<T>(text).unwrap().tool
    }

    #[test]
    fn a_tool_is_renamed_its_arguments_renamed_pinned_and_defaulted_and_calls_map_back() {
        let transforms = parse(
            r#"
[[tool]]
name = "search"
rename = "find"
title = "Find"
description = "Finds products."
tags = ["catalog", "own"]
annotations = { read-only = true, open-world = false }
arguments.query = { rename = "q", description = "Words" }
arguments.limit = { default = 5 }
arguments.tenant = { hide = true, default = "acme" }
"#,
        );
        check(&transforms).unwrap();
        let (tools, warnings) = apply(vec![search()], &transforms, "mount `m`");
        assert_eq!(warnings, Vec::<String>::new());
        let tool = &tools[0];
        assert_eq!(
            serde_json::to_value(&tool.tool).unwrap(),
            json!({
                "name": "find",
                "title": "Find",
                "description": "Finds products.",
                "inputSchema": {
                    "type": "object",
                    "properties": {
                        "q": {"type": "string", "description": "Words"},
                        "limit": {"type": "integer", "default": 5},
                    },
                    "required": ["q"],
                    "additionalProperties": false,
                },
                "annotations": {"readOnlyHint": true, "openWorldHint": false},
            })
        );
        assert_eq!(tool.tags, ["own", "catalog"]);
        let applied = tool.applied.as_ref().unwrap();
        assert_eq!(applied.original, "search");
        let validator = tool.validator.as_ref().unwrap();
        assert!(validator.is_valid(&json!({"q": "socks"})));
        assert!(!validator.is_valid(&json!({"q": "socks", "tenant": "evil"})));
        let mapping = applied.mapping.as_ref().unwrap();
        let object = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            Value::Object(mapping.map_back(object(json!({"q": "socks"})))),
            json!({"query": "socks", "limit": 5, "tenant": "acme"})
        );
        // The client's own value wins over a default, never over a pinned one; the
        // tool's own names of renamed or hidden arguments are not the client's to set.
        assert_eq!(
            Value::Object(mapping.map_back(object(
                json!({"q": "socks", "limit": 9, "tenant": "evil", "query": "sneaky"})
            ))),
            json!({"query": "socks", "limit": 9, "tenant": "acme"})
        );
    }

    #[test]
    fn what_cannot_apply_is_a_warning_and_the_rest_applies() {
        let other = offered(json!({"name": "find", "inputSchema": {"type": "object"}}));
        let transforms = parse(
            r#"
[[tool]]
name = "gone"
rename = "x"

[[tool]]
name = "search"
rename = "find"
arguments.missing = { rename = "m" }
arguments.tenant = { hide = true }
arguments.limit = { rename = "query" }

[[tool]]
name = "find"
hide = true
"#,
        );
        check(&transforms).unwrap();
        let (tools, warnings) = apply(vec![search(), other], &transforms, "mount `m`");
        assert_eq!(
            warnings,
            [
                "mount `m`: the tool transformation of `gone` is left out: the mount offers no tool `gone`",
                "mount `m`: argument `limit` of tool `search` is not renamed `query`: the tool has an argument of that name",
                "mount `m`: argument `missing` of tool `search` is left out of its transformation: the tool has no such argument",
                "mount `m`: argument `tenant` of tool `search` stays visible: it is required, and hiding it needs a `default` to pin",
            ]
        );
        // `find` is hidden, so `search` may take its name.
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].tool.name, "find");
        let schema = serde_json::to_value(&tools[0].tool.input_schema).unwrap();
        let mut names: Vec<_> = schema["properties"].as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["limit", "query", "tenant"]);
    }

    #[test]
    fn a_rename_onto_a_name_in_use_is_refused_with_a_warning() {
        let other = offered(json!({"name": "find", "inputSchema": {"type": "object"}}));
        let transforms = parse("[[tool]]\nname = \"search\"\nrename = \"find\"\n");
        let (tools, warnings) = apply(vec![search(), other], &transforms, "plugin `p`");
        assert_eq!(
            warnings,
            ["plugin `p`: tool `search` is not renamed `find`: another tool has that name"]
        );
        let names: Vec<_> = tools.iter().map(|t| t.tool.name.to_string()).collect();
        assert_eq!(names, ["search", "find"]);
    }

    #[test]
    fn bad_transformations_are_refused_naming_the_field() {
        let refused = |text: &str| check(&parse(text)).unwrap_err();
        assert_eq!(
            refused("[[tool]]\nname = \"a b\"\n"),
            (
                "tool[0].name".to_string(),
                "must be the tool's name: 1 to 64 of A-Z a-z 0-9 _ - .".to_string()
            )
        );
        assert_eq!(
            refused("[[tool]]\nname = \"a\"\n[[tool]]\nname = \"a\"\n"),
            (
                "tool[1].name".to_string(),
                "`a` is transformed twice: one table per tool".to_string()
            )
        );
        assert_eq!(
            refused("[[tool]]\nname = \"a\"\narguments.x = { rename = \"y\", hide = true }\n"),
            (
                "tool[0].arguments.x".to_string(),
                "a hidden argument has no name for clients: `rename` or `hide`, not both"
                    .to_string()
            )
        );
        assert_eq!(
            refused("[[tool]]\nname = \"a\"\nrename = \"\"\n").0,
            "tool[0].rename"
        );
        assert_eq!(
            refused("[[tool]]\nname = \"a\"\ntags = [\"\"]\n").0,
            "tool[0].tags"
        );
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct T {
            tool: Vec<ToolTransform>,
        }
        assert!(toml::from_str::<T>("[[tool]]\nname = \"a\"\nrenam = \"b\"\n").is_err());
    }
}
