//! Configuration values and secrets a plugin reads through `wasi:config/store`: its
//! sidecar's `[config]` table, and the operator's `[secrets.PLUGIN]` (from environment
//! variables or files, never written in a sidecar). Values are held for the store only:
//! `Debug`, listings and logs show keys, never values.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use wasmtime_wasi_config::WasiConfigVariables;

/// Most keys one plugin's configuration may hold.
pub const MAX_KEYS: usize = 1024;
/// Longest key.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value (a secret file included).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Where the operator keeps one secret (`{ env = "GITHUB_TOKEN" }` or `{ file = "…" }`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum SecretSource {
    /// An environment variable of pier's process.
    Env(String),
    /// A file (its content without the final newline).
    File(PathBuf),
}

impl SecretSource {
    /// The secret's value, or why it is unavailable (naming the source, never a value).
    pub(crate) fn read(&self) -> Result<String, String> {
        let value = match self {
            SecretSource::Env(var) => {
                std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
            }
            SecretSource::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                text.strip_suffix('\n').map(String::from).unwrap_or(text)
            }
        };
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!("longer than {MAX_VALUE_BYTES} bytes"));
        }
        Ok(value)
    }
}

/// The operator's `[secrets]`: per plugin name, per key, where the value is.
pub type Secrets = BTreeMap<String, BTreeMap<String, SecretSource>>;

/// One plugin's configuration, ready for `wasi:config/store`.
#[derive(Clone, Default)]
pub struct ConfigValues {
    variables: Arc<WasiConfigVariables>,
    /// The keys, each marked when its value is a secret.
    keys: Vec<(String, bool)>,
}

impl std::fmt::Debug for ConfigValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(k, _)| k))
            .finish()
    }
}

impl PartialEq for ConfigValues {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys
    }
}

impl Eq for ConfigValues {}

impl ConfigValues {
    /// The sidecar's `values` and the operator's `secrets` for it (a secret wins over a
    /// value of the same key); what could not be used, as warnings naming `who`.
    pub fn gather(
        who: &str,
        values: &BTreeMap<String, String>,
        secrets: Option<&BTreeMap<String, SecretSource>>,
    ) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let mut held: BTreeMap<String, (String, bool)> = BTreeMap::new();
        for (key, value) in values {
            held.insert(key.clone(), (value.clone(), false));
        }
        for (key, source) in secrets.into_iter().flatten() {
            match source.read() {
                Ok(value) => {
                    if held.insert(key.clone(), (value, true)).is_some() {
                        warnings.push(format!(
                            "{who}: the operator's secret `{key}` replaces the sidecar's [config] value"
                        ));
                    }
                }
                Err(why) => warnings.push(format!("{who}: secret `{key}` is left out: {why}")),
            }
        }
        let keys = held
            .iter()
            .map(|(k, (_, secret))| (k.clone(), *secret))
            .collect();
        let variables = held.into_iter().map(|(k, (v, _))| (k, v)).collect();
        (
            Self {
                variables: Arc::new(variables),
                keys,
            },
            warnings,
        )
    }

    /// The store's variables.
    pub fn variables(&self) -> &Arc<WasiConfigVariables> {
        &self.variables
    }

    /// The keys, each marked when it is a secret (values are never shown).
    pub fn keys(&self) -> &[(String, bool)] {
        &self.keys
    }
}

/// Checks a sidecar's `[config]` table against the bounds.
pub fn check(values: &BTreeMap<String, String>) -> Result<(), String> {
    if values.len() > MAX_KEYS {
        return Err(format!(
            "[config] holds {} keys; at most {MAX_KEYS}",
            values.len()
        ));
    }
    for (key, value) in values {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(format!("[config] keys are 1 to {MAX_KEY_BYTES} bytes"));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "[config] `{}`: values are at most {MAX_VALUE_BYTES} bytes",
                crate::text::clip(key)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_join_the_sidecars_values_and_show_only_as_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret-from-file\n").unwrap();
        let values = BTreeMap::from([
            ("base".to_string(), "https://x".to_string()),
            ("token".to_string(), "plain".to_string()),
        ]);
        let secrets = BTreeMap::from([
            ("token".to_string(), SecretSource::File(file)),
            (
                "missing".to_string(),
                SecretSource::Env("PIER_TEST_SURELY_UNSET_VARIABLE".into()),
            ),
        ]);
        let (config, warnings) = ConfigValues::gather("plugin `x`", &values, Some(&secrets));
        assert_eq!(
            config.keys(),
            [("base".to_string(), false), ("token".to_string(), true)]
        );
        assert_eq!(
            warnings,
            [
                "plugin `x`: secret `missing` is left out: environment variable PIER_TEST_SURELY_UNSET_VARIABLE is not set",
                "plugin `x`: the operator's secret `token` replaces the sidecar's [config] value",
            ]
        );
        let shown = format!("{config:?}");
        assert_eq!(shown, "[\"base\", \"token\"]");
        assert!(!shown.contains("s3cret"));
    }
}
