//! The optional sidecar `NAME.toml` an operator writes beside `NAME.wasm`.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::runtime::Limits;
use crate::runtime::grants::GrantRequest;
use crate::runtime::limits::{Instances, ReusePolicy, ReuseScope};

/// Settings of one plugin, from its sidecar. Unknown keys are errors.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Sidecar {
    /// Namespace of the plugin's components; default: the file stem; `""` = none.
    pub namespace: Option<String>,
    /// `false` leaves the plugin unmounted.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Limits, capped by the operator's limits.
    #[serde(default)]
    pub limits: SidecarLimits,
    /// How `pier dev` builds the plugin from its source folder (a shell command writing
    /// `$PIER_OUT`); ignored when serving.
    pub build: Option<String>,
    /// Whether calls of the plugin's tools may go on as tasks (MCP 2026-07-28):
    /// `"optional"`, `"required"` or `"forbidden"` (the default), for every tool whose
    /// own annotations do not say.
    pub tasks: Option<super::manifest::TaskSupport>,
    /// `"fresh"` (a new instance per call), `"reuse"` (a warm instance of the same
    /// scope may serve the next call) or `"auto"` (reuse for Python and JavaScript
    /// guests); default: the operator's `[defaults] instances`.
    pub instances: Option<Instances>,
    /// Who may share a warm instance: `"session"` (default) or `"plugin"` (any
    /// caller; only where the operator's `[limits] reuse-scope` allows it).
    pub reuse_scope: Option<ReuseScope>,
    /// What the plugin may reach beyond its sandbox, capped by the operator's `[grants]`.
    #[serde(default)]
    pub grants: GrantRequest,
    /// Configuration values the plugin reads through `wasi:config/store` (secrets
    /// belong in the operator's `[secrets]`, not here).
    #[serde(default)]
    pub config: std::collections::BTreeMap<String, String>,
    /// Scopes a caller's token must all carry to see or use any of the plugin's
    /// components (beside the operator's `[[auth.rule]]`: it can only restrict).
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// How the plugin's tools are changed before clients see them (`[[tool]]`).
    #[serde(default)]
    pub tool: Vec<super::transform::ToolTransform>,
}

fn yes() -> bool {
    true
}

/// Where in `text` an error at `span` is, as ``line N, `table.key`: `` (the key as
/// written on that line, under the table the line is in); empty when it is unknown.
fn where_in(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(before) = span.and_then(|span| text.get(..span.start)) else {
        return String::new();
    };
    let number = before.matches('\n').count() + 1;
    let mut table = "";
    let mut key = None;
    for line in text.lines().take(number) {
        let line = line.trim();
        if line.starts_with('[') {
            table = line.trim_matches(|c| c == '[' || c == ']').trim();
            key = None;
        } else {
            key = line.split_once('=').map(|(k, _)| k.trim());
        }
    }
    match key.filter(|k| !k.is_empty() && k.len() <= 64) {
        Some(key) if table.is_empty() => format!("line {number}, `{key}`: "),
        Some(key) => format!("line {number}, `{table}.{key}`: "),
        None => format!("line {number}: "),
    }
}

/// The `[limits]` table of a sidecar.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SidecarLimits {
    /// Wall-clock time one call may take, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Linear memory one call may use, in MiB.
    pub memory_mb: Option<usize>,
    /// The most storage keys the plugin may hold.
    pub storage_keys: Option<usize>,
    /// The largest value the plugin may store, in bytes.
    pub storage_value_bytes: Option<usize>,
    /// Log messages, progress notifications and output lines one call may send.
    pub log_messages: Option<usize>,
    /// Bytes of those one call may send.
    pub log_bytes: Option<usize>,
    /// Calls served at once.
    pub max_concurrent_calls: Option<usize>,
    /// Outbound HTTP requests one call may make.
    pub http_requests: Option<usize>,
    /// Outbound HTTP response bytes one call may receive.
    pub http_response_bytes: Option<usize>,
    /// Calls one warm instance serves before it is dropped (`instances = "reuse"`).
    pub max_calls: Option<u32>,
    /// Milliseconds a warm instance may wait for its next call.
    pub idle_ms: Option<u64>,
    /// Warm instances that may wait at once, all scopes together.
    pub warm_instances: Option<usize>,
}

impl Sidecar {
    /// The sidecar beside `wasm` (`NAME.toml`), or the defaults when there is none.
    pub fn read_for(wasm: &Path) -> Result<Self, String> {
        Self::parse_for(wasm, Self::text_for(wasm)?.as_deref())
    }

    /// The text of the sidecar beside `wasm`, `None` when there is none.
    pub fn text_for(wasm: &Path) -> Result<Option<String>, String> {
        let path = wasm.with_extension("toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("sidecar {}: {e}", path.display())),
        }
    }

    /// The sidecar of `wasm` from its `text` (the defaults when there is none).
    pub fn parse_for(wasm: &Path, text: Option<&str>) -> Result<Self, String> {
        match text {
            Some(text) => {
                let path = wasm.with_extension("toml");
                let sidecar: Self = toml::from_str(text).map_err(|e| {
                    format!(
                        "sidecar {}: {}{}",
                        path.display(),
                        where_in(text, e.span()),
                        e.message()
                    )
                })?;
                sidecar
                    .grants
                    .check()
                    .and_then(|()| crate::runtime::grants::config::check(&sidecar.config))
                    .map_err(|e| format!("sidecar {}: {e}", path.display()))?;
                super::transform::check(&sidecar.tool).map_err(|(key, message)| {
                    format!("sidecar {}: `{key}`: {message}", path.display())
                })?;
                Ok(sidecar)
            }
            None => Ok(Self::default_enabled()),
        }
    }

    fn default_enabled() -> Self {
        Self {
            enabled: true,
            ..Self::default()
        }
    }

    /// The limits this sidecar asks for, `defaults` where it sets none (not yet
    /// capped: see [`Limits::capped_by`]).
    pub fn requested(&self, defaults: Limits) -> Limits {
        Limits {
            timeout: self
                .limits
                .timeout_ms
                .map_or(defaults.timeout, Duration::from_millis),
            memory_bytes: self
                .limits
                .memory_mb
                .map_or(defaults.memory_bytes, |mb| mb << 20),
            storage: crate::storage::Quota {
                max_keys: self
                    .limits
                    .storage_keys
                    .unwrap_or(defaults.storage.max_keys),
                max_value_bytes: self
                    .limits
                    .storage_value_bytes
                    .unwrap_or(defaults.storage.max_value_bytes),
            },
            output: crate::runtime::OutputLimits {
                messages: self.limits.log_messages.unwrap_or(defaults.output.messages),
                bytes: self.limits.log_bytes.unwrap_or(defaults.output.bytes),
            },
            // At least one: a plugin that may never run would be a configuration error.
            max_concurrent_calls: self
                .limits
                .max_concurrent_calls
                .unwrap_or(defaults.max_concurrent_calls)
                .max(1),
            http: crate::runtime::grants::HttpBudget {
                requests: self.limits.http_requests.unwrap_or(defaults.http.requests),
                response_bytes: self
                    .limits
                    .http_response_bytes
                    .unwrap_or(defaults.http.response_bytes),
            },
            instances: self.instances.unwrap_or(defaults.instances),
            reuse_scope: self.reuse_scope.unwrap_or(defaults.reuse_scope),
            reuse: ReusePolicy {
                // At least one: an instance serves the call it was made for.
                max_calls: self
                    .limits
                    .max_calls
                    .unwrap_or(defaults.reuse.max_calls)
                    .max(1),
                idle: self
                    .limits
                    .idle_ms
                    .map_or(defaults.reuse.idle, Duration::from_millis),
                capacity: self
                    .limits
                    .warm_instances
                    .unwrap_or(defaults.reuse.capacity),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sidecar_says_whether_calls_may_run_as_tasks() {
        let s: Sidecar = toml::from_str("tasks = \"optional\"\n").unwrap();
        assert_eq!(
            s.tasks,
            Some(crate::registry::manifest::TaskSupport::Optional)
        );
        let e = toml::from_str::<Sidecar>("tasks = \"sometimes\"\n").unwrap_err();
        assert_eq!(
            e.message(),
            "unknown variant `sometimes`, expected one of `forbidden`, `optional`, `required`"
        );
    }

    #[test]
    fn a_sidecars_tool_tables_are_checked_and_a_bad_one_named() {
        let wasm = Path::new("/p/calc.wasm");
        let ok =
            Sidecar::parse_for(wasm, Some("[[tool]]\nname = \"add\"\nrename = \"sum\"\n")).unwrap();
        assert_eq!(ok.tool[0].rename.as_deref(), Some("sum"));
        assert_eq!(
            Sidecar::parse_for(
                wasm,
                Some("[[tool]]\nname = \"add\"\n[[tool]]\nname = \"add\"\n")
            )
            .unwrap_err(),
            "sidecar /p/calc.toml: `tool[1].name`: `add` is transformed twice: one table per tool"
        );
        assert_eq!(
            Sidecar::parse_for(wasm, Some("[[tool]]\nname = \"add\"\nhidden = true\n"))
                .unwrap_err(),
            "sidecar /p/calc.toml: line 3, `tool.hidden`: unknown field `hidden`, expected one of `name`, `rename`, `title`, `description`, `hide`, `tags`, `annotations`, `arguments`"
        );
    }

    #[test]
    fn a_sidecar_sets_namespace_and_limits() {
        let s: Sidecar = toml::from_str(
            "namespace = \"\"\n[limits]\ntimeout-ms = 500\nmemory-mb = 8\nstorage-keys = 3\n",
        )
        .unwrap();
        assert_eq!(s.namespace.as_deref(), Some(""));
        assert!(s.enabled);
        assert_eq!(
            s.requested(Limits::default()),
            Limits {
                timeout: Duration::from_millis(500),
                memory_bytes: 8 << 20,
                storage: crate::storage::Quota {
                    max_keys: 3,
                    ..Limits::default().storage
                },
                ..Limits::default()
            }
        );
        let silent: Sidecar = toml::from_str("[limits]\ntimeout-ms = 500\n").unwrap();
        assert_eq!(
            silent.requested(Limits::default()).memory_bytes,
            Limits::default().memory_bytes
        );
    }

    #[test]
    fn a_sidecar_chooses_its_instance_model() {
        let s: Sidecar = toml::from_str(
            "instances = \"reuse\"\nreuse-scope = \"plugin\"\n[limits]\nmax-calls = 50\nidle-ms = 2000\nwarm-instances = 8\n",
        )
        .unwrap();
        let limits = s.requested(Limits::default());
        assert_eq!(
            (limits.instances, limits.reuse_scope, limits.reuse),
            (
                Instances::Reuse,
                ReuseScope::Plugin,
                ReusePolicy {
                    max_calls: 50,
                    idle: Duration::from_secs(2),
                    capacity: 8
                }
            )
        );
        let silent: Sidecar = toml::from_str("").unwrap();
        assert_eq!(
            silent.requested(Limits::default()).instances,
            Instances::Auto
        );
        for (text, message) in [
            (
                "instances = \"shared\"\n",
                "unknown variant `shared`, expected one of `auto`, `fresh`, `reuse`",
            ),
            (
                "reuse-scope = \"world\"\n",
                "unknown variant `world`, expected `session` or `plugin`",
            ),
            (
                "[limits]\nmax-calls = -1\n",
                "invalid value: integer `-1`, expected u32",
            ),
        ] {
            let e = toml::from_str::<Sidecar>(text).unwrap_err();
            assert_eq!(e.message(), message, "{text}");
        }
    }

    #[test]
    fn a_bad_sidecar_is_refused_naming_the_line_and_key() {
        let refuse =
            |text: &str| Sidecar::parse_for(Path::new("/p/x.wasm"), Some(text)).unwrap_err();
        assert_eq!(
            refuse("instances = \"shared\"\n"),
            "sidecar /p/x.toml: line 1, `instances`: unknown variant `shared`, expected one of `auto`, `fresh`, `reuse`"
        );
        assert_eq!(
            refuse("namespace = \"n\"\n\n[limits]\ntimeout-ms = 5\nmax-calls = -1\n"),
            "sidecar /p/x.toml: line 5, `limits.max-calls`: invalid value: integer `-1`, expected u32"
        );
        assert_eq!(
            refuse("[limits"),
            "sidecar /p/x.toml: line 1: unclosed table, expected `]`"
        );
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = toml::from_str::<Sidecar>("[limits]\nfuel = 3\n").unwrap_err();
        assert!(
            err.message().contains("unknown field `fuel`"),
            "{}",
            err.message()
        );
    }
}
