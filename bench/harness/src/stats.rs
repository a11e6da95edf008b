//! Latency samples to a report: requests/s and percentiles.

use std::time::Duration;

use serde::Serialize;

/// What one load run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Successful requests.
    pub requests: u64,
    /// Failed requests (transport error, JSON-RPC error, or a tool result with `isError`).
    pub errors: u64,
    /// Measured time (after the warm-up), in seconds.
    pub seconds: f64,
    /// Successful requests per second.
    pub rps: f64,
    /// Latency percentiles of successful requests, in microseconds.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Slowest.
    pub max_us: f64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
}

impl Report {
    /// A report of `latencies` (successful requests) and `errors` over `elapsed`.
    pub fn new(
        mut latencies: Vec<Duration>,
        errors: u64,
        first_error: Option<String>,
        elapsed: Duration,
    ) -> Self {
        latencies.sort_unstable();
        let at = |q: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
            latencies[index].as_secs_f64() * 1e6
        };
        let seconds = elapsed.as_secs_f64();
        Self {
            requests: latencies.len() as u64,
            errors,
            seconds,
            rps: latencies.len() as f64 / seconds.max(f64::EPSILON),
            p50_us: at(0.5),
            p90_us: at(0.9),
            p99_us: at(0.99),
            max_us: at(1.0),
            first_error,
        }
    }

    /// One line for a terminal.
    pub fn line(&self) -> String {
        format!(
            "{:.0} req/s  p50 {:.0} µs  p90 {:.0} µs  p99 {:.0} µs  max {:.0} µs  ({} ok, {} errors in {:.1} s){}",
            self.rps,
            self.p50_us,
            self.p90_us,
            self.p99_us,
            self.max_us,
            self.requests,
            self.errors,
            self.seconds,
            self.first_error
                .as_ref()
                .map(|e| format!("\n  first error: {e}"))
                .unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let latencies = (1..=100).map(Duration::from_micros).collect();
        let r = Report::new(latencies, 2, None, Duration::from_secs(2));
        assert_eq!(r.requests, 100);
        assert_eq!(r.rps, 50.0);
        assert_eq!(r.p50_us, 51.0);
        assert_eq!(r.p90_us, 90.0);
        assert_eq!(r.p99_us, 99.0);
        assert_eq!(r.max_us, 100.0);
    }
}
