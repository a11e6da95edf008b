//! The book's reference pages are what the code generates, and what they list is all
//! there is.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_committed_reference_pages_are_what_the_code_generates() {
    let dir = root().join("docs/src/reference");
    let mut stale = Vec::new();
    for name in pier::docs::PAGES {
        let path = dir.join(format!("{name}.md"));
        let generated = pier::docs::page(name).unwrap();
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale reference pages (run `make docs-reference`, or this test with UPDATE_GOLDEN=1): {stale:?}"
    );
}

/// Prefixes of the metrics pier exports: its own, and the MCP conventions'.
const PREFIXES: &[&str] = &["pier_", "mcp_server_"];

/// Every `"pier_…"` or `"mcp_server_…"` string literal of the Rust files under `dir`.
fn metric_names_in(dir: &Path, names: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            metric_names_in(&path, names);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for prefix in PREFIXES {
                // The registry's own entries are not uses.
                let registry = format!("metric(\"{prefix}");
                let text: String = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with(&registry))
                    .collect::<Vec<_>>()
                    .join("\n");
                for piece in text.split(&format!("\"{prefix}")).skip(1) {
                    let name: String = piece
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    // (A bare prefix is a matcher, not a name.)
                    if !name.is_empty() && piece[name.len()..].starts_with('"') {
                        names.insert(format!("{prefix}{name}"));
                    }
                }
            }
        }
    }
}

#[test]
fn every_metric_the_code_names_is_in_the_registry_and_no_other() {
    let mut used = BTreeSet::new();
    metric_names_in(&root().join("host/src"), &mut used);
    // Not metrics: the Python SDK's package name, handed to the builder.
    used.remove("pier_sdk");
    let registered: BTreeSet<String> = pier::telemetry::METRICS
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    assert_eq!(
        registered.len(),
        pier::telemetry::METRICS.len(),
        "a metric is registered twice"
    );
    assert_eq!(
        used, registered,
        "the names the code uses and the registry in telemetry.rs differ"
    );
}
