//! What pier keeps in memory while it serves: the heap this process holds, counted by
//! its allocator, must not grow with the number of requests served.
//!
//! The tests of this file share the counting allocator: they run one at a time. Bounds
//! are generous (a few times what was measured), as allocations of the client in this
//! process count too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use pier::telemetry::Metrics;

mod common;
use common::*;

/// The system allocator, counting the bytes allocated and not yet freed.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes held by this process now.
fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// One test at a time: each measures the whole process's heap.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MIB: isize = 1024 * 1024;

// One thread: the upkeep runs between the batches, never during one. The exporter's
// bucket may drop a sample recorded at the very moment it is drained (metrics-util's
// `AtomicBucket::clear_with` detaches the block a writer may still be about to write
// to), which would make the exact counts below flaky.
#[tokio::test]
async fn latency_samples_are_folded_into_buckets_though_nobody_scrapes_metrics() {
    let _one = ONE_AT_A_TIME.lock().await;
    let metrics = Arc::new(Metrics::default());
    metrics.mcp_request("tools/call", "ok", 0.001);
    metrics.tool_call("calc_add", "ok", 0.001);
    let _upkeep = pier::telemetry::spawn_upkeep(&metrics, Duration::from_millis(1));
    let before = live();
    // A million requests: the exporter keeps 8 bytes a sample until they are folded
    // in, 16 MB for these (two histograms each) without the upkeep.
    for _ in 0..200 {
        for _ in 0..5_000 {
            metrics.mcp_request("tools/call", "ok", 0.002);
            metrics.tool_call("calc_add", "ok", 0.002);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let grown = live() - before;
    assert!(
        grown < MIB,
        "the heap grew {grown} bytes over a million requests"
    );
    // Nothing was lost in the folding.
    let text = metrics.render(&Default::default(), 0);
    for line in [
        "pier_mcp_request_duration_seconds_count{method=\"tools/call\"} 1000001",
        "pier_tool_call_duration_seconds_count{tool=\"calc_add\"} 1000001",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
}

/// Opens `n` sessions (MCP 2025-11-25, `initialize` and `initialized`) at `server`.
async fn open_sessions(server: &Server, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(raw_session(&server.url).await);
    }
    ids
}

/// Waits until `server` has put `n` sessions away in all.
async fn put_away(server: &Server, n: usize) {
    let line = format!("pier_sessions_hibernated_total {n}");
    for _ in 0..1500 {
        if server.metrics().await.lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{line} never came:\n{}", server.metrics().await);
}

const SESSIONS: usize = 200;
const KIB: isize = 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_put_away_keeps_a_record_of_a_few_hundred_bytes_of_the_tens_of_kib_it_held() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = PluginDir::examples();
    // What a session holds in memory, with hibernation off.
    let server = Server::start(&dir, |o| o.session_hibernate = Duration::ZERO).await;
    open_sessions(&server, 10).await;
    let before = live();
    let ids = open_sessions(&server, SESSIONS).await;
    let awake = (live() - before) / SESSIONS as isize;
    server.shutdown().await;
    assert!(
        awake > 20 * KIB,
        "an idle session held {awake} bytes: the measure cannot see sessions"
    );
    drop(ids);
    // What is left of one put away.
    let server = Server::start(&dir, |o| o.session_hibernate = Duration::from_millis(200)).await;
    open_sessions(&server, 10).await;
    put_away(&server, 10).await;
    let before = live();
    let ids = open_sessions(&server, SESSIONS).await;
    put_away(&server, 10 + SESSIONS).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let away = (live() - before) / SESSIONS as isize;
    assert!(
        away < 2 * KIB,
        "a session put away still holds {away} bytes (it held {awake} awake)"
    );
    eprintln!("an idle session: {awake} bytes awake, {away} bytes put away");
    // They all come back.
    for id in ids.iter().step_by(50) {
        let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
        let response = in_session(&server.url, id, call).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let answer = message(response).await;
        assert!(answer["result"]["tools"].is_array(), "{answer:.300}");
    }
    server.shutdown().await;
}
