//! The scenarios: each fills one row of the table, with the same load for every server.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use pier_bench::load::{self, Load, Target, Work};
use pier_bench::mcp::HttpSession;
use pier_bench::process::{Server, distinct_copy, free_port};
use pier_bench::report::{Better, Row, SERVERS};
use serde_json::json;

mod edit_loop;
pub mod fleet;
mod instances;
mod lifecycle;
pub mod tracing;

use edit_loop::edit_loop;
use instances::{fresh_instances, python_plugins};
use lifecycle::{cold_starts, hot_swaps};

const PIER: &str = "target/perf/pier";
const NATIVE: &str = "target/perf/native-peer";
const PYTHON: &str = ".venv/bin/python";
const FASTMCP: &str = "bench/peers/fastmcp/server.py";
const RUST_WASM: &str = "target/wasm32-wasip2/release/bench_plugin.wasm";
const PY_WASM: &str = "target/bench-plugins/bench-py.wasm";
const JS_WASM: &str = "target/bench-plugins/bench-js.wasm";
/// The set-ups of the Python and JS plugins with `instances = "fresh"`.
const PY_FRESH: &str = "pier-py-fresh";
const JS_FRESH: &str = "pier-js-fresh";
/// Large guests (Python, JS) compile for seconds the first time.
const PATIENCE: Duration = Duration::from_secs(180);

/// Plugin directories and a shared (warm) AOT cache for pier.
struct Setup {
    root: tempfile::TempDir,
    data: PathBuf,
    dirs: Vec<(&'static str, PathBuf)>,
}

impl Setup {
    fn new() -> anyhow::Result<Self> {
        Self::only(&["pier-rust", "pier-py", "pier-js", PY_FRESH, JS_FRESH])
    }

    /// The set-ups `ids` only.
    fn only(ids: &[&str]) -> anyhow::Result<Self> {
        let root = tempfile::tempdir()?;
        let data = root.path().join("data");
        let mut dirs = Vec::new();
        // Each plugin with the default instance model (Python and JS: reuse per
        // session), and the Python and JS ones again with a fresh instance per call.
        for (id, wasm, instances) in [
            ("pier-rust", RUST_WASM, "auto"),
            ("pier-py", PY_WASM, "auto"),
            ("pier-js", JS_WASM, "auto"),
            (PY_FRESH, PY_WASM, "fresh"),
            (JS_FRESH, JS_WASM, "fresh"),
        ] {
            if !ids.contains(&id) {
                continue;
            }
            let dir = root.path().join(id);
            std::fs::create_dir_all(&dir)?;
            std::fs::copy(wasm, dir.join("bench.wasm")).with_context(|| wasm.to_string())?;
            // No namespace: the tools are `echo` and `add`, as on the other servers.
            std::fs::write(
                dir.join("bench.toml"),
                format!("namespace = \"\"\ninstances = \"{instances}\"\n"),
            )?;
            dirs.push((id, dir));
        }
        Ok(Self { root, data, dirs })
    }

    fn dir(&self, id: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(d, _)| *d == id)
            .map(|(_, p)| p.as_path())
    }
}

/// The middle of `samples` (NaN for none).
fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn strings(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn pier_http(plugins: &Path, data: &Path, port: u16) -> Vec<String> {
    let listen = format!("127.0.0.1:{port}");
    strings(&[
        PIER,
        "serve",
        "--plugins",
        plugins.to_str().unwrap_or_default(),
        "--data-dir",
        data.to_str().unwrap_or_default(),
        "--storage",
        "memory",
        "--listen",
        &listen,
        "--page-size",
        "1000",
        "--log-level",
        "error",
    ])
}

/// How to start server `id` on HTTP `port` (`fillers` extra tools for the peers).
fn http_command(id: &str, setup: &Setup, port: u16, fillers: usize) -> Vec<String> {
    let port_s = port.to_string();
    let fillers = fillers.to_string();
    match id {
        "fastmcp" => strings(&[PYTHON, FASTMCP, "--port", &port_s, "--tools", &fillers]),
        "native" => {
            let listen = format!("127.0.0.1:{port}");
            strings(&[NATIVE, "--listen", &listen, "--tools", &fillers])
        }
        pier => pier_http(setup.dir(pier).expect("a pier server"), &setup.data, port),
    }
}

fn stdio_command(id: &str, setup: &Setup) -> Vec<String> {
    match id {
        "fastmcp" => strings(&[PYTHON, FASTMCP, "--stdio"]),
        "native" => strings(&[NATIVE, "--stdio"]),
        pier => strings(&[
            PIER,
            "serve",
            "--transport",
            "stdio",
            "--plugins",
            setup.dir(pier).and_then(Path::to_str).unwrap_or_default(),
            "--data-dir",
            setup.data.to_str().unwrap_or_default(),
            "--storage",
            "memory",
            "--log-level",
            "error",
        ]),
    }
}

fn echo() -> Work {
    Work::Tool {
        name: "echo".into(),
        args: json!({"text": "hello, benchmark"}),
    }
}

fn add() -> Work {
    Work::Tool {
        name: "add".into(),
        args: json!({"a": 20, "b": 22}),
    }
}

async fn measure(
    target: Target,
    work: Work,
    concurrency: usize,
    seconds: Duration,
) -> anyhow::Result<pier_bench::stats::Report> {
    load::run(&Load {
        target,
        work,
        concurrency,
        duration: seconds,
        warmup: Duration::from_secs(1),
    })
    .await
}

/// A load row's cell: its rate and latencies, its errors, or why it failed.
fn cell(report: &anyhow::Result<pier_bench::stats::Report>) -> String {
    match report {
        Ok(r) if r.errors == 0 => format!(
            "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            r.rps,
            r.p50_us / 1000.0,
            r.p99_us / 1000.0
        ),
        Ok(r) => format!(
            "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors ({})",
            r.rps,
            r.p50_us / 1000.0,
            r.p99_us / 1000.0,
            r.errors,
            r.first_error.as_deref().unwrap_or("?")
        ),
        Err(e) => format!("failed: {e:#}"),
    }
}

/// A load row's report as JSON, or why it failed.
fn report_json(report: &anyhow::Result<pier_bench::stats::Report>) -> serde_json::Value {
    report
        .as_ref()
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .unwrap_or_else(|e| serde_json::json!({ "failed": format!("{e:#}") }))
}

fn progress(what: &str) {
    eprintln!("pier-bench: {what}");
}

/// Records `outcome` in `row` for `id`, or a note saying why it failed.
fn record(row: &mut Row, id: &'static str, outcome: anyhow::Result<pier_bench::stats::Report>) {
    match outcome {
        Ok(report) => {
            progress(&format!("  {id}: {}", report.line()));
            row.set_load(id, report);
        }
        Err(e) => {
            progress(&format!("  {id}: failed: {e:#}"));
            let note = row.note.get_or_insert_default();
            note.push_str(&format!("{id} failed: {e:#}. "));
        }
    }
}

/// Every scenario, in table order.
pub async fn run_all(seconds: Duration) -> anyhow::Result<Vec<Row>> {
    let setup = Setup::new()?;
    let mut http = vec![
        (
            Row::new("tools/call `echo`, HTTP, 1 client", "req/s", Better::Higher),
            echo(),
            1,
        ),
        (
            Row::new("tools/call `add`, HTTP, 1 client", "req/s", Better::Higher),
            add(),
            1,
        ),
        (
            Row::new(
                "tools/call `echo`, HTTP, 32 clients",
                "req/s",
                Better::Higher,
            ),
            echo(),
            32,
        ),
        (
            Row::new(
                "tools/call `add`, HTTP, 32 clients",
                "req/s",
                Better::Higher,
            ),
            add(),
            32,
        ),
    ];
    let mut read = Row::new(
        "resources/read `bench://data` (1 KiB), HTTP, 1 client",
        "req/s",
        Better::Higher,
    );
    read.note = Some("the Python and JS bench plugins have no resource. ".into());
    let mut rss_idle = Row::new("memory (PSS), idle (1 plugin)", "MiB", Better::Lower);
    let mut rss_load = Row::new("memory (PSS), after the HTTP load", "MiB", Better::Lower);
    for &(id, _) in SERVERS {
        progress(&format!("HTTP: {id}"));
        let port = free_port()?;
        let server =
            match Server::start(&http_command(id, &setup, port, 0), port, "echo", PATIENCE).await {
                Ok(server) => server,
                Err(e) => {
                    progress(&format!("  {id}: did not start: {e:#}"));
                    rss_idle
                        .note
                        .get_or_insert_default()
                        .push_str(&format!("{id} did not start: {e:#}. "));
                    continue;
                }
            };
        if let Some(memory) = server.memory() {
            rss_idle.set_memory(id, memory);
        }
        let target = Target::Http(server.url.clone());
        for (row, work, concurrency) in &mut http {
            record(
                row,
                id,
                measure(target.clone(), work.clone(), *concurrency, seconds).await,
            );
        }
        if !id.starts_with("pier-") || id == "pier-rust" {
            record(
                &mut read,
                id,
                measure(
                    target.clone(),
                    Work::Read("bench://data".into()),
                    1,
                    seconds,
                )
                .await,
            );
        }
        if let Some(memory) = server.memory() {
            rss_load.set_memory(id, memory);
        }
        server.stop().await;
    }
    let mut rows: Vec<Row> = http.into_iter().map(|(row, _, _)| row).collect();
    rows.push(stateless(&setup, seconds).await);
    rows.push(sessionless(&setup, seconds).await);
    rows.push(fresh_instances(&setup, seconds).await);
    rows.push(read);

    let mut stdio = Row::new(
        "tools/call `echo`, stdio, sequential",
        "req/s",
        Better::Higher,
    );
    for &(id, _) in SERVERS {
        progress(&format!("stdio: {id}"));
        record(
            &mut stdio,
            id,
            measure(Target::Stdio(stdio_command(id, &setup)), echo(), 1, seconds).await,
        );
    }
    rows.push(stdio);

    rows.push(list_tools(&setup, seconds).await?);
    let (starts, rss_idle_10) = cold_starts(&setup).await?;
    rows.extend(starts);
    let python_one = rss_idle.cells.get("pier-py").map(|c| c.value);
    rows.push(rss_idle);
    rows.push(rss_idle_10);
    rows.push(rss_load);
    rows.extend(python_plugins(&setup, python_one).await);
    rows.extend(hot_swaps(&setup).await);
    rows.extend(edit_loop(&setup).await);
    rows.extend(middleware_overhead());
    rows.extend(auth_overhead());
    rows.extend(host_overhead());
    Ok(rows)
}

/// `echo` at 32 clients over HTTP without sessions: every server told to answer with
/// JSON and keep no session (pier `--stateless`, rmcp's stateless mode, FastMCP's
/// `stateless_http` and `json_response`).
async fn stateless(setup: &Setup, seconds: Duration) -> Row {
    let mut row = Row::new(
        "tools/call `echo`, HTTP stateless (JSON responses, no sessions), 32 clients",
        "req/s",
        Better::Higher,
    );
    row.note = Some(
        "2025-11-25 requests to servers that keep no session; the Python and JS plugins' warm instances serve the request's principal (here: every caller, auth off). "
            .into(),
    );
    for &(id, _) in SERVERS {
        progress(&format!("HTTP, stateless: {id}"));
        let outcome = echo_at_32(seconds, |port| {
            let mut command = http_command(id, setup, port, 0);
            command.push("--stateless".into());
            Ok(command)
        })
        .await;
        record(&mut row, id, outcome);
    }
    row
}

/// `echo` at 32 clients sending MCP 2026-07-28 requests without a session, as the
/// Python `mcp` 2.x and FastMCP 4 clients do, to each server in its default mode.
/// FastMCP 4.1 serves that revision only to its own stateless mode's clients: its cell
/// is FastMCP told `stateless_http` and `json_response`, with 2025-11-25 clients.
async fn sessionless(setup: &Setup, seconds: Duration) -> Row {
    let mut row = Row::new(
        "tools/call `echo`, HTTP, 32 clients sending MCP 2026-07-28 requests (no session)",
        "req/s",
        Better::Higher,
    );
    row.note = Some(
        "pier and the native server in their default mode; FastMCP told to be stateless (`stateless_http`, `json_response`) and called with 2025-11-25 requests, its fastest sessionless mode. Warm instances of the Python and JS plugins serve the request's principal (here: every caller, auth off). "
            .into(),
    );
    for &(id, _) in SERVERS {
        progress(&format!("HTTP, 2026-07-28 without a session: {id}"));
        let fastmcp = id == "fastmcp";
        let outcome = echo_at_32_as(
            seconds,
            |port| {
                let mut command = http_command(id, setup, port, 0);
                if fastmcp {
                    command.push("--stateless".into());
                }
                Ok(command)
            },
            if fastmcp {
                Target::Http
            } else {
                Target::HttpSessionless
            },
        )
        .await;
        record(&mut row, id, outcome);
    }
    row
}

/// `echo` at 32 clients over HTTP against a server started by the command `command`
/// gives for a free port; the server is stopped after.
async fn echo_at_32(
    seconds: Duration,
    command: impl FnOnce(u16) -> anyhow::Result<Vec<String>>,
) -> anyhow::Result<pier_bench::stats::Report> {
    echo_at_32_as(seconds, command, Target::Http).await
}

/// [`echo_at_32`], the clients reaching the server's URL as `target` makes of it.
async fn echo_at_32_as(
    seconds: Duration,
    command: impl FnOnce(u16) -> anyhow::Result<Vec<String>>,
    target: fn(String) -> Target,
) -> anyhow::Result<pier_bench::stats::Report> {
    let port = free_port()?;
    let server = Server::start(&command(port)?, port, "echo", PATIENCE).await?;
    let report = measure(target(server.url.clone()), echo(), 32, seconds).await;
    server.stop().await;
    report
}

/// `tools/list` of 500 tools: fifty 10-tool plugins on pier, 500 tools on the peers.
async fn list_tools(setup: &Setup, seconds: Duration) -> anyhow::Result<Row> {
    let mut row = Row::new(
        "tools/list, 500 tools (pier: 50 plugins), HTTP, 1 client",
        "req/s",
        Better::Higher,
    );
    let fifty = setup.root.path().join("fifty");
    std::fs::create_dir_all(&fifty)?;
    let wasm = std::fs::read(RUST_WASM)?;
    for i in 0..50 {
        distinct_copy(&wasm, &fifty, &format!("p{i:02}"))?;
    }
    for (id, probe) in [
        ("fastmcp", "echo"),
        ("native", "echo"),
        ("pier-rust", "p00_echo"),
    ] {
        progress(&format!("tools/list: {id}"));
        let port = free_port()?;
        let command = match id {
            "pier-rust" => pier_http(&fifty, &setup.data, port),
            peer => http_command(peer, setup, port, 498),
        };
        let outcome = async {
            let server = Server::start(&command, port, probe, PATIENCE).await?;
            let report = measure(
                Target::Http(server.url.clone()),
                Work::ListTools,
                1,
                seconds,
            )
            .await;
            server.stop().await;
            report
        }
        .await;
        record(&mut row, id, outcome);
    }
    Ok(row)
}

/// The criterion benchmark `host/benches/call.rs` (run before, by `make bench`).
/// The median of criterion benchmark `group/id` in µs, or a note saying it is missing.
fn criterion_median(group: &str, id: &str, row: &mut Row) -> Option<f64> {
    let path = format!("target/criterion/{group}/{id}/new/estimates.json");
    let median = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["median"]["point_estimate"].as_f64());
    if median.is_none() {
        row.note
            .get_or_insert_default()
            .push_str(&format!("no criterion result at {path}. "));
    }
    median.map(|ns| ns / 1e3)
}

/// Middleware overhead per call (`cargo bench --bench middleware`): a `tools/call`
/// through the pipeline alone (a real request context, an end that answers at once)
/// with an empty chain, and what ten pass-through middlewares and a typical chain of
/// built-ins add to it.
fn middleware_overhead() -> Vec<Row> {
    let mut base = Row::new(
        "middleware: a tools/call through an empty chain, pipeline alone, in-process (median)",
        "µs",
        Better::Lower,
    );
    let empty = criterion_median("middleware", "empty", &mut base);
    if let Some(empty) = empty {
        base.set("pier-rust", empty);
    }
    let mut rows = vec![base];
    for (id, scenario) in [
        (
            "ten-pass-through",
            "middleware overhead per call: ten pass-through middlewares",
        ),
        (
            "typical",
            "middleware overhead per call: typical chain (error-handling, timing, detailed-timing, rate-limit in memory, logging)",
        ),
    ] {
        let mut row = Row::new(scenario, "µs", Better::Lower);
        if let (Some(with), Some(empty)) = (criterion_median("middleware", id, &mut row), empty) {
            row.set("pier-rust", with - empty);
        }
        rows.push(row);
    }
    rows
}

/// Token verification per request (`cargo bench --bench auth`): a static token, and a
/// JWT of each key type on its first use (signature checked) and after (remembered).
fn auth_overhead() -> Vec<Row> {
    let mut rows = Vec::new();
    let mut tokens = Row::new(
        "auth: verifying a static bearer token (auth.mode = tokens, 10 tokens) per request (median)",
        "µs",
        Better::Lower,
    );
    if let Some(us) = criterion_median("auth", "tokens", &mut tokens) {
        tokens.set("pier-rust", us);
    }
    rows.push(tokens);
    for (id, alg) in [
        ("jwt-rs256", "RS256 (2048-bit)"),
        ("jwt-es256", "ES256"),
        ("jwt-eddsa", "EdDSA"),
    ] {
        for (suffix, when) in [("-first", "its first use"), ("", "later uses (remembered)")] {
            let mut row = Row::new(
                format!("auth: verifying an {alg} JWT per request, {when} (median)"),
                "µs",
                Better::Lower,
            );
            if let Some(us) = criterion_median("auth", &format!("{id}{suffix}"), &mut row) {
                row.set("pier-rust", us);
            }
            rows.push(row);
        }
    }
    rows
}

/// Host overhead per call (`cargo bench --bench call`), on a fresh instance and on a
/// warm one of the caller's session.
fn host_overhead() -> Vec<Row> {
    [
        (
            "fresh",
            "host overhead per call, in-process, a fresh instance: instantiate + call + convert (median)",
        ),
        (
            "reuse",
            "host overhead per call, in-process, a warm instance of the session: call + convert (median)",
        ),
    ]
    .into_iter()
    .map(|(model, scenario)| {
        let mut row = Row::new(scenario, "µs", Better::Lower);
        for id in ["pier-rust", "pier-py", "pier-js"] {
            if let Some(us) = criterion_median("call", &format!("{id}-{model}"), &mut row) {
                row.set(id, us);
            }
        }
        row
    })
    .collect()
}
