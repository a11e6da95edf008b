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
