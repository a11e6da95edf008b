//! Progress where people wait: first-use toolchain installs and cold AOT compilation.
//!
//! On a terminal a phase is a spinner line with its elapsed time, left behind as one
//! line saying how long it took; elsewhere (a pipe, a file, a JSON log) it is two plain
//! lines, one when it starts and one when it ends: `pier: …` lines for a command a
//! person runs, log records for a server ([`serving`]). Log lines written meanwhile go
//! through [`log_writer`], which lifts the spinners out of their way.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Every spinner shown at once, drawn on standard error.
static BARS: LazyLock<MultiProgress> =
    LazyLock::new(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));

/// Whether spinners may be drawn (off for JSON logs, whose every line is a record).
static SPINNERS: AtomicBool = AtomicBool::new(true);

/// Whether plain lines are log records (a server, whose output is its log) rather
/// than `pier: …` lines (a command a person runs: `pier build`, `pier call`).
static AS_LOG: AtomicBool = AtomicBool::new(false);

/// A server's output is its log: phases are told as log records at the info level,
/// and with `json`, never as spinners (every line of a JSON log is a record).
pub fn serving(json: bool) {
    AS_LOG.store(true, Ordering::Relaxed);
    if json {
        SPINNERS.store(false, Ordering::Relaxed);
    }
}

fn spinners() -> bool {
    SPINNERS.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// Whether a spinner was ever drawn: until then (always, for a server whose output is
/// not a terminal) a line is written as is, with no spinner to lift.
static DRAWN: AtomicBool = AtomicBool::new(false);

/// Runs `write` (a whole line or record on standard error) out of the spinners' way.
fn clear_of_spinners(write: impl FnOnce()) {
    if DRAWN.load(Ordering::Relaxed) {
        BARS.suspend(write);
    } else {
        write();
    }
}

/// Something a person waits on, from [`Phase::start`] to [`Phase::done`] or
/// [`Phase::failed`] (dropped without either, it ends as stopped).
pub struct Phase {
    what: String,
    started: Instant,
    bar: Option<ProgressBar>,
    ended: bool,
}

impl Phase {
    /// Starts telling `what` is under way (a present participle: "installing X").
    pub fn start(what: impl Into<String>) -> Self {
        let what = what.into();
        let bar = if spinners() {
            DRAWN.store(true, Ordering::Relaxed);
            let bar = BARS.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("pier: {spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(what.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            Some(bar)
        } else {
            say(&format!("{what}…"));
            None
        };
        Self {
            what,
            started: Instant::now(),
            bar,
            ended: false,
        }
    }

    /// Ends the phase as done.
    pub fn done(mut self) {
        self.end("done");
    }

    /// Ends the phase as failed (the error is told by whoever reports it).
    pub fn failed(mut self) {
        self.end("failed");
    }

    fn end(&mut self, how: &str) {
        self.ended = true;
        let line = format!(
            "{}: {how} after {}",
            self.what,
            seconds(self.started.elapsed())
        );
        match self.bar.take() {
            Some(bar) => {
                bar.finish_and_clear();
                BARS.remove(&bar);
                BARS.suspend(|| eprintln!("pier: {line}"));
            }
            None => say(&line),
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        if !self.ended {
            self.end("stopped");
        }
    }
}

/// `d` for people: `0.4 s`, `12.3 s`, `2 min 5 s`.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        format!("{} min {} s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

fn say(line: &str) {
    if AS_LOG.load(Ordering::Relaxed) {
        tracing::info!("{line}");
    } else {
        eprintln!("pier: {line}");
    }
}

/// Writes `line` on standard error out of the spinners' way.
pub fn eprintln(line: &str) {
    clear_of_spinners(|| eprintln!("{line}"));
}

/// The log's writer: standard error, each record written whole while the spinners
/// are lifted, so that a spinner never cuts a log line.
pub fn log_writer() -> LogWriter {
    LogWriter
}

/// See [`log_writer`].
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = Record;

    fn make_writer(&'a self) -> Record {
        Record(Vec::new())
    }
}

/// One log record, written on standard error when dropped.
pub struct Record(Vec<u8>);

impl Write for Record {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let record = std::mem::take(&mut self.0);
        clear_of_spinners(|| {
            let _ = std::io::stderr().lock().write_all(&record);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::seconds;
    use std::time::Duration;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(seconds(Duration::from_millis(420)), "0.4 s");
        assert_eq!(seconds(Duration::from_millis(12_340)), "12.3 s");
        assert_eq!(seconds(Duration::from_secs(125)), "2 min 5 s");
    }
}
