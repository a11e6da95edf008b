//! Hostile peers: clients that open sessions by the thousand, never read what they asked
//! for, send their requests a byte at a time or forever; upstream servers that answer
//! garbage, never answer, or flood. Each meets a bound, gets a clear error, and the
//! server keeps serving everyone else.

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// A client whose requests come from `ip` (any address of 127.0.0.0/8 reaches a pier
/// listening on 127.0.0.1): another client, as far as pier can tell without auth.
fn client_at(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// `initialize` from `client`: the new session's id, or the JSON-RPC error it got.
async fn open_session(client: &reqwest::Client, url: &str) -> Result<String, Value> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INIT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response
        .headers()
        .get("mcp-session-id")
        .map(|id| id.to_str().unwrap().to_string());
    let answer = message(response).await;
    match (id, answer.get("error")) {
        (Some(id), None) => Ok(id),
        (_, Some(error)) => Err(error.clone()),
        (None, None) => panic!("neither a session nor an error: {answer}"),
    }
}

async fn close_session(url: &str, id: &str) {
    let response = reqwest::Client::new()
        .delete(url)
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn sessions_are_capped_per_client_and_in_all_while_sessionless_requests_are_served() {
    let dir = PluginDir::examples();
    let mut config = dir.config();
    config.max_sessions = 3;
    config.max_sessions_per_client = 2;
    let server = Server::start_with(config).await;
    let (a, b) = (client_at("127.0.0.1"), client_at("127.0.0.2"));
    let first = open_session(&a, &server.url).await.unwrap();
    open_session(&a, &server.url).await.unwrap();
    let refused = open_session(&a, &server.url).await.unwrap_err();
    assert_eq!(
        refused,
        json!({"code": -32000, "message": "this client has 2 sessions open, the most one client may (server.max-sessions-per-client): close one (DELETE /mcp) first"})
    );
    // Another client still gets the last place, then nobody gets one.
    open_session(&b, &server.url).await.unwrap();
    let refused = open_session(&b, &server.url).await.unwrap_err();
    assert_eq!(
        refused,
        json!({"code": -32000, "message": "pier has 3 sessions open, its limit (server.max-sessions): try again when one closes, or send requests without a session (MCP 2026-07-28)"})
    );
    // Requests without a session hold no place: they are served at the cap.
    calc_add_answers(&server.url).await;
    assert!(
        server.metrics().await.contains("pier_active_sessions 3\n"),
        "refused sessions are not counted"
    );
    // A closed session gives its place back, to its own client as to the others.
    close_session(&server.url, &first).await;
    let mut reopened = open_session(&b, &server.url).await;
    for _ in 0..100 {
        if reopened.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        reopened = open_session(&b, &server.url).await;
    }
    reopened.expect("a place is free again once a session closed");
    server.shutdown().await;
}

/// The host:port of `server`.
fn addr(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// Reads what the server sends on `tcp` until it closes the connection (or resets it);
/// panics if that takes longer than [`GENEROUS`].
async fn read_until_closed(tcp: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read = tokio::time::timeout(GENEROUS, async {
        let mut buffer = [0u8; 4096];
        loop {
            match tcp.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server never closed the connection");
    String::from_utf8_lossy(&received).into_owned()
}

/// Far longer than any of these requests takes when pier works.
const GENEROUS: Duration = Duration::from_secs(30);

/// A sessionless (MCP 2026-07-28) call of `calc_add` answers 5.
async fn calc_add_answers(url: &str) {
    let args = json!({"a": 2, "b": 3});
    let answer = modern_tool_round(url, 9, "calc_add", args, json!({}), json!({})).await;
    assert_eq!(answer["result"]["content"][0]["text"], "5", "{answer}");
}

#[tokio::test]
async fn a_request_head_sent_a_byte_at_a_time_is_cut_off_at_the_header_timeout() {
    use tokio::io::AsyncWriteExt;
    let dir = PluginDir::examples();
    let mut config = dir.config();
    config.http.header_timeout = Duration::from_millis(500);
    let server = Server::start_with(config).await;
    let mut slow = tokio::net::TcpStream::connect(addr(&server)).await.unwrap();
    let head = format!("POST /mcp HTTP/1.1\r\nhost: {}\r\n", addr(&server));
    let trickle = async {
        for byte in head.bytes() {
            if slow.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    // Others are served while the slow client trickles.
    tokio::join!(trickle, calc_add_answers(&server.url));
    let answer = read_until_closed(&mut slow).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "the connection is closed, at most with a 408: {answer:.200}"
    );
    // A connection that sends nothing at all is closed as well.
    let mut silent = tokio::net::TcpStream::connect(addr(&server)).await.unwrap();
    read_until_closed(&mut silent).await;
    calc_add_answers(&server.url).await;
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let dir = PluginDir::examples();
    let mut config = dir.config();
    config.http.max_connections = 2;
    let server = Server::start_with(config).await;
    let held: Vec<_> =
        futures::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(addr(&server))))
            .await;
    // Give the server time to accept both.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting = tokio::spawn({
        let url = server.url.clone();
        async move { calc_add_answers(&url).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection is not served while two are open"
    );
    drop(held);
    tokio::time::timeout(GENEROUS, waiting)
        .await
        .expect("served once a connection closed")
        .unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_and_one_that_never_ends_gets_413() {
    use tokio::io::AsyncWriteExt;
    let dir = PluginDir::examples();
    let mut config = dir.config();
    config.http.body_timeout = Duration::from_millis(500);
    config.http.max_body_bytes = 64 * 1024;
    let server = Server::start_with(config).await;
    let head = |length: &str| {
        format!(
            "POST /mcp HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nmcp-protocol-version: 2026-07-28\r\n{length}\r\n",
            addr(&server)
        )
    };
    // Ten bytes of the hundred announced, then nothing.
    let mut stalled = tokio::net::TcpStream::connect(addr(&server)).await.unwrap();
    stalled
        .write_all(format!("{}{{\"jsonrpc\"", head("content-length: 100\r\n")).as_bytes())
        .await
        .unwrap();
    calc_add_answers(&server.url).await;
    let answer = read_until_closed(&mut stalled).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:.300}");
    assert!(
        answer.contains(
            r#""message":"the request body did not arrive within 500 ms (server.body-timeout-ms)""#
        ),
        "{answer:.500}"
    );
    // A chunked body sent as fast as the socket takes it, forever.
    let mut endless = tokio::net::TcpStream::connect(addr(&server)).await.unwrap();
    endless
        .write_all(head("transfer-encoding: chunked\r\n").as_bytes())
        .await
        .unwrap();
    let chunk = format!("400\r\n{}\r\n", "x".repeat(0x400));
    let mut sent = 0usize;
    let flood = async {
        while endless.write_all(chunk.as_bytes()).await.is_ok() {
            sent += 0x400;
            if sent > 64 << 20 {
                break;
            }
        }
    };
    tokio::time::timeout(GENEROUS, flood)
        .await
        .expect("the server stops reading");
    assert!(
        sent < 16 << 20,
        "the server stopped taking the body soon after its limit, not after {sent} bytes"
    );
    let answer = read_until_closed(&mut endless).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:.300}");
    calc_add_answers(&server.url).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_listen_stream_never_read_is_dropped_not_the_notifications_of_others() {
    use tokio::io::AsyncWriteExt;
    let dir = PluginDir::examples().with(&fixture("probe"), "probe");
    let server = Server::start_with(dir.config()).await;
    let filter = json!({"notifications": {"resourceSubscriptions": ["probe://probe/counter"]}});
    let listen = modern(3, "subscriptions/listen", filter.clone(), json!({}));
    // A reader that hears every update, and a client that never reads: a socket with
    // a small receive buffer, so that its stream's buffers fill soon.
    let reader = post_modern(&server.url, &listen, "subscriptions/listen", None)
        .send()
        .await
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(1024).unwrap();
    let mut deaf = socket
        .connect(addr(&server).parse().unwrap())
        .await
        .unwrap();
    deaf.write_all(
        format!(
            "POST /mcp HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nmcp-protocol-version: 2026-07-28\r\nmcp-method: subscriptions/listen\r\ncontent-length: {}\r\n\r\n{listen}",
            addr(&server),
            listen.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    wait_until("both streams subscribe", || {
        server.app.subscriptions().len() == 2
    })
    .await;
    // The reader reads everything as it comes.
    let heard = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let heard = heard.clone();
        async move {
            let mut reader = reader;
            let needle = "\"notifications/resources/updated\"";
            // What is not yet a whole line: a message may span chunks.
            let mut pending = String::new();
            while let Ok(Some(chunk)) = reader.chunk().await {
                pending.push_str(&String::from_utf8_lossy(&chunk));
                if let Some(end) = pending.rfind('\n') {
                    let lines: String = pending.drain(..=end).collect();
                    heard.fetch_add(lines.matches(needle).count(), Ordering::SeqCst);
                }
            }
        }
    });
    // Updates until the deaf client's stream is dropped: its buffers fill, one
    // notification waits for it, then it no longer holds a subscription.
    let uri = "probe://probe/counter";
    let mut updates = 0;
    let flood = async {
        while server.app.subscriptions().len() == 2 {
            // A few at once: each waits for its write to both streams.
            let sent =
                futures::future::join_all((0..32).map(|_| server.app.subscriptions().notify(uri)))
                    .await;
            updates += sent.len();
            assert!(updates < 1_000_000, "the deaf client is never dropped");
            if server.app.subscriptions().len() == 2 {
                assert!(
                    sent.iter().all(|n| *n == 2),
                    "both take every update while there is room"
                );
            }
        }
    };
    tokio::time::timeout(GENEROUS, flood)
        .await
        .expect("the deaf stream is dropped within its send timeout");
    assert_eq!(
        server.app.subscriptions().len(),
        1,
        "the reader still listens"
    );
    // The next update reaches the reader alone, at once.
    assert_eq!(server.app.subscriptions().notify(uri).await, 1);
    wait_until("the reader hears every update", || {
        heard.load(Ordering::SeqCst) == updates + 1
    })
    .await;
    // The guest's own updates still reach it.
    let done = modern_tool_round(
        &server.url,
        8,
        "probe_touch",
        json!({}),
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(done["result"]["content"][0]["text"], "touched", "{done}");
    wait_until("the reader hears the guest's update", || {
        heard.load(Ordering::SeqCst) == updates + 2
    })
    .await;
    drop(deaf);
    server.shutdown().await;
}

/// pier serving the examples and the misbehaving server `hostile_server.py` under
/// `bad`, in process, with `tweak` made to its configuration.
async fn beside_a_hostile_server(
    tweak: impl FnOnce(&mut pier::ServeConfig),
) -> (
    pier::App,
    rmcp::service::RunningService<rmcp::RoleClient, Recorder>,
    Recorder,
) {
    let dir = PluginDir::examples();
    let mut config = pier::ServeConfig {
        mounts: vec![python_mount("bad", "hostile_server.py")],
        ..dir.config()
    };
    tweak(&mut config);
    let app = pier::App::start(&config).await.unwrap();
    assert!(app.refusals().is_empty(), "{:?}", app.refusals());
    let (client, recorder) = connect(&app).await;
    (app, client, recorder)
}

#[tokio::test]
async fn an_upstream_flooding_notifications_is_bounded_in_the_log_and_in_catalogue_fetches() {
    let (logs, _guard) = Logs::capture();
    let (app, client, _) = beside_a_hostile_server(|_| {}).await;
    let flooded = call(&client, "bad_flood", json!({})).await.unwrap();
    assert_eq!(text(&flooded), "flooded");
    assert_eq!(
        text(&call(&client, "bad_echo", json!({})).await.unwrap()),
        "echo"
    );
    // 20,000 list_changed: the catalogue is fetched again a few times, not 20,000.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fetches: usize = text(&call(&client, "bad_fetches", json!({})).await.unwrap())
        .parse()
        .unwrap();
    assert!(
        (2..=50).contains(&fetches),
        "tools/list asked {fetches} times"
    );
    // 20,000 log messages: pier's own log gets at most 50 a second of them, and says
    // it leaves the rest out.
    let text = logs.text();
    let written = text
        .lines()
        .filter(|l| l.contains("relay: flooding"))
        .count();
    assert!(
        (1..=200).contains(&written),
        "{written} lines of the flood in pier's log"
    );
    assert!(
        text.contains("the mounted server sends more than 50 log messages a second: the rest of this second's are left out of this log (its callers still get them) mount=bad"),
        "{:.2000}",
        text
    );
    assert_still_serving(&client).await;
    drop(app);
}

#[tokio::test]
async fn an_upstream_answering_garbage_fails_that_call_and_serves_the_next() {
    let (_app, client, _) = beside_a_hostile_server(|_| {}).await;
    let error = mcp_error(call(&client, "bad_garbage", json!({})).await.unwrap_err());
    assert_eq!(
        error.message,
        "mount `bad` answered tools/call with something that is not a tools/call result"
    );
    assert_eq!(
        text(&call(&client, "bad_echo", json!({})).await.unwrap()),
        "echo",
        "the lines that were no message, and the answer to nothing, were passed over"
    );
    assert_still_serving(&client).await;
}

#[tokio::test]
async fn an_upstream_line_of_20_mib_is_passed_over_and_the_call_waiting_for_it_times_out() {
    let (_app, client, _) =
        beside_a_hostile_server(|c| c.upstream.request_timeout = Duration::from_secs(3)).await;
    let error = mcp_error(call(&client, "bad_huge", json!({})).await.unwrap_err());
    assert_eq!(
        error.message,
        "mount `bad` did not answer within 3000 ms (upstream.request-timeout-ms)"
    );
    assert_eq!(
        text(&call(&client, "bad_echo", json!({})).await.unwrap()),
        "echo",
        "the mount serves again after the line it passed over"
    );
    assert_still_serving(&client).await;
}

/// The value of the sample `name` (no labels) in `server`'s metrics.
async fn gauge(server: &Server, name: &str) -> f64 {
    let text = server.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Waits until `name` reads `value` in `server`'s metrics.
async fn wait_for_gauge(server: &Server, name: &str, value: f64) {
    let deadline = tokio::time::Instant::now() + GENEROUS;
    loop {
        let now = gauge(server, name).await;
        if now == value {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stayed {now}, not {value}:\n{}",
            server.metrics().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const GREET_ADA: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"hello_greet","arguments":{"name":"Ada"}}}"#;

async fn greets_ada(url: &str, id: &str) {
    let response = in_session(url, id, GREET_ADA).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer = message(response).await;
    assert_eq!(
        answer["result"]["content"][0]["text"], "Hello, Ada!",
        "{answer}"
    );
}

#[tokio::test]
async fn a_quiet_session_is_put_away_and_its_next_request_brings_it_back() {
    let server = Server::start(&PluginDir::examples(), |o| {
        o.session_hibernate = Duration::from_millis(200)
    })
    .await;
    let (first, second, third) = (
        raw_session(&server.url).await,
        raw_session(&server.url).await,
        raw_session(&server.url).await,
    );
    greets_ada(&server.url, &first).await;
    // Quiet for 200 ms, all three are put away: nothing of them stays in memory.
    wait_for_gauge(&server, "pier_sessions_hibernated_total", 3.0).await;
    assert_eq!(gauge(&server, "pier_active_sessions").await, 0.0);
    // The next request of one brings it back, unnoticed by its client.
    greets_ada(&server.url, &first).await;
    assert_eq!(gauge(&server, "pier_sessions_restored_total").await, 1.0);
    assert_eq!(gauge(&server, "pier_active_sessions").await, 1.0);
    // A notification brings one back as well.
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let response = in_session(&server.url, &second, initialized)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(gauge(&server, "pier_sessions_restored_total").await, 2.0);
    // One ended while put away is gone for good.
    close_session(&server.url, &third).await;
    let response = in_session(&server.url, &third, GREET_ADA)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // A session is put away as often as it goes quiet.
    wait_for_gauge(&server, "pier_sessions_hibernated_total", 5.0).await;
    greets_ada(&server.url, &first).await;
    greets_ada(&server.url, &second).await;
    assert_eq!(gauge(&server, "pier_sessions_restored_total").await, 4.0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_session_holding_a_stream_a_subscription_or_a_log_level_stays_in_memory() {
    let dir = PluginDir::examples().with(&fixture("conformance"), "conformance");
    let server = Server::start(&dir, |o| o.session_hibernate = Duration::from_millis(200)).await;
    let url = server.url.clone();
    // A call in flight for ten times the hibernation time.
    let busy = raw_session(&url).await;
    let slow = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"conformance_slow_compute","arguments":{"seconds":2}}}"#;
    let call = tokio::spawn(in_session(&url, &busy, slow).send());
    // The GET stream open.
    let listening = raw_session(&url).await;
    let get = reqwest::Client::new()
        .get(&url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &listening)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    // A resource subscription, and a log level.
    let subscribed = raw_session(&url).await;
    let subscribe = r#"{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"hello://hello/greeting/Ada"}}"#;
    let answer = message(
        in_session(&url, &subscribed, subscribe)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer["result"], json!({}), "{answer}");
    let levelled = raw_session(&url).await;
    let level =
        r#"{"jsonrpc":"2.0","id":4,"method":"logging/setLevel","params":{"level":"debug"}}"#;
    let answer = message(in_session(&url, &levelled, level).send().await.unwrap()).await;
    assert_eq!(answer["result"], json!({}), "{answer}");
    // And one quiet session, the only one put away.
    raw_session(&url).await;
    wait_for_gauge(&server, "pier_sessions_hibernated_total", 1.0).await;
    assert_eq!(gauge(&server, "pier_active_sessions").await, 4.0);
    let answers = messages(call.await.unwrap().unwrap()).await;
    let answer = answers.iter().find(|m| m["id"] == 2).unwrap();
    assert_eq!(
        answer["result"]["content"][0]["text"], "Computed for 2 s (no label)",
        "{answer}"
    );
    // Once its call is answered, the busy one goes quiet and is put away too.
    wait_for_gauge(&server, "pier_sessions_hibernated_total", 2.0).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(gauge(&server, "pier_sessions_hibernated_total").await, 2.0);
    assert_eq!(gauge(&server, "pier_active_sessions").await, 3.0);
    drop(get);
    server.shutdown().await;
}
