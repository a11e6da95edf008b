//! Warm instances (`instances = "reuse"`): what a guest leaves in its globals is seen
//! again by later calls of its own trust scope only, and never after a call failed in
//! any way, its `max-calls`, its `idle-ms`, or a swap.

use std::time::Duration;

use pier::runtime::Plugin;
use pier::runtime::limits::{Instances, ReuseScope};
use serde_json::{Value, json};

use super::common::*;

/// hello beside the hostile fixture reusing instances per session, under `limits`.
pub(super) fn reusing(limits: &str) -> PluginDir {
    PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("hostile"), "hostile")
        .with_sidecar(
            "hostile",
            &format!(
                "instances = \"reuse\"\n[limits]\ntimeout-ms = 1000\nmemory-mb = 32\n{limits}"
            ),
        )
}

/// The hostile plugin as `app` serves it now.
fn hostile(app: &pier::App) -> Plugin {
    app.registry()
        .snapshot()
        .mounts
        .iter()
        .find_map(|m| m.wasm().filter(|p| p.name() == "hostile").cloned())
        .expect("hostile is mounted")
}

/// `hostile_remember`: what the instance kept, keeping `value` (when given) for later.
async fn remember(client: &Client, value: Option<&str>) -> String {
    let arguments = value.map_or(json!({}), |v| json!({ "value": v }));
    let result = call(client, "hostile_remember", arguments).await.unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    text(&result)
}

#[tokio::test]
async fn a_warm_instance_serves_its_own_session_and_no_other() {
    let (app, a, _) = start(&reusing("")).await;
    let (b, _) = connect(&app).await;
    assert_eq!(remember(&a, Some("a's secret")).await, "nothing");
    assert_eq!(remember(&a, None).await, "a's secret", "its own session");
    assert_eq!(remember(&b, None).await, "nothing", "never another session");
    assert_eq!(remember(&b, Some("b's")).await, "nothing");
    assert_eq!(remember(&a, None).await, "a's secret");
    assert_eq!(remember(&b, None).await, "b's");
    let plugin = hostile(&app);
    assert!(plugin.reuses_instances());
    // describe, then one instance per session.
    assert_eq!(plugin.instantiations(), 3);
    assert_eq!(plugin.warm_instances(), 2);
}

#[tokio::test]
async fn a_rust_plugin_gets_a_fresh_instance_per_call_unless_it_asks() {
    let dir = PluginDir::new().with(&fixture("hostile"), "hostile");
    let (app, client, _) = start(&dir).await;
    assert_eq!(remember(&client, Some("x")).await, "nothing");
    assert_eq!(remember(&client, None).await, "nothing");
    let plugin = hostile(&app);
    assert!(!plugin.reuses_instances(), "auto: fresh for a Rust guest");
    assert_eq!(plugin.instantiations(), 3);
}

#[tokio::test]
async fn an_instance_whose_call_failed_never_serves_again() {
    let (app, client, _) = start(&reusing("")).await;
    for (round, (tool, error)) in [
        (
            "hostile_panic",
            "plugin `hostile` panicked: boom (wasm trap: wasm `unreachable` instruction executed)",
        ),
        (
            "hostile_trap",
            "plugin `hostile` trapped: wasm trap: wasm `unreachable` instruction executed",
        ),
        ("hostile_spin", "plugin `hostile` timed out after 1000 ms"),
        (
            "hostile_hog",
            "plugin `hostile` ran out of memory: it tried to grow past its limit of 32 MiB",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        // Fresh: the previous round's instance went with its failure.
        assert_eq!(remember(&client, Some(tool)).await, "nothing", "{tool}");
        assert_eq!(remember(&client, None).await, tool, "kept before {tool}");
        // The failing call takes the warm instance, and it is dropped with its failure.
        let failed = call(&client, tool, json!({})).await.unwrap();
        assert_eq!(failed.is_error, Some(true));
        assert_eq!(text(&failed), error);
        assert_eq!(hostile(&app).warm_instances(), 0, "after {tool}");
        // describe's, then one per round: the failing call used the warm one.
        assert_eq!(hostile(&app).instantiations(), 2 + round as u64);
    }
    assert_eq!(remember(&client, Some("kept")).await, "nothing");
    // A tool error of the guest's own is a call that went well: the instance stays.
    let refused = call(&client, "hostile_storage_get", json!({}))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(remember(&client, None).await, "kept");
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn a_cancelled_call_leaves_no_instance_behind() {
    let dir = reusing("").with_sidecar(
        "hostile",
        "instances = \"reuse\"\n[limits]\ntimeout-ms = 60000\n",
    );
    let app = pier::App::start(&dir.config()).await.unwrap();
    let mut raw = RawSession::open(&app).await;
    let remember = async |raw: &mut RawSession, id: u64, arguments: Value| {
        let params = json!({"name": "hostile_remember", "arguments": arguments});
        let (response, _) = raw.request(id, "tools/call", params).await;
        response["result"]["content"][0]["text"].clone()
    };
    assert_eq!(
        remember(&mut raw, 2, json!({"value": "kept"})).await,
        "nothing"
    );
    assert_eq!(remember(&mut raw, 3, json!({})).await, "kept");
    raw.send(json!({
        "jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "hostile_spin", "arguments": {}}
    }))
    .await;
    wait_until("the spin runs", || app.in_flight().count() == 1).await;
    assert_eq!(hostile(&app).warm_instances(), 0, "the spin took it");
    raw.send(json!({
        "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 4, "reason": "changed my mind"}
    }))
    .await;
    wait_until("the spin stops", || app.in_flight().count() == 0).await;
    assert_eq!(remember(&mut raw, 5, json!({})).await, "nothing");
}

#[tokio::test]
async fn an_instance_ends_after_max_calls() {
    let (app, client, _) = start(&reusing("max-calls = 3\n")).await;
    assert_eq!(remember(&client, Some("x")).await, "nothing");
    assert_eq!(remember(&client, None).await, "x");
    assert_eq!(
        remember(&client, None).await,
        "x",
        "its third and last call"
    );
    assert_eq!(hostile(&app).warm_instances(), 0);
    assert_eq!(remember(&client, None).await, "nothing", "a new instance");
}

#[tokio::test]
async fn an_idle_instance_expires() {
    let (app, client, _) = start(&reusing("idle-ms = 100\n")).await;
    assert_eq!(remember(&client, Some("x")).await, "nothing");
    assert_eq!(hostile(&app).warm_instances(), 1);
    // The sweeper drops it without any further call.
    wait_until("the idle instance is dropped", || {
        hostile(&app).warm_instances() == 0
    })
    .await;
    assert_eq!(remember(&client, None).await, "nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_of_one_session_each_get_an_instance() {
    let dir = reusing("").with_sidecar(
        "hostile",
        "instances = \"reuse\"\n[limits]\ntimeout-ms = 20000\nwarm-instances = 16\n",
    );
    let (app, client, _) = start(&dir).await;
    // Each call waits in its guest until all 16 have arrived: only distinct instances
    // running at once can meet.
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let peer = client.peer().clone();
            tokio::spawn(async move {
                let params = rmcp::model::CallToolRequestParams::new("hostile_gather")
                    .with_arguments(json!({"n": 16}).as_object().unwrap().clone());
                peer.call_tool(params).await
            })
        })
        .collect();
    for call in calls {
        let result = call.await.unwrap().unwrap();
        assert_eq!(text(&result), "met");
    }
    let plugin = hostile(&app);
    assert_eq!(plugin.instantiations(), 17, "describe and 16 calls");
    assert_eq!(plugin.warm_instances(), 16);
    // A further call of the session takes one of them: no new instance.
    assert_eq!(remember(&client, None).await, "nothing");
    assert_eq!(hostile(&app).instantiations(), 17);
}

#[tokio::test]
async fn a_swapped_plugin_leaves_its_warm_instances_behind() {
    let dir = reusing("");
    let config = pier::ServeConfig {
        debounce: Duration::from_millis(50),
        ..dir.watched_config()
    };
    let app = pier::App::start(&config).await.unwrap();
    let (client, _) = connect(&app).await;
    assert_eq!(remember(&client, Some("x")).await, "nothing");
    assert_eq!(remember(&client, None).await, "x");
    let before = hostile(&app);
    // A changed sidecar swaps the plugin for a new version of itself.
    std::fs::write(
        dir.path().join("hostile.toml"),
        "instances = \"reuse\"\n[limits]\ntimeout-ms = 1000\nmax-calls = 999\n",
    )
    .unwrap();
    wait_until("the new version serves", || {
        hostile(&app).limits().reuse.max_calls == 999
    })
    .await;
    assert_eq!(remember(&client, None).await, "nothing");
    drop(before);
}

#[tokio::test]
async fn the_operator_decides_whether_callers_may_share_an_instance() {
    let dir = reusing("").with_sidecar(
        "hostile",
        "instances = \"reuse\"\nreuse-scope = \"plugin\"\n",
    );
    // By default the operator lowers `plugin` to `session`.
    let (app, a, _) = start(&dir).await;
    let (b, _) = connect(&app).await;
    assert_eq!(hostile(&app).limits().reuse_scope, ReuseScope::Session);
    assert_eq!(remember(&a, Some("a's")).await, "nothing");
    assert_eq!(remember(&b, None).await, "nothing");

    // An operator who allows it: every caller shares the instance.
    let mut config = dir.config();
    config.max_limits.reuse_scope = ReuseScope::Plugin;
    let app = pier::App::start(&config).await.unwrap();
    let (a, _) = connect(&app).await;
    let (b, _) = connect(&app).await;
    assert_eq!(remember(&a, Some("a's")).await, "nothing");
    assert_eq!(remember(&b, None).await, "a's");

    // An operator who says fresh: no plugin reuses instances, whatever it asks.
    let mut config = dir.config();
    config.max_limits.instances = Instances::Fresh;
    let app = pier::App::start(&config).await.unwrap();
    let (a, _) = connect(&app).await;
    assert_eq!(remember(&a, Some("a's")).await, "nothing");
    assert_eq!(remember(&a, None).await, "nothing");
    assert!(!hostile(&app).reuses_instances());
}

#[tokio::test]
async fn lowering_a_sidecar_is_said_in_the_log() {
    let dir = reusing("").with_sidecar(
        "hostile",
        "instances = \"reuse\"\nreuse-scope = \"plugin\"\n[limits]\nwarm-instances = 900\n",
    );
    let output = serve_until_stdin_closes(dir.path());
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let warning: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("lower what the sidecar asks for"))
        .collect();
    assert_eq!(warning.len(), 1, "{stderr}");
    assert!(
        warning[0].contains(
            "the operator's [limits] lower what the sidecar asks for: reuse-scope plugin → session, warm-instances 900 → 256 plugin=hostile"
        ),
        "{}",
        warning[0]
    );
}

#[tokio::test]
async fn a_bad_instance_model_refuses_the_plugin_naming_the_key() {
    let dir = reusing("").with_sidecar("hostile", "instances = \"shared\"\n");
    let (app, client, _) = start(&dir).await;
    let refusals = app.refusals();
    assert_eq!(refusals.len(), 1);
    assert_eq!(
        refusals[0].error.reason,
        format!(
            "sidecar {}: line 1, `instances`: unknown variant `shared`, expected one of `auto`, `fresh`, `reuse`",
            dir.path().join("hostile.toml").display()
        )
    );
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn a_call_stopped_for_a_question_leaves_no_instance_behind() {
    let dir = PluginDir::new()
        .with(&fixture("probe"), "probe")
        .with_sidecar("probe", "instances = \"reuse\"\n");
    let app = pier::App::start(&dir.config()).await.unwrap();
    let probe = || {
        app.registry()
            .snapshot()
            .mounts
            .iter()
            .find_map(|m| m.wasm().cloned())
            .expect("probe is mounted")
    };
    // MCP 2026-07-28 over stdio: no initialize, one connection, one trust scope.
    let mut raw = RawSession::connect(&app);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
    });
    let mut tool = async |id: u64, name: &str| {
        let params = json!({"name": name, "arguments": {}, "_meta": meta});
        raw.request(id, "tools/call", params).await.0["result"].clone()
    };
    let counted = tool(1, "probe_count").await;
    assert_eq!(counted["content"][0]["text"], "1", "{counted}");
    assert_eq!(probe().warm_instances(), 1);
    // `interview` asks the user: the call stops for a round trip, its instance dropped.
    let asked = tool(2, "probe_interview").await;
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    assert_eq!(probe().warm_instances(), 0);
    assert_eq!(
        probe().instantiations(),
        2,
        "describe's, and count's reused"
    );
    let counted = tool(3, "probe_count").await;
    assert_eq!(counted["content"][0]["text"], "2", "{counted}");
    assert_eq!(probe().instantiations(), 3, "a new one");
}

#[tokio::test]
async fn a_session_that_ends_takes_its_warm_instances_along() {
    let (app, a, _) = start(&reusing("")).await;
    let (b, _) = connect(&app).await;
    remember(&a, Some("a's")).await;
    remember(&b, Some("b's")).await;
    assert_eq!(hostile(&app).warm_instances(), 2);
    b.cancel().await.unwrap();
    wait_until("b's instance is dropped", || {
        hostile(&app).warm_instances() == 1
    })
    .await;
    assert_eq!(remember(&a, None).await, "a's");
}
