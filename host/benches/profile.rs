//! Where a call's time and memory go, per plugin language: the median time of a call
//! (fresh instance + `echo` + conversion), the page faults each call takes, and the
//! process's resident memory split by kind (`/proc/self/smaps_rollup`) after loading
//! and after the calls. Not part of `make bench`'s table: run it by hand when
//! profiling (`cargo bench --profile perf -p pier --bench profile`), alone or under
//! `perf record -g`; findings go to `bench/results/hot-path.md`.

#![allow(clippy::print_stdout)] // its report is what it prints

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::load;
use pier::runtime::{NoRequest, Runtime};

const PLUGINS: &[(&str, &str)] = &[
    ("rust", "target/wasm32-wasip2/release/bench_plugin.wasm"),
    ("python", "target/bench-plugins/bench-py.wasm"),
    ("js", "target/bench-plugins/bench-js.wasm"),
];

/// Calls measured per plugin (after as many to warm up); `PROFILE_CALLS` overrides it,
/// for a longer run under `perf record`.
fn calls() -> usize {
    std::env::var("PROFILE_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
}

/// Minor and major page faults of the process so far (`/proc/self/stat` fields 10, 12).
fn faults() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name may hold spaces: count fields after its closing parenthesis.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse().ok()).unwrap_or(0);
    (field(10), field(12))
}

/// Resident memory by kind, in MiB: (total, anonymous, file-backed, shmem).
fn resident() -> (f64, f64, f64, f64) {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    let kib = |name: &str| {
        rollup
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let mib = |v: f64| v / 1024.0;
    (
        mib(kib("Rss:")),
        mib(kib("Anonymous:")),
        mib(kib("Rss:") - kib("Anonymous:") - kib("Shared_Hugetlb:")),
        mib(kib("Pss_Shmem:")),
    )
}

fn show(label: &str) {
    let (rss, anon, file, shmem) = resident();
    println!(
        "  {label:<34} rss {rss:7.1} MiB · anonymous {anon:7.1} · file/other {file:7.1} · shmem {shmem:5.1}"
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter picks plugins.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cache = root.join("target/bench-data/aot");
    let store = Arc::new(pier::storage::memory::Memory::default());
    let calls = calls();
    println!("profile: {calls} calls per plugin after {calls} to warm up");
    show("start");
    let runtime = Arc::new(Runtime::new(&cache, 64 << 20, store).expect("a runtime"));
    for (id, file) in PLUGINS {
        if !filter.is_empty() && !filter.iter().any(|f| id.contains(f.as_str())) {
            continue;
        }
        let started = Instant::now();
        let mount = load(&rt, &runtime, &root.join(file));
        println!(
            "{id}: loaded in {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        show("after loading");
        let plugin = mount.wasm().expect("a plugin mount");
        let context = Arc::new(NoRequest::default());
        let call = || {
            rt.block_on(plugin.call_tool(
                context.clone(),
                "echo",
                r#"{"text":"hello, benchmark"}"#.to_string(),
            ))
            .expect("echo answers");
        };
        for _ in 0..calls {
            call();
        }
        let (minor, major) = faults();
        let mut times: Vec<Duration> = Vec::with_capacity(calls);
        for _ in 0..calls {
            let t = Instant::now();
            call();
            times.push(t.elapsed());
        }
        let (minor_after, major_after) = faults();
        times.sort();
        let at = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e6;
        println!(
            "  call: p50 {:.1} µs · p90 {:.1} µs · page faults per call: {:.1} minor, {:.2} major",
            at(0.5),
            at(0.9),
            (minor_after - minor) as f64 / calls as f64,
            (major_after - major) as f64 / calls as f64,
        );
        show(&format!("after {} calls", 2 * calls));
    }
}
