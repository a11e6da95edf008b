//! The contract outside Rust: a Python (componentize-py) and a JavaScript
//! (componentize-js) plugin, mounted beside a Rust one and called through MCP. (What they
//! reach through their grants is in tests/grants/polyglot.rs.)

mod common;

use common::*;
use serde_json::json;

fn polyglot_dir() -> PluginDir {
    PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("py-shout"), "py")
        .with(&fixture("js-reverse"), "js")
}

#[tokio::test]
async fn python_and_javascript_plugins_are_mounted_and_called() {
    let (app, client, recorder) = start(&polyglot_dir()).await;
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let tools = client.peer().list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "hello_greet",
            "js_reverse",
            "js_fetch",
            "js_setting",
            "js_remember",
            "py_shout",
            "py_get",
            "py_setting",
            "py_remember"
        ]
    );
    assert_eq!(
        serde_json::to_value(&tools[5]).unwrap()["description"],
        "Upper-case the text (written in Python)."
    );

    let shouted = call(&client, "py_shout", json!({"text": "hello"}))
        .await
        .unwrap();
    assert_eq!(text(&shouted), "HELLO!");
    let reversed = call(&client, "js_reverse", json!({"text": "pier"}))
        .await
        .unwrap();
    assert_eq!(text(&reversed), "reip");

    recorder
        .wait_for("one log from each plugin", |r| r.logs.len() == 2)
        .await;
    let mut logs = recorder.log_texts();
    logs.sort();
    assert_eq!(logs, ["reversing 4 characters", "shouting 5 characters"]);
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn invalid_arguments_never_reach_a_polyglot_guest() {
    let (_app, client, _) = start(&polyglot_dir()).await;
    for tool in ["py_shout", "js_reverse"] {
        let err = mcp_error(call(&client, tool, json!({"text": 1})).await.unwrap_err());
        assert_eq!(
            err.message,
            format!("invalid arguments for tool `{tool}`: /text: 1 is not of type \"string\"")
        );
    }
    let ok = call(&client, "py_shout", json!({"text": "still here"}))
        .await
        .unwrap();
    assert_eq!(text(&ok), "STILL HERE!");
}

/// What `TOOL` (`py_remember`, `js_remember`) says an earlier call of its instance kept.
async fn remember(client: &Client, tool: &str, value: Option<&str>) -> String {
    let arguments = value.map_or(json!({}), |v| json!({ "value": v }));
    let result = call(client, tool, arguments).await.unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    text(&result)
}

#[tokio::test]
async fn python_and_javascript_guests_keep_their_globals_within_a_session_only() {
    let (app, a, _) = start(&polyglot_dir()).await;
    let (b, _) = connect(&app).await;
    for tool in ["py_remember", "js_remember"] {
        assert_eq!(remember(&a, tool, Some("a's")).await, "nothing", "{tool}");
        assert_eq!(
            remember(&a, tool, None).await,
            "a's",
            "{tool}: its own session"
        );
        assert_eq!(
            remember(&b, tool, None).await,
            "nothing",
            "{tool}: never another"
        );
        assert_eq!(remember(&b, tool, Some("b's")).await, "nothing", "{tool}");
        assert_eq!(remember(&a, tool, Some("a's again")).await, "a's", "{tool}");
        assert_eq!(remember(&b, tool, None).await, "b's", "{tool}");
    }
    // auto: reuse for componentize-py and componentize-js guests; one instance per
    // session after describe's.
    for plugin in app
        .registry()
        .snapshot()
        .mounts
        .iter()
        .filter_map(|m| m.wasm())
        .filter(|p| p.name() != "hello")
    {
        assert!(plugin.reuses_instances(), "{}", plugin.name());
        assert_eq!(plugin.instantiations(), 3, "{}", plugin.name());
    }
    // A fresh session of a fresh instance.
    let (c, _) = connect(&app).await;
    assert_eq!(remember(&c, "py_remember", None).await, "nothing");
}
