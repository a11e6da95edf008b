//! Guest stdout/stderr: captured line by line into `tracing` under the plugin's name.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::budget::OutputBudget;

/// Longest line kept before it is logged in pieces.
const MAX_LINE: usize = 4096;
/// How much of the most recent stderr text is kept to explain a trap (a panic message).
const TAIL: usize = 1024;

/// A guest output stream (stdout or stderr) that logs each line it receives.
#[derive(Clone)]
pub struct LogStream {
    plugin: Arc<str>,
    stream: &'static str,
    tail: Arc<Mutex<String>>,
    budget: OutputBudget,
}

impl LogStream {
    /// A stream for `plugin`'s `stream` ("stdout" or "stderr"), its lines taken from
    /// the call's `budget`.
    pub fn new(plugin: Arc<str>, stream: &'static str, budget: OutputBudget) -> Self {
        Self {
            plugin,
            stream,
            tail: Arc::default(),
            budget,
        }
    }

    /// Forgets the tail: a warm instance's next call explains its own trap only.
    pub fn clear_tail(&self) {
        if let Ok(mut tail) = self.tail.lock() {
            tail.clear();
        }
    }

    /// The last lines written (at most about 1 KiB), e.g. a guest's panic message.
    pub fn tail(&self) -> String {
        self.tail.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            out: self.clone(),
            line: Vec::new(),
        })
    }
}

struct LineWriter {
    out: LogStream,
    line: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if self.out.budget.take(text.len()) {
            tracing::info!(plugin = %self.out.plugin, stream = self.out.stream, "{text}");
        }
        // The tail (what explains a trap) is kept even past the budget: it is bounded.
        if let Ok(mut tail) = self.out.tail.lock() {
            tail.push_str(&text);
            tail.push('\n');
            if tail.len() > TAIL {
                let mut cut = tail.len() - TAIL;
                while !tail.is_char_boundary(cut) {
                    cut += 1;
                }
                tail.drain(..cut);
            }
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        for &byte in buf {
            if byte == b'\n' {
                self.emit();
            } else {
                self.line.push(byte);
                if self.line.len() >= MAX_LINE {
                    self.emit();
                }
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            self.emit();
        }
    }
}
