//! The optional sidecar `NAME.toml` an operator writes beside `NAME.wasm`.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::runtime::Limits;
use crate::runtime::grants::GrantRequest;

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
    /// What the plugin may reach beyond its sandbox, capped by the operator's `[grants]`.
    #[serde(default)]
    pub grants: GrantRequest,
    /// Configuration values the plugin reads through `wasi:config/store` (secrets
    /// belong in the operator's `[secrets]`, not here).
    #[serde(default)]
    pub config: std::collections::BTreeMap<String, String>,
}

fn yes() -> bool {
    true
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
                let sidecar: Self = toml::from_str(text)
                    .map_err(|e| format!("sidecar {}: {}", path.display(), e.message()))?;
                sidecar
                    .grants
                    .check()
                    .and_then(|()| crate::runtime::grants::config::check(&sidecar.config))
                    .map_err(|e| format!("sidecar {}: {e}", path.display()))?;
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
    fn unknown_keys_are_refused_by_name() {
        let err = toml::from_str::<Sidecar>("[limits]\nfuel = 3\n").unwrap_err();
        assert!(
            err.message().contains("unknown field `fuel`"),
            "{}",
            err.message()
        );
    }
}
