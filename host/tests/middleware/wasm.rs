//! Middleware written as WebAssembly components, and the example configuration.

use super::*;

/// The example middleware component built by `make plugins`.
fn redact() -> std::path::PathBuf {
    let path = root().join("middleware.d/redact.wasm");
    assert!(path.exists(), "run `make plugins` (or `make test`)");
    path
}

#[tokio::test]
async fn the_redact_component_masks_emails_and_long_digit_runs_in_tool_results() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = format!(
        "[[middleware]]\ntype = \"wasm\"\npath = \"{}\"\n",
        redact().display()
    );
    let (app, client) = start_with(&dir, &toml).await;
    assert_eq!(app.pipeline().server().names(), ["redact"]);
    let result = call(
        &client,
        "hello_greet",
        json!({"name": "ada@example.com, card 4111 1111 1111 1111"}),
    )
    .await
    .unwrap();
    assert_eq!(
        text(&result),
        "Hello, [redacted email], card [redacted number]!"
    );
    // Nothing to mask: unchanged.
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn redact_on_one_mount_leaves_the_other_alone() {
    let dir = PluginDir::new();
    let toml = two_probes().replace(
        "namespace = \"a\"",
        &format!(
            "namespace = \"a\"\nmiddleware = [{{ type = \"wasm\", path = \"{}\" }}]",
            redact().display()
        ),
    );
    let (_app, client) = start_with(&dir, &toml).await;
    // Each mount keeps its own data: the same note stored in both.
    for put in ["a_put", "b_put"] {
        call(
            &client,
            put,
            json!({"key": "k", "value": "write to bob@example.org"}),
        )
        .await
        .unwrap();
    }
    let masked = call(&client, "a_fetch", json!({"key": "k"})).await.unwrap();
    assert_eq!(text(&masked), "write to [redacted email]");
    let plain = call(&client, "b_fetch", json!({"key": "k"})).await.unwrap();
    assert_eq!(text(&plain), "write to bob@example.org");
}

#[tokio::test]
#[allow(deprecated)] // MCP logging is deprecated by a newer protocol revision; still served.
async fn a_middleware_component_can_refuse_answer_or_change_a_request() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = format!(
        "[[middleware]]\ntype = \"wasm\"\npath = \"{}\"\n",
        fixture("mw_probe").display()
    );
    let app = App::start(&configured(&dir, &toml))
        .await
        .expect("pier starts");
    let (client, recorder) = connect(&app).await;
    let greet = |name: &'static str| call(&client, "hello_greet", json!({ "name": name }));
    assert_eq!(text(&greet("rename").await.unwrap()), "Hello, Renamed!");
    assert_eq!(
        text(&greet("respond").await.unwrap()),
        "answered by mw-probe"
    );
    let refused = mcp_error(greet("refuse").await.unwrap_err());
    assert_eq!(refused.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    assert_eq!(refused.message, "refused by mw-probe");
    // It logged to the client through `context`.
    recorder
        .wait_for("a log from the middleware", |r| {
            r.logs
                .iter()
                .any(|l| l.data.to_string().contains("mw-probe saw tools/call"))
        })
        .await;
}

/// A web server on a free loopback port answering every GET with 200; its port and how
/// many requests it received.
async fn counting_web() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { "ok" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, hits)
}

/// What mw-probe answers when asked to fetch a page of the server on `port`.
async fn fetch(client: &Client, port: u16) -> String {
    let name = format!("fetch http://127.0.0.1:{port}/status");
    text(
        &call(client, "hello_greet", json!({ "name": name }))
            .await
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_middleware_component_reaches_only_what_its_grants_allow() {
    use std::sync::atomic::Ordering;
    let (port, hits) = counting_web().await;
    let (other, other_hits) = counting_web().await;
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let middleware = |grants: &str| {
        format!(
            "[[middleware]]\ntype = \"wasm\"\npath = \"{}\"\nname = \"probe-mw\"\n{grants}",
            fixture("mw_probe").display()
        )
    };
    let asks =
        format!("grants = {{ http = [\"http://127.0.0.1:{port}\"], private-networks = true }}\n");
    let denied = "mw-probe could not fetch: ErrorCode::HttpRequestDenied";

    // Granted its server, the operator allowing private networks: that one, nothing else.
    let toml = format!("[grants]\nprivate-networks = true\n\n{}", middleware(&asks));
    let (app, client) = start_with(&dir, &toml).await;
    assert_eq!(fetch(&client, port).await, "mw-probe fetched 200");
    assert_eq!(fetch(&client, other).await, denied);
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    for line in [
        "pier_egress_requests_total{plugin=\"probe-mw\",host=\"127.0.0.1\",outcome=\"ok\"} 1",
        "pier_egress_requests_total{plugin=\"probe-mw\",host=\"other\",outcome=\"denied\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    drop((client, app));

    // The operator's [grants] cap a middleware's as a sidecar's: no private networks.
    let (_app, client) = start_with(&dir, &middleware(&asks)).await;
    assert_eq!(fetch(&client, port).await, denied);
    drop(client);

    // No grants: nothing.
    let toml = format!("[grants]\nprivate-networks = true\n\n{}", middleware(""));
    let (_app, client) = start_with(&dir, &toml).await;
    assert_eq!(fetch(&client, port).await, denied);
    assert_still_serving(&client).await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(other_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_trapping_middleware_component_fails_the_call_not_the_server() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = format!(
        "[[middleware]]\ntype = \"wasm\"\npath = \"{}\"\nname = \"probe-mw\"\n",
        fixture("mw_probe").display()
    );
    let (_app, client) = start_with(&dir, &toml).await;
    for name in ["trap", "late-trap"] {
        let error = mcp_error(
            call(&client, "hello_greet", json!({ "name": name }))
                .await
                .unwrap_err(),
        );
        assert_eq!(error.code, rmcp::model::ErrorCode::INTERNAL_ERROR);
        assert!(
            error.message.starts_with("middleware `probe-mw` trapped: "),
            "{}",
            error.message
        );
        assert!(error.message.contains("unreachable"), "{}", error.message);
        assert_still_serving(&client).await;
    }
    // Lists pass it too, unchanged.
    let tools = client.peer().list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 1);
}

#[tokio::test]
async fn a_middleware_component_importing_storage_is_refused() {
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&example("notes"), "notes");
    let toml = format!(
        "[[middleware]]\ntype = \"wasm\"\npath = \"{}\"\nname = \"notes\"\n",
        fixture("mw_probe_storage").display()
    );
    let error = App::start(&configured(&dir, &toml))
        .await
        .err()
        .expect("a middleware importing storage is refused")
        .to_string();
    assert!(
        error.starts_with("middleware[0] (wasm): path: ")
            && error.contains("not a pier middleware (world `pier-middleware`)")
            && error.contains("pier:mcp/storage"),
        "{error}"
    );
    // The same component without the storage import is accepted under the same name.
    let toml = format!(
        "[[middleware]]\ntype = \"wasm\"\npath = \"{}\"\nname = \"notes\"\n",
        fixture("mw_probe").display()
    );
    let (_app, client) = start_with(&dir, &toml).await;
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn a_plugin_configured_as_middleware_is_refused_with_the_reason() {
    let dir = PluginDir::new();
    let toml = format!(
        "[[middleware]]\ntype = \"logging\"\n\n[[middleware]]\ntype = \"wasm\"\npath = \"{}\"\n",
        example("hello").display()
    );
    let error = App::start(&configured(&dir, &toml))
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.starts_with("middleware[1] (wasm): path: ")
            && error.contains("not a pier middleware (world `pier-middleware`)"),
        "{error}"
    );
    let missing = "[[middleware]]\ntype = \"wasm\"\npath = \"nowhere/x.wasm\"\n";
    let error = App::start(&configured(&dir, missing))
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.starts_with("middleware[0] (wasm): path: cannot read nowhere/x.wasm: "),
        "{error}"
    );
}

#[tokio::test]
async fn the_example_configuration_serves_the_examples_through_its_chain() {
    let toml = std::fs::read_to_string(root().join("examples/pier.toml"))
        .unwrap()
        .replace(
            "\"middleware.d/",
            &format!("\"{}/middleware.d/", root().display()),
        )
        .replace(
            "\"plugins.d/",
            &format!("\"{}/plugins.d/", root().display()),
        );
    let dir = PluginDir::examples().with(&example("notes"), "notes");
    let (app, client) = start_with(&dir, &toml).await;
    assert_eq!(
        app.pipeline().server().names(),
        [
            "error-handling",
            "logging",
            "detailed-timing",
            "rate-limit",
            "response-cache",
            "response-limit",
            "redact"
        ]
    );
    let added = call(
        &client,
        "notes_add",
        json!({"title": "contact", "body": "write to ada@example.com"}),
    )
    .await
    .unwrap();
    assert_ne!(added.is_error, Some(true), "{added:?}");
    let tools = tool_names(&client).await;
    assert!(tools.contains(&"readonly_get".to_string()), "{tools:?}");
    assert!(!tools.contains(&"readonly_add".to_string()), "{tools:?}");
    assert!(!tools.contains(&"readonly_delete".to_string()), "{tools:?}");
    let read = call(&client, "readonly_get", json!({"title": "contact"}))
        .await
        .unwrap();
    assert!(
        text(&read).contains("write to [redacted email]"),
        "{}",
        text(&read)
    );
    let sum = call(&client, "calc_add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(text(&sum), "5");
}
