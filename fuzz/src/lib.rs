//! The fuzz targets of pier: one function per boundary where untrusted bytes enter,
//! each checking invariants, not only "no crash". `fuzz_targets/` hands them to
//! libFuzzer (`make fuzz`, nightly); `tests/replay.rs` runs every committed corpus
//! through them on stable (`make test`).
//!
//! A target returns quietly for input it is not about (a header that HTTP cannot carry)
//! and panics, with what broke, when an invariant does not hold.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pier::registry::namespace;
use pier::runtime::grants::net::private_kind;
use serde_json::Value;

/// A fuzz target: panics when an invariant does not hold for its input.
pub type Target = fn(&[u8]);

/// Every target, by name: its hand-written seeds are `seeds/NAME`, what fuzzing kept
/// `corpus/NAME`, its libFuzzer binary `fuzz_targets/NAME.rs`.
pub const TARGETS: &[(&str, Target)] = &[
    ("uri_template", uri_template),
    ("jwt", jwt),
    ("jwks", jwks),
    ("config", config),
    ("addresses", addresses),
    ("storage_keys", storage_keys),
    ("guest_values", guest_values),
    ("http", http),
    ("jsonrpc", jsonrpc),
];

/// The fuzz crate's own directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `future` on the one runtime the targets share.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime")
        })
        .block_on(future)
}

/// The input's lines: the first, and the rest (after the first newline).
fn split(data: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(data).ok()?;
    Some(text.split_once('\n').unwrap_or((text, "")))
}

/// A message pier shows people: a sentence, never a Rust type name or `Debug` dump
/// (unless the input itself holds what looks like one, repeated in the message).
fn assert_readable(message: &str, what: &str, input: &[u8]) {
    let input = String::from_utf8_lossy(input);
    for tell in ["Error(", "Some(", "{ ", "::<"] {
        assert!(
            !message.contains(tell) || input.contains(tell),
            "{what}: a message for people shows `{tell}`: {message}"
        );
    }
}

/// What pier repeats of a value someone else sent is cut (to 256 characters, with a
/// marker): a message stays short whatever the input's size.
fn assert_short(message: &str, what: &str) {
    assert!(
        message.chars().count() <= 600,
        "{what}: a message of {} characters: {:.300}…",
        message.chars().count(),
        message
    );
}

/// URI templates and resource URIs (first line the template, second the URI): parsing
/// and matching never panic, every variable matched is one the template names, and a
/// URI namespaced under a mount maps back to exactly the plugin's own URI.
pub fn uri_template(data: &[u8]) {
    let Some((template, uri)) = split(data) else {
        return;
    };
    let uri = uri.lines().next().unwrap_or("");
    if let Ok(parsed) = pier_uri_template::UriTemplate::parse(template) {
        let names: Vec<&str> = parsed.variables().collect();
        if let Some(matched) = parsed.matches(uri) {
            for (name, value) in matched {
                assert!(names.contains(&name), "matched `{name}`, not in {names:?}");
                assert!(
                    uri.contains(value) || value.is_empty(),
                    "matched `{value}`, not part of {uri}"
                );
            }
        }
        if parsed.is_literal() {
            assert_eq!(parsed.matches(uri).is_some(), template == uri);
        }
    }
    for ns in ["notes", "a-b_c", "x"] {
        if uri.contains("://") {
            let mounted = namespace::uri(ns, uri);
            assert_eq!(
                namespace::strip_uri(ns, &mounted).as_deref(),
                Some(uri),
                "{uri} under {ns} is {mounted}"
            );
        }
    }
    // A URI a client names under one mount never maps into another's.
    if let (Some(a), Some(b)) = (
        namespace::strip_uri("notes", uri),
        namespace::strip_uri("notes2", uri),
    ) {
        panic!("{uri} maps into two mounts: {a} and {b}");
    }
}

/// The key the JWT target trusts (a test key, made for the corpus only).
fn jwt_verifier() -> &'static pier::auth::jwt::Jwt {
    static JWT: OnceLock<pier::auth::jwt::Jwt> = OnceLock::new();
    JWT.get_or_init(|| {
        let settings = pier::auth::jwt::JwtSettings {
            issuer: "https://issuer.test".into(),
            audience: "https://pier.test/mcp".into(),
            public_keys: vec![root().join("keys/es256.pub.pem")],
            algorithms: vec![pier::auth::jwt::algorithm("ES256").expect("ES256")],
            ..Default::default()
        };
        pier::auth::jwt::Jwt::new(settings, pier::runtime::grants::Trust::web())
            .expect("the test key reads")
    })
}

/// The subject the corpus's one validly signed token names.
pub const SIGNED_SUBJECT: &str = "fuzz-subject";

/// Bearer tokens: a token verifies only with the claims the key signed (the corpus
/// holds one such token, `seeds/jwt/signed`, for subject [`SIGNED_SUBJECT`], signed
/// once with a key made for it and thrown away); every refusal is a sentence.
pub fn jwt(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    match verify_jwt(token) {
        Ok(identity) => assert_eq!(
            identity.subject, SIGNED_SUBJECT,
            "a token no key signed verified: {token}"
        ),
        Err(reason) => {
            assert_readable(&reason, "a refused token", data);
            assert_short(&reason, "a refused token");
        }
    }
}

/// Who `token` names, verified against the test key (nothing remembered between
/// calls), or why it is refused.
pub fn verify_jwt(token: &str) -> Result<pier::auth::Identity, String> {
    let verified = block_on(jwt_verifier().verify(token, 1_800_000_000));
    jwt_verifier().forget();
    verified
}

/// JWKS documents: parsed or refused with a sentence; never more keys than entries.
pub fn jwks(data: &[u8]) {
    match pier::auth::jwks::parse_set(data) {
        Ok((keys, skipped)) => {
            let entries = serde_json::from_slice::<Value>(data)
                .ok()
                .and_then(|v| v.get("keys").and_then(Value::as_array).map(Vec::len))
                .unwrap_or(0);
            assert!(
                keys.len() + skipped <= entries,
                "{} keys and {skipped} skipped from {entries} entries",
                keys.len()
            );
        }
        Err(reason) => {
            assert_readable(&reason, "a refused JWKS", data);
            assert_short(&reason, "a refused JWKS");
        }
    }
}

/// `pier.toml` and sidecars: applied and built, or refused with a message naming the
/// problem; never a panic.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut layers = pier::config::Layers::default();
    match layers.apply_file(Path::new("pier.toml"), text) {
        Ok(()) => {
            if let Err(e) = layers.build() {
                assert_readable(&e.to_string(), "a refused configuration", data);
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    if let Err(e) = pier::registry::sidecar::Sidecar::parse_for(Path::new("p.wasm"), Some(text)) {
        assert!(
            e.starts_with("sidecar p.toml") || e.contains("p.toml"),
            "{e}"
        );
    }
}

/// The addresses a plugin's outbound request may reach: every address the standard
/// library knows as loopback, private, link-local, unique-local, multicast,
/// unspecified, broadcast, documentation or shared is private to the grant check, and
/// an IPv4 address is judged the same however IPv6 wraps it.
pub fn addresses(data: &[u8]) {
    let mut bytes = [0u8; 16];
    for (slot, byte) in bytes.iter_mut().zip(data) {
        *slot = *byte;
    }
    let v4 = Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]);
    let v6 = Ipv6Addr::from(bytes);
    let std_private_v4 = v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_multicast()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_documentation()
        || (bytes[0] == 100 && (64..128).contains(&bytes[1]));
    if std_private_v4 {
        assert!(
            private_kind(IpAddr::V4(v4)).is_some(),
            "{v4} passes the grant check"
        );
    }
    let std_private_v6 = v6.is_loopback()
        || v6.is_unspecified()
        || v6.is_multicast()
        || v6.is_unique_local()
        || v6.is_unicast_link_local();
    if std_private_v6 {
        assert!(
            private_kind(IpAddr::V6(v6)).is_some(),
            "{v6} passes the grant check"
        );
    }
    let kind = private_kind(IpAddr::V4(v4)).is_some();
    for wrapped in [
        v4.to_ipv6_mapped(),
        v4.to_ipv6_compatible(),
        // The well-known NAT64 prefix (RFC 6052).
        Ipv6Addr::from(
            (u128::from(0x0064_ff9bu32) << 96) | u128::from(u32::from_be_bytes(v4.octets())),
        ),
    ] {
        if kind && !v4.is_unspecified() {
            assert!(
                private_kind(IpAddr::V6(wrapped)).is_some(),
                "{v4} is private, {wrapped} passes"
            );
        }
    }
}

/// Storage keys of two plugins (input: plugin, key, other plugin, other key, one per
/// line): a key is refused with a reason or stored; a plugin reads back what it stored
/// and never sees another plugin's keys, in each local backend.
pub fn storage_keys(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let mut next = || lines.next().unwrap_or("");
    let (plugin_a, key_a, plugin_b, key_b) = (next(), next(), next(), next());
    if !namespace::is_valid(plugin_a)
        || !namespace::is_valid(plugin_b)
        || plugin_a.is_empty()
        || plugin_b.is_empty()
        || plugin_a == plugin_b
    {
        return;
    }
    static SLED: OnceLock<(tempfile::TempDir, Arc<dyn pier::storage::KeyValue>)> = OnceLock::new();
    let (_, sled) = SLED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = pier::storage::open(&pier::storage::Backend::Sled {
            path: dir.path().join("store"),
            flush_every: Some(Duration::from_secs(60)),
            cache_bytes: 16 << 20,
        })
        .expect("sled opens");
        (dir, store)
    });
    let memory = pier::storage::open(&pier::storage::Backend::Memory).expect("memory opens");
    for store in [memory, sled.clone()] {
        block_on(async {
            let quota = pier::storage::plugin::Quota::default();
            let a = pier::storage::plugin::PluginStore::new(store.clone(), plugin_a, quota);
            let b = pier::storage::plugin::PluginStore::new(store.clone(), plugin_b, quota);
            let stored_a = a.set(key_a, b"a".to_vec(), None).await.is_ok();
            let stored_b = b.set(key_b, b"b".to_vec(), None).await.is_ok();
            if stored_a {
                assert_eq!(
                    a.get(key_a).await.ok().flatten().as_deref(),
                    Some(&b"a"[..])
                );
            }
            if stored_b {
                assert_eq!(
                    b.get(key_b).await.ok().flatten().as_deref(),
                    Some(&b"b"[..])
                );
            }
            for (store, own) in [(&a, key_a), (&b, key_b)] {
                if let Ok(page) = store.list_keys("", None).await {
                    for key in page.keys {
                        assert_eq!(key, own, "a plugin lists a key it never stored");
                    }
                }
            }
            let _ = a.delete(key_a).await;
            let _ = b.delete(key_b).await;
        });
    }
}

/// Values a guest returns, as JSON (the SDKs' content, resource contents, prompt
/// results): converted, or refused with a sentence.
pub fn guest_values(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    use pier::server::convert::guest;
    if let Err(e) = guest::content(&value) {
        assert_readable(&e, "a refused content", data);
        assert_short(&e, "a refused content");
    }
    if let Err(e) = guest::resource_contents_list(&value) {
        assert_readable(&e, "refused resource contents", data);
        assert_short(&e, "refused resource contents");
    }
    if let Err(e) = guest::prompt_result(&value) {
        assert_readable(&e, "a refused prompt result", data);
        assert_short(&e, "a refused prompt result");
    }
    let _ = pier::registry::manifest::compile_schema(&value);
}

/// pier serving the example plugins in process: its HTTP app.
fn app() -> &'static axum::Router {
    static APP: OnceLock<axum::Router> = OnceLock::new();
    APP.get_or_init(|| {
        let plugins = root().join("../plugins.d");
        assert!(
            plugins.join("calc.wasm").exists(),
            "{} has no example plugins: run `make plugins`",
            plugins.display()
        );
        block_on(async {
            let data = tempfile::tempdir().expect("a data directory").keep();
            let config = pier::ServeConfig {
                plugins_dir: plugins,
                data_dir: data,
                storage: pier::storage::Backend::Memory,
                watch: false,
                request_state_keys: vec!["fuzz:0123456789abcdef0123456789abcdef".into()],
                ..Default::default()
            };
            let mut http = config.http.clone();
            http.request_timeout = Duration::from_secs(5);
            http.body_timeout = Duration::from_secs(2);
            let app = Arc::new(pier::App::start(&config).await.expect("pier starts"));
            app.load().await.expect("the plugins load");
            let lifecycle = pier::transport::http::Lifecycle::of(&app);
            pier::transport::http::router(app, &http, &lifecycle)
        })
    })
}

/// Sends `request` to the app; the status, and the body read for at most a second (a
/// stream may not end).
fn send(request: http::Request<axum::body::Body>) -> (http::StatusCode, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let router = app().clone();
    block_on(async {
        let response = tokio::time::timeout(Duration::from_secs(10), router.oneshot(request))
            .await
            .expect("a response within 10 s")
            .expect("the router never fails");
        let status = response.status();
        let mut body = response.into_body();
        let mut text = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    text.extend_from_slice(&data);
                }
                if text.len() > 1 << 20 {
                    break;
                }
            }
        })
        .await;
        (status, String::from_utf8_lossy(&text).into_owned())
    })
}

/// The JSON-RPC messages of a response body (JSON or SSE).
fn messages(body: &str) -> Vec<Value> {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        return vec![value];
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

/// What an answer may be: a result, or an error with a JSON-RPC code.
fn assert_answer(message: &Value, context: &str, input: &[u8]) {
    if let Some(error) = message.get("error") {
        let code = error.get("code").and_then(Value::as_i64);
        assert!(
            code.is_some_and(|c| (-32768..=-32000).contains(&c) || c == -1),
            "{context}: an error with code {code:?}: {message}"
        );
        if let Some(text) = error.get("message").and_then(Value::as_str) {
            assert_readable(text, context, input);
        }
    }
}

/// HTTP requests to `/mcp` and the operations endpoints (input: the request line
/// `METHOD PATH`, header lines, an empty line, the body): never a 500, and every
/// JSON-RPC answer has a documented code.
pub fn http(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let Some((method, path)) = lines.next().and_then(|l| l.split_once(' ')) else {
        return;
    };
    let mut builder = http::Request::builder().method(method).uri(path);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return;
        };
        builder = builder.header(name.trim(), value.trim());
    }
    let Ok(mut request) = builder.body(axum::body::Body::from(body.to_string())) else {
        return;
    };
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    let (status, body) = send(request);
    assert_ne!(
        status,
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "{body:.500}"
    );
    for message in messages(&body) {
        assert_answer(&message, "an HTTP request", data);
    }
}

/// JSON-RPC messages (the input is the body) sent as MCP 2026-07-28 requests without a
/// session, with the headers the revision asks for derived from the body: never a 500,
/// every answer documented, and the server answers the next request.
pub fn jsonrpc(data: &[u8]) {
    let Ok(message) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let method = message.get("method").and_then(Value::as_str).unwrap_or("");
    let name = message
        .pointer("/params/name")
        .or_else(|| message.pointer("/params/uri"))
        .and_then(Value::as_str);
    let mut builder = http::Request::builder()
        .method("POST")
        .uri("/mcp")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28");
    if http::HeaderValue::from_str(method).is_ok() && !method.is_empty() {
        builder = builder.header("mcp-method", method);
    }
    if let Some(name) = name.filter(|n| http::HeaderValue::from_str(n).is_ok()) {
        builder = builder.header("mcp-name", name);
    }
    let Ok(request) = builder.body(axum::body::Body::from(data.to_vec())) else {
        return;
    };
    let (status, body) = send(request);
    assert_ne!(
        status,
        http::StatusCode::INTERNAL_SERVER_ERROR,
        "{body:.500}"
    );
    for answer in messages(&body) {
        assert_answer(&answer, "a 2026-07-28 request", data);
    }
    let ping = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/list",
        "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "fuzz", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        }},
    });
    let request = http::Request::builder()
        .method("POST")
        .uri("/mcp")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list")
        .body(axum::body::Body::from(ping.to_string()))
        .expect("a request");
    let (status, body) = send(request);
    assert_eq!(
        status,
        http::StatusCode::OK,
        "the next request: {body:.300}"
    );
    assert!(body.contains("calc_add"), "the next request: {body:.300}");
}
