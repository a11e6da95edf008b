//! Requests/s, errors/s and p99 latency per mount over the last minutes, for the
//! console's charts: every [`EVERY`] the sampler reads pier's own series
//! (`pier_mount_calls_total`, `pier_mount_call_duration_seconds`) from the Prometheus
//! text `/metrics` serves, and keeps the difference from the reading before. The p99
//! is estimated from the histogram's buckets as Prometheus' `histogram_quantile` does.
//!
//! Bounded: [`POINTS`] points, [`MAX_MOUNTS`] mounts a point.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::App;

/// How often the series are read.
pub const EVERY: Duration = Duration::from_secs(5);

/// Points kept: six minutes.
pub const POINTS: usize = 72;

/// Mounts a point keeps (the busiest).
pub const MAX_MOUNTS: usize = 64;

/// One mount's counters at one reading.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Calls so far.
    pub calls: f64,
    /// Calls that ended `tool_error` or `error`.
    pub errors: f64,
    /// The latency histogram: upper bound in seconds, calls at most that long.
    pub buckets: Vec<(f64, f64)>,
}

/// One mount's rates between two readings.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// Calls a second.
    pub rps: f64,
    /// Failed calls a second.
    pub errors: f64,
    /// The 99th percentile of latency, in milliseconds (none without calls).
    pub p99_ms: Option<f64>,
}

struct Reading {
    at: Instant,
    mounts: BTreeMap<String, Counts>,
}

#[derive(Default)]
struct Inner {
    last: Option<Reading>,
    points: VecDeque<(u64, BTreeMap<String, Rates>)>,
}

/// The points of the last minutes.
#[derive(Default)]
pub struct Series {
    inner: Mutex<Inner>,
}

impl Series {
    /// Takes a reading of the Prometheus `text` made at `at` (`at_ms` since the epoch).
    pub fn record(&self, text: &str, at: Instant, at_ms: u64) {
        let mounts = parse(text);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = &inner.last {
            let seconds = at.saturating_duration_since(last.at).as_secs_f64();
            if seconds > 0.0 {
                let point = rates(&last.mounts, &mounts, seconds);
                inner.points.push_back((at_ms, point));
                while inner.points.len() > POINTS {
                    inner.points.pop_front();
                }
            }
        }
        inner.last = Some(Reading { at, mounts });
    }

    /// `{"every_seconds", "points_kept", "points": [{"at", "mounts": {NS: {"rps",
    /// "errors", "p99_ms"}}}]}`.
    pub fn json(&self) -> Value {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let points: Vec<Value> = inner
            .points
            .iter()
            .map(|(at, mounts)| {
                let mounts: serde_json::Map<String, Value> = mounts
                    .iter()
                    .map(|(ns, r)| {
                        let value = json!({ "rps": r.rps, "errors": r.errors, "p99_ms": r.p99_ms });
                        (ns.clone(), value)
                    })
                    .collect();
                json!({ "at": at, "mounts": mounts })
            })
            .collect();
        json!({ "every_seconds": EVERY.as_secs(), "points_kept": POINTS, "points": points })
    }
}

/// Each mount's rates from reading `before` to `now`, `seconds` apart: the busiest
/// [`MAX_MOUNTS`].
fn rates(
    before: &BTreeMap<String, Counts>,
    now: &BTreeMap<String, Counts>,
    seconds: f64,
) -> BTreeMap<String, Rates> {
    let mut all: Vec<(String, Rates)> = now
        .iter()
        .map(|(ns, counts)| {
            let empty = Counts::default();
            let was = before.get(ns).unwrap_or(&empty);
            let calls = (counts.calls - was.calls).max(0.0);
            let errors = (counts.errors - was.errors).max(0.0);
            let buckets: Vec<(f64, f64)> = counts
                .buckets
                .iter()
                .map(|&(le, n)| {
                    let had = was
                        .buckets
                        .iter()
                        .find(|(l, _)| *l == le)
                        .map_or(0.0, |b| b.1);
                    (le, (n - had).max(0.0))
                })
                .collect();
            let rates = Rates {
                rps: calls / seconds,
                errors: errors / seconds,
                p99_ms: quantile(0.99, &buckets).map(|s| s * 1000.0),
            };
            (ns.clone(), rates)
        })
        .collect();
    all.sort_by(|a, b| b.1.rps.total_cmp(&a.1.rps));
    all.truncate(MAX_MOUNTS);
    all.into_iter().collect()
}

/// The `q` quantile of a cumulative histogram (upper bound, count; `+Inf` last), by
/// linear interpolation inside the bucket it falls in; `None` without observations.
/// In the `+Inf` bucket it is the largest finite bound.
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let inside = count - lower.1;
            let fraction = if inside > 0.0 {
                (rank - lower.1) / inside
            } else {
                1.0
            };
            return Some(lower.0 + (le - lower.0) * fraction);
        }
        lower = (le, count);
    }
    Some(lower.0)
}

/// Each mount's counters in the Prometheus `text`.
pub fn parse(text: &str) -> BTreeMap<String, Counts> {
    let mut mounts: BTreeMap<String, Counts> = BTreeMap::new();
    for line in text.lines() {
        let Some((name, labels, value)) = sample(line) else {
            continue;
        };
        let label = |key: &str| labels.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let Some(mount) = label("mount") else {
            continue;
        };
        const BUCKET: &str = concat!("pier_mount_call_duration_seconds", "_bucket");
        match name {
            "pier_mount_calls_total" => {
                let counts = mounts.entry(mount.clone()).or_default();
                counts.calls += value;
                if label("outcome").is_some_and(|o| o != "ok") {
                    counts.errors += value;
                }
            }
            BUCKET => {
                let Some(le) = label("le").and_then(|le| match le.as_str() {
                    "+Inf" => Some(f64::INFINITY),
                    le => le.parse().ok(),
                }) else {
                    continue;
                };
                let counts = mounts.entry(mount.clone()).or_default();
                counts.buckets.push((le, value));
            }
            _ => {}
        }
    }
    for counts in mounts.values_mut() {
        counts.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    mounts
}

/// A sample's labels: name and value each.
type Labels = Vec<(String, String)>;

/// A sample line: its name, labels and value (`None` for comments and what is not one).
fn sample(line: &str) -> Option<(&str, Labels, f64)> {
    if line.starts_with('#') {
        return None;
    }
    let end = line.find(['{', ' '])?;
    let name = &line[..end];
    let mut labels = Vec::new();
    let mut rest = &line[end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        let mut close = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '}' => {
                    close = Some(i);
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    if chars.next().map(|(_, c)| c) != Some('"') {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                other => key.push(other),
            }
        }
        rest = inner.get(close? + 1..)?;
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some((name, labels, value))
}

/// Each mount's calls and errors so far, read now.
pub fn totals(app: &App) -> Value {
    let text = app
        .metrics()
        .render(&app.registry().snapshot(), app.refusals().len());
    let totals: serde_json::Map<String, Value> = parse(&text)
        .into_iter()
        .map(|(ns, c)| (ns, json!({ "calls": c.calls, "errors": c.errors })))
        .collect();
    Value::Object(totals)
}

/// Reads the series every [`EVERY`] for as long as `app` lives.
pub fn spawn_sampler(app: &Arc<App>, series: &Arc<Series>) {
    let series = series.clone();
    crate::spawn_every(app, EVERY, move |app| {
        let series = series.clone();
        async move {
            let text = app
                .metrics()
                .render(&app.registry().snapshot(), app.refusals().len());
            let at_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            series.record(&text, Instant::now(), at_ms);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# TYPE pier_mount_calls_total counter
pier_mount_calls_total{mount="calc",outcome="ok"} 90
pier_mount_calls_total{mount="calc",outcome="tool_error"} 6
pier_mount_calls_total{mount="calc",outcome="error"} 4
pier_mount_calls_total{mount="we\"ird",outcome="ok"} 1
pier_tool_calls_total{tool="calc_add",outcome="ok"} 90
pier_mount_call_duration_seconds_bucket{mount="calc",le="0.001"} 50
pier_mount_call_duration_seconds_bucket{mount="calc",le="0.01"} 98
pier_mount_call_duration_seconds_bucket{mount="calc",le="+Inf"} 100
pier_mount_call_duration_seconds_sum{mount="calc"} 0.2
not a sample
pier_mount_calls_total{mount="broken} 3
"#;

    #[test]
    fn mounts_counters_are_read_from_the_prometheus_text() {
        let mounts = parse(TEXT);
        assert_eq!(mounts.len(), 2, "{mounts:?}");
        let calc = &mounts["calc"];
        assert_eq!((calc.calls, calc.errors), (100.0, 10.0));
        assert_eq!(
            calc.buckets,
            vec![(0.001, 50.0), (0.01, 98.0), (f64::INFINITY, 100.0)]
        );
        assert_eq!(mounts["we\"ird"].calls, 1.0);
    }

    #[test]
    fn the_quantile_interpolates_inside_its_bucket_as_prometheus_does() {
        let buckets = [(0.001, 50.0), (0.01, 100.0), (f64::INFINITY, 100.0)];
        // Rank 99 of 100 falls in (0.001, 0.01]: 49 of its 50 calls in.
        let p99 = quantile(0.99, &buckets).unwrap();
        assert!((p99 - (0.001 + 0.009 * 49.0 / 50.0)).abs() < 1e-12, "{p99}");
        assert_eq!(quantile(0.5, &buckets), Some(0.001));
        // Beyond the last finite bound: that bound.
        assert_eq!(
            quantile(0.99, &[(0.001, 1.0), (f64::INFINITY, 100.0)]),
            Some(0.001)
        );
        assert_eq!(quantile(0.99, &[(0.001, 0.0), (f64::INFINITY, 0.0)]), None);
        assert_eq!(quantile(0.99, &[]), None);
    }

    #[test]
    fn a_point_is_the_difference_between_two_readings_and_points_are_bounded() {
        let series = Series::default();
        let start = Instant::now();
        let before = "pier_mount_calls_total{mount=\"calc\",outcome=\"ok\"} 10\n\
            pier_mount_call_duration_seconds_bucket{mount=\"calc\",le=\"0.001\"} 10\n\
            pier_mount_call_duration_seconds_bucket{mount=\"calc\",le=\"+Inf\"} 10\n";
        series.record(before, start, 1000);
        assert_eq!(
            series.json()["points"],
            json!([]),
            "one reading is no point"
        );
        let after = "pier_mount_calls_total{mount=\"calc\",outcome=\"ok\"} 60\n\
            pier_mount_calls_total{mount=\"calc\",outcome=\"error\"} 5\n\
            pier_mount_call_duration_seconds_bucket{mount=\"calc\",le=\"0.001\"} 10\n\
            pier_mount_call_duration_seconds_bucket{mount=\"calc\",le=\"+Inf\"} 65\n";
        series.record(after, start + Duration::from_secs(5), 6000);
        let json = series.json();
        assert_eq!(json["every_seconds"], 5);
        let point = &json["points"][0];
        assert_eq!(point["at"], 6000);
        assert_eq!(point["mounts"]["calc"]["rps"], 11.0);
        assert_eq!(point["mounts"]["calc"]["errors"], 1.0);
        // Every call of the interval took more than 1 ms: the p99 is that bound.
        assert_eq!(point["mounts"]["calc"]["p99_ms"], 1.0);
        for n in 0..POINTS as u64 + 10 {
            series.record(after, start + Duration::from_secs(10 + n), n);
        }
        let points = series.json()["points"].as_array().unwrap().len();
        assert_eq!(points, POINTS);
    }

    #[test]
    fn a_point_keeps_the_busiest_mounts() {
        let mut now = BTreeMap::new();
        for n in 0..MAX_MOUNTS + 5 {
            now.insert(
                format!("m{n:03}"),
                Counts {
                    calls: n as f64,
                    ..Counts::default()
                },
            );
        }
        let point = rates(&BTreeMap::new(), &now, 1.0);
        assert_eq!(point.len(), MAX_MOUNTS);
        assert!(!point.contains_key("m000"));
        assert!(point.contains_key(&format!("m{:03}", MAX_MOUNTS + 4)));
    }
}
