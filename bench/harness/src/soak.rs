//! The soak: a pier process under mixed load from clients of both MCP revisions for
//! minutes, while a plugin is swapped every few seconds, with auth on, a WebAssembly
//! middleware and a proxied mount in the chain. It samples the process (resident
//! memory, open file descriptors) and the load (requests, errors, p99) over time, reads
//! every stored note back at the end, and judges the run: no errors but cancelled ones,
//! no growth after the warm-up beyond the stated bounds, nothing lost.
//!
//! `make soak` runs it for `SOAK_MINUTES` (10) and writes `bench/results/soak.md`;
//! `make test` runs about a minute of it (`tests/soak.rs`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::mcp::HttpSession;
use crate::process::free_port;

mod clients;
use clients::*;

/// Growth of resident memory allowed from the end of the warm-up to the end of the run.
pub const RSS_GROWTH_MIB: f64 = 48.0;
/// Growth of open file descriptors allowed over the same time.
pub const FD_GROWTH: i64 = 32;

/// Where the soak finds what it runs.
pub struct Setup {
    /// The `pier` binary.
    pub pier: PathBuf,
    /// The workspace root (example plugins in `plugins.d/`, the WebAssembly middleware in
    /// `middleware.d/`, fixtures in `target/fixtures/`).
    pub root: PathBuf,
    /// How long the load runs.
    pub duration: Duration,
    /// Time at the start not judged for growth.
    pub warm_up: Duration,
    /// How often a plugin is swapped.
    pub swap_every: Duration,
}

/// One sample of the run.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Since the load began.
    pub at: Duration,
    /// Requests answered in this interval.
    pub requests: u64,
    /// Failures in this interval (not counting cancelled ones).
    pub errors: u64,
    /// 99th percentile latency of this interval.
    pub p99: Duration,
    /// Resident memory of the pier process, MiB.
    pub rss_mib: f64,
    /// Its open file descriptors.
    pub fds: i64,
}

/// What the soak saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Samples, in order.
    pub samples: Vec<Sample>,
    /// Requests answered.
    pub requests: u64,
    /// Failures, cancelled requests not counted.
    pub errors: u64,
    /// Requests cancelled on purpose (by the client leaving, or `tasks/cancel`).
    pub cancelled: u64,
    /// The first failures seen (at most ten).
    pub first_errors: Vec<String>,
    /// Plugin swaps done.
    pub swaps: u64,
    /// Notes stored, and how many of them were read back intact.
    pub notes_stored: u64,
    /// Notes read back with their body.
    pub notes_read_back: u64,
    /// Sessions (MCP 2025-11-25) opened and closed.
    pub sessions: u64,
    /// Listen streams opened.
    pub listens: u64,
    /// Tasks started.
    pub tasks: u64,
    /// Input rounds completed.
    pub rounds: u64,
    /// Sessions pier put away, and brought back (its `/metrics`).
    pub put_away: u64,
    /// Sessions brought back.
    pub restored: u64,
}

impl Outcome {
    /// Resident memory growth from the first sample after the warm-up to the last, MiB.
    pub fn rss_growth(&self, warm_up: Duration) -> f64 {
        match (self.after(warm_up).first(), self.samples.last()) {
            (Some(first), Some(last)) => last.rss_mib - first.rss_mib,
            _ => 0.0,
        }
    }

    /// Open file descriptor growth over the same time.
    pub fn fd_growth(&self, warm_up: Duration) -> i64 {
        match (self.after(warm_up).first(), self.samples.last()) {
            (Some(first), Some(last)) => last.fds - first.fds,
            _ => 0,
        }
    }

    fn after(&self, warm_up: Duration) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.at >= warm_up).collect()
    }

    /// Why the run fails, one line each; empty when it passes.
    pub fn verdict(&self, warm_up: Duration) -> Vec<String> {
        let mut failures = Vec::new();
        if self.errors > 0 {
            failures.push(format!(
                "{} requests failed; first: {}",
                self.errors,
                self.first_errors.join(" | ")
            ));
        }
        if self.notes_read_back != self.notes_stored {
            failures.push(format!(
                "{} of {} stored notes read back",
                self.notes_read_back, self.notes_stored
            ));
        }
        let rss = self.rss_growth(warm_up);
        if rss > RSS_GROWTH_MIB {
            failures.push(format!(
                "resident memory grew {rss:.1} MiB after the warm-up (bound {RSS_GROWTH_MIB} MiB)"
            ));
        }
        let fds = self.fd_growth(warm_up);
        if fds > FD_GROWTH {
            failures.push(format!(
                "open file descriptors grew by {fds} after the warm-up (bound {FD_GROWTH})"
            ));
        }
        for (what, count) in [
            ("requests", self.requests),
            ("swaps", self.swaps),
            ("sessions", self.sessions),
            ("listen streams", self.listens),
            ("tasks", self.tasks),
            ("input rounds", self.rounds),
            ("cancellations", self.cancelled),
            ("sessions put away", self.put_away),
            ("sessions brought back", self.restored),
            ("notes", self.notes_stored),
        ] {
            if count == 0 {
                failures.push(format!(
                    "no {what} in the run: the load did not exercise it"
                ));
            }
        }
        failures
    }

    /// The results as Markdown: a summary and the samples over time.
    pub fn markdown(&self, setup: &Setup) -> String {
        let mut out = format!(
            "# Soak\n\n`make soak` (`SOAK_MINUTES={}`): one pier process (auth on, the `redact` \
             WebAssembly middleware, a proxied pier over stdio, plugin `hello` swapped every {} s) \
             under clients of MCP 2026-07-28 (sessionless calls, reads, prompts, notes stored, \
             input rounds, tasks started, polled and cancelled, listen streams, requests \
             abandoned mid-call) and 2025-11-25 (sessions opened, used and closed; sessions \
             quiet between calls, put away and brought back), with sled's cache at 16 MiB.\n\n",
            setup.duration.as_secs() / 60,
            setup.swap_every.as_secs()
        );
        let verdict = self.verdict(setup.warm_up);
        out += &format!(
            "| | |\n|---|---|\n| pier | `{}` |\n| duration | {} s (warm-up {} s) |\n| requests answered | {} |\n\
             | errors (cancelled excluded) | {} |\n| cancelled on purpose | {} |\n\
             | plugin swaps | {} |\n| sessions opened and closed | {} |\n\
             | sessions put away / brought back | {} / {} |\n| listen streams | {} |\n\
             | tasks | {} |\n| input rounds | {} |\n| notes stored / read back | {} / {} |\n\
             | resident memory after warm-up | {:+.1} MiB (bound {RSS_GROWTH_MIB}) |\n\
             | open file descriptors after warm-up | {:+} (bound {FD_GROWTH}) |\n| verdict | {} |\n\n",
            setup
                .pier
                .strip_prefix(&setup.root)
                .unwrap_or(&setup.pier)
                .display(),
            setup.duration.as_secs(),
            setup.warm_up.as_secs(),
            self.requests,
            self.errors,
            self.cancelled,
            self.swaps,
            self.sessions,
            self.put_away,
            self.restored,
            self.listens,
            self.tasks,
            self.rounds,
            self.notes_stored,
            self.notes_read_back,
            self.rss_growth(setup.warm_up),
            self.fd_growth(setup.warm_up),
            if verdict.is_empty() {
                "pass".to_string()
            } else {
                format!("**fail**: {}", verdict.join("; "))
            }
        );
        out += "| at (s) | requests/s | errors | p99 (ms) | RSS (MiB) | open fds |\n|---:|---:|---:|---:|---:|---:|\n";
        let mut last = Duration::ZERO;
        for s in &self.samples {
            let span = (s.at - last).as_secs_f64().max(f64::EPSILON);
            last = s.at;
            out += &format!(
                "| {:.0} | {:.0} | {} | {:.1} | {:.1} | {} |\n",
                s.at.as_secs_f64(),
                s.requests as f64 / span,
                s.errors,
                s.p99.as_secs_f64() * 1e3,
                s.rss_mib,
                s.fds
            );
        }
        out
    }
}

/// Counters the clients share.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    errors: AtomicU64,
    cancelled: AtomicU64,
    sessions: AtomicU64,
    listens: AtomicU64,
    tasks: AtomicU64,
    rounds: AtomicU64,
    swaps: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
    first_errors: Mutex<Vec<String>>,
    notes: Mutex<Vec<(String, String)>>,
}

impl Tally {
    fn ok(&self, started: Instant) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.latencies.lock() {
            l.push(started.elapsed());
        }
    }

    fn failed(&self, what: &str, error: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_errors.lock()
            && first.len() < 10
            && !first.iter().any(|e| e.starts_with(&format!("{what}: ")))
        {
            let text = error.to_string();
            let cut = (0..=text.len().min(300))
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            first.push(format!("{what}: {}", &text[..cut]));
        }
    }

    /// Records the outcome of one request.
    fn record<T>(&self, what: &str, started: Instant, result: anyhow::Result<T>) -> Option<T> {
        match result {
            Ok(value) => {
                self.ok(started);
                Some(value)
            }
            Err(e) => {
                self.failed(what, format!("{e:#}"));
                None
            }
        }
    }
}

/// Letters standing for `n` (never a run of digits, which the `redact` middleware would
/// mask in results).
fn letters(mut n: u64) -> String {
    let mut out = String::new();
    loop {
        out.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return out;
        }
    }
}

/// The text of a tool result's first content, or an error for a tool error.
fn text_of(result: &Value) -> anyhow::Result<String> {
    if result["isError"] == true {
        bail!("tool error: {result}");
    }
    Ok(result["content"][0]["text"]
        .as_str()
        .context("no text content")?
        .to_string())
}

fn expect(text: anyhow::Result<String>, wanted: &str) -> anyhow::Result<()> {
    let text = text?;
    if text != wanted {
        bail!("expected {wanted:?}, got {text:?}");
    }
    Ok(())
}

/// The pier process, its configuration and data.
struct Pier {
    child: tokio::process::Child,
    pid: u32,
    url: String,
    plugins: PathBuf,
    _dir: tempfile::TempDir,
}

/// pier's `server.session-hibernate-ms` in the soak: sessions quiet this long are put
/// away, and the dozing clients pause three times as long between calls.
const HIBERNATE: Duration = Duration::from_millis(500);

const TOKEN_A: &str = "soak-token-alice";
const TOKEN_B: &str = "soak-token-bob";

async fn hash(pier: &Path, token: &str) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(pier)
        .args(["auth", "hash-token", token])
        .output()
        .await?;
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

async fn start(setup: &Setup) -> anyhow::Result<Pier> {
    let dir = tempfile::tempdir()?;
    let plugins = dir.path().join("plugins");
    let upstream = dir.path().join("upstream");
    std::fs::create_dir_all(&plugins)?;
    std::fs::create_dir_all(&upstream)?;
    let examples = setup.root.join("plugins.d");
    let fixtures = setup.root.join("target/fixtures");
    for name in ["calc", "hello", "notes"] {
        std::fs::copy(
            examples.join(format!("{name}.wasm")),
            plugins.join(format!("{name}.wasm")),
        )
        .with_context(|| format!("{name}.wasm: run `make plugins`"))?;
    }
    std::fs::copy(
        fixtures.join("conformance.wasm"),
        plugins.join("conformance.wasm"),
    )
    .context("conformance.wasm: run `make plugins`")?;
    std::fs::copy(
        fixtures.join("conformance.toml"),
        plugins.join("conformance.toml"),
    )?;
    std::fs::copy(examples.join("calc.wasm"), upstream.join("calc.wasm"))?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let toml = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
request-state-keys = ["soak:00112233445566778899aabbccddeeff"]
# The soak starts more tasks an hour than the default allows one caller.
max-tasks-per-subject = 1000000
session-hibernate-ms = {hibernate}

[plugins]
dir = "{plugins}"
watch = true
debounce-ms = 100

[data]
dir = "{data}"

[storage]
backend = "sled"
# Tasks are kept an hour: with the default cache, what the soak stores would show as
# memory growth until the cache is full. A small cache shows the rest.
cache-mib = 16

[log]
level = "warn"

[auth]
mode = "tokens"
resource = "{url}"

[[auth.token]]
hash = "{hash_a}"
subject = "alice"
scopes = []

[[auth.token]]
hash = "{hash_b}"
subject = "bob"
scopes = []

[[middleware]]
type = "wasm"
path = "{redact}"

[[mount]]
namespace = "up"
command = "{pier}"
args = ["serve", "--transport", "stdio", "--plugins", "{upstream}", "--storage", "memory", "--data-dir", "{updata}", "--log-level", "warn"]
"#,
        plugins = plugins.display(),
        data = dir.path().join("data").display(),
        hash_a = hash(&setup.pier, TOKEN_A).await?,
        hash_b = hash(&setup.pier, TOKEN_B).await?,
        redact = setup.root.join("middleware.d/redact.wasm").display(),
        pier = setup.pier.display(),
        upstream = upstream.display(),
        updata = dir.path().join("updata").display(),
        hibernate = HIBERNATE.as_millis(),
    );
    let config = dir.path().join("pier.toml");
    std::fs::write(&config, toml)?;
    let child = tokio::process::Command::new(&setup.pier)
        .args(["serve", "--config"])
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start pier")?;
    let pid = child.id().context("pier has no pid")?;
    let ready = url.trim_end_matches("/mcp").to_string() + "/ready";
    crate::install_tls_provider();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(&ready).bearer_auth(TOKEN_A).send().await
            && r.status().is_success()
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("pier was not ready within 60 s at {ready}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Pier {
        child,
        pid,
        url,
        plugins,
        _dir: dir,
    })
}

/// Resident memory (MiB) and open file descriptors of process `pid`.
fn process_state(pid: u32) -> (f64, i64) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(-1, |d| d.count() as i64);
    (rss, fds)
}

/// Runs the soak.
pub async fn run(setup: &Setup) -> anyhow::Result<Outcome> {
    let mut pier = start(setup).await?;
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let mut workers = Vec::new();
    for n in 0..2 {
        workers.push(tokio::spawn(modern_calls(
            client.clone(),
            pier.url.clone(),
            tally.clone(),
            stop.clone(),
            n,
        )));
    }
    workers.push(tokio::spawn(sessions(
        client.clone(),
        pier.url.clone(),
        tally.clone(),
        stop.clone(),
    )));
    for _ in 0..4 {
        workers.push(tokio::spawn(dozing(
            client.clone(),
            pier.url.clone(),
            tally.clone(),
            stop.clone(),
            HIBERNATE * 3,
        )));
    }
    workers.push(tokio::spawn(notes(
        client.clone(),
        pier.url.clone(),
        tally.clone(),
        stop.clone(),
    )));
    workers.push(tokio::spawn(rounds(
        client.clone(),
        pier.url.clone(),
        tally.clone(),
        stop.clone(),
    )));
    workers.push(tokio::spawn(tasks(
        client.clone(),
        pier.url.clone(),
        tally.clone(),
        stop.clone(),
    )));
    workers.push(tokio::spawn(listens(
        client.clone(),
        pier.url.clone(),
        tally.clone(),
        stop.clone(),
    )));
    workers.push(tokio::spawn(abandoned(
        client.clone(),
        pier.url.clone(),
        tally.clone(),
        stop.clone(),
    )));
    workers.push(tokio::spawn(swaps(
        setup.root.clone(),
        pier.plugins.clone(),
        setup.swap_every,
        tally.clone(),
        stop.clone(),
    )));

    let began = Instant::now();
    let mut outcome = Outcome::default();
    let mut last_requests = 0;
    let mut last_errors = 0;
    let every = Duration::from_secs(if setup.duration >= Duration::from_secs(300) {
        10
    } else {
        2
    });
    while began.elapsed() < setup.duration {
        tokio::time::sleep(every.min(setup.duration.saturating_sub(began.elapsed()))).await;
        if let Ok(Some(status)) = pier.child.try_wait() {
            bail!("pier exited during the soak: {status}");
        }
        let requests = tally.requests.load(Ordering::Relaxed);
        let errors = tally.errors.load(Ordering::Relaxed);
        let mut latencies =
            std::mem::take(&mut *tally.latencies.lock().unwrap_or_else(|e| e.into_inner()));
        latencies.sort_unstable();
        let p99 = latencies
            .get(((latencies.len() as f64 - 1.0) * 0.99).max(0.0) as usize)
            .copied()
            .unwrap_or_default();
        let (rss_mib, fds) = process_state(pier.pid);
        outcome.samples.push(Sample {
            at: began.elapsed(),
            requests: requests - last_requests,
            errors: errors - last_errors,
            p99,
            rss_mib,
            fds,
        });
        last_requests = requests;
        last_errors = errors;
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = tokio::time::timeout(Duration::from_secs(30), worker).await;
    }
    // Every note stored is read back, by the subject that stored it.
    let mut reader = HttpSession::with_token(&client, &pier.url, TOKEN_A, true).await?;
    let stored = tally
        .notes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut read_back = 0;
    for (title, body) in &stored {
        let got = reader
            .request(
                "tools/call",
                json!({"name": "notes_get", "arguments": {"title": title}}),
            )
            .await
            .and_then(|r| text_of(&r));
        match got {
            Ok(text) if text == *body => read_back += 1,
            Ok(text) => tally.failed("notes_get", format!("{title}: {text}")),
            Err(e) => tally.failed("notes_get", e),
        }
    }
    outcome.requests = tally.requests.load(Ordering::Relaxed);
    outcome.errors = tally.errors.load(Ordering::Relaxed);
    outcome.cancelled = tally.cancelled.load(Ordering::Relaxed);
    outcome.swaps = tally.swaps.load(Ordering::Relaxed);
    outcome.sessions = tally.sessions.load(Ordering::Relaxed);
    outcome.listens = tally.listens.load(Ordering::Relaxed);
    outcome.tasks = tally.tasks.load(Ordering::Relaxed);
    outcome.rounds = tally.rounds.load(Ordering::Relaxed);
    let metrics = client
        .get(pier.url.trim_end_matches("/mcp").to_string() + "/metrics")
        .bearer_auth(TOKEN_A)
        .send()
        .await?
        .text()
        .await?;
    let counter = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    outcome.put_away = counter("pier_sessions_hibernated_total");
    outcome.restored = counter("pier_sessions_restored_total");
    outcome.notes_stored = stored.len() as u64;
    outcome.notes_read_back = read_back;
    outcome.first_errors = tally
        .first_errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let _ = pier.child.kill().await;
    Ok(outcome)
}
