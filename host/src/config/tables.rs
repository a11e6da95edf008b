//! The tables of a configuration file that are not keys of [`super::keys::KEYS`]: the
//! `[[mount]]` and `[[middleware]]` lists, the per-plugin `[secrets.PLUGIN]` and
//! `[[tools.PLUGIN]]`, and the `[[auth.token]]` list.

use std::collections::BTreeMap;

use toml::Value;

use super::{ConfigError, Source};
use crate::middleware::spec::Spec;
use crate::registry::spec::{MountSpec, RawMount};
use crate::registry::transform::ToolTransform;
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

/// The `[[tools.PLUGIN]]` arrays of a configuration file: tool transformations of the
/// plugins of the plugin directory.
pub(super) fn parse_tools(
    source: &Source,
    value: Value,
) -> Result<BTreeMap<String, Vec<ToolTransform>>, ConfigError> {
    let error = error_at(source);
    let Value::Table(plugins) = value else {
        return Err(error(
            "tools".into(),
            "expected [[tools.PLUGIN]] tables".into(),
        ));
    };
    let mut all = BTreeMap::new();
    for (plugin, list) in plugins {
        let transforms: Vec<ToolTransform> = list.try_into().map_err(|e: toml::de::Error| {
            error(format!("tools.{plugin}"), e.message().to_string())
        })?;
        crate::registry::transform::check(&transforms).map_err(|(key, message)| {
            error(
                format!("tools.{plugin}{}", key.strip_prefix("tool").unwrap_or(&key)),
                message,
            )
        })?;
        all.insert(plugin, transforms);
    }
    Ok(all)
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

/// One `[[auth.token]]` table as written.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    hash: String,
    subject: String,
    #[serde(default)]
    scopes: Vec<String>,
}

/// The `[[auth.token]]` array of a configuration file.
pub(super) fn parse_tokens(
    source: &Source,
    value: Value,
) -> Result<Vec<crate::auth::TokenSpec>, ConfigError> {
    let error = error_at(source);
    let Value::Array(items) = value else {
        return Err(error(
            "auth.token".into(),
            "expected [[auth.token]] tables".into(),
        ));
    };
    let mut tokens: Vec<crate::auth::TokenSpec> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let at = |key: &str| format!("auth.token[{i}]{key}");
        let raw: RawToken = item
            .try_into()
            .map_err(|e: toml::de::Error| error(at(""), e.message().to_string()))?;
        let hash = crate::auth::parse_hash(&raw.hash).map_err(|m| error(at(".hash"), m))?;
        if raw.subject.trim().is_empty() {
            return Err(error(
                at(".subject"),
                "empty: name who the token stands for".into(),
            ));
        }
        if tokens.iter().any(|t| t.hash == hash) {
            return Err(error(
                at(".hash"),
                "the same token as an earlier [[auth.token]]".into(),
            ));
        }
        tokens.push(crate::auth::TokenSpec {
            hash,
            subject: raw.subject,
            scopes: raw.scopes,
        });
    }
    Ok(tokens)
}

/// One `[[auth.rule]]` table as written.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    prompts: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    mounts: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    subjects: Vec<String>,
}

/// The `[[auth.rule]]` array of a configuration file.
pub(super) fn parse_rules(
    source: &Source,
    value: Value,
) -> Result<Vec<crate::middleware::authorize::Rule>, ConfigError> {
    let error = error_at(source);
    let Value::Array(items) = value else {
        return Err(error(
            "auth.rule".into(),
            "expected [[auth.rule]] tables".into(),
        ));
    };
    let mut rules = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let raw: RawRule = item.try_into().map_err(|e: toml::de::Error| {
            error(format!("auth.rule[{i}]"), e.message().to_string())
        })?;
        if raw.scopes.is_empty() && raw.subjects.is_empty() {
            return Err(error(
                format!("auth.rule[{i}]"),
                "requires nothing: give it scopes = [...] and/or subjects = [...]".into(),
            ));
        }
        rules.push(crate::middleware::authorize::Rule {
            tools: raw.tools,
            prompts: raw.prompts,
            resources: raw.resources,
            tags: raw.tags,
            mounts: raw.mounts,
            scopes: raw.scopes,
            subjects: raw.subjects,
        });
    }
    Ok(rules)
}
