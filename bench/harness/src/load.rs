//! N concurrent MCP sessions sending one kind of request for a fixed time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};

use crate::mcp::{HttpSession, Session, StdioSession};
use crate::stats::Report;

/// Where the server is.
#[derive(Debug, Clone)]
pub enum Target {
    /// Streamable HTTP at this URL.
    Http(String),
    /// Streamable HTTP at this URL, MCP 2026-07-28 requests without a session.
    HttpSessionless(String),
    /// A command to start, speaking MCP on its stdio (one process per session).
    Stdio(Vec<String>),
}

/// What each request asks.
#[derive(Debug, Clone)]
pub enum Work {
    /// `tools/call` of a tool with arguments.
    Tool {
        /// The tool's name.
        name: String,
        /// Its arguments.
        args: Value,
    },
    /// `tools/list` (one page).
    ListTools,
    /// `resources/read` of a URI.
    Read(String),
}

impl Work {
    fn request(&self) -> (&'static str, Value) {
        match self {
            Self::Tool { name, args } => ("tools/call", json!({"name": name, "arguments": args})),
            Self::ListTools => ("tools/list", json!({})),
            Self::Read(uri) => ("resources/read", json!({"uri": uri})),
        }
    }

    /// Whether `result` is a success (a tool result with `isError` is a failure).
    fn check(&self, result: &Value) -> Result<(), String> {
        match self {
            Self::Tool { .. } if result["isError"] == true => {
                Err(format!("tool error: {}", result["content"]))
            }
            Self::ListTools if !result["tools"].is_array() => Err(format!("no tools: {result}")),
            Self::Read(_) if !result["contents"].is_array() => {
                Err(format!("no contents: {result}"))
            }
            _ => Ok(()),
        }
    }
}

/// One load run.
#[derive(Debug, Clone)]
pub struct Load {
    /// The server.
    pub target: Target,
    /// The request.
    pub work: Work,
    /// Sessions sending requests at the same time, one request in flight each.
    pub concurrency: usize,
    /// Time measured.
    pub duration: Duration,
    /// Time before measuring, not counted.
    pub warmup: Duration,
}

/// Opens one session to `target`.
pub async fn open(target: &Target, client: &reqwest::Client) -> anyhow::Result<Session> {
    Ok(match target {
        Target::Http(url) => Session::Http(HttpSession::open(client, url).await?),
        Target::HttpSessionless(url) => Session::Http(HttpSession::sessionless(client, url)),
        Target::Stdio(command) => Session::Stdio(Box::new(StdioSession::open(command).await?)),
    })
}

struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `load`: opens every session, then sends requests until the time is up.
pub async fn run(load: &Load) -> anyhow::Result<Report> {
    if load.concurrency == 0 {
        bail!("concurrency must be at least 1");
    }
    crate::install_tls_provider();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(load.concurrency)
        .build()?;
    let mut sessions = Vec::with_capacity(load.concurrency);
    for _ in 0..load.concurrency {
        sessions.push(open(&load.target, &client).await?);
    }
    let work = Arc::new(load.work.clone());
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.duration;
    let workers: Vec<_> = sessions
        .into_iter()
        .map(|mut session| {
            let work = work.clone();
            tokio::spawn(async move {
                let mut tally = Tally {
                    latencies: Vec::new(),
                    errors: 0,
                    first_error: None,
                };
                let (method, params) = work.request();
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let outcome = match session.request(method, params.clone()).await {
                        Ok(result) => work.check(&result),
                        Err(e) => Err(format!("{e:#}")),
                    };
                    if sent < measure_from {
                        continue;
                    }
                    match outcome {
                        Ok(()) => tally.latencies.push(sent.elapsed()),
                        Err(e) => {
                            tally.errors += 1;
                            tally.first_error.get_or_insert(e);
                        }
                    }
                }
                session.close().await;
                tally
            })
        })
        .collect();
    let mut all = Tally {
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
    };
    for worker in workers {
        let tally = worker.await?;
        all.latencies.extend(tally.latencies);
        all.errors += tally.errors;
        if all.first_error.is_none() {
            all.first_error = tally.first_error;
        }
    }
    Ok(Report::new(
        all.latencies,
        all.errors,
        all.first_error,
        load.duration,
    ))
}
