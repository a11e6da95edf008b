//! The admin API: bearer-token protected, mount and unmount round trip, clear errors for
//! bad sources, and off unless `admin.token` is set.

mod common;

use std::sync::Arc;

use common::*;
use pier::{App, ServeConfig};
use serde_json::{Value, json};

async fn admin_server(dir: &PluginDir, token: Option<&str>) -> Server {
    admin_server_with(dir, token, |_| {}).await
}

async fn admin_server_with(
    dir: &PluginDir,
    token: Option<&str>,
    tweak: impl FnOnce(&mut ServeConfig),
) -> Server {
    let mut config = ServeConfig {
        admin_token: token.map(String::from),
        ..dir.config()
    };
    tweak(&mut config);
    Server::start_with(config).await
}

struct Admin {
    http: reqwest::Client,
    base: String,
}

impl Admin {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounts_are_listed_added_and_removed_with_the_token() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let server = admin_server(&dir, Some("s3cret")).await;
    let admin = Admin {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let delete = reqwest::Method::DELETE;

    // Authentication.
    let response = reqwest::get(format!("{}/admin/mounts", server.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"pier-admin\""
    );
    let (status, body) = admin
        .send(get.clone(), "/admin/mounts", Some("guess"), None)
        .await;
    assert_eq!((status, body), (403, json!({"error": "wrong admin token"})));

    // The directory's plugin is listed.
    let (status, body) = admin
        .send(get.clone(), "/admin/mounts", Some("s3cret"), None)
        .await;
    assert_eq!(status, 200);
    let hello = &body["mounts"][0];
    assert_eq!(body["mounts"].as_array().unwrap().len(), 1);
    assert_eq!(hello["name"], "hello");
    assert_eq!(hello["namespace"], "hello");
    assert_eq!(hello["origin"], "directory");
    assert_eq!(hello["kind"], "plugin");
    assert_eq!(hello["state"], "serving");
    assert_eq!(hello["error"], Value::Null);
    assert_eq!(hello["instances"], "fresh");
    assert!(
        hello["resident_bytes"].as_u64().is_some_and(|b| b > 0),
        "{hello}"
    );
    assert_eq!(
        (
            hello["tools"].clone(),
            hello["resources"].clone(),
            hello["templates"].clone(),
            hello["prompts"].clone()
        ),
        (json!(1), json!(1), json!(1), json!(1))
    );
    assert_eq!(hello["version"].as_str().unwrap().len(), 64);

    // Mount calc under `extra`, use it, unmount it.
    let calc = example("calc").display().to_string();
    let (status, body) = admin
        .send(
            post.clone(),
            "/admin/mounts",
            Some("s3cret"),
            Some(json!({"namespace": "extra", "path": calc})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["namespace"], "extra");
    assert_eq!(body["origin"], "admin");
    assert_eq!(body["source"], calc.as_str());
    assert_eq!(body["tools"], 3);
    let (client, heard) = server.client().await;
    let sum = call(&client, "extra_add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(text(&sum), "5");

    let (status, body) = admin
        .send(
            post.clone(),
            "/admin/mounts",
            Some("s3cret"),
            Some(json!({"namespace": "extra", "path": calc})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"error": "namespace `extra` is used by another mount"})
        )
    );

    let (status, body) = admin
        .send(delete.clone(), "/admin/mounts/extra", Some("s3cret"), None)
        .await;
    assert_eq!((status, body), (200, json!({"unmounted": "extra"})));
    heard
        .wait_for("tools/list_changed", |r| r.tools_changed >= 1)
        .await;
    let error = mcp_error(
        call(&client, "extra_add", json!({"a": 2, "b": 3}))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.message, "unknown tool `extra_add`");
    let (status, body) = admin
        .send(delete.clone(), "/admin/mounts/extra", Some("s3cret"), None)
        .await;
    assert_eq!(
        (status, body),
        (404, json!({"error": "no mount with namespace `extra`"}))
    );
    let (status, body) = admin
        .send(delete, "/admin/mounts/hello", Some("s3cret"), None)
        .await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"error": "`hello` is mounted from the plugin directory: delete its file instead"})
        )
    );

    // Bad sources: each a clear error, nothing left behind.
    let bad = dir.path().join("garbage.bin");
    std::fs::write(&bad, b"garbage").unwrap();
    let cases = [
        (
            json!({"namespace": "x"}),
            400,
            "path: a mount needs exactly one of `path`, `oci`, `url`, `command`, `openapi`",
        ),
        (
            json!({"namespace": "x", "url": "ftp://h"}),
            400,
            "url: must start with http:// or https://",
        ),
        (
            json!({"namespace": "x", "path": bad.display().to_string()}),
            422,
            "not a WebAssembly file (no `\\0asm` header)",
        ),
        (
            json!({"namespace": "x", "command": "/nonexistent/server"}),
            403,
            "command mounts are off in the admin API (admin.allow-command-mounts = false): a command mount runs a program on this host",
        ),
    ];
    for (body, expected_status, message) in cases {
        let (status, answer) = admin
            .send(
                post.clone(),
                "/admin/mounts",
                Some("s3cret"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (status, answer),
            (expected_status, json!({"error": message})),
            "{body}"
        );
    }
    let (status, body) = admin
        .send(
            post,
            "/admin/mounts",
            Some("s3cret"),
            Some(json!({"namespace": "x", "url": "http://127.0.0.1:9/mcp"})),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot connect: "),
        "{body}"
    );
    let (_, body) = admin.send(get, "/admin/mounts", Some("s3cret"), None).await;
    assert_eq!(body["mounts"].as_array().unwrap().len(), 1, "{body}");
    assert_still_serving(&client).await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_admin_api_is_off_without_a_token() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let server = admin_server(&dir, None).await;
    let response = reqwest::get(format!("{}/admin/mounts", server.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.shutdown().await;
}

/// Runs the `pier` binary with `args`; its exit code, stdout and stderr.
async fn pier(args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(args)
        .env_remove("PIER_ADMIN_TOKEN")
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mount_commands_talk_to_the_admin_api() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let server = admin_server(&dir, Some("s3cret")).await;
    let base = server.base.clone();
    let calc = example("calc").display().to_string();
    let target = ["--server", base.as_str(), "--token", "s3cret"];

    let (code, _, err) =
        pier(&[&["mount", "extra", "--path", calc.as_str()][..], &target].concat()).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        format!("pier: mounted {calc} under `extra`: 3 tools, 0 resources, 0 prompts\n")
    );

    let (code, out, err) = pier(&[&["mounts"][..], &target].concat()).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(
            "NAMESPACE        STATE    KIND   ORIGIN    TOOLS RESOURCES PROMPTS  SOURCE"
        ),
        "{out}"
    );
    assert!(
        lines[1]
            .starts_with("hello            serving  plugin directory     1         2       1  "),
        "{out}"
    );
    assert_eq!(
        lines[2],
        format!("extra            serving  plugin admin         3         0       0  {calc}")
    );

    let (code, _, err) = pier(&[&["unmount", "extra"][..], &target].concat()).await;
    assert_eq!((code, err.as_str()), (0, "pier: unmounted `extra`\n"));
    let (code, _, err) = pier(&[&["unmount", "extra"][..], &target].concat()).await;
    assert_eq!(
        (code, err.as_str()),
        (2, "pier: no mount with namespace `extra` (HTTP 404)\n")
    );
    let (code, _, err) = pier(&["mounts", "--server", base.as_str(), "--token", "nope"]).await;
    assert_eq!(
        (code, err.as_str()),
        (2, "pier: wrong admin token (HTTP 403)\n")
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_and_url_mounts_through_the_api_follow_the_operators_switches() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let server = admin_server_with(&dir, Some("s3cret"), |c| {
        c.admin_command_mounts = true;
        c.admin_url_mounts = false;
    })
    .await;
    let admin = Admin {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let post = reqwest::Method::POST;
    let (status, body) = admin
        .send(
            post.clone(),
            "/admin/mounts",
            Some("s3cret"),
            Some(json!({"namespace": "x", "command": "/nonexistent/server"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({"error": "cannot connect: cannot start `/nonexistent/server`: No such file or directory (os error 2)"})
        ),
        "allowed: tried, and failed for its own reason"
    );
    let (status, body) = admin
        .send(
            post,
            "/admin/mounts",
            Some("s3cret"),
            Some(json!({"namespace": "x", "url": "http://127.0.0.1:9/mcp"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"error": "url mounts are off in the admin API (admin.allow-url-mounts = false)"})
        )
    );
    // A token of another length is refused like any wrong token.
    let (status, _) = admin
        .send(
            reqwest::Method::GET,
            "/admin/mounts",
            Some("s3cret-and-more"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (client, _) = server.client().await;
    assert_still_serving(&client).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_mount_through_the_api_cannot_use_the_operators_secrets() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let server = admin_server_with(&dir, Some("s3cret"), |c| c.admin_url_mounts = true).await;
    let admin = Admin {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let refusal = "a mount added through the admin API cannot use [secrets] (no `oauth`, no `{ secret = … }`): it could send them to any server; configure it in pier.toml";
    for body in [
        json!({"namespace": "x", "url": "https://elsewhere.example/mcp", "token": {"secret": "github"}}),
        json!({"namespace": "x", "url": "https://elsewhere.example/mcp", "headers": {"X-Key": {"secret": "k"}}}),
        json!({"namespace": "x", "url": "https://elsewhere.example/mcp", "oauth": {
            "token-url": "https://auth.example/token", "client-id": "me", "client-secret": {"secret": "s"}
        }}),
    ] {
        let (status, answer) = admin
            .send(
                reqwest::Method::POST,
                "/admin/mounts",
                Some("s3cret"),
                Some(body.clone()),
            )
            .await;
        assert_eq!((status, answer), (403, json!({"error": refusal})), "{body}");
    }
    let (client, _) = server.client().await;
    assert_still_serving(&client).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_holds_up_no_other_mount_change_and_is_refused_in_time() {
    // A server that accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/mcp", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let mut config = dir.config();
    config.upstream.connect_timeout = std::time::Duration::from_secs(3);
    let app = Arc::new(App::start(&config).await.unwrap());
    let spec = |ns: &str, url: &str| pier::registry::spec::MountSpec {
        namespace: ns.into(),
        target: pier::registry::spec::Target::Remote(pier::registry::proxy::Remote::Http {
            url: url.into(),
            credentials: Default::default(),
        }),
        mode: pier::registry::spec::Mode::Mount,
        middleware: Vec::new(),
        storage: None,
        tools: Vec::new(),
    };
    let waiting = {
        let app = app.clone();
        let spec = spec("quiet", &silent_url);
        tokio::spawn(async move { app.attach(spec).await })
    };
    // While it waits: a new plugin file is mounted, another mount added and removed.
    std::fs::copy(example("calc"), dir.path().join("calc.wasm")).unwrap();
    let outcome = app.reconcile(&dir.path().join("calc.wasm")).await;
    assert!(
        matches!(outcome, pier::registry::mounts::Outcome::Mounted { .. }),
        "the file is mounted"
    );
    let path_spec = pier::registry::spec::MountSpec {
        target: pier::registry::spec::Target::Path(example("hello")),
        ..spec("extra", "")
    };
    let added = app.attach(path_spec).await.unwrap();
    assert!(matches!(
        added,
        pier::registry::mounts::Outcome::Mounted { .. }
    ));
    assert!(app.detach("extra").await.is_some());
    assert!(
        !waiting.is_finished(),
        "all of that happened while it waited"
    );
    let refused = waiting.await.unwrap().unwrap();
    let pier::registry::mounts::Outcome::Refused { error, .. } = refused else {
        panic!("the silent server is refused");
    };
    assert_eq!(
        error.reason,
        "cannot connect: no MCP session within 3000 ms (upstream.connect-timeout-ms)"
    );
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_is_taken_once_even_by_concurrent_requests() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let server = admin_server(&dir, Some("s3cret")).await;
    let admin = Admin {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let body = |ns: &str| json!({"namespace": ns, "path": example("calc").display().to_string()});
    let post = || {
        admin.send(
            reqwest::Method::POST,
            "/admin/mounts",
            Some("s3cret"),
            Some(body("twice")),
        )
    };
    let (a, b) = tokio::join!(post(), post());
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{a:?} {b:?}");
    let conflict = if a.0 == 409 { a.1 } else { b.1 };
    assert_eq!(
        conflict,
        json!({"error": "namespace `twice` is used by another mount"})
    );
    // A plugin from the directory holds its namespace too.
    let (status, answer) = admin
        .send(
            reqwest::Method::POST,
            "/admin/mounts",
            Some("s3cret"),
            Some(body("hello")),
        )
        .await;
    assert_eq!(
        (status, answer),
        (
            409,
            json!({"error": "namespace `hello` is used by another mount"})
        )
    );
    let (client, _) = server.client().await;
    let tools = client.peer().list_all_tools().await.unwrap();
    assert_eq!(
        tools
            .iter()
            .filter(|t| t.name.starts_with("twice_"))
            .count(),
        3,
        "calc mounted once under `twice`"
    );
    assert_still_serving(&client).await;
    server.shutdown().await;
}
