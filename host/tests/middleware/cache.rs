//! `response-cache`.

use super::*;

#[tokio::test]
async fn a_cached_call_does_not_reach_the_plugin_until_its_ttl_passes() {
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let toml = r#"
[[middleware]]
type = "response-cache"
ttl-seconds = 4
include-tools = ["probe_count"]
"#;
    let (app, client) = start_with(&dir, toml).await;
    let count = |label: &'static str| {
        let client = &client;
        async move {
            let result = call(client, "probe_count", json!({"label": label}))
                .await
                .unwrap();
            text(&result)
        }
    };
    // The calls up to the sleep must land within the TTL: four seconds, room for a
    // slow machine.
    assert_eq!(count("a").await, "1");
    assert_eq!(count("a").await, "1", "answered from the cache");
    assert_eq!(count("b").await, "2", "other arguments are another entry");
    let stored = call(&client, "probe_fetch", json!({"key": "calls"}))
        .await
        .unwrap();
    assert_eq!(text(&stored), "2", "the plugin ran twice");
    // `probe_fetch` is not included: never cached.
    call(&client, "probe_count", json!({"label": "c"}))
        .await
        .unwrap();
    let stored = call(&client, "probe_fetch", json!({"key": "calls"}))
        .await
        .unwrap();
    assert_eq!(text(&stored), "3");
    tokio::time::sleep(Duration::from_millis(4050)).await;
    assert_eq!(count("a").await, "4", "expired: the plugin runs again");
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        metrics.contains("pier_cache_requests_total{kind=\"tools\",outcome=\"hit\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pier_cache_requests_total{kind=\"tools\",outcome=\"miss\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn cached_lists_end_when_the_catalogue_changes() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = "[[middleware]]\ntype = \"response-cache\"\n";
    let (app, client) = start_with(&dir, toml).await;
    assert_eq!(tool_names(&client).await, ["hello_greet"]);
    assert_eq!(tool_names(&client).await, ["hello_greet"]);
    let spec = pier::registry::spec::MountSpec {
        namespace: "calc".into(),
        target: pier::registry::spec::Target::Path(example("calc")),
        mode: Default::default(),
        middleware: Vec::new(),
        storage: None,
        tools: Vec::new(),
    };
    app.attach(spec).await.expect("the namespace is free");
    let tools = tool_names(&client).await;
    assert_eq!(tools[..2], ["hello_greet", "calc_add"], "{tools:?}");
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        metrics.contains("pier_cache_requests_total{kind=\"lists\",outcome=\"hit\"} 1"),
        "{metrics}"
    );
}

/// A client that answers every elicitation by accepting `name`.
fn naming(name: &str) -> Recorder {
    Recorder::answering(Answers {
        sampling: None,
        elicitation: Some(
            serde_json::from_value(json!({"action": "accept", "content": {"name": name}})).unwrap(),
        ),
    })
}

#[tokio::test]
async fn a_call_answered_by_its_client_is_never_served_to_another() {
    // MCP 2025-11-25: the plugin's question goes to the client as an
    // `elicitation/create` request while the call runs. Its answer is in the result,
    // which must not answer the next caller (by default the cache is shared by all).
    let dir = PluginDir::new()
        .with(&fixture("conformance"), "conformance")
        .with_sidecar("conformance", "namespace = \"\"\n")
        .with(&fixture("probe"), "probe");
    let toml = "[[middleware]]\ntype = \"response-cache\"\n";
    let app = App::start(&configured(&dir, toml))
        .await
        .expect("pier starts");
    let tool = "test_input_required_result_elicitation";
    let mallory = naming("Mallory-secret");
    let first = connect_with(&app, mallory.clone()).await;
    let answered = call(&first, tool, json!({})).await.unwrap();
    assert_eq!(text(&answered), "Hello, Mallory-secret!");
    assert_eq!(mallory.received.lock().unwrap().elicitations.len(), 1);

    let bob = naming("Bob");
    let second = connect_with(&app, bob.clone()).await;
    let own = call(&second, tool, json!({})).await.unwrap();
    assert_eq!(
        text(&own),
        "Hello, Bob!",
        "asked, not served Mallory's answer"
    );
    assert_eq!(bob.received.lock().unwrap().elicitations.len(), 1);
    // Mallory again: asked again too (her first answer was not cached either).
    let again = call(&first, tool, json!({})).await.unwrap();
    assert_eq!(text(&again), "Hello, Mallory-secret!");
    assert_eq!(mallory.received.lock().unwrap().elicitations.len(), 2);

    // A call that asks nothing is still cached, and the metrics say which was which.
    let counted = call(&first, "probe_count", json!({"label": "x"})).await;
    assert_eq!(text(&counted.unwrap()), "1");
    let counted = call(&second, "probe_count", json!({"label": "x"})).await;
    assert_eq!(text(&counted.unwrap()), "1", "answered from the cache");
    let metrics = app.metrics().render(&app.registry().snapshot(), 0);
    assert!(
        metrics.contains("pier_cache_requests_total{kind=\"tools\",outcome=\"hit\"} 1\n"),
        "{metrics}"
    );
}
