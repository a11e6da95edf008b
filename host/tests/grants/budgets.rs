//! What one call may spend on outbound HTTP: its request and response-byte budgets, its
//! deadline, the guest's own timeouts, and a bounded log for a guest retrying in a loop.

use super::*;

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
async fn a_guest_retrying_a_refused_request_in_a_loop_writes_a_bounded_log() {
    let web = Web::start().await;
    let dir = PluginDir::new()
        .with(&fixture("outbound"), "outbound")
        .with_sidecar("outbound", "[limits]\nhttp-requests = 4\n");
    let data = shared_data_dir();
    let mut child = ChildPier::serve_with_env(
        &[
            "--plugins",
            dir.path().to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--storage",
            "memory",
        ],
        &[("RUST_LOG", "info")],
    )
    .await;
    let client = child.client().await;
    let result = call(
        &client,
        "outbound_request",
        json!({"url": web.url("/json"), "times": 50, "keep_going": true}),
    )
    .await
    .unwrap();
    assert_eq!(text_of(&result), "0 answered, 50 failed");
    let metrics = reqwest::get(child.url.replace("/mcp", "/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let denied =
        "pier_egress_requests_total{plugin=\"outbound\",host=\"other\",outcome=\"denied\"} 50";
    assert!(metrics.contains(denied), "{metrics}");
    drop(client);
    child.signal("-TERM");
    // Every attempt is counted; the log has one line per budgeted request (4, each "not
    // in its grants"), one saying the budget is spent, and nothing for the other 45.
    let log = child.stderr_text();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("outbound request refused"))
        .collect();
    assert_eq!(refused.len(), 5, "{log}");
    assert!(
        refused[..4]
            .iter()
            .all(|l| l.contains("not in its [grants] http"))
    );
    assert!(refused[4].contains("its 4 requests of this call are used up"));
    assert_eq!(web.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requests_own_timeout_fails_the_request_not_the_call() {
    let web = Web::start().await;
    let sidecar = format!(
        "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n[limits]\ntimeout-ms = 20000\n",
        web.port
    );
    let (_app, client, _dir) = serving(&sidecar, true).await;
    let origin = format!("http://127.0.0.1:{}", web.port);
    // No answer within the request's 300 ms: the request fails, the plugin goes on.
    let (text, failed) =
        request(&client, json!({"url": web.url("/hang"), "timeout_ms": 300})).await;
    assert!(failed);
    assert_eq!(
        text,
        format!(
            "plugin `outbound` could not reach {origin}: HTTP response timeout\nHTTP request failed: ErrorCode::HttpResponseTimeout"
        )
    );
    // An answer whose body stops: the wait between chunks ends it.
    let (text, failed) = request(
        &client,
        json!({"url": web.url("/stall"), "timeout_ms": 300}),
    )
    .await;
    assert!(failed);
    assert_eq!(
        text,
        format!(
            "plugin `outbound` could not reach {origin}: its response stalled for 300 ms (the request's between-bytes timeout)\nHTTP request failed: connection read timeout"
        )
    );
    assert_still_serving(&client).await;
}
