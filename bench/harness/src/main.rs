//! `pier-bench`: runs every scenario of `make bench` against FastMCP, a native rmcp
//! server and pier (Rust, Python and JS plugins), and writes `bench/results/latest.md`
//! and `latest.json`. Run from the repository root after `make bench`'s build steps.
#![allow(clippy::print_stdout)]

mod scenarios;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use pier_bench::report::Results;

/// Runs the benchmark scenarios and writes the results table.
#[derive(Parser)]
struct Args {
    /// Seconds measured per load scenario (after a 1 s warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Where `latest.md` and `latest.json` go.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Measure a fleet's cost instead (one pier vs three behind haproxy, on Redis):
    /// writes `fleet.md` and `fleet.json`.
    #[arg(long)]
    fleet: bool,
    /// Measure what OpenTelemetry export costs a call instead (off, every trace, 1 %):
    /// writes `tracing.md` and `tracing.json`.
    #[arg(long)]
    tracing: bool,
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn machine() -> BTreeMap<&'static str, String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_default();
    BTreeMap::from([
        ("cpu", cpu),
        (
            "cores",
            std::thread::available_parallelism()
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
        ("memory", format!("{:.0} GiB", mem_kib / 1024.0 / 1024.0)),
    ])
}

/// The version of `package` in Cargo.lock.
fn locked(package: &str) -> String {
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let needle = format!("name = \"{package}\"\nversion = \"");
    lock.split_once(&needle)
        .and_then(|(_, rest)| rest.split('"').next())
        .unwrap_or("?")
        .to_string()
}

fn versions() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("pier", locked("pier")),
        ("rmcp", locked("rmcp")),
        ("wasmtime", locked("wasmtime")),
        (
            "fastmcp",
            output(
                ".venv/bin/python",
                &["-c", "import fastmcp; print(fastmcp.__version__)"],
            ),
        ),
        (
            "python",
            output(
                ".venv/bin/python",
                &["-c", "import sys; print(sys.version.split()[0])"],
            ),
        ),
        (
            "rustc",
            output("rustc", &["--version"]).replace("rustc ", ""),
        ),
    ])
}

fn joined(map: &BTreeMap<&'static str, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pier_bench::install_tls_provider();
    let args = Args::parse();
    let seconds = Duration::from_secs_f64(args.seconds);
    let header = || {
        format!(
            "{}. Machine: {}. Versions: {}.\n",
            output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            joined(&machine()),
            joined(&versions())
        )
    };
    if args.fleet {
        let md = scenarios::fleet::write(seconds, &args.out, &header()).await?;
        println!("{md}");
        println!("written to {}", args.out.join("fleet.md").display());
        return Ok(());
    }
    if args.tracing {
        let md = scenarios::tracing::write(seconds, &args.out, &header()).await?;
        println!("{md}");
        println!("written to {}", args.out.join("tracing.md").display());
        return Ok(());
    }
    let rows = scenarios::run_all(seconds).await?;
    let results = Results {
        date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        machine: machine(),
        versions: versions(),
        method: format!(
            "Load rows: each client is one MCP session with one request in flight, {} s measured after a 1 s warm-up, over loopback; the load generator runs on the same cores.",
            args.seconds
        ),
        rows,
    };
    results.write(&args.out)?;
    println!("{}", results.markdown());
    println!("written to {}", args.out.join("latest.md").display());
    Ok(())
}
