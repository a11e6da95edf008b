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

    /// Resident memory of the process, in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        rss_mib(self.child.id()?)
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

/// VmRSS of process `pid`, in MiB (Linux).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
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
    use super::leb128;

    #[test]
    fn leb128_encodes_seven_bits_per_byte() {
        assert_eq!(leb128(0), [0]);
        assert_eq!(leb128(127), [127]);
        assert_eq!(leb128(128), [0x80, 1]);
        assert_eq!(leb128(300), [0xac, 2]);
    }
}
