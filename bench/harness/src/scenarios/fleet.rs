//! `pier-bench --fleet`: what a fleet costs. The Rust bench plugin's `echo` at 32
//! clients, in both revisions, against one pier with in-memory storage (the baseline),
//! one pier on Redis (the Redis path), one behind haproxy (the balancer's hop), and three
//! behind haproxy (round robin, no stickiness). Everything runs on the same cores, the
//! load generator included: on a 2-core machine three replicas cannot be faster than
//! one, so the last rows show the fleet's overhead, not a speed-up. Writes
//! `bench/results/fleet.md` and `fleet.json`.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use pier_bench::load::Target;
use pier_bench::process::{Server, free_port};
use pier_bench::stats::Report;
use tokio::process::{Child, Command};

use super::{PATIENCE, Setup, cell, echo, measure, pier_http, progress, report_json};

/// The Redis of the set-up and its directory; killed when dropped.
struct Helper {
    _child: Child,
    _dir: tempfile::TempDir,
}

/// A `redis-server` on a free loopback port, answering `PING`.
async fn redis() -> anyhow::Result<(Helper, String)> {
    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start redis-server (make setup installs it)")?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            let helper = Helper {
                _child: child,
                _dir: dir,
            };
            return Ok((helper, format!("redis://127.0.0.1:{port}")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("redis-server did not listen within 10 s")
}

/// `haproxy` on `port`, round robin over `backends` without stickiness; started as a
/// [`Server`] (ready once `echo` answers through it).
async fn haproxy(port: u16, backends: &[u16], dir: &Path) -> anyhow::Result<Server> {
    let mut cfg = format!(
        "global\n    maxconn 4096\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 60s\n    timeout server 60s\n\
         frontend mcp\n    bind 127.0.0.1:{port}\n    default_backend piers\n\
         backend piers\n    balance roundrobin\n"
    );
    for (i, backend) in backends.iter().enumerate() {
        cfg.push_str(&format!("    server pier{i} 127.0.0.1:{backend}\n"));
    }
    let file = dir.join(format!("haproxy-{port}.cfg"));
    std::fs::write(&file, cfg)?;
    let haproxy = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .context("haproxy is missing (make setup installs it)")?;
    let command = vec![
        haproxy.to_string(),
        "-db".into(),
        "-f".into(),
        file.display().to_string(),
    ];
    Server::start(&command, port, "echo", PATIENCE).await
}

/// A pier of the Rust bench plugin on `port`, its store `redis` (memory without).
async fn pier(setup: &Setup, port: u16, redis: Option<&str>) -> anyhow::Result<Server> {
    let plugins = setup.dir("pier-rust").context("the Rust bench plugin")?;
    let mut command = pier_http(plugins, &setup.data, port);
    if let Some(url) = redis {
        for arg in command.iter_mut().filter(|a| *a == "memory") {
            *arg = "redis".into();
        }
        command.extend(["--storage-url".into(), url.into()]);
    }
    Server::start(&command, port, "echo", PATIENCE).await
}

/// One measured set-up: the server, then each revision's load.
struct Measured {
    what: &'static str,
    modern: anyhow::Result<Report>,
    sessions: anyhow::Result<Report>,
}

async fn both(url: &str, seconds: Duration) -> (anyhow::Result<Report>, anyhow::Result<Report>) {
    let modern = measure(
        Target::HttpSessionless(url.to_string()),
        echo(),
        32,
        seconds,
    )
    .await;
    let sessions = measure(Target::Http(url.to_string()), echo(), 32, seconds).await;
    (modern, sessions)
}

/// Every fleet row, in table order.
async fn run(setup: &Setup, seconds: Duration) -> anyhow::Result<Vec<Measured>> {
    let dir = tempfile::tempdir()?;
    let (_redis, url) = redis().await?;
    let mut rows = Vec::new();

    progress("fleet: one pier, memory store");
    let alone = pier(setup, free_port()?, None).await?;
    let (modern, sessions) = both(&alone.url, seconds).await;
    alone.stop().await;
    rows.push(Measured {
        what: "one pier, in-memory store, no balancer",
        modern,
        sessions,
    });

    progress("fleet: one pier on Redis");
    let port = free_port()?;
    let one = pier(setup, port, Some(&url)).await?;
    let (modern, sessions) = both(&one.url, seconds).await;
    rows.push(Measured {
        what: "one pier on Redis, no balancer",
        modern,
        sessions,
    });

    progress("fleet: one pier on Redis behind haproxy");
    let front = haproxy(free_port()?, &[port], dir.path()).await?;
    let (modern, sessions) = both(&front.url, seconds).await;
    front.stop().await;
    rows.push(Measured {
        what: "one pier on Redis behind haproxy",
        modern,
        sessions,
    });

    progress("fleet: three piers on Redis behind haproxy");
    let mut ports = vec![port];
    let mut others = Vec::new();
    for _ in 0..2 {
        let port = free_port()?;
        others.push(pier(setup, port, Some(&url)).await?);
        ports.push(port);
    }
    let front = haproxy(free_port()?, &ports, dir.path()).await?;
    let (modern, sessions) = both(&front.url, seconds).await;
    front.stop().await;
    one.stop().await;
    for other in others {
        other.stop().await;
    }
    rows.push(Measured {
        what: "three piers on Redis behind haproxy (round robin)",
        modern,
        sessions,
    });
    Ok(rows)
}

/// Runs the fleet rows and writes `fleet.md` and `fleet.json` into `out`.
pub async fn write(seconds: Duration, out: &Path, header: &str) -> anyhow::Result<String> {
    let setup = Setup::only(&["pier-rust"])?;
    let rows = run(&setup, seconds).await?;
    let mut md = format!(
        "# A fleet's cost\n\n{header}\n\
         The Rust bench plugin's `echo` at 32 clients, each with one request in flight, \
         {} s measured after a 1 s warm-up; pier, Redis, haproxy and the load generator \
         share the machine's cores. With 2 cores, three replicas cannot serve more than \
         one: the three-replica row shows what the fleet costs (the balancer's hop, \
         Redis, three processes on the same cores), not a speed-up, which needs a core \
         (or a machine) per replica. Between runs on such a shared machine, numbers vary \
         by ±20 % and more.\n\n\
         | set-up | MCP 2026-07-28, no session | MCP 2025-11-25 sessions |\n|---|---|---|\n",
        seconds.as_secs_f64()
    );
    let mut json = Vec::new();
    for row in &rows {
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            row.what,
            cell(&row.modern),
            cell(&row.sessions)
        ));
        json.push(serde_json::json!({
            "setup": row.what,
            "2026-07-28": report_json(&row.modern),
            "2025-11-25": report_json(&row.sessions),
        }));
    }
    md.push_str(
        "\nWhat a request of each revision needs from Redis: a 2026-07-28 request none \
         (its state travels sealed in the request); a 2025-11-25 request of a session \
         another replica started restores it from its record once per replica, and each \
         replica writes the record again at most every quarter of the session's idle time.\n",
    );
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("fleet.md"), &md)?;
    std::fs::write(
        out.join("fleet.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    Ok(md)
}
