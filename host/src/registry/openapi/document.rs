//! An OpenAPI 3.0 or 3.1 document read into operations: each with its method, path,
//! parameters, request body and the input schema of the tool it becomes. Local `$ref`s
//! are followed (to a bounded depth, within a bounded size per tool); what cannot be
//! read is a warning that leaves its operation out, never a failure of the others.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value, json};

use crate::text::clip;

/// The largest document pier reads.
pub const MAX_DOCUMENT_BYTES: usize = 8 << 20;
/// How deep `$ref`s are followed; deeper (or a cycle) becomes an open schema.
const MAX_REF_DEPTH: usize = 16;
/// The most JSON nodes one tool's input schema may have once its `$ref`s are followed.
const MAX_SCHEMA_NODES: usize = 20_000;
/// The most JSON nodes all the operations' schemas may have together: past it, the
/// remaining operations are left out (a document cannot make pier work without end).
const MAX_DOCUMENT_NODES: usize = 2_000_000;
/// How deeply a schema may nest once its `$ref`s are followed.
const MAX_NESTING: usize = 128;
/// The longest description kept.
const MAX_DESCRIPTION_CHARS: usize = 4096;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A `{name}` of the path.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
}

/// One parameter of an operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Its name in the request.
    pub name: String,
    /// Where it goes.
    pub location: Location,
    /// The tool argument that holds it.
    pub argument: String,
}

/// How a request body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json` (or a `+json` type).
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

/// One operation, ready to become a tool and to be called.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The tool's name.
    pub tool: String,
    /// `operationId`, when the document gives one.
    pub id: Option<String>,
    /// The HTTP method.
    pub method: http::Method,
    /// The path template (`/pets/{petId}`).
    pub path: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its parameters.
    pub params: Vec<Param>,
    /// Its request body: how it is sent, and the tool argument holding it.
    pub body: Option<(BodyKind, String)>,
    /// The tool (name, title, description, input schema, annotations), as MCP's JSON.
    pub json: Value,
}

/// The operations of a document, what its `servers` say the base URL is, and the
/// warnings of what was left out.
pub struct Read {
    /// Every operation read.
    pub operations: Vec<Operation>,
    /// The first `servers[].url`.
    pub server: Option<String>,
    /// What was left out, and why.
    pub warnings: Vec<String>,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Parses `bytes` (JSON or YAML) as an OpenAPI 3.x document.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let doc: Value = if first == Some(&b'{') {
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?
    } else {
        serde_yaml_ng::from_slice(bytes).map_err(|e| format!("not YAML: {e}"))?
    };
    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0") || v.starts_with("3.1") => Ok(doc),
        Some(v) => Err(format!(
            "OpenAPI {}: pier reads OpenAPI 3.0 and 3.1",
            clip(v)
        )),
        None if doc.get("swagger").is_some() => {
            Err("a Swagger (OpenAPI 2.0) document: pier reads OpenAPI 3.0 and 3.1".into())
        }
        None => Err("not an OpenAPI document (no `openapi` version)".into()),
    }
}

/// The operations of `doc`.
pub fn read(doc: &Value) -> Read {
    read_within(doc, MAX_DOCUMENT_NODES)
}

/// The operations of `doc` whose schemas fit in `nodes` nodes all together.
fn read_within(doc: &Value, nodes: usize) -> Read {
    let mut warnings = Vec::new();
    let server = doc
        .get("servers")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
        .and_then(|s| s.get("url"))
        .and_then(Value::as_str)
        .map(String::from);
    let mut operations = Vec::new();
    let mut names = HashSet::new();
    let mut total = nodes;
    let paths = doc.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        let item = resolved(doc, item);
        let Some(item) = item.as_object() else {
            continue;
        };
        let shared = item.get("parameters").cloned().unwrap_or(Value::Null);
        for method in METHODS {
            let Some(op) = item.get(method) else {
                continue;
            };
            let what = format!("{} {path}", method.to_uppercase());
            if total == 0 {
                warnings.push(format!(
                    "{what} is left out: the document's schemas pass {nodes} nodes"
                ));
                continue;
            }
            match operation(doc, path, method, op, &shared, &mut total) {
                Ok(op) if !names.insert(op.tool.clone()) => warnings.push(format!(
                    "{what} is left out: another operation is already the tool `{}`",
                    op.tool
                )),
                Ok(op) => operations.push(op),
                Err(why) => warnings.push(format!("{what} is left out: {why}")),
            }
        }
    }
    Read {
        operations,
        server,
        warnings,
    }
}

/// `value` with its `$ref` followed, when it is one (one level).
fn resolved<'a>(doc: &'a Value, value: &'a Value) -> std::borrow::Cow<'a, Value> {
    let mut value = value;
    for _ in 0..MAX_REF_DEPTH {
        match value.get("$ref").and_then(Value::as_str) {
            Some(pointer) => match target(doc, pointer) {
                Some(found) => value = found,
                None => return std::borrow::Cow::Owned(Value::Null),
            },
            None => return std::borrow::Cow::Borrowed(value),
        }
    }
    std::borrow::Cow::Owned(Value::Null)
}

/// What the local reference `pointer` (`#/components/…`) names in `doc`.
fn target<'a>(doc: &'a Value, pointer: &str) -> Option<&'a Value> {
    let pointer = pointer.strip_prefix('#')?;
    let decoded = percent_decode(pointer);
    doc.pointer(&decoded)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A schema with every local `$ref` in it followed, within `budget` nodes; a
/// reference too deep (or in a cycle) becomes `{}`. `Err` when it is too large or too
/// deeply nested, or refers outside the document.
fn inline(doc: &Value, schema: &Value, depth: usize, budget: &mut Budget) -> Result<Value, String> {
    budget.take()?;
    let _nested = budget.enter()?;
    match schema {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                if !reference.starts_with('#') {
                    return Err(format!(
                        "it refers to `{}`, outside the document",
                        clip(reference)
                    ));
                }
                if depth >= MAX_REF_DEPTH {
                    return Ok(json!({}));
                }
                let Some(found) = target(doc, reference) else {
                    return Err(format!(
                        "`{}` names nothing in the document",
                        clip(reference)
                    ));
                };
                let mut inlined = inline(doc, found, depth + 1, budget)?;
                // Siblings of `$ref` (3.1) add to what it names.
                if let Value::Object(out) = &mut inlined {
                    for (k, v) in map.iter().filter(|(k, _)| *k != "$ref") {
                        out.insert(k.clone(), inline(doc, v, depth, budget)?);
                    }
                }
                return Ok(inlined);
            }
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                out.insert(k.clone(), inline(doc, v, depth, budget)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|v| inline(doc, v, depth, budget))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// What following one operation's schemas may still cost: nodes for its tool, nodes
/// for the whole document, and the nesting depth.
struct Budget<'a> {
    tool: usize,
    document: &'a mut usize,
    nesting: std::rc::Rc<std::cell::Cell<usize>>,
}

/// Leaves one level of nesting when dropped.
struct Nested(std::rc::Rc<std::cell::Cell<usize>>);

impl Drop for Nested {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

impl Budget<'_> {
    fn take(&mut self) -> Result<(), String> {
        if self.tool == 0 || *self.document == 0 {
            return Err(format!(
                "its schema is larger than {MAX_SCHEMA_NODES} nodes once its references are followed"
            ));
        }
        self.tool -= 1;
        *self.document -= 1;
        Ok(())
    }

    fn enter(&mut self) -> Result<Nested, String> {
        let level = self.nesting.get() + 1;
        if level > MAX_NESTING {
            return Err(format!(
                "its schema nests more than {MAX_NESTING} levels deep"
            ));
        }
        self.nesting.set(level);
        Ok(Nested(self.nesting.clone()))
    }
}

/// A tool name from `text`: runs of characters tools may not have become `_`; at most
/// 64 characters.
fn tool_name(text: &str) -> String {
    let mut name = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
            name.push(c);
        } else if !name.ends_with('_') {
            name.push('_');
        }
    }
    let name = name.trim_matches('_');
    name.chars().take(64).collect()
}

fn operation(
    doc: &Value,
    path: &str,
    method: &str,
    op: &Value,
    shared: &Value,
    total: &mut usize,
) -> Result<Operation, String> {
    let op = resolved(doc, op);
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .map(String::from);
    let tool = match &id {
        Some(id) => tool_name(id),
        None => tool_name(&format!("{method}_{path}")),
    };
    if tool.is_empty() {
        return Err("no usable tool name (give it an operationId)".into());
    }
    let tags: Vec<String> = op
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    // Path-level parameters, overridden by the operation's of the same name and place.
    let mut by_key: BTreeMap<(String, String), Value> = BTreeMap::new();
    let mut order = Vec::new();
    for list in [shared, op.get("parameters").unwrap_or(&Value::Null)] {
        for param in list.as_array().into_iter().flatten() {
            let param = resolved(doc, param).into_owned();
            let (Some(name), Some(place)) = (
                param.get("name").and_then(Value::as_str),
                param.get("in").and_then(Value::as_str),
            ) else {
                return Err("a parameter without `name` or `in`".into());
            };
            let key = (place.to_string(), name.to_string());
            if !by_key.contains_key(&key) {
                order.push(key.clone());
            }
            by_key.insert(key, param);
        }
    }
    let mut budget = Budget {
        tool: MAX_SCHEMA_NODES,
        document: total,
        nesting: Default::default(),
    };
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut params = Vec::new();
    for key in &order {
        let Some(param) = by_key.get(key) else {
            continue;
        };
        let (place, name) = (key.0.as_str(), key.1.as_str());
        let location = match place {
            "path" => Location::Path,
            "query" => Location::Query,
            "header" => {
                // OpenAPI: these are described elsewhere, and ignored as parameters.
                if ["accept", "content-type", "authorization"]
                    .contains(&name.to_ascii_lowercase().as_str())
                {
                    continue;
                }
                Location::Header
            }
            // Cookies are not sent.
            "cookie" => continue,
            other => return Err(format!("a parameter in `{}`", clip(other))),
        };
        let mut argument = name.to_string();
        if properties.contains_key(&argument) {
            argument = format!("{place}_{name}");
        }
        let mut schema = match param.get("schema") {
            Some(s) => inline(doc, s, 0, &mut budget)?,
            None => json!({"type": "string"}),
        };
        if let (Some(description), Value::Object(s)) = (
            param.get("description").and_then(Value::as_str),
            &mut schema,
        ) {
            s.insert("description".into(), Value::String(short(description)));
        }
        let is_required = location == Location::Path
            || param.get("required").and_then(Value::as_bool) == Some(true);
        if is_required {
            required.push(Value::String(argument.clone()));
        }
        properties.insert(argument.clone(), schema);
        params.push(Param {
            name: name.to_string(),
            location,
            argument,
        });
    }
    // Every `{name}` of the path must be a parameter.
    for segment in path.split('{').skip(1) {
        let name = segment.split('}').next().unwrap_or_default();
        if !params
            .iter()
            .any(|p| p.location == Location::Path && p.name == name)
        {
            return Err(format!(
                "the path parameter `{}` is not described",
                clip(name)
            ));
        }
    }
    let mut body = None;
    if let Some(request) = op.get("requestBody") {
        let request = resolved(doc, request);
        let content = request.get("content").and_then(Value::as_object);
        let chosen = content.into_iter().flatten().find_map(|(media, spec)| {
            let essence = media.split(';').next().unwrap_or_default().trim();
            let kind = if essence == "application/json" || essence.ends_with("+json") {
                BodyKind::Json
            } else if essence == "application/x-www-form-urlencoded" {
                BodyKind::Form
            } else {
                return None;
            };
            Some((kind, spec))
        });
        let Some((kind, spec)) = chosen else {
            return Err("its request body is neither JSON nor a form".into());
        };
        let argument = if properties.contains_key("body") {
            "request_body".to_string()
        } else {
            "body".to_string()
        };
        let mut schema = match spec.get("schema") {
            Some(s) => inline(doc, s, 0, &mut budget)?,
            None => json!({}),
        };
        if let (Some(description), Value::Object(s)) = (
            request.get("description").and_then(Value::as_str),
            &mut schema,
        ) {
            s.insert("description".into(), Value::String(short(description)));
        }
        if request.get("required").and_then(Value::as_bool) == Some(true) {
            required.push(Value::String(argument.clone()));
        }
        properties.insert(argument.clone(), schema);
        body = Some((kind, argument));
    }
    let summary = op.get("summary").and_then(Value::as_str);
    let description = match (summary, op.get("description").and_then(Value::as_str)) {
        (Some(s), Some(d)) => format!("{s}\n\n{d}"),
        (Some(s), None) => s.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => format!("{} {path}", method.to_uppercase()),
    };
    let mut input = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        input["required"] = Value::Array(required);
    }
    let read_only = matches!(method, "get" | "head" | "options");
    let json = json!({
        "name": tool,
        "title": summary.map(short),
        "description": short(&description),
        "inputSchema": input,
        "annotations": {
            "readOnlyHint": read_only,
            "destructiveHint": method == "delete",
            "idempotentHint": read_only || matches!(method, "put" | "delete"),
            "openWorldHint": true,
        },
    });
    Ok(Operation {
        tool,
        id,
        method: method
            .to_uppercase()
            .parse()
            .map_err(|_| "an unknown method".to_string())?,
        path: path.to_string(),
        tags,
        params,
        body,
        json,
    })
}

fn short(text: &str) -> String {
    match text.char_indices().nth(MAX_DESCRIPTION_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// Whether `op` is named by the allow-list entry `entry`: `*` (every operation), an
/// `operationId`, `tag:NAME`, a path glob (`/pets/*`), or a method and a path glob
/// (`GET /pets/*`).
pub fn allowed(entry: &str, op: &Operation) -> bool {
    let glob = crate::middleware::authorize::glob;
    if entry == "*" {
        return true;
    }
    if let Some(tag) = entry.strip_prefix("tag:") {
        return op.tags.iter().any(|t| t == tag);
    }
    if entry.starts_with('/') {
        return glob(entry, &op.path);
    }
    if let Some((method, path)) = entry.split_once(' ')
        && path.starts_with('/')
    {
        return method.eq_ignore_ascii_case(op.method.as_str()) && glob(path.trim(), &op.path);
    }
    op.id.as_deref() == Some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PETS: &str = r##"
openapi: 3.0.3
info: { title: Pets, version: "1" }
servers: [{ url: "https://pets.example/v1" }]
paths:
  /pets:
    get:
      operationId: listPets
      summary: List pets
      tags: [pets]
      parameters:
        - { name: limit, in: query, schema: { type: integer, maximum: 100 } }
        - $ref: "#/components/parameters/Trace"
      responses: { 200: { description: ok } }
    post:
      operationId: createPet
      tags: [pets]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/Pet" }
      responses: { 201: { description: made } }
  /pets/{petId}:
    parameters:
      - { name: petId, in: path, required: true, schema: { type: string } }
    delete:
      summary: Delete a pet
      responses: { 204: { description: gone } }
  /upload:
    put:
      operationId: upload
      requestBody: { content: { application/octet-stream: { schema: { type: string } } } }
      responses: { 200: { description: ok } }
components:
  parameters:
    Trace: { name: X-Trace, in: header, schema: { type: string } }
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: { type: string }
        owner: { $ref: "#/components/schemas/Owner" }
    Owner:
      type: object
      properties:
        pets: { type: array, items: { $ref: "#/components/schemas/Pet" } }
"##;

    #[test]
    fn operations_become_tools_with_their_parameters_body_and_hints() {
        let doc = parse(PETS.as_bytes()).unwrap();
        let read = read(&doc);
        assert_eq!(read.server.as_deref(), Some("https://pets.example/v1"));
        assert_eq!(
            read.warnings,
            ["PUT /upload is left out: its request body is neither JSON nor a form"]
        );
        let names: Vec<&str> = read.operations.iter().map(|o| o.tool.as_str()).collect();
        assert_eq!(names, ["listPets", "createPet", "delete_pets_petId"]);
        let list = &read.operations[0];
        assert_eq!(
            list.json["inputSchema"],
            json!({"type": "object", "properties": {
                "limit": {"type": "integer", "maximum": 100},
                "X-Trace": {"type": "string"},
            }})
        );
        assert_eq!(list.json["annotations"]["readOnlyHint"], true);
        assert_eq!(list.params[1].location, Location::Header);
        let create = &read.operations[1];
        assert_eq!(create.body, Some((BodyKind::Json, "body".into())));
        assert_eq!(create.json["inputSchema"]["required"], json!(["body"]));
        // A cycle through $ref ends in an open schema.
        let body = &create.json["inputSchema"]["properties"]["body"];
        assert_eq!(
            body["properties"]["owner"]["properties"]["pets"]["type"],
            "array"
        );
        let delete = &read.operations[2];
        assert_eq!(delete.json["annotations"]["destructiveHint"], true);
        assert_eq!(delete.json["description"], "Delete a pet");
        assert_eq!(delete.json["inputSchema"]["required"], json!(["petId"]));
        assert!(allowed("tag:pets", list) && !allowed("tag:pets", delete));
        assert!(allowed("/pets/*", delete) && !allowed("/pets/*", list));
        assert!(allowed("DELETE /pets/*", delete) && !allowed("GET /pets/*", delete));
        assert!(allowed("listPets", list) && !allowed("listPets", create));
        assert!(allowed("*", delete));
    }

    #[test]
    fn documents_that_are_not_openapi_3_are_refused_in_words() {
        assert_eq!(
            parse(b"swagger: '2.0'\npaths: {}\n").unwrap_err(),
            "a Swagger (OpenAPI 2.0) document: pier reads OpenAPI 3.0 and 3.1"
        );
        assert_eq!(
            parse(b"{\"openapi\": \"4.0.0\"}").unwrap_err(),
            "OpenAPI 4.0.0: pier reads OpenAPI 3.0 and 3.1"
        );
        assert_eq!(
            parse(b"title: x\n").unwrap_err(),
            "not an OpenAPI document (no `openapi` version)"
        );
        assert!(parse(b"{ not json").unwrap_err().starts_with("not JSON: "));
        assert!(
            parse(b"a: [unclosed\n")
                .unwrap_err()
                .starts_with("not YAML: ")
        );
    }

    #[test]
    fn references_that_cannot_be_followed_leave_their_operation_out() {
        let doc = parse(
            br##"{"openapi": "3.1.0", "paths": {
                "/a": {"get": {"operationId": "a", "parameters": [{"name": "x", "in": "query", "schema": {"$ref": "other.yaml#/X"}}]}},
                "/b/{id}": {"get": {"operationId": "b"}},
                "/c": {"get": {"operationId": "c", "parameters": [{"name": "x", "in": "query", "schema": {"$ref": "#/nowhere"}}]}},
                "/d": {"get": {"operationId": "e"}},
                "/e": {"get": {"operationId": "e"}}
            }}"##,
        )
        .unwrap();
        let read = read(&doc);
        let names: Vec<&str> = read.operations.iter().map(|o| o.tool.as_str()).collect();
        assert_eq!(names, ["e"]);
        assert_eq!(
            read.warnings,
            [
                "GET /a is left out: it refers to `other.yaml#/X`, outside the document",
                "GET /b/{id} is left out: the path parameter `id` is not described",
                "GET /c is left out: `#/nowhere` names nothing in the document",
                "GET /e is left out: another operation is already the tool `e`",
            ]
        );
    }

    #[test]
    fn a_schema_that_references_explode_is_refused_not_expanded() {
        // Each level refers to the one below twice: 2^20 nodes once followed.
        let mut schemas = serde_json::Map::new();
        for level in 0..20 {
            schemas.insert(
                format!("L{level}"),
                json!({"type": "object", "properties": {
                    "a": {"$ref": format!("#/components/schemas/L{}", level + 1)},
                    "b": {"$ref": format!("#/components/schemas/L{}", level + 1)},
                }}),
            );
        }
        schemas.insert("L20".into(), json!({"type": "string"}));
        let doc = json!({"openapi": "3.1.0", "components": {"schemas": schemas}, "paths": {
            "/x": {"post": {"operationId": "x", "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/L0"}}}}}}
        }});
        let read = read(&doc);
        assert!(read.operations.is_empty());
        assert_eq!(
            read.warnings,
            [
                "POST /x is left out: its schema is larger than 20000 nodes once its references are followed"
            ]
        );
    }

    #[test]
    fn deep_nesting_and_a_document_past_its_node_budget_are_left_out_not_followed() {
        let mut deep = json!({"type": "string"});
        for _ in 0..200 {
            deep = json!({"type": "array", "items": deep});
        }
        let doc = json!({"openapi": "3.1.0", "paths": {
            "/deep": {"post": {"operationId": "deep", "requestBody": {"content": {"application/json": {"schema": deep}}}}}
        }});
        assert_eq!(
            read(&doc).warnings,
            ["POST /deep is left out: its schema nests more than 128 levels deep"]
        );

        // Operations of a 19,000-node schema each: the document's budget runs out.
        let properties: serde_json::Map<String, Value> =
            (0..19_000).map(|i| (format!("p{i}"), json!("x"))).collect();
        let mut paths = serde_json::Map::new();
        for i in 0..8 {
            paths.insert(
                format!("/op{i:03}"),
                json!({"post": {"operationId": format!("op{i:03}"), "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Big"}}}}}}),
            );
        }
        let doc = json!({"openapi": "3.1.0", "paths": paths,
            "components": {"schemas": {"Big": {"type": "object", "properties": properties}}}});
        let read = read_within(&doc, 100_000);
        assert_eq!(read.operations.len(), 5);
        assert_eq!(
            read.warnings,
            [
                "POST /op005 is left out: its schema is larger than 20000 nodes once its references are followed",
                "POST /op006 is left out: the document's schemas pass 100000 nodes",
                "POST /op007 is left out: the document's schemas pass 100000 nodes",
            ]
        );
    }
}
