//! Turns plugin files into mounts: read, compile (or load from the AOT cache), link,
//! `describe`, validate. Any failure refuses that one file with a reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Mount;
use super::manifest;
use super::namespace;
use super::sidecar::Sidecar;
use crate::runtime::{CacheOutcome, Limits, Runtime};

/// Why a plugin file was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("refused plugin {}: {reason}", file.display())]
pub struct LoadError {
    /// The plugin file.
    pub file: PathBuf,
    /// Why.
    pub reason: String,
}

/// Defaults and caps for plugin limits.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Limits of a plugin whose sidecar sets none.
    pub defaults: Limits,
    /// The operator's caps on what a sidecar may ask for.
    pub cap: Limits,
}

/// The result of loading one file.
pub enum Loaded {
    /// Mounted.
    Mounted(Arc<Mount>, CacheOutcome),
    /// The sidecar says `enabled = false`.
    Disabled,
}

/// Loads the plugin in `file`: its sidecar, component, and manifest.
pub async fn load_file(
    runtime: &Arc<Runtime>,
    file: &Path,
    options: LoadOptions,
) -> Result<Loaded, LoadError> {
    let refuse = |reason: String| LoadError {
        file: file.to_path_buf(),
        reason,
    };
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| refuse("file name is not UTF-8".into()))?
        .to_string();
    let sidecar = Sidecar::read_for(file).map_err(refuse)?;
    if !sidecar.enabled {
        return Ok(Loaded::Disabled);
    }
    let ns = sidecar.namespace.clone().unwrap_or_else(|| name.clone());
    if !namespace::is_valid(&ns) {
        return Err(refuse(format!(
            "namespace `{ns}` must be at most 32 of A-Z a-z 0-9 _ - (set `namespace` in the sidecar)"
        )));
    }
    let bytes = tokio::fs::read(file)
        .await
        .map_err(|e| refuse(e.to_string()))?;
    let asked = sidecar.requested(options.defaults);
    let limits = asked.capped_by(options.cap);
    if limits != asked {
        tracing::warn!(
            plugin = %name,
            "sidecar asks for timeout {} ms and memory {} MiB; the operator's [limits] cap it to {} ms and {} MiB",
            asked.timeout.as_millis(),
            asked.memory_bytes >> 20,
            limits.timeout.as_millis(),
            limits.memory_bytes >> 20,
        );
    }
    // Compiling is CPU-bound (seconds for large guests): keep it off the async threads.
    let (plugin, outcome) = {
        let runtime = runtime.clone();
        let path = file.to_path_buf();
        tokio::task::spawn_blocking(move || runtime.load(&name, &path, &bytes, limits))
            .await
            .map_err(|e| refuse(format!("compilation did not finish: {e}")))?
            .map_err(|e| refuse(strip_file(&e.to_string(), file)))?
    };
    let described = plugin
        .describe()
        .await
        .map_err(|e| refuse(format!("describe failed: {e}")))?;
    let manifest = manifest::check(described).map_err(|e| refuse(e.to_string()))?;
    Ok(Loaded::Mounted(
        Arc::new(Mount {
            plugin,
            namespace: ns,
            file: file.to_path_buf(),
            manifest,
        }),
        outcome,
    ))
}

/// Runtime errors start with the file name; the load error names it already.
fn strip_file(message: &str, file: &Path) -> String {
    let prefix = format!("{}: ", file.display());
    message.strip_prefix(&prefix).unwrap_or(message).to_string()
}

/// The `*.wasm` files of `dir`, sorted by name (the order in which they are mounted).
pub fn plugin_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Loads every plugin of `dir`; refused files are logged (one line each) and returned.
pub async fn load_dir(
    runtime: &Arc<Runtime>,
    dir: &Path,
    options: LoadOptions,
) -> Result<(Vec<(Arc<Mount>, CacheOutcome)>, Vec<LoadError>), std::io::Error> {
    let mut mounts = Vec::new();
    let mut refused = Vec::new();
    for file in plugin_files(dir)? {
        match load_file(runtime, &file, options).await {
            Ok(Loaded::Mounted(mount, outcome)) => {
                tracing::info!(
                    plugin = mount.plugin.name(),
                    namespace = %mount.namespace,
                    aot_cache = ?outcome,
                    tools = mount.manifest.tools.len(),
                    resources = mount.manifest.resources.len() + mount.manifest.templates.len(),
                    prompts = mount.manifest.prompts.len(),
                    "mounted {}",
                    file.display()
                );
                mounts.push((mount, outcome));
            }
            Ok(Loaded::Disabled) => tracing::info!("skipped {} (enabled = false)", file.display()),
            Err(e) => {
                tracing::error!("{e}");
                refused.push(e);
            }
        }
    }
    Ok((mounts, refused))
}
