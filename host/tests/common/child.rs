//! The built `pier` binary as a child process serving HTTP.

use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;

use super::{Client, Recorder};

/// The built `pier` binary serving HTTP on a free loopback port, as a child process;
/// killed when dropped.
pub struct ChildPier {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// Everything it wrote to stderr so far.
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ChildPier {
    /// Runs `pier serve --listen 127.0.0.1:0 ARGS…` and waits (bounded) for `/ready`.
    pub async fn serve(args: &[&str]) -> Self {
        Self::serve_with_env(args, &[]).await
    }

    /// [`ChildPier::serve`] with environment variables `env` set.
    pub async fn serve_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::run("serve", args, env).await
    }

    /// Runs `pier COMMAND --listen 127.0.0.1:0 ARGS…` (`serve` or `dev`) with `env`, and
    /// waits (bounded) for `/ready`.
    pub async fn run(command: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
            .args([command, "--listen", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let captured = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut url = None;
        let mut line = String::new();
        while url.is_none() && stderr.read_line(&mut line).unwrap() > 0 {
            url = line
                .split_whitespace()
                .find(|w| w.starts_with("http://") && w.ends_with("/mcp"))
                .map(String::from);
            if url.is_none() {
                eprint!("pier: {line}");
            }
            captured.lock().unwrap().push_str(&line);
            line.clear();
        }
        let url = url.expect("pier prints the bound address");
        // Keep draining stderr so pier never blocks on a full pipe.
        let keep = captured.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                eprintln!("pier: {line}");
                let mut kept = keep.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        // The address is printed before plugins load: wait (bounded) for /ready.
        let ready = url.replace("/mcp", "/ready");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let status = reqwest::get(&ready).await.map(|r| r.status().as_u16()).ok();
            if status == Some(200) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "pier never became ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            url,
            stderr: captured,
        }
    }

    /// What it wrote to stderr so far (all of it, once it has exited).
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// A recording client over HTTP.
    pub async fn client(&self) -> Client {
        let transport = StreamableHttpClientTransport::from_uri(self.url.clone());
        Recorder::default()
            .serve(transport)
            .await
            .expect("initialize over HTTP")
    }

    /// Sends `signal` (e.g. `-TERM`, `-KILL`) and waits for the exit.
    pub fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .arg(signal)
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

impl Drop for ChildPier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
