//! Servers under test as child processes: start, wait until they answer, measure, stop.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;
use tokio::process::{Child, Command};

use crate::mcp::HttpSession;

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A server process; killed when dropped.
pub struct Server {
    child: Child,
    /// Its streamable-HTTP endpoint.
    pub url: String,
    /// Time from spawn to the first successful call of the probe tool.
    pub started_in: Duration,
    spawned: Instant,
}

impl Server {
    /// Starts `command` (serving HTTP on `port`) and waits, polling, until a call of
    /// `probe` with `{"text": "x"}` succeeds (at most `patience`).
    pub async fn start(
        command: &[String],
        port: u16,
        probe: &str,
        patience: Duration,
    ) -> anyhow::Result<Self> {
        let (program, args) = command.split_first().context("empty command")?;
        let spawned = Instant::now();
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        let url = format!("http://127.0.0.1:{port}/mcp");
        let client = reqwest::Client::new();
        let mut last_error = String::new();
        while spawned.elapsed() < patience {
            match first_call(&client, &url, probe).await {
                Ok(()) => {
                    return Ok(Self {
                        child,
                        url,
                        started_in: spawned.elapsed(),
                        spawned,
                    });
                }
                Err(e) => last_error = format!("{e:#}"),
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        bail!(
            "{} did not answer `{probe}` within {patience:?}: {last_error}",
            command.join(" ")
        )
    }

    /// Time from spawn until pier's `/ready` answers 200 (every plugin loaded), polled
    /// for at most `patience`.
    pub async fn ready_in(&self, patience: Duration) -> anyhow::Result<Duration> {
        let ready = self.url.trim_end_matches("/mcp").to_string() + "/ready";
        let client = reqwest::Client::new();
        while self.spawned.elapsed() < patience {
            if let Ok(response) = client.get(&ready).send().await
                && response.status().is_success()
            {
                return Ok(self.spawned.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        bail!("{ready} did not answer 200 within {patience:?}")
    }

    /// What the process holds in memory now.
    pub fn memory(&self) -> Option<Memory> {
        memory(self.child.id()?)
    }

    /// Stops the process.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn first_call(client: &reqwest::Client, url: &str, probe: &str) -> anyhow::Result<()> {
    let mut session = HttpSession::open(client, url).await?;
    let result = session
        .request(
            "tools/call",
            json!({"name": probe, "arguments": {"text": "x"}}),
        )
        .await;
    session.close().await;
    let result = result?;
    if result["isError"] == true {
        bail!("tool error: {result}");
    }
    Ok(())
}

/// What a process holds in memory, in MiB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    /// Proportional set size: each resident page counted once, a page shared with `n`
    /// other mappings as `1/n`. The memory rows report this one.
    pub pss: f64,
    /// Resident set size: each mapping of a page counted in full. It overstates pier,
    /// which maps the same page-cache pages of a plugin's compiled file once per
    /// instance slot (each slot's copy-on-write view of the guest's initial memory).
    pub rss: f64,
}

/// [`Memory`] of process `pid`, from `/proc/PID/smaps_rollup` (Linux).
pub fn memory(pid: u32) -> Option<Memory> {
    parse_rollup(&std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?)
}

fn parse_rollup(rollup: &str) -> Option<Memory> {
    let kib = |key: &str| -> Option<f64> {
        rollup
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some(Memory {
        pss: kib("Pss")? / 1024.0,
        rss: kib("Rss")? / 1024.0,
    })
}

/// Copies `wasm` into `dir` as `name.wasm` with a custom section naming `name`
/// appended, so that each copy has its own content hash (and its own AOT artifact).
pub fn distinct_copy(wasm: &[u8], dir: &Path, name: &str) -> anyhow::Result<()> {
    let section_name = b"pier-bench-copy";
    let mut payload = leb128(section_name.len() as u64);
    payload.extend_from_slice(section_name);
    payload.extend_from_slice(name.as_bytes());
    let mut bytes = wasm.to_vec();
    bytes.push(0); // custom section
    bytes.extend(leb128(payload.len() as u64));
    bytes.extend(payload);
    std::fs::write(dir.join(format!("{name}.wasm")), bytes)?;
    Ok(())
}

fn leb128(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_encodes_seven_bits_per_byte() {
        assert_eq!(leb128(0), [0]);
        assert_eq!(leb128(127), [127]);
        assert_eq!(leb128(128), [0x80, 1]);
        assert_eq!(leb128(300), [0xac, 2]);
    }

    #[test]
    fn rollup_gives_pss_and_rss_in_mib() {
        let rollup = "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:              204800 kB\nPss:               92160 kB\nPss_Dirty:         64099 kB\n";
        assert_eq!(
            parse_rollup(rollup),
            Some(Memory {
                pss: 90.0,
                rss: 200.0
            })
        );
        assert_eq!(parse_rollup("Rss: 1 kB\n"), None);
    }

    #[test]
    fn this_process_has_memory() {
        let own = memory(std::process::id()).expect("smaps_rollup of this process");
        assert!(own.pss > 0.0 && own.pss <= own.rss, "{own:?}");
    }
}
