//! Tasks (the `io.modelcontextprotocol/tasks` extension): calls that go on after their
//! request, fetched, answered and cancelled, on one pier or a fleet; their bounds.

use super::*;

pub(super) fn tasks_declared() -> Value {
    json!({"elicitation": {"form": {}}, "extensions": {"io.modelcontextprotocol/tasks": {}}})
}

/// A request to `server` with the standard headers; `name` is `Mcp-Name`.
async fn send(
    server: &Server,
    id: u64,
    method: &str,
    name: &str,
    params: Value,
    caps: Value,
) -> (u16, Value) {
    let body = modern(id, method, params, caps);
    let response = post_modern(&server.url, &body, method, Some(name))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, message(response).await)
}

/// `tools/call` of `tool` declaring the tasks extension.
async fn call_task(server: &Server, id: u64, tool: &str, arguments: Value) -> Value {
    let params = json!({"name": tool, "arguments": arguments});
    send(server, id, "tools/call", tool, params, tasks_declared())
        .await
        .1
}

/// `tasks/get`, `tasks/update` or `tasks/cancel` of task `task`.
async fn task(server: &Server, id: u64, method: &str, task: &str, extra: Value) -> Value {
    let mut params = json!({"taskId": task});
    if let Value::Object(extra) = extra {
        params.as_object_mut().unwrap().extend(extra);
    }
    send(server, id, method, task, params, tasks_declared())
        .await
        .1
}

/// Polls task `id` until its status is `status` (ten seconds at most).
async fn until(server: &Server, id: &str, status: &str) -> Value {
    for n in 0..200 {
        let got = task(server, 1000 + n, "tasks/get", id, json!({})).await;
        if got["result"]["status"] == status {
            return got["result"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("task {id} never became {status}");
}

#[tokio::test]
async fn a_tool_call_goes_on_as_a_task_that_is_fetched_answered_and_cancelled() {
    let (server, _dir) = serve(&[]).await;
    // A task tool that starts its task: answered at once with the task.
    let created = call_task(&server, 1, "slow_compute", json!({"seconds": 1})).await;
    let created = &created["result"];
    assert_eq!(created["resultType"], "task", "{created}");
    assert_eq!(created["status"], "working");
    assert_eq!(created["ttlMs"], 3_600_000);
    assert_eq!(created["pollIntervalMs"], 500);
    assert_eq!(created["requestState"], Value::Null);
    let id = created["taskId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32, "128 random bits");
    // Stored before the answer: fetched at once.
    let working = task(&server, 2, "tasks/get", &id, json!({})).await;
    assert_eq!(working["result"]["status"], "working", "{working}");
    assert_eq!(working["result"]["resultType"], "complete");
    let done = until(&server, &id, "completed").await;
    assert_eq!(
        done["result"]["content"][0]["text"],
        "Computed for 1 s (no label)"
    );

    // A tool error completes the task with isError; a trapping guest fails it.
    let failing = call_task(&server, 3, "failing_job", json!({})).await;
    let failing = failing["result"]["taskId"].as_str().unwrap().to_string();
    let failed = until(&server, &failing, "completed").await;
    assert_eq!(failed["result"]["isError"], true, "{failed}");
    let crashing = call_task(&server, 4, "protocol_error_job", json!({})).await;
    let crashing = crashing["result"]["taskId"].as_str().unwrap().to_string();
    let crashed = until(&server, &crashing, "failed").await;
    assert_eq!(crashed["error"]["code"], -32603, "{crashed}");
    assert_eq!(
        crashed["error"]["message"],
        "plugin `conformance` panicked: the job crashed (wasm trap: wasm `unreachable` instruction executed)"
    );
    assert_eq!(crashed["result"], Value::Null);

    // A question inside the task parks it; tasks/update answers and it runs again.
    let asking = call_task(&server, 5, "confirm_delete", json!({"filename": "a.txt"})).await;
    let asking = asking["result"]["taskId"].as_str().unwrap().to_string();
    let parked = until(&server, &asking, "input_required").await;
    assert_eq!(
        parked["inputRequests"]["confirm"]["method"], "elicitation/create",
        "{parked}"
    );
    let ack = task(
        &server,
        6,
        "tasks/update",
        &asking,
        json!({"inputResponses": {"confirm": {"action": "accept", "content": {"confirm": true}}}}),
    )
    .await;
    assert_eq!(ack["result"], json!({"resultType": "complete"}), "{ack}");
    let answered = until(&server, &asking, "completed").await;
    assert_eq!(
        answered["result"]["content"][0]["text"],
        "a.txt: confirm=true"
    );

    // Cancelled while it runs: the guest is interrupted, the task ends cancelled;
    // cancelling again changes nothing; an unknown task is invalid params.
    let long = call_task(&server, 7, "slow_compute", json!({"seconds": 60})).await;
    let long = long["result"]["taskId"].as_str().unwrap().to_string();
    assert_eq!(server.app.tasks_running(), 1);
    let ack = task(&server, 8, "tasks/cancel", &long, json!({})).await;
    assert_eq!(ack["result"], json!({"resultType": "complete"}), "{ack}");
    assert_eq!(
        until(&server, &long, "cancelled").await["status"],
        "cancelled"
    );
    let again = task(&server, 9, "tasks/cancel", &long, json!({})).await;
    assert_eq!(again["result"], json!({"resultType": "complete"}));
    for _ in 0..100 {
        if server.app.tasks_running() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(server.app.tasks_running(), 0, "the guest was interrupted");
    let unknown = task(&server, 10, "tasks/get", "0123", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    assert_eq!(
        unknown["error"]["message"],
        "no task `0123` (unknown, or expired)"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn without_the_extension_task_tools_answer_in_their_request_or_are_refused() {
    let (server, _dir) = serve(&[]).await;
    let params = json!({"name": "slow_compute", "arguments": {"seconds": 0}});
    let (status, plain) = send(&server, 1, "tools/call", "slow_compute", params, forms()).await;
    assert_eq!(status, 200);
    assert_eq!(plain["result"]["resultType"], "complete", "{plain}");
    assert_eq!(
        plain["result"]["content"][0]["text"],
        "Computed for 0 s (no label)"
    );
    let params = json!({"name": "failing_job", "arguments": {}});
    let (status, refused) = send(&server, 2, "tools/call", "failing_job", params, forms()).await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["error"],
        json!({
            "code": -32021,
            "message": "tool `failing_job` runs as a task: the request must declare the `io.modelcontextprotocol/tasks` extension",
            "data": {"requiredCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}},
        })
    );
    // The tasks methods need the extension too.
    let params = json!({"taskId": "0123"});
    let (status, refused) = send(&server, 3, "tasks/get", "0123", params, forms()).await;
    assert_eq!((status, &refused["error"]["code"]), (400, &json!(-32021)));
    server.shutdown().await;
}

#[tokio::test]
async fn round_trips_first_then_a_task_with_their_answers() {
    let (server, _dir) = serve(&[]).await;
    let first = call_task(&server, 1, "test_tool_with_task", json!({})).await;
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    assert_eq!(first["result"]["taskId"], Value::Null);
    let state = first["result"]["requestState"].as_str().unwrap();
    let params = json!({
        "name": "test_tool_with_task",
        "arguments": {},
        "inputResponses": {"user_name": accept("name", "Alice")},
        "requestState": state,
    });
    let second = send(
        &server,
        2,
        "tools/call",
        "test_tool_with_task",
        params,
        tasks_declared(),
    )
    .await
    .1;
    assert_eq!(second["result"]["resultType"], "task", "{second}");
    assert_eq!(second["result"]["requestState"], Value::Null);
    let id = second["result"]["taskId"].as_str().unwrap();
    let done = until(&server, id, "completed").await;
    assert_eq!(done["result"]["content"][0]["text"], "Hello, Alice!");
    server.shutdown().await;
}

#[tokio::test]
async fn a_task_is_seen_and_cancelled_from_any_pier_sharing_redis() {
    let redis = RedisServer::start();
    let dir = PluginDir::new()
        .with(&fixture("conformance"), "conformance")
        .with_sidecar("conformance", "namespace = \"\"\n");
    let start = || async {
        let config = pier::ServeConfig {
            max_protocol: rmcp::model::ProtocolVersion::V_2026_07_28,
            storage: pier::storage::Backend::Redis {
                url: redis.url(),
                prefix: "tasks:".into(),
            },
            ..dir.config()
        };
        Server::start_with(config).await
    };
    let (a, b) = (start().await, start().await);
    let created = call_task(&a, 1, "slow_compute", json!({"seconds": 60})).await;
    let id = created["result"]["taskId"].as_str().unwrap().to_string();
    // b never ran it, yet answers for it, and its cancel stops the guest on a.
    assert_eq!(until(&b, &id, "working").await["taskId"], id.as_str());
    assert_eq!((a.app.tasks_running(), b.app.tasks_running()), (1, 0));
    let ack = task(&b, 2, "tasks/cancel", &id, json!({})).await;
    assert_eq!(ack["result"], json!({"resultType": "complete"}), "{ack}");
    for _ in 0..100 {
        if a.app.tasks_running() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(a.app.tasks_running(), 0, "a's guest was interrupted");
    assert_eq!(until(&a, &id, "cancelled").await["status"], "cancelled");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_long_call_of_a_task_tool_becomes_a_task_by_itself() {
    // The sidecar makes every probe tool task-capable; the call that runs longer than
    // server.task-after-ms becomes a task without asking.
    let dir = PluginDir::new()
        .with(&fixture("probe"), "probe")
        .with_sidecar("probe", "tasks = \"optional\"\n");
    let config = pier::ServeConfig {
        max_protocol: rmcp::model::ProtocolVersion::V_2026_07_28,
        task_after: std::time::Duration::from_millis(200),
        ..dir.config()
    };
    let server = Server::start_with(config).await;
    // A quick call answers in its request.
    let quick = call_task(&server, 1, "probe_big", json!({"bytes": 3})).await;
    assert_eq!(quick["result"]["resultType"], "complete", "{quick}");
    let long = call_task(&server, 2, "probe_wait_for_cancel", json!({})).await;
    assert_eq!(long["result"]["resultType"], "task", "{long}");
    let id = long["result"]["taskId"].as_str().unwrap().to_string();
    task(&server, 3, "tasks/cancel", &id, json!({})).await;
    assert_eq!(
        until(&server, &id, "cancelled").await["status"],
        "cancelled"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_caller_past_its_tasks_per_hour_is_answered_in_its_request() {
    let dir = PluginDir::new()
        .with(&fixture("conformance"), "conformance")
        .with_sidecar("conformance", "namespace = \"\"\n");
    let config = pier::ServeConfig {
        max_protocol: rmcp::model::ProtocolVersion::V_2026_07_28,
        max_tasks_per_subject: 2,
        ..dir.config()
    };
    let server = Server::start_with(config).await;
    let compute = |label: &str| json!({"seconds": 0, "label": label});
    for (id, label) in [(1, "a"), (2, "b")] {
        let started = call_task(&server, id, "slow_compute", compute(label)).await;
        assert_eq!(started["result"]["resultType"], "task", "{started}");
    }
    // The third in the hour runs as any call: its result in its request.
    let third = call_task(&server, 3, "slow_compute", compute("c")).await;
    assert_eq!(third["result"]["resultType"], "complete", "{third}");
    assert_eq!(
        third["result"]["content"][0]["text"],
        "Computed for 0 s (c)"
    );
    server.shutdown().await;
}
