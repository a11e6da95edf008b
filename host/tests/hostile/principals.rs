//! Warm instances for requests without a session (MCP 2026-07-28 over HTTP, a stateless
//! pier): they belong to the request's principal — the verified subject, or with auth
//! off the one anonymous caller — never to a value the client chose; and a call that
//! fails in any way still takes its instance along.

use pier::runtime::limits::Instances;
use serde_json::{Value, json};

use super::common::*;
use super::instances::reusing;

const CI: &str = "ci-token";
const OPS: &str = "ops-token";

/// A pier of `dir` over HTTP; with `auth`, tokens `CI` (subject `ci`) and `OPS`
/// (subject `ops`); `stateless` as `pier serve --stateless`.
async fn serve(dir: &PluginDir, auth: bool, stateless: bool) -> Server {
    let mut config = dir.config();
    if auth {
        let text = format!(
            "[auth]\nmode = \"tokens\"\nresource = \"http://pier.test/mcp\"\n\n[[auth.token]]\nhash = \"{}\"\nsubject = \"ci\"\n\n[[auth.token]]\nhash = \"{}\"\nsubject = \"ops\"\n",
            pier::auth::hash_token(CI),
            pier::auth::hash_token(OPS),
        );
        config.auth = configured(&text).unwrap().auth;
    }
    config.http.stateless = stateless;
    Server::start_with(config).await
}

/// One sessionless MCP 2026-07-28 `tools/call` of `tool`, with `token` and a
/// client-chosen `Mcp-Session-Id` when given; the result.
async fn modern_call(
    server: &Server,
    token: Option<&str>,
    session: Option<&str>,
    tool: &str,
    arguments: Value,
) -> Value {
    let params = json!({"name": tool, "arguments": arguments});
    let body = modern(7, "tools/call", params, json!({}));
    let mut request = post_modern(&server.url, &body, "tools/call", Some(tool));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{tool}");
    let message = message(response).await;
    message["result"].clone()
}

/// `hostile_remember` without a session: what the instance kept before, keeping
/// `value` (when given).
async fn remember(server: &Server, token: Option<&str>, value: Option<&str>) -> String {
    remember_in(server, token, None, value).await
}

async fn remember_in(
    server: &Server,
    token: Option<&str>,
    session: Option<&str>,
    value: Option<&str>,
) -> String {
    let arguments = value.map_or(json!({}), |v| json!({ "value": v }));
    let result = modern_call(server, token, session, "hostile_remember", arguments).await;
    assert_eq!(result["isError"], false, "{result}");
    result["content"][0]["text"].as_str().unwrap().to_string()
}

fn hostile(server: &Server) -> pier::runtime::Plugin {
    server
        .app
        .registry()
        .snapshot()
        .mounts
        .iter()
        .find_map(|m| m.wasm().filter(|p| p.name() == "hostile").cloned())
        .expect("hostile is mounted")
}

#[tokio::test]
async fn sessionless_calls_of_one_subject_share_warm_instances_and_two_subjects_never() {
    let server = serve(&reusing(""), true, false).await;
    assert_eq!(remember(&server, Some(CI), Some("ci's")).await, "nothing");
    assert_eq!(
        remember(&server, Some(CI), None).await,
        "ci's",
        "a second request of ci, no session: the same warm instance"
    );
    assert_eq!(
        remember(&server, Some(OPS), None).await,
        "nothing",
        "never ops"
    );
    assert_eq!(remember(&server, Some(OPS), Some("ops'")).await, "nothing");
    assert_eq!(remember(&server, Some(CI), None).await, "ci's");
    assert_eq!(remember(&server, Some(OPS), None).await, "ops'");
    let plugin = hostile(&server);
    // describe's, then one instance per subject.
    assert_eq!(plugin.instantiations(), 3);
    assert_eq!(plugin.warm_instances(), 2);
}

#[tokio::test]
async fn a_client_chosen_session_id_selects_no_instance() {
    // A stateless pier takes any `Mcp-Session-Id`, and a 2026-07-28 request may carry
    // one: neither reaches another principal's instance, nor separates one principal's.
    for stateless in [true, false] {
        let server = serve(&reusing(""), true, stateless).await;
        let chosen = Some("shared-by-choice");
        assert_eq!(
            remember_in(&server, Some(CI), chosen, Some("ci's")).await,
            "nothing"
        );
        assert_eq!(
            remember_in(&server, Some(OPS), chosen, None).await,
            "nothing",
            "stateless: {stateless}: the same header, another subject"
        );
        assert_eq!(
            remember_in(&server, Some(CI), Some("another"), None).await,
            "ci's",
            "stateless: {stateless}: another header, the same subject"
        );
        assert_eq!(hostile(&server).instantiations(), 3);
    }
}

#[tokio::test]
async fn with_auth_off_sessionless_callers_are_one_principal_and_sessions_stay_apart() {
    let server = serve(&reusing(""), false, false).await;
    assert_eq!(
        remember(&server, None, Some("left behind")).await,
        "nothing"
    );
    assert_eq!(
        remember(&server, None, None).await,
        "left behind",
        "every sessionless caller is the anonymous principal"
    );
    assert_eq!(
        active_sessions(&server).await,
        "0",
        "a 2026-07-28 request begins no session"
    );
    // A 2025-11-25 session is a scope of its own, even with auth off.
    let (session, _) = server.client().await;
    let kept = call(&session, "hostile_remember", json!({})).await.unwrap();
    assert_eq!(text(&kept), "nothing");
    assert_eq!(hostile(&server).instantiations(), 3);
    assert_eq!(active_sessions(&server).await, "1");

    // The operator's way back: `instances = "fresh"` for every plugin.
    let dir = reusing("");
    let mut config = dir.config();
    config.max_limits.instances = Instances::Fresh;
    let fresh = Server::start_with(config).await;
    assert_eq!(remember(&fresh, None, Some("x")).await, "nothing");
    assert_eq!(remember(&fresh, None, None).await, "nothing");
    assert!(!hostile(&fresh).reuses_instances());
}

#[tokio::test]
async fn a_stateless_pier_reuses_per_principal_and_counts_no_sessions() {
    let server = serve(&reusing(""), false, true).await;
    assert_eq!(remember(&server, None, Some("x")).await, "nothing");
    assert_eq!(remember(&server, None, None).await, "x");
    assert_eq!(
        active_sessions(&server).await,
        "0",
        "a request to a stateless pier is no session"
    );
}

/// `pier_active_sessions` of `server` (0 before any session began).
async fn active_sessions(server: &Server) -> String {
    let metrics = server.metrics().await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("pier_active_sessions "))
        .unwrap_or("0")
        .to_string()
}

#[tokio::test]
async fn a_failed_sessionless_call_takes_its_instance_along() {
    let server = serve(&reusing(""), true, false).await;
    for (round, tool) in ["hostile_trap", "hostile_spin", "hostile_hog"]
        .into_iter()
        .enumerate()
    {
        assert_eq!(remember(&server, Some(CI), Some(tool)).await, "nothing");
        assert_eq!(remember(&server, Some(CI), None).await, tool);
        let failed = modern_call(&server, Some(CI), None, tool, json!({})).await;
        assert_eq!(failed["isError"], true, "{failed}");
        assert_eq!(hostile(&server).warm_instances(), 0, "after {tool}");
        assert_eq!(hostile(&server).instantiations(), 2 + round as u64);
    }
    assert_eq!(remember(&server, Some(CI), None).await, "nothing");
    // hello, beside it, kept serving.
    let hello = modern_call(
        &server,
        Some(OPS),
        None,
        "hello_greet",
        json!({"name": "Ada"}),
    )
    .await;
    assert_eq!(hello["content"][0]["text"], "Hello, Ada!");
}

#[tokio::test]
async fn a_sessionless_call_cut_by_its_client_takes_its_instance_along() {
    let server = serve(
        &reusing("").with_sidecar(
            "hostile",
            "instances = \"reuse\"\n[limits]\ntimeout-ms = 60000\n",
        ),
        true,
        false,
    )
    .await;
    assert_eq!(remember(&server, Some(CI), Some("kept")).await, "nothing");
    assert_eq!(hostile(&server).warm_instances(), 1);
    // The client gives up on a call that spins: its connection closes.
    let spinning = {
        let url = server.url.clone();
        tokio::spawn(async move {
            let params = json!({"name": "hostile_spin", "arguments": {}});
            let body = modern(8, "tools/call", params, json!({}));
            let _ = post_modern(&url, &body, "tools/call", Some("hostile_spin"))
                .bearer_auth(CI)
                .send()
                .await;
        })
    };
    wait_until("the spin runs", || server.app.in_flight().count() == 1).await;
    assert_eq!(hostile(&server).warm_instances(), 0, "the spin took it");
    spinning.abort();
    wait_until("the spin stops", || server.app.in_flight().count() == 0).await;
    assert_eq!(hostile(&server).warm_instances(), 0);
    assert_eq!(remember(&server, Some(CI), None).await, "nothing");
}
