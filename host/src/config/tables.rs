//! The tables of a configuration file that are not keys of [`super::keys::KEYS`]: the
//! `[[mount]]` and `[[middleware]]` lists and the per-plugin `[secrets.PLUGIN]`.

use std::collections::BTreeMap;

use toml::Value;

use super::{ConfigError, Source};
use crate::middleware::spec::Spec;
use crate::registry::spec::{MountSpec, RawMount};
use crate::runtime::grants::config::{SecretSource, Secrets};

/// An error at a key of the file `source`.
fn error_at(source: &Source) -> impl Fn(String, String) -> ConfigError + '_ {
    move |key, message| ConfigError {
        origin: source.clone(),
        key,
        message,
    }
}

/// The `[[mount]]` array of a configuration file.
pub(super) fn parse_mounts(source: &Source, value: Value) -> Result<Vec<MountSpec>, ConfigError> {
    let error = error_at(source);
    let Value::Array(items) = value else {
        return Err(error("mount".into(), "expected [[mount]] tables".into()));
    };
    let mut mounts: Vec<MountSpec> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let raw: RawMount = item
            .try_into()
            .map_err(|e: toml::de::Error| error(format!("mount[{i}]"), e.message().to_string()))?;
        let spec = raw
            .check()
            .map_err(|(key, message)| error(format!("mount[{i}].{key}"), message))?;
        if mounts.iter().any(|m| m.namespace == spec.namespace) {
            return Err(error(
                format!("mount[{i}].namespace"),
                format!("namespace `{}` is used by an earlier mount", spec.namespace),
            ));
        }
        mounts.push(spec);
    }
    Ok(mounts)
}

/// The `[secrets.PLUGIN]` tables of a configuration file: `KEY = { env = "VAR" }` or
/// `KEY = { file = "PATH" }`.
pub(super) fn parse_secrets(source: &Source, value: Value) -> Result<Secrets, ConfigError> {
    let error = error_at(source);
    let Value::Table(plugins) = value else {
        return Err(error(
            "secrets".into(),
            "expected [secrets.PLUGIN] tables".into(),
        ));
    };
    let mut secrets = Secrets::new();
    for (plugin, keys) in plugins {
        let Value::Table(keys) = keys else {
            return Err(error(
                format!("secrets.{plugin}"),
                "expected a table of KEY = { env = \"VAR\" } or { file = \"PATH\" }".into(),
            ));
        };
        let mut held = BTreeMap::new();
        for (key, where_) in keys {
            let at = format!("secrets.{plugin}.{key}");
            let most = crate::runtime::grants::config::MAX_KEY_BYTES;
            if key.is_empty() || key.len() > most {
                return Err(error(at, format!("keys are 1 to {most} bytes")));
            }
            let found: SecretSource = where_.try_into().map_err(|_| {
                error(
                    at,
                    "expected { env = \"VAR\" } or { file = \"PATH\" }".into(),
                )
            })?;
            held.insert(key, found);
        }
        secrets.insert(plugin, held);
    }
    Ok(secrets)
}

/// The `[[middleware]]` array of a configuration file.
pub(super) fn parse_middleware(source: &Source, value: Value) -> Result<Vec<Spec>, ConfigError> {
    let error = error_at(source);
    let Value::Array(items) = value else {
        return Err(error(
            "middleware".into(),
            "expected [[middleware]] tables".into(),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            crate::middleware::spec::parse(item).map_err(|e| {
                let at = if e.key.is_empty() {
                    format!("middleware[{i}]")
                } else {
                    format!("middleware[{i}].{}", e.key)
                };
                error(at, e.message)
            })
        })
        .collect()
}
