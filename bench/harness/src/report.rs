//! The results table: rows of scenarios, a column per server, ratios of pier (Rust
//! plugin) against FastMCP and native rmcp, written as `latest.md` and `latest.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::process::Memory;
use crate::stats::Report;

/// The servers compared, in column order: (id, column title).
pub const SERVERS: &[(&str, &str)] = &[
    ("fastmcp", "FastMCP"),
    ("native", "native rmcp"),
    ("pier-rust", "pier · Rust"),
    ("pier-py", "pier · Python"),
    ("pier-js", "pier · JS"),
];

/// Which way a number is good.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Throughput.
    Higher,
    /// Time, memory.
    Lower,
}

/// One server's number in a row.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// The number compared (in the row's unit).
    pub value: f64,
    /// What the table shows.
    pub text: String,
    /// The load report, for load rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<Report>,
}

/// One scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What was measured.
    pub scenario: String,
    /// Unit of `Cell::value`.
    pub unit: &'static str,
    /// Which way is good.
    pub better: Better,
    /// Cells by server id; a missing server did not run this scenario.
    pub cells: BTreeMap<&'static str, Cell>,
    /// Why the row is empty, or a remark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Row {
    /// An empty row.
    pub fn new(scenario: impl Into<String>, unit: &'static str, better: Better) -> Self {
        Self {
            scenario: scenario.into(),
            unit,
            better,
            cells: BTreeMap::new(),
            note: None,
        }
    }

    /// A row for a scenario whose feature has not landed yet.
    pub fn pending(scenario: &str, why: &str) -> Self {
        let mut row = Self::new(scenario, "", Better::Lower);
        row.note = Some(why.to_string());
        row
    }

    /// Sets the cell of `server` to a plain number.
    pub fn set(&mut self, server: &'static str, value: f64) {
        let text = match self.unit {
            "ms" => format!("{value:.1} ms"),
            "µs" => format!("{value:.1} µs"),
            "MiB" => format!("{value:.1} MiB"),
            unit => format!("{value:.0} {unit}"),
        };
        self.cells.insert(
            server,
            Cell {
                value,
                text,
                load: None,
            },
        );
    }

    /// Sets `server`'s cell of a memory row to its [`Memory::pss`], and names its
    /// [`Memory::rss`] in the note.
    pub fn set_memory(&mut self, server: &'static str, memory: Memory) {
        self.set(server, memory.pss);
        let note = self.note.get_or_insert_default();
        if note.contains("RSS: ") {
            note.push_str(", ");
        } else {
            note.push_str("RSS: ");
        }
        note.push_str(&format!("{server} {:.1} MiB", memory.rss));
    }

    /// Sets the cell of `server` from a load report (requests/s, with latencies).
    pub fn set_load(&mut self, server: &'static str, report: Report) {
        let mut text = format!(
            "{:.0} req/s<br>p50 {} · p99 {}",
            report.rps,
            micros(report.p50_us),
            micros(report.p99_us)
        );
        if report.errors > 0 {
            text.push_str(&format!("<br>**{} errors**", report.errors));
        }
        self.cells.insert(
            server,
            Cell {
                value: report.rps,
                text,
                load: Some(report),
            },
        );
    }

    /// How many times better pier (Rust plugin) is than `peer` (>1: pier is better).
    pub fn advantage(&self, peer: &str) -> Option<f64> {
        let pier = self.cells.get("pier-rust")?.value;
        let other = self.cells.get(peer)?.value;
        if pier <= 0.0 || other <= 0.0 {
            return None;
        }
        Some(match self.better {
            Better::Higher => pier / other,
            Better::Lower => other / pier,
        })
    }
}

fn micros(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// Everything `make bench` measured.
#[derive(Debug, Serialize)]
pub struct Results {
    /// When (UTC).
    pub date: String,
    /// The machine: CPU, cores, memory.
    pub machine: BTreeMap<&'static str, String>,
    /// Versions of what was compared.
    pub versions: BTreeMap<&'static str, String>,
    /// How load rows were run.
    pub method: String,
    /// The scenarios.
    pub rows: Vec<Row>,
}

impl Results {
    /// The markdown table.
    pub fn markdown(&self) -> String {
        let mut out = format!("# pier benchmark, {}\n\n", self.date);
        let join = |m: &BTreeMap<&str, String>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!("Machine: {}.  \n", join(&self.machine)));
        out.push_str(&format!("Versions: {}.  \n", join(&self.versions)));
        out.push_str(&format!("{}\n\n", self.method));
        out.push_str("| scenario |");
        for (_, title) in SERVERS {
            out.push_str(&format!(" {title} |"));
        }
        out.push_str(" pier vs FastMCP | pier vs native |\n|---|");
        out.push_str(&"---|".repeat(SERVERS.len() + 2));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&format!("| {} |", row.scenario));
            for (id, _) in SERVERS {
                let text = row.cells.get(id).map_or("—", |c| c.text.as_str());
                out.push_str(&format!(" {text} |"));
            }
            for peer in ["fastmcp", "native"] {
                let ratio = row
                    .advantage(peer)
                    .map_or("—".to_string(), |r| format!("{r:.2}×"));
                out.push_str(&format!(" {ratio} |"));
            }
            out.push('\n');
        }
        let notes: Vec<String> = self
            .rows
            .iter()
            .filter_map(|r| r.note.as_ref().map(|n| format!("- {}: {n}", r.scenario)))
            .collect();
        out.push_str(
            "\n\"pier vs …\" is how many times better pier with the Rust plugin does than \
             that server on the row's measure (>1: pier is better; throughput for req/s rows, \
             time or memory otherwise).\n",
        );
        if !notes.is_empty() {
            out.push_str(&format!("\nNotes:\n{}\n", notes.join("\n")));
        }
        out
    }

    /// Writes `latest.md` and `latest.json` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("latest.md"), self.markdown())?;
        std::fs::write(
            dir.join("latest.json"),
            serde_json::to_string_pretty(self)? + "\n",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advantage_is_above_one_when_pier_does_better() {
        let mut rps = Row::new("calls", "req/s", Better::Higher);
        rps.set("pier-rust", 2000.0);
        rps.set("fastmcp", 100.0);
        assert_eq!(rps.advantage("fastmcp"), Some(20.0));
        assert_eq!(rps.advantage("native"), None);
        let mut time = Row::new("start", "ms", Better::Lower);
        time.set("pier-rust", 50.0);
        time.set("native", 10.0);
        assert_eq!(time.advantage("native"), Some(0.2));
    }
}
