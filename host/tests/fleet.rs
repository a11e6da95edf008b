//! Replicas of pier on one real `redis-server` acting as one server: what one replica
//! changes or hears, the others serve (admin mounts, resource updates, switched
//! components, tasks, 2025-11-25 sessions whose requests reach several replicas).
//!
//! The replicas here run in this process (each its own app, HTTP listener and Redis
//! connections); the fleet of separate processes behind a balancer is in
//! `tests/fleet/`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const ADMIN: &str = "fleet-admin-token";

/// `n` replicas serving `dir` on the Redis at `url` under `prefix`, with one admin
/// token, one set of request-state keys, MCP 2026-07-28 and sessions.
async fn fleet(n: usize, dir: &PluginDir, url: &str, prefix: &str) -> Vec<Server> {
    let mut replicas = Vec::new();
    for _ in 0..n {
        replicas.push(replica(dir, url, prefix).await);
    }
    replicas
}

async fn replica(dir: &PluginDir, url: &str, prefix: &str) -> Server {
    replica_with(dir, url, prefix, |_| {}).await
}

/// [`replica`] with `tweak` applied to its configuration.
async fn replica_with(
    dir: &PluginDir,
    url: &str,
    prefix: &str,
    tweak: impl FnOnce(&mut pier::ServeConfig),
) -> Server {
    let mut config = pier::ServeConfig {
        storage: pier::storage::Backend::Redis {
            url: url.to_string(),
            prefix: prefix.to_string(),
        },
        admin_token: Some(ADMIN.to_string()),
        max_protocol: rmcp::model::ProtocolVersion::V_2026_07_28,
        request_state_keys: vec!["k1:fleet-test-key-of-at-least-32-bytes!!".to_string()],
        ..dir.config()
    };
    tweak(&mut config);
    Server::start_with(config).await
}

fn plugins() -> PluginDir {
    PluginDir::new()
        .with(&fixture("probe"), "probe")
        .with(&fixture("conformance"), "conformance")
        .with_sidecar("conformance", "namespace = \"\"\n")
}

fn admin(server: &Server, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}/admin/{path}", server.base))
        .bearer_auth(ADMIN)
}

async fn mounted(server: &Server) -> Vec<String> {
    let listed: Value = admin(server, reqwest::Method::GET, "mounts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["namespace"].as_str().unwrap().to_string())
        .collect()
}

/// A `subscriptions/listen` stream on `server` for tool list changes and `uris`,
/// past its acknowledgement.
async fn listen(server: &Server, uris: &[&str]) -> Events {
    let mut filter = json!({"notifications": {"toolsListChanged": true}});
    if !uris.is_empty() {
        filter["notifications"]["resourceSubscriptions"] = json!(uris);
    }
    let body = modern(1, "subscriptions/listen", filter, json!({}));
    let response = post_modern(&server.url, &body, "subscriptions/listen", None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = Events::of(response);
    let ack = events
        .next_of("notifications/subscriptions/acknowledged")
        .await;
    if !uris.is_empty() {
        assert_eq!(
            ack["params"]["notifications"]["resourceSubscriptions"],
            json!(uris),
            "{ack}"
        );
    }
    events
}

async fn tools(server: &Server) -> Vec<String> {
    let body = modern(2, "tools/list", json!({}), json!({}));
    let answer = message(
        post_modern(&server.url, &body, "tools/list", None)
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_admin_mount_made_on_one_replica_is_served_by_every_replica_and_kept() {
    let redis = RedisServer::start();
    let dir = plugins();
    let replicas = fleet(2, &dir, &redis.url(), "mounts:").await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let mut heard_on_b = listen(b, &[]).await;

    // Mounted through A: B's listen stream hears the tools change, and B serves it.
    let calc = json!({"namespace": "extra", "path": example("calc").display().to_string()});
    let added = admin(a, reqwest::Method::POST, "mounts")
        .json(&calc)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201, "{}", added.text().await.unwrap());
    heard_on_b.next_of("notifications/tools/list_changed").await;
    assert!(tools(b).await.contains(&"extra_add".to_string()));
    assert_eq!(mounted(b).await, mounted(a).await);

    // A replica started later mounts it too: the mount is kept in the store.
    let c = replica(&dir, &redis.url(), "mounts:").await;
    assert!(mounted(&c).await.contains(&"extra".to_string()));

    // Removed through B: gone from A and C as well.
    let removed = admin(b, reqwest::Method::DELETE, "mounts/extra")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    for server in [a, &c] {
        wait_for_mounts(server, |m| !m.contains(&"extra".to_string())).await;
        assert!(!tools(server).await.contains(&"extra_add".to_string()));
    }

    // A mount of the plugin directory is its file's: not removed through the API.
    let removed = admin(a, reqwest::Method::DELETE, "mounts/probe")
        .send()
        .await
        .unwrap();
    assert_eq!(
        removed.status(),
        409,
        "a plugin directory's mount is its file's"
    );
    c.shutdown().await;
    for server in replicas {
        server.shutdown().await;
    }
}

async fn wait_for_mounts(server: &Server, done: impl Fn(&Vec<String>) -> bool) {
    for _ in 0..100 {
        if done(&mounted(server).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the mounts of {} are {:?}",
        server.base,
        mounted(server).await
    );
}

#[tokio::test]
async fn an_admin_mount_is_refused_clearly_while_redis_is_down_and_works_when_it_is_back() {
    let mut redis = RedisServer::start();
    let dir = plugins();
    let a = replica(&dir, &redis.url(), "down:").await;
    redis.stop();
    let calc = json!({"namespace": "extra", "path": example("calc").display().to_string()});
    let refused = admin(&a, reqwest::Method::POST, "mounts")
        .json(&calc)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    let why: Value = refused.json().await.unwrap();
    assert!(
        why["error"]
            .as_str()
            .unwrap()
            .starts_with("the mount was not changed: the store that shares it with every replica failed (redis storage is unavailable"),
        "{why}"
    );
    assert!(
        !mounted(&a).await.contains(&"extra".to_string()),
        "nothing half-made"
    );
    // What needs no store serves on; `/ready` says what is down, without leaving the
    // balancer.
    assert!(tools(&a).await.contains(&"test_simple_text".to_string()));
    let mut ready = Value::Null;
    for _ in 0..50 {
        let response = reqwest::get(format!("{}/ready", a.base)).await.unwrap();
        assert_eq!(response.status(), 200);
        ready = response.json().await.unwrap();
        if ready.get("store").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready["store"]["ok"], false, "{ready}");
    assert!(
        ready["store"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("redis storage is unavailable"),
        "{ready}"
    );
    assert!(a.metrics().await.contains("pier_store_up 0"));

    redis.restart();
    let mut added = None;
    for _ in 0..50 {
        let response = admin(&a, reqwest::Method::POST, "mounts")
            .json(&calc)
            .send()
            .await
            .unwrap();
        if response.status() == 201 {
            added = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(added.is_some(), "the mount is made once Redis is back");
    for _ in 0..50 {
        let ready: Value = reqwest::get(format!("{}/ready", a.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ready.get("store").is_none() {
            assert!(a.metrics().await.contains("pier_store_up 1"));
            a.shutdown().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/ready still says the store is down");
}

#[tokio::test]
async fn a_resource_update_and_a_switch_on_one_replica_reach_the_others() {
    let redis = RedisServer::start();
    let dir = plugins();
    let replicas = fleet(2, &dir, &redis.url(), "updates:").await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let mut heard_on_a = listen(a, &["probe://probe/counter"]).await;

    // The probe on B says its counter changed: A's stream hears it.
    let touched =
        modern_tool_round(&b.url, 3, "probe_touch", json!({}), json!({}), json!({})).await;
    assert_eq!(
        touched["result"]["content"][0]["text"], "touched",
        "{touched}"
    );
    let updated = heard_on_a.next_of("notifications/resources/updated").await;
    assert_eq!(updated["params"]["uri"], "probe://probe/counter");

    // The conformance plugin on B switches a tool off: A lists it no more, and hears so.
    assert!(tools(a).await.contains(&"test_switched_tool".to_string()));
    let switched = modern_tool_round(
        &b.url,
        4,
        "test_trigger_tool_change",
        json!({}),
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(
        switched["result"]["content"][0]["text"], "test_switched_tool is off",
        "{switched}"
    );
    heard_on_a.next_of("notifications/tools/list_changed").await;
    assert!(!tools(a).await.contains(&"test_switched_tool".to_string()));
    assert!(!tools(b).await.contains(&"test_switched_tool".to_string()));
    for server in replicas {
        server.shutdown().await;
    }
}

/// What a client that follows tasks (and answers forms) declares.
fn tasks() -> Value {
    json!({"elicitation": {"form": {}}, "extensions": {"io.modelcontextprotocol/tasks": {}}})
}

#[tokio::test]
async fn a_working_task_nobody_runs_any_more_is_failed_at_its_next_poll() {
    let redis = RedisServer::start();
    let dir = plugins();
    let a = replica(&dir, &redis.url(), "tasks:").await;
    // A task record as a replica that died left it: `working`, last changed a minute
    // ago, and no heartbeat.
    let minute_ago = (chrono::Utc::now() - chrono::Duration::seconds(60))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let record = json!({
        "task": {"taskId": "orphan", "status": "working", "createdAt": minute_ago,
                 "lastUpdatedAt": minute_ago, "ttl": 3_600_000, "pollInterval": 500},
        "tool": "test_tool_with_task", "arguments": {},
    });
    a.app
        .store()
        .set(
            "pier/tasks/orphan",
            serde_json::to_vec(&record).unwrap(),
            Some(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    let get = |id: u64| {
        let body = modern(id, "tasks/get", json!({"taskId": "orphan"}), tasks());
        let url = a.url.clone();
        async move {
            message(
                post_modern(&url, &body, "tasks/get", Some("orphan"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let answer = get(1).await;
    assert_eq!(answer["result"]["status"], "failed", "{answer}");
    assert_eq!(
        answer["result"]["error"]["message"],
        "the replica running this task stopped (nothing heard of it for 10 s): its work is lost; call the tool again",
        "{answer}"
    );
    // Failed once, for good.
    assert_eq!(get(2).await["result"]["status"], "failed");

    // A task whose replica still beats stays `working`.
    let record = json!({
        "task": {"taskId": "alive", "status": "working", "createdAt": minute_ago,
                 "lastUpdatedAt": minute_ago, "ttl": 3_600_000, "pollInterval": 500},
        "tool": "test_tool_with_task", "arguments": {},
    });
    let store = a.app.store();
    store
        .set(
            "pier/tasks/alive",
            serde_json::to_vec(&record).unwrap(),
            Some(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    store
        .set(
            "pier/task-beats/alive",
            b"1".to_vec(),
            Some(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    let body = modern(3, "tasks/get", json!({"taskId": "alive"}), tasks());
    let answer = message(
        post_modern(&a.url, &body, "tasks/get", Some("alive"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer["result"]["status"], "working", "{answer}");
    a.shutdown().await;
}

/// The GET stream of 2025-11-25 session `session` at `url`.
async fn get_stream(url: &str, session: &str) -> Events {
    let stream = reqwest::Client::new()
        .get(url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    Events::of(stream)
}

/// An initialized 2025-11-25 session on `url` that declares sampling; its id.
async fn session_with_sampling(url: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {"sampling": {}},
        "clientInfo": {"name": "fleet", "version": "1"},
    }});
    raw_session_with(url, &init.to_string()).await
}

#[tokio::test]
async fn a_session_is_served_by_every_replica_and_hears_on_its_stream_what_each_says() {
    let redis = RedisServer::start();
    let dir = plugins();
    let replicas = fleet(3, &dir, &redis.url(), "sessions:").await;
    let (a, b, c) = (&replicas[0], &replicas[1], &replicas[2]);
    let session = session_with_sampling(&a.url).await;

    // The GET stream is held by A.
    let mut on_a = get_stream(&a.url, &session).await;

    // A call on B logs: the messages reach A's stream, in order.
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "test_tool_with_logging", "arguments": {}}})
    .to_string();
    let answer = messages(in_session(&b.url, &session, &call).send().await.unwrap()).await;
    assert_eq!(
        answer.last().unwrap()["result"]["content"][0]["text"],
        "Tool with logging executed successfully",
        "{answer:?}"
    );
    let mut logged = Vec::new();
    for _ in 0..3 {
        let log = on_a.next_of("notifications/message").await;
        logged.push(log["params"]["data"].as_str().unwrap().to_string());
    }
    assert_eq!(
        logged,
        [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed"
        ]
    );

    // A call on B asks the client's model; the client answers through C; B finishes.
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "test_sampling", "arguments": {"prompt": "hi"}}})
    .to_string();
    let on_b = in_session(&b.url, &session, &call).send().await.unwrap();
    let mut on_b = Events::of(on_b);
    let mut asked = None;
    // The question comes on B's response stream, or on A's stream.
    for _ in 0..50 {
        if let Some(m) = on_b.next_within(Duration::from_millis(100)).await {
            asked = Some(m);
            break;
        }
        if let Some(m) = on_a.next_within(Duration::from_millis(100)).await
            && m["method"] == "sampling/createMessage"
        {
            asked = Some(m);
            break;
        }
    }
    let asked = asked.expect("the sampling request reached the client");
    assert_eq!(asked["method"], "sampling/createMessage", "{asked}");
    let question = asked["id"].clone();
    assert!(
        question.as_i64().unwrap() >= 1 << 32,
        "a server request's id names its replica: {asked}"
    );
    let reply = json!({"jsonrpc": "2.0", "id": question, "result": {
        "role": "assistant", "model": "fleet", "content": {"type": "text", "text": "hello"}}})
    .to_string();
    let accepted = in_session(&c.url, &session, &reply).send().await.unwrap();
    assert_eq!(accepted.status(), 202);
    let result = on_b
        .next_within(Duration::from_secs(10))
        .await
        .expect("B answers once the client's answer reached it");
    assert_eq!(
        result["result"]["content"][0]["text"], "LLM response: hello",
        "{result}"
    );

    // Ended through C: unknown on every replica.
    let ended = reqwest::Client::new()
        .delete(&c.url)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ping = r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#;
    for server in [a, b, c] {
        let response = in_session(&server.url, &session, ping)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{}", server.base);
    }
    for server in replicas {
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_session_subscribed_through_one_replica_hears_updates_from_any_and_unsubscribes_through_another()
 {
    let redis = RedisServer::start();
    let dir = plugins();
    let replicas = fleet(3, &dir, &redis.url(), "subscribe:").await;
    let (a, b, c) = (&replicas[0], &replicas[1], &replicas[2]);
    let session = raw_session(&a.url).await;
    let mut on_a = get_stream(&a.url, &session).await;
    let request = |id: u64, method: &str, params: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
    };
    let counter = json!({"uri": "probe://probe/counter"});

    // Subscribed through B; the probe on C says the counter changed: A's stream hears.
    let subscribed = messages(
        in_session(
            &b.url,
            &session,
            &request(1, "resources/subscribe", counter.clone()),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(subscribed[0]["result"], json!({}), "{subscribed:?}");
    let touch = request(
        2,
        "tools/call",
        json!({"name": "probe_touch", "arguments": {}}),
    );
    messages(in_session(&c.url, &session, &touch).send().await.unwrap()).await;
    let updated = on_a.next_of("notifications/resources/updated").await;
    assert_eq!(updated["params"]["uri"], "probe://probe/counter");

    // Unsubscribed through C: another change is heard no more.
    let unsubscribed = messages(
        in_session(
            &c.url,
            &session,
            &request(3, "resources/unsubscribe", counter),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(unsubscribed[0]["result"], json!({}), "{unsubscribed:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let touch = request(
        4,
        "tools/call",
        json!({"name": "probe_touch", "arguments": {}}),
    );
    messages(in_session(&a.url, &session, &touch).send().await.unwrap()).await;
    let heard = on_a.next_within(Duration::from_secs(1)).await;
    assert!(
        heard
            .as_ref()
            .is_none_or(|m| m["method"] != "notifications/resources/updated"),
        "{heard:?}"
    );
    for server in replicas {
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_task_parked_on_one_replica_is_answered_on_another_and_seen_done_on_a_third() {
    let redis = RedisServer::start();
    let dir = plugins();
    let replicas = fleet(3, &dir, &redis.url(), "task-update:").await;
    let (a, b, c) = (&replicas[0], &replicas[1], &replicas[2]);
    let send = |server: &Server, id: u64, method: &str, name: &str, params: Value| {
        let body = modern(id, method, params, tasks());
        let request = post_modern(&server.url, &body, method, Some(name));
        async move { message(request.send().await.unwrap()).await }
    };
    let params = json!({"name": "confirm_delete", "arguments": {"filename": "a.txt"}});
    let created = send(a, 1, "tools/call", "confirm_delete", params).await;
    let id = created["result"]["taskId"].as_str().unwrap().to_string();
    let poll = |server: &Server, status: &'static str| {
        let (server_url, id) = (server.url.clone(), id.clone());
        async move {
            for n in 0..200 {
                let body = modern(100 + n, "tasks/get", json!({"taskId": id}), tasks());
                let got = message(
                    post_modern(&server_url, &body, "tasks/get", Some(&id))
                        .send()
                        .await
                        .unwrap(),
                )
                .await;
                if got["result"]["status"] == status {
                    return got["result"].clone();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("task {id} never became {status}");
        }
    };
    // Parked on A, seen parked from B.
    let parked = poll(b, "input_required").await;
    assert_eq!(
        parked["inputRequests"]["confirm"]["method"],
        "elicitation/create"
    );
    // Answered through B (which runs it again), seen done from C.
    let answer = json!({"taskId": id, "inputResponses": {"confirm": {"action": "accept", "content": {"confirm": true}}}});
    let ack = send(b, 2, "tasks/update", &id, answer).await;
    assert_eq!(ack["result"], json!({"resultType": "complete"}), "{ack}");
    let done = poll(c, "completed").await;
    assert_eq!(done["result"]["content"][0]["text"], "a.txt: confirm=true");
    for server in replicas {
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_plugin_file_added_to_a_shared_directory_is_announced_by_every_replica() {
    let redis = RedisServer::start();
    let dir = plugins();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        replicas.push(replica_with(&dir, &redis.url(), "swap:", |c| c.watch = true).await);
    }
    let mut heard_on_b = listen(&replicas[1], &[]).await;
    std::fs::copy(example("calc"), dir.path().join("calc.wasm")).unwrap();
    heard_on_b.next_of("notifications/tools/list_changed").await;
    for server in &replicas {
        for _ in 0..100 {
            if tools(server).await.contains(&"calc_add".to_string()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(tools(server).await.contains(&"calc_add".to_string()));
    }
    for server in replicas {
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_session_used_longer_than_its_idle_time_stays_known_to_every_replica() {
    let redis = RedisServer::start();
    let dir = plugins();
    let idle = |c: &mut pier::ServeConfig| c.http.session_idle = Duration::from_secs(2);
    let a = replica_with(&dir, &redis.url(), "idle:", idle).await;
    let b = replica_with(&dir, &redis.url(), "idle:", idle).await;
    let session = raw_session(&a.url).await;
    let ping = |id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "ping"}).to_string();
    // Used on A for longer than the idle time its record was first written for.
    for n in 0..8 {
        let response = in_session(&a.url, &session, &ping(n)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // B, which never saw it, restores it from its record.
    let response = in_session(&b.url, &session, &ping(100))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the record was kept alive while used"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_cancellation_sent_to_another_replica_stops_the_call_where_it_runs() {
    let redis = RedisServer::start();
    let dir = plugins();
    let replicas = fleet(2, &dir, &redis.url(), "cancel:").await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let session = raw_session(&a.url).await;
    // A long call on A (over 2025-11-25 a call does not become a task).
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "slow_compute", "arguments": {"seconds": 20}}})
    .to_string();
    let running = tokio::spawn({
        let (url, session) = (a.url.clone(), session.clone());
        async move {
            in_session(&url, &session, &call)
                .send()
                .await
                .unwrap()
                .text()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The client cancels it through B.
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 7, "reason": "changed my mind"}})
    .to_string();
    let accepted = in_session(&b.url, &session, &cancel).send().await.unwrap();
    assert_eq!(accepted.status(), 202);
    let cancelled = "pier_tool_calls_total{tool=\"slow_compute\",outcome=\"cancelled\"} 1";
    for _ in 0..100 {
        if a.metrics().await.contains(cancelled) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        a.metrics().await.contains(cancelled),
        "the call on A was stopped"
    );
    running.abort();
    for server in replicas {
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_log_level_set_through_one_replica_holds_on_every_replica() {
    let redis = RedisServer::start();
    let dir = plugins();
    let replicas = fleet(3, &dir, &redis.url(), "levels:").await;
    let (a, b, c) = (&replicas[0], &replicas[1], &replicas[2]);
    let session = raw_session(&a.url).await;
    let mut on_a = get_stream(&a.url, &session).await;
    let request = |id: u64, method: &str, params: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
    };
    let log_call = |id: u64| {
        request(
            id,
            "tools/call",
            json!({"name": "test_tool_with_logging", "arguments": {}}),
        )
    };
    // At the default level, C's info messages reach A's stream.
    messages(
        in_session(&c.url, &session, &log_call(1))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let first = on_a.next_of("notifications/message").await;
    assert_eq!(first["params"]["level"], "info");
    while on_a.next_within(Duration::from_millis(300)).await.is_some() {}
    // `warning` set through B: C sends info messages no more.
    let set = request(2, "logging/setLevel", json!({"level": "warning"}));
    let answer = messages(in_session(&b.url, &session, &set).send().await.unwrap()).await;
    assert_eq!(answer[0]["result"], json!({}), "{answer:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let done = messages(
        in_session(&c.url, &session, &log_call(3))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        done.last().unwrap()["result"]["content"][0]["text"],
        "Tool with logging executed successfully"
    );
    let heard = on_a.next_within(Duration::from_secs(1)).await;
    assert!(heard.is_none(), "{heard:?}");
    for server in replicas {
        server.shutdown().await;
    }
}
