//! A REST API mounted as tools from its OpenAPI 3.x document (`[[mount]] openapi = …`):
//! each operation the mount's allow-list names becomes a tool whose input schema is
//! made of its parameters and request body; a call becomes one HTTP request and its
//! response the result (structured when it is JSON; an error result when its status
//! is 4xx or 5xx).
//!
//! A host mount, not a plugin: the requests go out through the same [`Egress`] that
//! checks plugins' requests (the mount's `grants`, capped by the operator's `[grants]`;
//! private addresses refused unless both allow them; the per-call budgets; the
//! `pier::egress` log line and `pier_egress_requests_total`), and the mount's credentials
//! come from `[secrets]` as a `url` mount's do.

mod document;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use rmcp::model::{CallToolResult, ContentBlock as Content};
use serde_json::{Map, Value};

use super::proxy::credentials::{Credentials, Resolved};
use super::{Offer, OfferedTool};
use crate::runtime::grants::{Egress, EgressCounter, GrantCaps, GrantRequest, Grants, HttpBudget};
use crate::text::clip;
use document::{BodyKind, Location, Operation};

/// A mount's OpenAPI settings, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenApiSpec {
    /// The document: a file, or an http(s) URL.
    pub document: String,
    /// Where requests go (default: the document's first `servers` URL).
    pub base_url: Option<String>,
    /// The operations served: `*`, an `operationId`, `tag:NAME`, a path glob, or a
    /// method and a path glob.
    pub operations: Vec<String>,
    /// What the mount's requests may reach (default: the base URL's origin), capped by
    /// the operator's `[grants]`.
    pub grants: Option<GrantRequest>,
    /// The API's credentials: a bearer token and headers.
    pub credentials: Credentials,
}

impl OpenApiSpec {
    /// Checks what can be checked before the document is read; the error names the field.
    pub fn check(&self) -> Result<(), (String, String)> {
        let fail = |key: &str, message: &str| Err((key.to_string(), message.to_string()));
        if self.document.is_empty() {
            return fail("openapi", "must name an OpenAPI document (a file or a URL)");
        }
        if self.operations.is_empty() {
            return fail(
                "operations",
                "missing: list the operations to serve (operationIds, `tag:NAME`, path globs such as \"GET /pets/*\", or \"*\" for all)",
            );
        }
        if let Some(bad) = self
            .operations
            .iter()
            .find(|o| o.is_empty() || o.len() > 512)
        {
            return fail("operations", &format!("`{}` names no operation", clip(bad)));
        }
        if let Some(url) = &self.base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return fail("base-url", "must start with http:// or https://");
        }
        if let Some(grants) = &self.grants {
            if !grants.files.is_empty() {
                return fail("grants.files", "an openapi mount reads no files");
            }
            if let Err(e) = grants.http_grants() {
                return fail("grants.http", &e);
            }
        }
        self.credentials.check()
    }
}

/// A mounted REST API.
pub struct Api {
    /// ``mount `NAME` ``.
    who: String,
    namespace: Arc<str>,
    base: http::Uri,
    operations: Vec<Operation>,
    grants: Arc<Grants>,
    budget: HttpBudget,
    timeout: Duration,
    credentials: Resolved,
    count: Option<EgressCounter>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("who", &self.who).finish()
    }
}

/// What an API mount needs besides its spec.
pub struct Setting<'a> {
    /// The operator's grants (caps, secrets, trust).
    pub caps: &'a GrantCaps,
    /// The budget of one call's requests.
    pub budget: HttpBudget,
    /// How long one call may take (and the document's fetch).
    pub timeout: Duration,
    /// Counts the requests in `pier_egress_requests_total`.
    pub count: Option<EgressCounter>,
}

impl Api {
    /// Reads the document of `spec` and mounts it as `namespace`: the API and its
    /// offer; warnings for what was left out.
    pub async fn load(
        namespace: &str,
        spec: &OpenApiSpec,
        setting: Setting<'_>,
    ) -> Result<(Self, Offer, Vec<String>), String> {
        let who = format!("mount `{namespace}`");
        let http = super::proxy::upstream::http_client(&setting.caps.trust)?;
        let bytes = fetch(&spec.document, &http, setting.timeout).await?;
        let doc = document::parse(&bytes).map_err(|e| format!("{}: {e}", spec.document))?;
        let read = document::read(&doc);
        let mut warnings: Vec<String> = read
            .warnings
            .into_iter()
            .map(|w| format!("{who}: {w}"))
            .collect();
        let base_text = match (&spec.base_url, &read.server) {
            (Some(base), _) => base.clone(),
            (None, Some(server)) if server.starts_with("http") => server.clone(),
            (None, Some(server)) => {
                return Err(format!(
                    "the document's server URL `{}` is not absolute: set base-url",
                    clip(server)
                ));
            }
            (None, None) => {
                return Err("the document names no server: set base-url".into());
            }
        };
        let base: http::Uri = base_text
            .trim_end_matches('/')
            .parse()
            .map_err(|_| format!("base URL `{}` is not a URL", clip(&base_text)))?;
        if base.host().is_none() {
            return Err(format!("base URL `{}` has no host", clip(&base_text)));
        }
        let mut operations = Vec::new();
        for op in read.operations {
            if spec
                .operations
                .iter()
                .any(|entry| document::allowed(entry, &op))
            {
                operations.push(op);
            }
        }
        for entry in &spec.operations {
            let named = |op: &Operation| document::allowed(entry, op);
            if !operations.iter().any(named) {
                warnings.push(format!(
                    "{who}: `{}` of its operations names no operation of the document",
                    clip(entry)
                ));
            }
        }
        if operations.is_empty() {
            return Err(format!(
                "no operation of {} is in its `operations`",
                spec.document
            ));
        }
        if operations.len() > super::manifest::MAX_ENTRIES {
            return Err(format!(
                "more than {} operations; list fewer in `operations`",
                super::manifest::MAX_ENTRIES
            ));
        }
        let request = spec.grants.clone().unwrap_or_else(|| GrantRequest {
            http: vec![origin(&base)],
            ..GrantRequest::default()
        });
        let (grants, lowered) = request.capped(&who, setting.caps, std::path::Path::new("."))?;
        warnings.extend(lowered);
        let credentials =
            spec.credentials
                .resolve(namespace, &setting.caps.secrets, &http, setting.timeout)?;
        let mut offer = Offer::default();
        for op in &operations {
            let tool: rmcp::model::Tool = serde_json::from_value(op.json.clone())
                .map_err(|e| format!("operation `{}` makes no MCP tool: {e}", op.tool))?;
            let validator = op
                .json
                .get("inputSchema")
                .and_then(|s| super::manifest::compile_schema(s).ok())
                .map(Arc::new);
            if validator.is_none() {
                warnings.push(format!(
                    "{who}: the input schema of `{}` does not compile; its arguments are not checked",
                    op.tool
                ));
            }
            offer.tools.push(OfferedTool {
                tool,
                validator,
                output_validator: None,
                tags: op.tags.clone(),
                task: Default::default(),
                applied: None,
            });
        }
        Ok((
            Self {
                who,
                namespace: namespace.into(),
                base,
                operations,
                grants: Arc::new(grants),
                budget: setting.budget,
                timeout: setting.timeout,
                credentials,
                count: setting.count,
            },
            offer,
            warnings,
        ))
    }

    /// Where its requests go.
    pub fn base_url(&self) -> String {
        self.base.to_string()
    }

    /// Calls the operation that is the tool `tool` with `arguments`.
    pub async fn call(&self, tool: &str, arguments: Map<String, Value>) -> CallToolResult {
        let Some(op) = self.operations.iter().find(|o| o.tool == tool) else {
            return error(format!("{} has no operation `{}`", self.who, clip(tool)));
        };
        let request = match self.request(op, &arguments).await {
            Ok(request) => request,
            Err(why) => return error(why),
        };
        let deadline = Instant::now() + self.timeout;
        let mut egress = Egress::new(
            self.who.clone(),
            self.namespace.clone(),
            self.grants.clone(),
            self.budget,
            deadline,
            self.count.clone(),
        )
        .budget_from("[defaults]");
        use wasmtime_wasi_http::WasiHttpHooks;
        let sent = Box::into_pin(egress.send_request(request, None, Box::new(async { Ok(()) })));
        let (response, io) =
            match tokio::time::timeout_at(deadline.into(), sent).await {
                Ok(Ok(answered)) => answered,
                Ok(Err(e)) => {
                    return error(egress.explanation().unwrap_or_else(|| {
                        format!("{} could not send the request: {e}", self.who)
                    }));
                }
                Err(_) => return error(self.late()),
            };
        tokio::spawn(async move {
            let _ = Box::into_pin(io).await;
        });
        let status = response.status();
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body =
            match tokio::time::timeout_at(deadline.into(), response.into_body().collect()).await {
                Ok(Ok(body)) => body.to_bytes(),
                Ok(Err(e)) => {
                    return error(egress.explanation().unwrap_or_else(|| {
                        format!("{} could not read the answer: {e}", self.who)
                    }));
                }
                Err(_) => return error(self.late()),
            };
        answer(status, &content_type, &body)
    }

    fn late(&self) -> String {
        format!(
            "{} got no answer within {} ms (upstream.request-timeout-ms)",
            self.who,
            self.timeout.as_millis()
        )
    }

    /// The request of `op` for `arguments`.
    async fn request(
        &self,
        op: &Operation,
        arguments: &Map<String, Value>,
    ) -> Result<http::Request<wasmtime_wasi_http::WasiBody>, String> {
        let mut path = String::new();
        let mut rest = op.path.as_str();
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
            let name = &rest[open + 1..close];
            let value = op
                .params
                .iter()
                .find(|p| p.location == Location::Path && p.name == name)
                .and_then(|p| arguments.get(&p.argument))
                .ok_or_else(|| format!("missing the path parameter `{name}`"))?;
            path.push_str(&segment(&scalar(value)));
            rest = rest.get(close + 1..).unwrap_or_default();
        }
        path.push_str(rest);
        let base_path = self.base.path().trim_end_matches('/');
        let mut target = format!("{base_path}{path}");
        if let Some(query) = query(op, arguments) {
            target.push('?');
            target.push_str(&query);
        }
        let authority = self
            .base
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        let uri = http::Uri::builder()
            .scheme(self.base.scheme_str().unwrap_or("https"))
            .authority(authority.as_str())
            .path_and_query(target)
            .build()
            .map_err(|e| format!("the request's URL is not valid: {e}"))?;
        let mut builder = http::Request::builder()
            .method(op.method.clone())
            .uri(uri)
            .header(http::header::HOST, authority)
            .header(http::header::ACCEPT, "application/json, */*;q=0.5")
            .header(
                http::header::USER_AGENT,
                concat!("pier/", env!("CARGO_PKG_VERSION")),
            );
        for p in op.params.iter().filter(|p| p.location == Location::Header) {
            if let Some(value) = arguments.get(&p.argument).filter(|v| !v.is_null()) {
                let value = http::HeaderValue::from_str(&scalar(value))
                    .map_err(|_| format!("argument `{}` cannot be sent in a header", p.argument))?;
                builder = builder.header(p.name.as_str(), value);
            }
        }
        for (name, value) in &self.credentials.headers {
            builder = builder.header(name, value);
        }
        if let Some(token) = self.credentials.bearer.token().await? {
            builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match &op.body {
            Some((kind, argument)) => match (kind, arguments.get(argument)) {
                (_, None) => Bytes::new(),
                (BodyKind::Json, Some(value)) => {
                    builder = builder.header(http::header::CONTENT_TYPE, "application/json");
                    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
                }
                (BodyKind::Form, Some(value)) => {
                    builder = builder.header(
                        http::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    );
                    let mut form = form_urlencoded::Serializer::new(String::new());
                    for (k, v) in value.as_object().into_iter().flatten() {
                        form.append_pair(k, &scalar(v));
                    }
                    Bytes::from(form.finish())
                }
            },
            None => Bytes::new(),
        };
        let body = http_body_util::Full::new(body)
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed_unsync();
        builder
            .body(body)
            .map_err(|e| format!("the request cannot be made: {e}"))
    }
}

/// The query string of `op` for `arguments` (an array is the parameter repeated), if
/// it has one.
fn query(op: &Operation, arguments: &Map<String, Value>) -> Option<String> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for p in op.params.iter().filter(|p| p.location == Location::Query) {
        match arguments.get(&p.argument) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    query.append_pair(&p.name, &scalar(item));
                    any = true;
                }
            }
            Some(value) => {
                query.append_pair(&p.name, &scalar(value));
                any = true;
            }
        }
    }
    any.then(|| query.finish())
}

/// `scheme://host:port` of `uri`, as an HTTP grant.
fn origin(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    match uri.authority() {
        Some(a) => format!("{scheme}://{}", a.as_str()),
        None => format!("{scheme}://"),
    }
}

/// A value as text in a URL or header: a string as it is, anything else as JSON.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `text` percent-encoded for one path segment.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn error(message: String) -> CallToolResult {
    CallToolResult::error(vec![Content::text(message)])
}

/// The result of a response: its JSON as structured content (an object; anything else
/// under `result`) and as text; other text as text; an error result for 4xx and 5xx.
fn answer(status: http::StatusCode, content_type: &str, body: &[u8]) -> CallToolResult {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let is_json = essence == "application/json" || essence.ends_with("+json");
    let text = match std::str::from_utf8(body) {
        Ok(text) => text.to_string(),
        Err(_) => format!("{} bytes of {}", body.len(), clip(essence)),
    };
    let reason = status.canonical_reason().unwrap_or_default();
    if !status.is_success() {
        let shown = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let shown = if shown.is_empty() {
            String::new()
        } else {
            format!(": {}", clip(&shown))
        };
        return error(format!("HTTP {} {reason}{shown}", status.as_u16()));
    }
    if body.is_empty() {
        return CallToolResult::success(vec![Content::text(format!(
            "HTTP {} {reason}",
            status.as_u16()
        ))]);
    }
    if is_json && let Ok(value) = serde_json::from_slice::<Value>(body) {
        let structured = match value {
            Value::Object(_) => value,
            other => serde_json::json!({ "result": other }),
        };
        let mut result = CallToolResult::success(vec![Content::text(text)]);
        result.structured_content = Some(structured);
        return result;
    }
    CallToolResult::success(vec![Content::text(text)])
}

/// The bytes of the document at `place`: a file, or an http(s) URL.
async fn fetch(place: &str, http: &reqwest::Client, timeout: Duration) -> Result<Vec<u8>, String> {
    if !(place.starts_with("http://") || place.starts_with("https://")) {
        let meta = tokio::fs::metadata(place)
            .await
            .map_err(|e| format!("{place}: {e}"))?;
        if meta.len() > document::MAX_DOCUMENT_BYTES as u64 {
            return Err(format!(
                "{place}: larger than {} bytes",
                document::MAX_DOCUMENT_BYTES
            ));
        }
        return tokio::fs::read(place)
            .await
            .map_err(|e| format!("{place}: {e}"));
    }
    let fetching = async {
        let mut response = http.get(place).send().await.map_err(|e| {
            format!(
                "cannot fetch {place}: {}",
                super::proxy::upstream::explain(&e)
            )
        })?;
        if !response.status().is_success() {
            return Err(format!("{place} answered HTTP {}", response.status()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            format!(
                "cannot fetch {place}: {}",
                super::proxy::upstream::explain(&e)
            )
        })? {
            if bytes.len() + chunk.len() > document::MAX_DOCUMENT_BYTES {
                return Err(format!(
                    "{place}: larger than {} bytes",
                    document::MAX_DOCUMENT_BYTES
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    tokio::time::timeout(timeout, fetching)
        .await
        .map_err(|_| format!("{place} did not answer within {} ms", timeout.as_millis()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_become_results() {
        let ok = answer(http::StatusCode::OK, "application/json", br#"{"id": 1}"#);
        assert_eq!(ok.structured_content, Some(serde_json::json!({"id": 1})));
        assert_eq!(ok.is_error, Some(false));
        let list = answer(
            http::StatusCode::OK,
            "application/json; charset=utf-8",
            b"[1, 2]",
        );
        assert_eq!(
            list.structured_content,
            Some(serde_json::json!({"result": [1, 2]}))
        );
        let text = answer(http::StatusCode::OK, "text/plain", b"pong");
        assert_eq!(text.structured_content, None);
        let missing = answer(
            http::StatusCode::NOT_FOUND,
            "application/json",
            b"{\n \"error\": \"no pet 7\"\n}",
        );
        assert_eq!(missing.is_error, Some(true));
        let shown = serde_json::to_value(&missing.content).unwrap();
        assert_eq!(
            shown[0]["text"],
            "HTTP 404 Not Found: { \"error\": \"no pet 7\" }"
        );
        let binary = answer(http::StatusCode::OK, "image/png", &[0xff, 0xfe]);
        assert_eq!(
            serde_json::to_value(&binary.content).unwrap()[0]["text"],
            "2 bytes of image/png"
        );
        let empty = answer(http::StatusCode::NO_CONTENT, "", b"");
        assert_eq!(
            serde_json::to_value(&empty.content).unwrap()[0]["text"],
            "HTTP 204 No Content"
        );
        assert_eq!(segment("a b/c?d"), "a%20b%2Fc%3Fd");
    }
}
