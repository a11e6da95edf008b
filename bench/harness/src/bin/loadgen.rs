//! `loadgen`: N concurrent MCP sessions calling one tool (or listing tools, or reading a
//! resource) for S seconds over streamable HTTP or stdio; prints requests/s and latency
//! percentiles.
//!
//! `loadgen --url http://127.0.0.1:8000/mcp --tool hello_greet --args '{"name":"Ada"}' --concurrency 32 --seconds 10`
//! (`--sessionless`: MCP 2026-07-28 requests, no session)
#![allow(clippy::print_stdout)]

use std::time::Duration;

use clap::Parser;
use pier_bench::load::{self, Load, Target, Work};

/// MCP load generator: streamable HTTP or stdio, N sessions, fixed duration.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Streamable-HTTP endpoint, e.g. http://127.0.0.1:8000/mcp.
    #[arg(long, conflicts_with = "stdio", required_unless_present = "stdio")]
    url: Option<String>,
    /// Command to start an MCP server on stdio (split on spaces), e.g. "pier serve --transport stdio".
    #[arg(long)]
    stdio: Option<String>,
    /// Tool to call.
    #[arg(long, conflicts_with_all = ["list_tools", "read"], required_unless_present_any = ["list_tools", "read"])]
    tool: Option<String>,
    /// Arguments of the tool, as a JSON object.
    #[arg(long, default_value = "{}")]
    args: String,
    /// Send `tools/list` instead of calling a tool.
    #[arg(long)]
    list_tools: bool,
    /// Send `resources/read` of this URI instead of calling a tool.
    #[arg(long, value_name = "URI")]
    read: Option<String>,
    /// Concurrent sessions (each one request at a time).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Over HTTP, send MCP 2026-07-28 requests without a session (as the Python `mcp`
    /// 2.x and FastMCP 4 clients do) instead of a 2025-11-25 session per client.
    #[arg(long, requires = "url")]
    sessionless: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pier_bench::install_tls_provider();
    let args = Args::parse();
    let target = match (args.url, args.stdio) {
        (Some(url), _) if args.sessionless => Target::HttpSessionless(url),
        (Some(url), _) => Target::Http(url),
        (None, Some(command)) => {
            Target::Stdio(command.split_whitespace().map(String::from).collect())
        }
        (None, None) => unreachable!("clap requires --url or --stdio"),
    };
    let work = if args.list_tools {
        Work::ListTools
    } else if let Some(uri) = args.read {
        Work::Read(uri)
    } else {
        let tool_args: serde_json::Value = serde_json::from_str(&args.args)
            .map_err(|e| anyhow::anyhow!("--args is not JSON: {e}"))?;
        Work::Tool {
            name: args.tool.unwrap_or_default(),
            args: tool_args,
        }
    };
    let report = load::run(&Load {
        target,
        work,
        concurrency: args.concurrency,
        duration: Duration::from_secs_f64(args.seconds),
        warmup: Duration::from_secs_f64(args.warmup),
    })
    .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.line());
    }
    Ok(())
}
