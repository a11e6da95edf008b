//! `pier-bench --tracing`: what OpenTelemetry export costs a call. The Rust bench
//! plugin's `echo` (MCP 2026-07-28, no session) with nothing exported, then with spans
//! and metrics sent over OTLP to a receiver on loopback, every trace sampled, then 1 %.
//! One client (a call's latency) and 32 (throughput). Writes `bench/results/tracing.md`
//! and `tracing.json`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use pier_bench::load::Target;
use pier_bench::process::{Server, free_port};
use pier_bench::stats::Report;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::{PATIENCE, Setup, cell, echo, measure, pier_http, progress, report_json};

/// What the receiver got.
#[derive(Default)]
struct Received {
    requests: AtomicU64,
    bytes: AtomicU64,
}

/// An OTLP/HTTP receiver that reads each export and answers 200 (a Collector's work,
/// without a Collector's own cost on the shared cores); stops when dropped.
struct Sink {
    endpoint: String,
    received: Arc<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads HTTP/1.1 requests off `stream` and answers each 200, until it closes.
async fn answer(stream: tokio::net::TcpStream, received: Arc<Received>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if read.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length.min(64 << 20)];
        read.read_exact(&mut body).await?;
        received.requests.fetch_add(1, Ordering::Relaxed);
        received
            .bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        write
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
}

impl Sink {
    async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let received = Arc::new(Received::default());
        let counting = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, counting.clone()));
            }
        });
        Ok(Self {
            endpoint,
            received,
            task,
        })
    }
}

/// One measured set-up.
struct Measured {
    what: &'static str,
    one: anyhow::Result<Report>,
    many: anyhow::Result<Report>,
    /// Export requests and bytes the receiver got (over every round).
    exported: Option<(u64, u64)>,
}

/// A pier of the Rust bench plugin on `port`, exporting to `sink` at `ratio`.
async fn pier(setup: &Setup, port: u16, export: Option<(&Sink, &str)>) -> anyhow::Result<Server> {
    let plugins = setup.dir("pier-rust").context("the Rust bench plugin")?;
    let mut command = pier_http(plugins, &setup.data, port);
    if let Some((sink, ratio)) = export {
        let mut with_env = vec![
            "env".to_string(),
            format!("PIER_TELEMETRY_OTLP_ENDPOINT={}", sink.endpoint),
            format!("PIER_TELEMETRY_SAMPLE_RATIO={ratio}"),
        ];
        with_env.append(&mut command);
        command = with_env;
    }
    Server::start(&command, port, "echo", PATIENCE).await
}

/// Rounds of measurements: each set-up is measured once per round, in turn, and its
/// median kept (this machine's noise moves single runs by ±20 %).
const ROUNDS: usize = 3;

/// The median of `reports` by `key` (a failed one first, so that it shows).
fn median_by(
    mut reports: Vec<anyhow::Result<Report>>,
    key: fn(&Report) -> f64,
) -> anyhow::Result<Report> {
    if let Some(failed) = reports.iter().position(|r| r.is_err()) {
        return reports.swap_remove(failed);
    }
    reports.sort_by(|a, b| match (a, b) {
        (Ok(a), Ok(b)) => key(a).total_cmp(&key(b)),
        _ => std::cmp::Ordering::Equal,
    });
    let middle = reports.len() / 2;
    reports.swap_remove(middle)
}

async fn run(setup: &Setup, seconds: Duration) -> anyhow::Result<Vec<Measured>> {
    let setups = [
        ("nothing exported", None),
        ("OTLP export, every trace sampled", Some("1")),
        ("OTLP export, 1 % of traces sampled", Some("0.01")),
    ];
    // Every set-up's pier runs throughout (an idle pier costs nothing), so that the
    // rounds interleave them.
    let mut running = Vec::new();
    for (what, ratio) in setups {
        let sink = Sink::start().await?;
        let server = pier(setup, free_port()?, ratio.map(|r| (&sink, r))).await?;
        running.push((what, ratio, sink, server));
    }
    let mut ones: Vec<Vec<anyhow::Result<Report>>> = setups.iter().map(|_| Vec::new()).collect();
    let mut manys: Vec<Vec<anyhow::Result<Report>>> = setups.iter().map(|_| Vec::new()).collect();
    for round in 1..=ROUNDS {
        for (i, (what, _, _, server)) in running.iter().enumerate() {
            progress(&format!("tracing: {what}, round {round} of {ROUNDS}"));
            let target = || Target::HttpSessionless(server.url.clone());
            ones[i].push(measure(target(), echo(), 1, seconds).await);
            manys[i].push(measure(target(), echo(), 32, seconds).await);
        }
    }
    let mut rows = Vec::new();
    for ((what, ratio, sink, server), (one, many)) in
        running.into_iter().zip(ones.into_iter().zip(manys))
    {
        server.stop().await;
        let exported = ratio.map(|_| {
            (
                sink.received.requests.load(Ordering::Relaxed),
                sink.received.bytes.load(Ordering::Relaxed),
            )
        });
        rows.push(Measured {
            what,
            one: median_by(one, |r| r.p50_us),
            many: median_by(many, |r| r.rps),
            exported,
        });
    }
    Ok(rows)
}

/// A one-client row's cell: its latencies (the rate says little there).
fn latency(report: &anyhow::Result<Report>) -> String {
    match report {
        Ok(r) if r.errors == 0 => format!("p50 {:.0} µs, p99 {:.0} µs", r.p50_us, r.p99_us),
        other => cell(other),
    }
}

/// Runs the rows and writes `tracing.md` and `tracing.json` into `out`.
pub async fn write(seconds: Duration, out: &Path, header: &str) -> anyhow::Result<String> {
    let setup = Setup::only(&["pier-rust"])?;
    let rows = run(&setup, seconds).await?;
    let mut md = format!(
        "# What tracing costs a call\n\n{header}\n\
         The Rust bench plugin's `echo` over MCP 2026-07-28 (no session), {} s measured \
         after a 1 s warm-up, first with one client (one request at a time: a call's own \
         latency), then with 32; the three set-ups measured in turn, {ROUNDS} rounds, each \
         cell the median of its rounds. With export on, pier sends its spans (about nine per \
         call: the request, the mount, the guest's instance and run, …) and the \
         conventions' metrics over OTLP/HTTP to a receiver on loopback that reads and \
         acknowledges them; pier, the receiver and the load generator share the machine's \
         cores. Between runs on such a shared machine, numbers vary by ±20 % and more.\n\n\
         | set-up | 1 client | 32 clients | sent to the receiver |\n|---|---|---|---|\n",
        seconds.as_secs_f64()
    );
    let mut json = Vec::new();
    for row in &rows {
        let sent = match row.exported {
            Some((requests, bytes)) => {
                format!("{requests} requests, {:.1} MiB", bytes as f64 / 1048576.0)
            }
            None => "—".into(),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {sent} |\n",
            row.what,
            latency(&row.one),
            cell(&row.many),
        ));
        json.push(serde_json::json!({
            "setup": row.what,
            "1 client": report_json(&row.one),
            "32 clients": report_json(&row.many),
            "exported": row.exported.map(|(requests, bytes)| serde_json::json!({"requests": requests, "bytes": bytes})),
        }));
    }
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("tracing.md"), &md)?;
    std::fs::write(
        out.join("tracing.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    Ok(md)
}
