//! The Grafana dashboard (`deploy/grafana/pier.json`) asks only for metrics pier
//! exports, with labels those metrics have, and shows what an operator looks at first.

mod common;

use std::collections::BTreeSet;

use pier::telemetry::{METRICS, MetricKind};
use serde_json::Value;

/// Labels every series has once scraped.
const SCRAPE_LABELS: &[&str] = &["instance", "job"];

/// Every `expr` of the dashboard, with its panel's legend formats.
fn queries(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(expr)) = map.get("expr") {
                let legend = map
                    .get("legendFormat")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push((expr.clone(), legend.to_string()));
            }
            map.values().for_each(|v| queries(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| queries(v, out)),
        _ => {}
    }
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The labels a series named `name` has (a histogram's `_bucket` also `le`), or why
/// pier exports no such series.
fn labels_of(name: &str) -> Result<Vec<&'static str>, String> {
    if let Some(metric) = METRICS.iter().find(|m| m.name == name) {
        return Ok(metric.labels.to_vec());
    }
    for suffix in ["_bucket", "_count", "_sum"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(metric) = METRICS.iter().find(|m| m.name == base)
        {
            if metric.kind != MetricKind::Histogram {
                return Err(format!(
                    "{base} is a {}, it has no {suffix}",
                    metric.kind.name()
                ));
            }
            let mut labels = metric.labels.to_vec();
            if suffix == "_bucket" {
                labels.push("le");
            }
            return Ok(labels);
        }
    }
    Err(format!("pier exports no metric {name}"))
}

/// What is wrong with `expr` (legend `legend`): a metric pier does not export, a
/// label its metrics do not have; and the metrics it names.
fn check(expr: &str, legend: &str) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    let mut labels: BTreeSet<&str> = SCRAPE_LABELS.iter().copied().collect();
    // Selectors: `name{matchers}`.
    let mut rest = expr;
    while let Some(open) = rest.find('{') {
        let name: String = rest[..open]
            .chars()
            .rev()
            .take_while(|c| is_name(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("unclosed selector in {expr}"))?;
        let matchers = &rest[open + 1..open + close];
        let own = labels_of(&name)?;
        for matcher in matchers.split(',').filter(|m| !m.trim().is_empty()) {
            let label = matcher.split(['=', '!']).next().unwrap_or_default().trim();
            if !own.contains(&label) && !SCRAPE_LABELS.contains(&label) {
                return Err(format!("{name} has no label {label}"));
            }
        }
        labels.extend(own);
        names.insert(name);
        rest = &rest[open + close..];
    }
    if names.is_empty() {
        return Err(format!("no metric in {expr}"));
    }
    // Aggregations: `by (a, b)`.
    let mut grouped = BTreeSet::new();
    for piece in expr.split("by (").skip(1) {
        let list = piece.split(')').next().unwrap_or_default();
        for label in list.split(',').map(str::trim) {
            if !labels.contains(label) {
                return Err(format!("no metric of {expr} has the label {label}"));
            }
            grouped.insert(label.to_string());
        }
    }
    // Legends show grouped labels only.
    for piece in legend.split("{{").skip(1) {
        let label = piece.split("}}").next().unwrap_or_default().trim();
        if !grouped.contains(label) {
            return Err(format!(
                "the legend names {label}, which {expr} does not keep"
            ));
        }
    }
    Ok(names)
}

#[test]
fn the_dashboard_asks_only_for_metrics_and_labels_pier_exports() {
    let path = common::root().join("deploy/grafana/pier.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(dashboard["uid"], "pier-overview");
    let mut found = Vec::new();
    queries(&dashboard, &mut found);
    let mut used = BTreeSet::new();
    for (expr, legend) in &found {
        match check(expr, legend) {
            Ok(names) => used.extend(names),
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    // What an operator looks at first is there.
    for needed in [
        "mcp_server_operation_duration_seconds_count",
        "mcp_server_operation_duration_seconds_bucket",
        "mcp_server_session_duration_seconds_bucket",
        "pier_mount_calls_total",
        "pier_mount_call_duration_seconds_bucket",
        "pier_instantiations_total",
        "pier_warm_hits_total",
        "pier_egress_requests_total",
        "pier_auth_refusals_total",
        "pier_plugin_changes_total",
    ] {
        assert!(used.contains(needed), "the dashboard shows {needed}");
    }
    // Every panel has a place, a title, and unique id.
    let panels = dashboard["panels"].as_array().unwrap();
    let ids: BTreeSet<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), panels.len());
    for panel in panels {
        assert!(panel["title"].as_str().is_some_and(|t| !t.is_empty()));
        let grid = &panel["gridPos"];
        assert!(
            grid["w"].as_u64().unwrap() + grid["x"].as_u64().unwrap() <= 24,
            "{panel}"
        );
    }
}

#[test]
fn the_dashboard_check_catches_a_wrong_metric_a_wrong_label_and_a_wrong_legend() {
    assert_eq!(
        check("sum(rate(pier_made_up_total{instance=~\"$i\"}[1m]))", ""),
        Err("pier exports no metric pier_made_up_total".into())
    );
    assert_eq!(
        check("sum(rate(pier_store_up_count{}[1m]))", ""),
        Err("pier_store_up is a gauge, it has no _count".into())
    );
    assert_eq!(
        check("sum(rate(pier_mount_calls_total{tool=\"x\"}[1m]))", ""),
        Err("pier_mount_calls_total has no label tool".into())
    );
    assert_eq!(
        check("sum by (plugin) (rate(pier_mount_calls_total{}[1m]))", ""),
        Err("no metric of sum by (plugin) (rate(pier_mount_calls_total{}[1m])) has the label plugin".into())
    );
    assert_eq!(
        check("sum by (mount) (rate(pier_mount_calls_total{}[1m]))", "{{outcome}}"),
        Err("the legend names outcome, which sum by (mount) (rate(pier_mount_calls_total{}[1m])) does not keep".into())
    );
    assert!(
        check(
            "sum by (mount, outcome) (rate(pier_mount_calls_total{}[1m]))",
            "{{mount}} {{outcome}}"
        )
        .is_ok()
    );
}
