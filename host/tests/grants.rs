//! Capability grants against real servers on loopback: what a plugin may reach over
//! HTTP (and what it may not: hosts and ports outside its grants, private addresses in
//! every spelling, a redirect's target), its per-call budgets, and the audit trail.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::*;
use pier::{App, ServeConfig};
use serde_json::json;

/// A web server on a free loopback port that counts the requests it receives.
struct Web {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Web {
    async fn start() -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/json", get(json_page))
            .route("/echo", post(echo))
            .route("/missing", get(missing))
            .route("/big", get(big))
            .route("/redirect", get(redirect))
            .route("/hang", get(hang))
            .route("/page", get(page))
            .with_state(hits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn json_page(State(hits): State<Arc<AtomicUsize>>) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::HeaderName::from_static("x-test"), "yes"),
        ],
        r#"{"hello":"world"}"#,
    )
        .into_response()
}

async fn echo(State(hits): State<Arc<AtomicUsize>>, headers: HeaderMap, body: String) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    format!("{kind} {body}").into_response()
}

async fn missing(State(hits): State<Arc<AtomicUsize>>) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    (StatusCode::NOT_FOUND, "no such page").into_response()
}

/// 2 MiB in 32 chunks.
async fn big(State(hits): State<Arc<AtomicUsize>>) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    let chunks =
        (0..32).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 64 * 1024])));
    Body::from_stream(futures::stream::iter(chunks)).into_response()
}

/// 302 to the URL after `?to=`.
async fn redirect(State(hits): State<Arc<AtomicUsize>>, uri: axum::http::Uri) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    let to = uri
        .query()
        .unwrap_or_default()
        .trim_start_matches("to=")
        .to_string();
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

const PAGE: &str = "<!DOCTYPE html><html><head><title>Tides</title><script>var x = 1;</script></head>\
<body><nav>Home | About</nav><h1>Tides &amp; currents</h1><p>The <b>sea</b> rises twice a day.</p>\
<ul><li>High water</li><li>Low water</li></ul><p>See <a href=\"/more\">more</a>.</p></body></html>";

async fn page(State(hits): State<Arc<AtomicUsize>>) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response()
}

async fn hang(State(hits): State<Arc<AtomicUsize>>) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    "too late".into_response()
}

/// A pier serving `hello` and `outbound` (with `sidecar`), the operator allowing private
/// networks when `private` says so.
async fn serving(sidecar: &str, private: bool) -> (App, Client, PluginDir) {
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound")
        .with_sidecar("outbound", sidecar);
    let mut config: ServeConfig = dir.config();
    config.grants.private_networks = private;
    let app = App::start(&config).await.expect("pier starts");
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let client = connect(&app).await.0;
    (app, client, dir)
}

/// `outbound_request` with `args`: its text and whether it failed.
async fn request(client: &Client, args: serde_json::Value) -> (String, bool) {
    let result = call(client, "outbound_request", args).await.unwrap();
    let texts: Vec<String> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect();
    (texts.join("\n"), result.is_error == Some(true))
}

/// The first line of a failed request's text: pier's own words.
fn refusal(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn metrics(app: &App) -> String {
    app.metrics().render(&app.registry().snapshot(), 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_loopback_server_answers_get_post_404_and_a_large_body() {
    let web = Web::start().await;
    let sidecar = format!(
        "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n",
        web.port
    );
    let (app, client, _dir) = serving(&sidecar, true).await;
    let (got, failed) = request(
        &client,
        json!({"url": web.url("/json"), "show": ["content-type", "x-test"]}),
    )
    .await;
    assert_eq!(
        (got.as_str(), failed),
        (
            "200 [content-type=application/json x-test=yes] 17 bytes: {\"hello\":\"world\"}",
            false
        )
    );
    let (posted, _) = request(
        &client,
        json!({"method": "POST", "url": web.url("/echo"), "json": {"a": [1, 2]}}),
    )
    .await;
    let echoed = "application/json {\"a\":[1,2]}";
    assert_eq!(posted, format!("200 [] {} bytes: {echoed}", echoed.len()));
    let (missing, failed) = request(&client, json!({"url": web.url("/missing")})).await;
    assert_eq!(
        (missing.as_str(), failed),
        ("404 [] 12 bytes: no such page", false)
    );
    let (big, failed) = request(&client, json!({"url": web.url("/big")})).await;
    assert!(big.starts_with("200 [] 2097152 bytes: xxx"), "{big}");
    assert!(!failed);
    assert_eq!(web.hits(), 4);
    let text = metrics(&app);
    assert!(
        text.contains(
            "pier_egress_requests_total{plugin=\"outbound\",host=\"127.0.0.1\",outcome=\"ok\"} 4"
        ),
        "{text}"
    );
    assert_still_serving(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_outside_the_grants_are_refused_before_any_connection() {
    let web = Web::start().await;
    let other = Web::start().await;
    let port = web.port;
    // Granted: one port of 127.0.0.1 (private networks allowed), and any host on any
    // port of plain HTTP, public addresses only.
    let sidecar = format!(
        "[grants]\nhttp = [\"http://127.0.0.1:{port}\", \"http://*:*\"]\nprivate-networks = true\n"
    );
    let (app, client, _dir) = serving(&sidecar, false).await;
    // The operator allows no private networks: even the granted host is refused.
    let (text, failed) = request(&client, json!({"url": web.url("/json")})).await;
    assert!(failed);
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach http://127.0.0.1:{port}: 127.0.0.1 is a loopback address, and private networks are not in its [grants] (private-networks)"
        )
    );
    for (host, shown) in [
        ("2130706433", "2130706433 resolves to 127.0.0.1, which is"),
        ("0x7f000001", "0x7f000001 resolves to 127.0.0.1, which is"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1 is"),
        ("[::1]", "::1 is"),
    ] {
        let (text, failed) = request(
            &client,
            json!({"url": format!("http://{host}:{port}/json")}),
        )
        .await;
        assert!(failed, "{host}");
        assert_eq!(
            refusal(&text),
            format!(
                "plugin `outbound` may not reach http://{host}:{port}: {shown} a loopback address, and private networks are not in its [grants] (private-networks)"
            ),
        );
    }
    let (text, _) = request(
        &client,
        json!({"url": format!("http://localhost:{port}/json")}),
    )
    .await;
    assert!(
        refusal(&text).starts_with(&format!(
            "plugin `outbound` may not reach http://localhost:{port}: localhost resolves to "
        )),
        "{text}"
    );
    // A scheme outside the grants.
    let (text, _) = request(
        &client,
        json!({"url": format!("https://127.0.0.1:{port}/json")}),
    )
    .await;
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach https://127.0.0.1:{port}: not in its [grants] http"
        )
    );
    assert_eq!(web.hits() + other.hits(), 0, "no connection was made");
    let text = metrics(&app);
    assert!(
        text.contains(
            "pier_egress_requests_total{plugin=\"outbound\",host=\"other\",outcome=\"denied\"} 7"
        ),
        "{text}"
    );
    assert_still_serving(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_and_ports_outside_the_grants_and_a_redirects_target_are_refused() {
    let web = Web::start().await;
    let other = Web::start().await;
    let sidecar = format!(
        "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n",
        web.port
    );
    let (_app, client, _dir) = serving(&sidecar, true).await;
    // Another port of the granted host.
    let (text, failed) = request(&client, json!({"url": other.url("/json")})).await;
    assert!(failed);
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach http://127.0.0.1:{}: not in its [grants] http",
            other.port
        )
    );
    // Another host on the granted port.
    let (text, _) = request(
        &client,
        json!({"url": format!("http://127.0.0.2:{}/json", web.port)}),
    )
    .await;
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach http://127.0.0.2:{}: not in its [grants] http",
            web.port
        )
    );
    // A redirect is the guest's to follow: it sees the 302, and its next request is
    // checked again.
    let to = other.url("/json");
    let (text, failed) = request(
        &client,
        json!({"url": web.url(&format!("/redirect?to={to}")), "show": ["location"]}),
    )
    .await;
    assert_eq!(
        (text.as_str(), failed),
        (format!("302 [location={to}] 0 bytes: ").as_str(), false)
    );
    let (text, failed) = request(&client, json!({"url": to})).await;
    assert!(failed);
    assert!(
        refusal(&text).ends_with("not in its [grants] http"),
        "{text}"
    );
    assert_eq!((web.hits(), other.hits()), (1, 0));
    // A guest that panics on the refusal: its trap names the refusal too.
    let result = call(
        &client,
        "outbound_request_or_panic",
        json!({"url": other.url("/json")}),
    )
    .await
    .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert!(
        text_of(&result).contains(&format!(
            "plugin `outbound` may not reach http://127.0.0.1:{}: not in its [grants] http",
            other.port
        )),
        "{}",
        text_of(&result)
    );
    assert_still_serving(&client).await;
}

/// Every text content of a result, one per line.
fn text_of(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_without_grants_reaches_nothing() {
    let web = Web::start().await;
    let (_app, client, _dir) = serving("", true).await;
    let (text, failed) = request(&client, json!({"url": web.url("/json")})).await;
    assert!(failed);
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach http://127.0.0.1:{}: not in its [grants] http",
            web.port
        )
    );
    assert_eq!(web.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_spends_its_request_and_byte_budgets_and_ends_at_its_deadline() {
    let web = Web::start().await;
    let grants = format!(
        "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n",
        web.port
    );
    let (app, client, _dir) = serving(
        &format!("{grants}[limits]\nhttp-response-bytes = 100000\ntimeout-ms = 1000\n"),
        true,
    )
    .await;
    // The 17th request of one call is refused (16 by default).
    let (text, failed) = request(&client, json!({"url": web.url("/json"), "times": 17})).await;
    assert!(failed);
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach http://127.0.0.1:{}: its 16 requests of this call are used up ([limits] http-requests)",
            web.port
        )
    );
    assert_eq!(web.hits(), 16);
    // The next call has its own budget.
    let (_, failed) = request(&client, json!({"url": web.url("/json"), "times": 16})).await;
    assert!(!failed);
    // A body past the call's response bytes is cut with an error.
    let (text, failed) = request(&client, json!({"url": web.url("/big")})).await;
    assert!(failed);
    assert_eq!(
        refusal(&text),
        format!(
            "plugin `outbound` may not reach http://127.0.0.1:{}: its responses passed 100000 bytes in this call ([limits] http-response-bytes)",
            web.port
        )
    );
    // A server that never answers: the request ends at the call's deadline, and the call
    // is a timeout (counted as an error of the request: pier's deadline ended it, not the
    // abandoned call).
    let result = call(
        &client,
        "outbound_request",
        json!({"url": web.url("/hang")}),
    )
    .await
    .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text_of(&result),
        "plugin `outbound` timed out after 1000 ms"
    );
    let text = metrics(&app);
    assert!(
        text.contains(
            "pier_egress_requests_total{plugin=\"outbound\",host=\"127.0.0.1\",outcome=\"error\"} 1"
        ),
        "{text}"
    );
    assert_still_serving(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_directories_are_seen_read_only_or_read_write_and_nothing_else() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "not yours").unwrap();
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound")
        .with_sidecar(
            "outbound",
            "[[grants.files]]\npath = \"data\"\nguest = \"/data\"\nmode = \"ro\"\n\
             [[grants.files]]\npath = \"work\"\nguest = \"/work\"\nmode = \"rw\"\n\
             [[grants.files]]\npath = \"elsewhere\"\nguest = \"/elsewhere\"\n",
        );
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(dir.path().join("work")).unwrap();
    std::fs::write(data.join("hello.txt"), "hello from the host").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), data.join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("elsewhere")).unwrap();
    let mut config: ServeConfig = dir.config();
    config.grants.files = vec![dir.path().to_path_buf()];
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    let tool = |name: &'static str, args: serde_json::Value| {
        let client = &client;
        async move {
            let result = call(client, name, args).await.unwrap();
            (text_of(&result), result.is_error == Some(true))
        }
    };
    assert_eq!(
        tool("outbound_read_file", json!({"path": "/data/hello.txt"})).await,
        ("hello from the host".into(), false)
    );
    assert_eq!(
        tool("outbound_list_dir", json!({"path": "/data"})).await,
        ("escape,hello.txt".into(), false)
    );
    // Read-only: no new file, no change.
    let (_, failed) = tool(
        "outbound_write_file",
        json!({"path": "/data/new.txt", "text": "x"}),
    )
    .await;
    assert!(failed);
    assert!(!data.join("new.txt").exists());
    let (_, failed) = tool(
        "outbound_write_file",
        json!({"path": "/data/hello.txt", "text": "x"}),
    )
    .await;
    assert!(failed);
    assert_eq!(
        std::fs::read_to_string(data.join("hello.txt")).unwrap(),
        "hello from the host"
    );
    // Read-write.
    assert_eq!(
        tool(
            "outbound_write_file",
            json!({"path": "/work/out.txt", "text": "made by the plugin"})
        )
        .await,
        ("written".into(), false)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("work/out.txt")).unwrap(),
        "made by the plugin"
    );
    // Nothing leaves a preopened directory, and nothing else exists.
    for path in [
        "/data/../outbound.toml",
        "/data/escape",
        "/work/../data/hello.txt",
        "/etc/passwd",
        "/elsewhere/secret.txt",
    ] {
        let (text, failed) = tool("outbound_read_file", json!({"path": path})).await;
        assert!(failed, "{path}: {text}");
        assert!(
            !text.contains("not yours") && !text.contains("[grants]"),
            "{path}: {text}"
        );
    }
    // The symlinked directory outside the operator's list was left out: no `/elsewhere`.
    let (_, failed) = tool("outbound_list_dir", json!({"path": "/elsewhere"})).await;
    assert!(failed);
    assert_still_serving(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_values_and_operator_secrets_reach_the_plugin() {
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("token");
    std::fs::write(&token, "s3cret-value-42\n").unwrap();
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound")
        .with_sidecar(
            "outbound",
            "[config]\nbase = \"https://api.example.com\"\ntoken = \"overridden\"\n",
        );
    let mut config: ServeConfig = dir.config();
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(
            std::path::Path::new("pier.toml"),
            &format!(
                "[secrets.outbound]\ntoken = {{ file = \"{}\" }}\nmissing = {{ env = \"PIER_TEST_NO_SUCH_VARIABLE\" }}\n",
                token.display()
            ),
        )
        .unwrap();
    config.grants.secrets = layers.build().unwrap().grants.secrets;
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    for (key, value) in [
        ("base", "https://api.example.com"),
        ("token", "s3cret-value-42"),
        ("missing", "unset"),
    ] {
        let result = call(&client, "outbound_config", json!({"key": key}))
            .await
            .unwrap();
        assert_eq!(text_of(&result), value, "{key}");
    }
    let result = call(&client, "outbound_config_required", json!({"key": "nope"}))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text_of(&result),
        "configuration `nope` is not set (the plugin's sidecar [config], or the operator's [secrets])"
    );
    assert_still_serving(&client).await;
}

/// Runs the built `pier` with `args`; its exit status and its stdout and stderr.
fn pier_cli(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_shown_requested_and_effective_and_secrets_never() {
    const SECRET: &str = "s3cret-never-shown-7781";
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound")
        .with_sidecar(
            "outbound",
            "[grants]\nhttp = [\"https://*\", \"https://api.example.com\"]\n[config]\nregion = \"eu\"\n",
        );
    let work = tempfile::tempdir().unwrap();
    let token = work.path().join("token");
    std::fs::write(&token, SECRET).unwrap();
    let toml = work.path().join("pier.toml");
    std::fs::write(
        &toml,
        format!(
            "[grants]\nhttp = [\"https://*.example.com\"]\n[secrets.outbound]\ntoken = {{ file = \"{}\" }}\n\
             [admin]\ntoken = \"admin-token\"\n[data]\ndir = \"{}\"\n",
            token.display(),
            shared_data_dir().display()
        ),
    )
    .unwrap();
    let plugin = dir.path().join("outbound.wasm");
    let (ok, json_out, err) = pier_cli(&[
        "inspect",
        "--json",
        "--config",
        toml.to_str().unwrap(),
        plugin.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let described: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    let grants = &described["plugins"][0]["grants"];
    assert_eq!(
        grants,
        &json!({
            "http": {
                "requested": ["https://*", "https://api.example.com"],
                "effective": ["https://*.example.com", "https://api.example.com"],
                "lowered": ["https://*"],
                "private_networks": false,
            },
            "files": [],
            "config": [{"key": "region", "secret": false}, {"key": "token", "secret": true}],
        }),
        "{json_out}"
    );
    assert!(err.contains("plugin `outbound` asks for [grants] http [https://*, https://api.example.com]; the operator's [grants] leave it [https://*.example.com, https://api.example.com]"), "{err}");
    let (ok, text, _) = pier_cli(&[
        "inspect",
        "--config",
        toml.to_str().unwrap(),
        plugin.to_str().unwrap(),
    ]);
    assert!(ok);
    assert!(
        text.contains("  grants\n    http https://* (lowered by the operator)\n    http https://api.example.com\n    in effect: [https://*.example.com, https://api.example.com]\n    config region\n    config token (secret)\n"),
        "{text}"
    );
    assert!(!json_out.contains(SECRET) && !text.contains(SECRET) && !err.contains(SECRET));

    // A serving pier, logging everything: the plugin reads the secret; the admin API,
    // the logs and a failed call's error never show it.
    let mut child = ChildPier::serve_with_env(
        &[
            "--plugins",
            dir.path().to_str().unwrap(),
            "--config",
            toml.to_str().unwrap(),
        ],
        &[(
            "RUST_LOG",
            "trace,cranelift=info,wasmtime=info,wasmtime_cranelift=info,regalloc2=info",
        )],
    )
    .await;
    let client = child.client().await;
    let read = call(&client, "outbound_config_length", json!({"key": "token"}))
        .await
        .unwrap();
    assert_eq!(text_of(&read), SECRET.len().to_string());
    let failed = call(&client, "outbound_config_required", json!({"key": "tokn"}))
        .await
        .unwrap();
    assert!(!text_of(&failed).contains(SECRET));
    let admin: serde_json::Value = reqwest::Client::new()
        .get(child.url.replace("/mcp", "/admin/mounts"))
        .bearer_auth("admin-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = admin["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "outbound")
        .unwrap()
        .clone();
    assert_eq!(listed["grants"], *grants);
    assert!(!admin.to_string().contains(SECRET));
    drop(client);
    child.signal("-TERM");
    let stderr = child.stderr_text();
    assert!(stderr.contains("TRACE"), "logs at trace level were written");
    assert!(!stderr.contains(SECRET), "the secret is in pier's log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_edited_while_serving_changes_the_grants_of_the_next_call() {
    let web = Web::start().await;
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound");
    let mut config = dir.watched_config();
    config.debounce = std::time::Duration::from_millis(50);
    config.grants.private_networks = true;
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    let (text, failed) = request(&client, json!({"url": web.url("/json")})).await;
    assert!(failed);
    assert!(
        refusal(&text).ends_with("not in its [grants] http"),
        "{text}"
    );
    let granted = |app: &App| {
        app.registry()
            .snapshot()
            .mounts
            .iter()
            .filter_map(|m| m.wasm())
            .any(|p| p.name() == "outbound" && !p.grants().http.effective.is_empty())
    };
    std::fs::write(
        dir.path().join("outbound.toml"),
        format!(
            "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n",
            web.port
        ),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !granted(&app) {
        assert!(
            std::time::Instant::now() < deadline,
            "the sidecar change was never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (text, failed) = request(&client, json!({"url": web.url("/json")})).await;
    assert_eq!(
        (text.as_str(), failed),
        ("200 [] 17 bytes: {\"hello\":\"world\"}", false)
    );
    // And taken away again.
    std::fs::write(dir.path().join("outbound.toml"), "").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while granted(&app) {
        assert!(
            std::time::Instant::now() < deadline,
            "the sidecar change was never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (_, failed) = request(&client, json!({"url": web.url("/json")})).await;
    assert!(failed);
    assert_eq!(web.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fetch_example_reads_a_page_as_markdown_in_pieces() {
    let web = Web::start().await;
    // Its own sidecar grants public HTTPS only: a loopback page is refused.
    let shipped = std::fs::read_to_string(root().join("plugins/fetch/fetch.toml")).unwrap();
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&example("fetch"), "fetch")
        .with_sidecar("fetch", &shipped);
    let app = App::start(&dir.config()).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    let url = web.url("/page");
    let refused = call(&client, "fetch_fetch", json!({"url": url}))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(
        refusal(&text_of(&refused)),
        format!(
            "plugin `fetch` may not reach http://127.0.0.1:{}: not in its [grants] http",
            web.port
        )
    );
    drop((client, app));

    // Granted the page's server (and private networks, for loopback).
    let sidecar = format!(
        "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n",
        web.port
    );
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&example("fetch"), "fetch")
        .with_sidecar("fetch", &sidecar);
    let mut config: ServeConfig = dir.config();
    config.grants.private_networks = true;
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    let markdown = "# Tides & currents\n\nThe **sea** rises twice a day.\n\n- High water\n- Low water\n\nSee [more](/more).";
    let whole = call(&client, "fetch_fetch", json!({"url": url}))
        .await
        .unwrap();
    assert_eq!(text_of(&whole), format!("Contents of {url}:\n{markdown}"));
    let first = call(
        &client,
        "fetch_fetch",
        json!({"url": url, "max_length": 20}),
    )
    .await
    .unwrap();
    let total = markdown.chars().count();
    assert_eq!(
        text_of(&first),
        format!(
            "Contents of {url}:\n{}\n\n<content truncated: {} of {total} characters left; call fetch with start_index=20 to read on>",
            &markdown[..20],
            total - 20
        )
    );
    let rest = call(
        &client,
        "fetch_fetch",
        json!({"url": url, "start_index": 20}),
    )
    .await
    .unwrap();
    assert_eq!(
        text_of(&rest),
        format!("Contents of {url}:\n{}", &markdown[20..])
    );
    let raw = call(
        &client,
        "fetch_fetch",
        json!({"url": url, "raw": true, "max_length": 15}),
    )
    .await
    .unwrap();
    assert!(
        text_of(&raw).starts_with(&format!("Contents of {url}:\n<!DOCTYPE html>")),
        "{}",
        text_of(&raw)
    );
    let past = call(
        &client,
        "fetch_fetch",
        json!({"url": url, "start_index": 100000}),
    )
    .await
    .unwrap();
    assert_eq!(past.is_error, Some(true));
    assert_eq!(
        text_of(&past),
        format!("start_index 100000 is past the end of the content ({total} characters)")
    );
    assert_still_serving(&client).await;
}
