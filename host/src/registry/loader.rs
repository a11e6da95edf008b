//! Turns plugin files into mounts: read, compile (or load from the AOT cache), link,
//! `describe`, validate. Any failure refuses that one file with a reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Mount;
use super::folders::Folder;
use super::manifest;
use super::namespace;
use super::sidecar::Sidecar;
use crate::runtime::grants::GrantCaps;
use crate::runtime::grants::config::ConfigValues;
use crate::runtime::grants::files::{FileGrant, Mode};
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

/// Defaults and caps for plugin limits and grants.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Limits of a plugin whose sidecar sets none.
    pub defaults: Limits,
    /// The operator's caps on what a sidecar may ask for.
    pub cap: Limits,
    /// The operator's caps on what a sidecar may be granted.
    pub grants: GrantCaps,
    /// Whether HTTP requests carry verified identities (`auth.mode` is not `none`).
    pub auth: bool,
    /// Plugins served from a source folder (`pier dev`).
    pub folders: Arc<super::folders::SourceFolders>,
    /// The operator's `[[tools.PLUGIN]]`: tool transformations by plugin name.
    pub tools: Arc<std::collections::BTreeMap<String, Vec<super::transform::ToolTransform>>>,
    /// Which plugins run (`[trust]`).
    pub trust: Arc<crate::trust::Trust>,
    /// How OCI registries are reached.
    pub registries: Arc<crate::oci::Registries>,
    /// Where pulled artifacts are kept (`DATA/oci`).
    pub oci_cache: PathBuf,
}

/// The result of loading one file.
pub enum Loaded {
    /// Mounted.
    Mounted(Arc<Mount>, CacheOutcome),
    /// The sidecar says `enabled = false`.
    Disabled,
}

/// What a plugin is made of on disk: the component's bytes and its sidecar's text (and
/// the revision of its source folder, when it is served from one).
pub struct Input {
    /// The component file's content.
    pub bytes: Vec<u8>,
    /// The sidecar's text, when there is one.
    pub sidecar: Option<String>,
    /// The sources it is handed, when `pier dev` serves it from them ([`super::folders`]).
    pub folder: Option<Folder>,
    /// The text of its detached signature `NAME.wasm.sig`, when there is one.
    pub signature: Option<Vec<u8>>,
}

impl Input {
    /// Reads `file`, its sidecar and its signature file.
    pub async fn read(file: &Path) -> Result<Self, LoadError> {
        let refuse = |reason: String| LoadError {
            file: file.to_path_buf(),
            reason,
        };
        let path = file.to_path_buf();
        let (sidecar, signature) = tokio::task::spawn_blocking(move || {
            Ok::<_, String>((
                Sidecar::text_for(&path)?,
                crate::trust::signature_for(&path)?,
            ))
        })
        .await
        .map_err(|e| refuse(e.to_string()))?
        .map_err(refuse)?;
        let bytes = tokio::fs::read(file)
            .await
            .map_err(|e| refuse(e.to_string()))?;
        Ok(Self {
            bytes,
            sidecar,
            folder: None,
            signature,
        })
    }

    /// SHA-256 over the component and the sidecar: equal fingerprints load equally.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update((self.bytes.len() as u64).to_le_bytes());
        hash.update(&self.bytes);
        if let Some(text) = &self.sidecar {
            hash.update(text.as_bytes());
        }
        if let Some(signature) = &self.signature {
            hash.update(b"\0signature\0");
            hash.update(signature);
        }
        if let Some(folder) = &self.folder {
            hash.update(b"\0folder\0");
            hash.update(folder.revision().as_bytes());
        }
        hex::encode(hash.finalize())
    }
}

/// Where a configured mount puts a plugin: its namespace, and the storage key space
/// when it shares another's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placement<'a> {
    /// The namespace (else the sidecar's, else the file stem).
    pub namespace: Option<&'a str>,
    /// The storage key space (else [`super::storage_space`] of the namespace).
    pub storage: Option<&'a str>,
    /// The mount's tool transformations (after the sidecar's, which they override tool
    /// by tool).
    pub tools: &'a [super::transform::ToolTransform],
    /// Where it came from, when it was pulled from a registry (its signature checked
    /// there); else its file's `NAME.wasm.sig` is checked.
    pub pulled: Option<&'a super::Provenance>,
}

/// Pulls the plugin `reference` from its registry (or finds its digest kept under
/// `options.oci_cache`) and checks its signature against `options.trust`: the component
/// file, and where it came from. Refused (`Err`, a sentence) when it cannot be pulled, or
/// when signatures are required and it is not signed by a trusted key. The signatures
/// found are kept beside the artifact: a kept digest is checked again without its
/// registry.
pub async fn pull(
    reference: &str,
    options: &LoadOptions,
) -> Result<(PathBuf, super::Provenance), String> {
    use crate::trust::{State, Verification};
    let registries = &options.registries;
    let trust = &options.trust;
    let cache = &options.oci_cache;
    let pulled = registries
        .pull(reference, cache)
        .await
        .map_err(|e| format!("cannot pull it: {e}"))?;
    let verification = if trust.keys.is_empty() {
        trust.check_image(&pulled.digest, &[])
    } else {
        match registries.signatures(reference, &pulled.digest).await {
            Ok(signatures) => {
                crate::oci::keep_signatures(cache, reference, &pulled.digest, &signatures);
                trust.check_image(&pulled.digest, &signatures)
            }
            Err(e) => match crate::oci::kept_signatures(cache, reference, &pulled.digest) {
                Some(kept) => {
                    tracing::warn!(
                        "the signatures of {reference} could not be read ({e}); checking those kept when it was pulled"
                    );
                    trust.check_image(&pulled.digest, &kept)
                }
                None if trust.require => return Err(format!("cannot check its signature: {e}")),
                None => Verification {
                    state: State::Unsigned,
                    signer: None,
                    reason: Some(format!("its signatures could not be read: {e}")),
                },
            },
        }
    };
    trust.admit(&verification)?;
    Ok((
        pulled.file,
        super::Provenance {
            reference: Some(reference.to_string()),
            digest: Some(pulled.digest),
            verification,
        },
    ))
}

/// Loads the plugin in `file`: its sidecar, component, and manifest, placed as `place`
/// says (a configured mount) or by its sidecar and file name.
pub async fn load_file(
    runtime: &Arc<Runtime>,
    file: &Path,
    place: Placement<'_>,
    options: &LoadOptions,
) -> Result<Loaded, LoadError> {
    load_input(runtime, file, Input::read(file).await?, place, options).await
}

/// Loads the plugin `input` read from `file`. A panic while loading (a bug pier has not
/// met yet, triggered by this file) refuses this file only: the loader and the watcher
/// carry on with the next.
pub async fn load_input(
    runtime: &Arc<Runtime>,
    file: &Path,
    input: Input,
    place: Placement<'_>,
    options: &LoadOptions,
) -> Result<Loaded, LoadError> {
    use futures::FutureExt;
    let loading =
        std::panic::AssertUnwindSafe(load_unguarded(runtime, file, input, place, options));
    match loading.catch_unwind().await {
        Ok(loaded) => loaded,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            tracing::error!("loading {} panicked: {what}", file.display());
            Err(LoadError {
                file: file.to_path_buf(),
                reason: format!("loading it panicked (a pier bug; please report it): {what}"),
            })
        }
    }
}

async fn load_unguarded(
    runtime: &Arc<Runtime>,
    file: &Path,
    input: Input,
    place: Placement<'_>,
    options: &LoadOptions,
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
    let sidecar = Sidecar::parse_for(file, input.sidecar.as_deref()).map_err(refuse)?;
    if !sidecar.enabled {
        return Ok(Loaded::Disabled);
    }
    let provenance = match place.pulled {
        Some(pulled) => pulled.clone(),
        None => super::Provenance {
            reference: None,
            digest: None,
            verification: options
                .trust
                .check_blob(&input.bytes, input.signature.as_deref()),
        },
    };
    options
        .trust
        .admit(&provenance.verification)
        .map_err(refuse)?;
    if !sidecar.required_scopes.is_empty() && !options.auth {
        return Err(refuse(
            "the sidecar's required-scopes needs callers with tokens: set auth.mode (with auth.mode = \"none\" no caller has a scope)".into(),
        ));
    }
    let ns = place
        .namespace
        .map(String::from)
        .or_else(|| sidecar.namespace.clone())
        .unwrap_or_else(|| name.clone());
    if !namespace::is_valid(&ns) {
        return Err(refuse(format!(
            "namespace `{ns}` must be at most 32 of A-Z a-z 0-9 _ - (set `namespace` in the sidecar)"
        )));
    }
    let bytes = input.bytes;
    let who = format!("plugin `{name}`");
    let base = file.parent().unwrap_or(Path::new("."));
    let (mut grants, mut warnings) = sidecar
        .grants
        .capped(&who, &options.grants, base)
        .map_err(refuse)?;
    // A plugin served from its sources reads them (only what `pier dev` registered).
    let folder = input.folder;
    let mut values = std::borrow::Cow::Borrowed(&sidecar.config);
    match &folder {
        Some(Folder::Files { dir, guest, .. }) => {
            grants
                .files
                .push(FileGrant::new(dir.clone(), guest.clone(), Mode::Ro));
        }
        Some(Folder::Value { key, text, .. }) => {
            values.to_mut().insert(key.clone(), text.clone());
        }
        None => {}
    }
    let (config, more) = ConfigValues::gather(&who, &values, options.grants.secrets.get(&name));
    warnings.extend(more);
    for warning in warnings {
        tracing::warn!(plugin = %name, "{warning}");
    }
    grants.config = config;
    let asked = sidecar.requested(options.defaults);
    let limits = asked.capped_by(options.cap);
    let lowered = limits.lowered_from(&asked);
    if !lowered.is_empty() {
        tracing::warn!(
            plugin = %name,
            "the operator's [limits] lower what the sidecar asks for: {}",
            lowered.join(", ")
        );
    }
    // Compiling is CPU-bound (seconds for large guests): keep it off the async threads.
    let (plugin, outcome) = {
        let runtime = runtime.clone();
        let path = file.to_path_buf();
        let storage = place
            .storage
            .map_or_else(|| super::storage_space(&ns, &name), String::from);
        let grants = Arc::new(grants);
        tokio::task::spawn_blocking(move || {
            runtime.load(&name, &storage, &path, &bytes, limits, grants)
        })
        .await
        .map_err(|e| refuse(format!("compilation did not finish: {e}")))?
        .map_err(|e| refuse(strip_file(&e.to_string(), file)))?
    };
    runtime.record_use(plugin.hash(), file).await;
    let described = plugin
        .describe()
        .await
        .map_err(|e| refuse(format!("describe failed: {e}")))?;
    let mut manifest = manifest::check(described).map_err(|e| refuse(e.to_string()))?;
    for tool in &mut manifest.tools {
        tool.task = tool.task.or(sidecar.tasks);
    }
    let mut mount = Mount::plugin(plugin, manifest, file.to_path_buf(), ns)
        .map_err(|e| refuse(e.to_string()))?;
    let operator = options
        .tools
        .get(mount.name.as_str())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let transforms = super::transform::merged(
        &super::transform::merged(&sidecar.tool, operator),
        place.tools,
    );
    let tools = std::mem::take(&mut mount.offer.tools);
    let (tools, warnings) = super::transform::apply(tools, &transforms, &who);
    mount.offer.tools = tools;
    for warning in warnings {
        tracing::warn!(plugin = %mount.name, "{warning}");
    }
    mount.required_scopes = sidecar.required_scopes;
    if let (Some(reference), Some(digest)) = (&provenance.reference, &provenance.digest) {
        // For people (logs, notices): what was pulled, not where it is kept.
        mount.source = format!("{reference} ({digest})");
    }
    mount.provenance = Some(provenance);
    if let Some(folder) = folder {
        mount.version = folder.revision().to_string();
    }
    Ok(Loaded::Mounted(Arc::new(mount), outcome))
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
