//! The soak's clients: each a loop until told to stop, tallying what it sees.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;

use super::{TOKEN_A, TOKEN_B, Tally, expect, letters, text_of};
use crate::mcp::HttpSession;

/// Sessionless calls, reads and prompts, through the proxied mount too.
pub(super) async fn modern_calls(
    client: reqwest::Client,
    url: String,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    worker: u64,
) {
    let token = if worker.is_multiple_of(2) {
        TOKEN_A
    } else {
        TOKEN_B
    };
    let Ok(mut s) = HttpSession::with_token(&client, &url, token, true).await else {
        return;
    };
    let mut n: i64 = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let (a, b) = (n % 1000, 7);
        let started = Instant::now();
        let sum = s
            .request(
                "tools/call",
                json!({"name": "calc_add", "arguments": {"a": a, "b": b}}),
            )
            .await
            .and_then(|r| expect(text_of(&r), &(a + b).to_string()));
        tally.record("calc_add", started, sum);
        let started = Instant::now();
        let up = s
            .request(
                "tools/call",
                json!({"name": "up_calc_add", "arguments": {"a": a, "b": 1}}),
            )
            .await
            .and_then(|r| expect(text_of(&r), &(a + 1).to_string()));
        tally.record("up_calc_add (proxied)", started, up);
        let started = Instant::now();
        let greeting = s
            .request(
                "tools/call",
                json!({"name": "hello_greet", "arguments": {"name": "Zed"}}),
            )
            .await
            .and_then(|r| text_of(&r))
            .and_then(|t| {
                if t.contains("Zed") {
                    Ok(())
                } else {
                    bail!("greeting without the name: {t}")
                }
            });
        tally.record("hello_greet (swapped)", started, greeting);
        let started = Instant::now();
        let read = s
            .request("resources/read", json!({"uri": "test://static-text"}))
            .await;
        tally.record("resources/read", started, read);
        let started = Instant::now();
        let prompt = s
            .request("prompts/get", json!({"name": "test_simple_prompt"}))
            .await;
        tally.record("prompts/get", started, prompt);
    }
}

/// An MCP 2025-11-25 session of `token`'s, its `initialize` tallied as `what`; `None`
/// (after a pause) when it failed.
async fn open_session(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    tally: &Tally,
    what: &str,
) -> Option<HttpSession> {
    let started = Instant::now();
    let session = tally.record(
        what,
        started,
        HttpSession::with_token(client, url, token, false).await,
    );
    if session.is_none() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    session
}

/// MCP 2025-11-25 sessions: opened, used, closed.
pub(super) async fn sessions(
    client: reqwest::Client,
    url: String,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let Some(mut s) = open_session(&client, &url, TOKEN_B, &tally, "initialize").await else {
            continue;
        };
        for n in 0..5 {
            let started = Instant::now();
            let sum = s
                .request(
                    "tools/call",
                    json!({"name": "calc_add", "arguments": {"a": n, "b": 3}}),
                )
                .await
                .and_then(|r| expect(text_of(&r), &(n + 3).to_string()));
            tally.record("calc_add (session)", started, sum);
        }
        let started = Instant::now();
        let listed = s.request("tools/list", json!({})).await;
        tally.record("tools/list (session)", started, listed);
        s.close().await;
        tally.sessions.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sessions (MCP 2025-11-25) that fall quiet between calls for longer than pier's
/// hibernation time: put away, each call after a pause brings its session back.
pub(super) async fn dozing(
    client: reqwest::Client,
    url: String,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    pause: Duration,
) {
    while !stop.load(Ordering::Relaxed) {
        let Some(mut s) = open_session(&client, &url, TOKEN_A, &tally, "initialize (dozing)").await
        else {
            continue;
        };
        for n in 0..3 {
            let started = Instant::now();
            let sum = s
                .request(
                    "tools/call",
                    json!({"name": "calc_add", "arguments": {"a": n, "b": 40}}),
                )
                .await
                .and_then(|r| expect(text_of(&r), &(n + 40).to_string()));
            tally.record("calc_add (after a pause)", started, sum);
            if stop.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        s.close().await;
        tally.sessions.fetch_add(1, Ordering::Relaxed);
    }
}

/// Notes stored (sled), to be read back at the end.
pub(super) async fn notes(
    client: reqwest::Client,
    url: String,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    let Ok(mut s) = HttpSession::with_token(&client, &url, TOKEN_A, true).await else {
        return;
    };
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let title = format!("soak-{}", letters(n));
        let body = format!("the body of note {}", letters(n * 7));
        let started = Instant::now();
        let saved = s
            .request(
                "tools/call",
                json!({"name": "notes_add", "arguments": {"title": title, "body": body}}),
            )
            .await
            .and_then(|r| text_of(&r));
        if tally.record("notes_add", started, saved).is_some() {
            tally
                .notes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((title, body));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// MCP 2026-07-28 input rounds: asked, answered, completed.
pub(super) async fn rounds(
    client: reqwest::Client,
    url: String,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    let Ok(mut s) = HttpSession::with_token(&client, &url, TOKEN_B, true).await else {
        return;
    };
    let forms = json!({"elicitation": {"form": {}}});
    let tool = "test_input_required_result_elicitation";
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let round = async {
            let first = s
                .request_declaring(
                    "tools/call",
                    json!({"name": tool, "arguments": {}}),
                    forms.clone(),
                )
                .await?;
            if first["resultType"] != "input_required" {
                bail!("not asked: {first}");
            }
            let state = first["requestState"].clone();
            let keys: Vec<String> = first["inputRequests"]
                .as_object()
                .context("no input requests")?
                .keys()
                .cloned()
                .collect();
            let mut responses = serde_json::Map::new();
            for key in keys {
                responses.insert(
                    key,
                    json!({"action": "accept", "content": {"name": "Soak"}}),
                );
            }
            let done = s
                .request_declaring(
                    "tools/call",
                    json!({"name": tool, "arguments": {}, "inputResponses": responses, "requestState": state}),
                    forms.clone(),
                )
                .await?;
            text_of(&done)
        };
        if tally.record("input round", started, round.await).is_some() {
            tally.rounds.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Tasks: one completed, one cancelled, in turn.
pub(super) async fn tasks(
    client: reqwest::Client,
    url: String,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    let Ok(mut s) = HttpSession::with_token(&client, &url, TOKEN_A, true).await else {
        return;
    };
    let declared =
        json!({"elicitation": {"form": {}}, "extensions": {"io.modelcontextprotocol/tasks": {}}});
    let mut cancel = false;
    while !stop.load(Ordering::Relaxed) {
        cancel = !cancel;
        let started = Instant::now();
        let job = async {
            let seconds = if cancel { 10 } else { 0 };
            let created = s
                .request_declaring(
                    "tools/call",
                    json!({"name": "slow_compute", "arguments": {"seconds": seconds}}),
                    declared.clone(),
                )
                .await?;
            let Some(id) = created["taskId"].as_str().map(str::to_string) else {
                // A job done before it needed to become a task is answered in its request.
                if !cancel && created["content"].is_array() {
                    return Ok(());
                }
                bail!("neither a task nor a result: {created}");
            };
            if cancel {
                s.request_declaring("tasks/cancel", json!({"taskId": id}), declared.clone())
                    .await?;
            }
            let wanted = if cancel { "cancelled" } else { "completed" };
            for _ in 0..200 {
                let got = s
                    .request_declaring("tasks/get", json!({"taskId": id}), declared.clone())
                    .await?;
                if got["status"] == wanted {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            bail!("task {id} never became {wanted}")
        };
        if tally.record("task", started, job.await).is_some() {
            tally.tasks.fetch_add(1, Ordering::Relaxed);
            if cancel {
                tally.cancelled.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `subscriptions/listen` streams: opened, acknowledged, held a moment, dropped.
pub(super) async fn listens(
    client: reqwest::Client,
    url: String,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen", "params": {
        "notifications": {"toolsListChanged": true, "resourcesListChanged": true},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "soak", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        }}});
        let opened = async {
            let mut response = client
                .post(&url)
                .bearer_auth(TOKEN_B)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "subscriptions/listen")
                .body(body.to_string())
                .send()
                .await?
                .error_for_status()?;
            let mut text = String::new();
            while !text.contains("notifications/subscriptions/acknowledged") {
                let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
                    .await
                    .context("no acknowledgement within 10 s")??
                    .context("the stream ended before its acknowledgement")?;
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
            Ok::<_, anyhow::Error>(response)
        };
        if let Some(response) = tally.record("subscriptions/listen", started, opened.await) {
            tally.listens.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(1500)).await;
            drop(response);
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Calls abandoned mid-way: the client goes; pier cancels the guest.
pub(super) async fn abandoned(
    client: reqwest::Client,
    url: String,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    let Ok(mut s) = HttpSession::with_token(&client, &url, TOKEN_A, true).await else {
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        let call = s.request(
            "tools/call",
            json!({"name": "slow_compute", "arguments": {"seconds": 5}}),
        );
        if tokio::time::timeout(Duration::from_millis(200), call)
            .await
            .is_err()
        {
            tally.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Swaps `hello.wasm` for its second version and back, every `every`.
pub(super) async fn swaps(
    root: PathBuf,
    plugins: PathBuf,
    every: Duration,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    let versions = [
        root.join("target/fixtures/hello_v2.wasm"),
        root.join("plugins.d/hello.wasm"),
    ];
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(every).await;
        let from = &versions[n % 2];
        let staged = plugins.join(".hello.wasm.new");
        // Written beside, then renamed: the watcher sees one whole file.
        match std::fs::copy(from, &staged)
            .and_then(|_| std::fs::rename(&staged, plugins.join("hello.wasm")))
        {
            Ok(()) => {
                tally.swaps.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tally.failed("swap", e),
        }
        n += 1;
    }
}
