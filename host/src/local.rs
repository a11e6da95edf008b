//! Plugins without a server: what `pier inspect` and `pier call` do.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::ServeConfig;
use crate::registry::loader::{self, LoadError, LoadOptions, Loaded};
use crate::registry::manifest::schema_errors;
use crate::registry::{Mount, namespace};
use crate::runtime::{CallError, NoRequest, Runtime};
use crate::server::convert;

/// Why a local command failed.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The runtime could not be built.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A path could not be read.
    #[error("{}: {reason}", path.display())]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The plugin was refused.
    #[error(transparent)]
    Refused(#[from] LoadError),
    /// The tool does not exist or the arguments do not fit.
    #[error("{0}")]
    Usage(String),
}

/// A runtime and load options for local commands, from the server configuration.
pub struct Local {
    runtime: Arc<Runtime>,
    options: LoadOptions,
}

impl Local {
    /// Builds the runtime (its AOT cache in `config.data_dir`). Plugins' storage is an
    /// empty in-memory store, discarded at exit: local commands never touch a server's
    /// data (`pier storage` does that).
    pub fn new(config: &ServeConfig) -> Result<Self, LocalError> {
        let runtime = Arc::new(Runtime::new(
            &config.data_dir.join("aot"),
            config.max_limits.memory_bytes,
            Arc::new(crate::storage::memory::Memory::default()),
        )?);
        Ok(Self {
            runtime,
            options: LoadOptions {
                defaults: config.default_limits,
                cap: config.max_limits,
                grants: config.grants.clone(),
                // The operator inspecting a plugin is no client: required scopes pass.
                auth: true,
                folders: Arc::default(),
                tools: Arc::new(config.tools.clone()),
                // Inspecting shows a plugin's signature; it refuses none for it.
                trust: Arc::new(crate::trust::Trust {
                    keys: config.trust.keys.clone(),
                    require: false,
                }),
                registries: Arc::new(config.registries.clone()),
                oci_cache: config.data_dir.join("oci"),
            },
        })
    }

    /// Loads `file` (a disabled plugin is loaded anyway: inspecting it is the point);
    /// the mount's `wasm()`, `manifest()` and `file()` are always there.
    pub async fn load(&self, file: &Path) -> Result<Arc<Mount>, LocalError> {
        match loader::load_file(&self.runtime, file, Default::default(), &self.options).await? {
            Loaded::Mounted(mount, _) => Ok(mount),
            Loaded::Disabled => Err(LocalError::Usage(format!(
                "{}: disabled by its sidecar (enabled = false)",
                file.display()
            ))),
        }
    }

    /// Pulls the plugin `reference` (into the data dir's `oci/`) and loads it, its
    /// signature checked against `[trust] keys` (shown, never refused for).
    pub async fn load_pulled(&self, reference: &str) -> Result<Arc<Mount>, LocalError> {
        let refuse = |reason: String| {
            LocalError::Refused(LoadError {
                file: PathBuf::from(reference),
                reason,
            })
        };
        let (file, provenance) = loader::pull(reference, &self.options)
            .await
            .map_err(refuse)?;
        let place = loader::Placement {
            pulled: Some(&provenance),
            ..Default::default()
        };
        match loader::load_file(&self.runtime, &file, place, &self.options).await? {
            Loaded::Mounted(mount, _) => Ok(mount),
            Loaded::Disabled => Err(LocalError::Usage(format!(
                "{reference}: disabled by its sidecar (enabled = false)"
            ))),
        }
    }

    /// Loads each plugin of `paths` (files, directories of `*.wasm`, or references of
    /// artifacts in a registry).
    pub async fn load_all(
        &self,
        paths: &[PathBuf],
    ) -> Result<(Vec<Arc<Mount>>, Vec<LocalError>), LocalError> {
        let mut files = Vec::new();
        let mut mounts = Vec::new();
        let mut errors = Vec::new();
        for path in paths {
            let text = path.to_string_lossy();
            if !path.exists() && crate::oci::looks_like_reference(&text) {
                match self.load_pulled(&text).await {
                    Ok(mount) => mounts.push(mount),
                    Err(e) => errors.push(e),
                }
            } else if path.is_dir() {
                files.extend(loader::plugin_files(path).map_err(|e| LocalError::Path {
                    path: path.clone(),
                    reason: e.to_string(),
                })?);
            } else {
                files.push(path.clone());
            }
        }
        for file in files {
            match self.load(&file).await {
                Ok(mount) => mounts.push(mount),
                Err(e) => errors.push(e),
            }
        }
        Ok((mounts, errors))
    }

    /// Runs tool `tool` (its name inside the plugin, or namespaced) of `file` with
    /// `arguments`; the MCP result as JSON.
    pub async fn call(
        &self,
        file: &Path,
        tool: &str,
        arguments: Value,
    ) -> Result<Value, LocalError> {
        let mount = self.load(file).await?;
        let ns = mount.namespace.as_str();
        let manifest = mount.manifest().expect("a plugin mount");
        let checked = manifest
            .tools
            .iter()
            .find(|t| t.tool.name == tool || namespace::name(ns, &t.tool.name) == tool)
            .ok_or_else(|| {
                let names: Vec<&str> = manifest
                    .tools
                    .iter()
                    .map(|t| t.tool.name.as_str())
                    .collect();
                LocalError::Usage(format!(
                    "unknown tool `{tool}`; {} has: {}",
                    file.display(),
                    names.join(", ")
                ))
            })?;
        if let Some(errors) = schema_errors(&checked.validator, &arguments) {
            return Err(LocalError::Usage(format!(
                "invalid arguments for tool `{tool}`: {errors}"
            )));
        }
        let outcome = mount
            .wasm()
            .expect("a plugin mount")
            .call_tool(
                Arc::new(NoRequest::default()),
                &checked.tool.name,
                arguments.to_string(),
            )
            .await;
        let result = match outcome {
            Ok(result) => convert::tool_result(ns, &result)
                .unwrap_or_else(|e| convert::tool_error(&e.to_string())),
            Err(CallError::Guest(e)) if !matches!(e, crate::runtime::types::Error::Failed(_)) => {
                return Err(LocalError::Usage(CallError::Guest(e).to_string()));
            }
            Err(e) => convert::tool_error(&e.to_string()),
        };
        Ok(serde_json::to_value(result).unwrap_or(Value::Null))
    }
}

/// Resident bytes of every file mapped into this process: what [`describe`] reads a
/// plugin's resident compiled code from (read once for all the plugins described).
pub use crate::runtime::resident::mapped_files;

/// The stable JSON description of a mounted plugin (`pier inspect --json`); `mapped`
/// is [`mapped_files`].
pub fn describe(mount: &Mount, mapped: &HashMap<PathBuf, u64>) -> Value {
    let ns = mount.namespace.as_str();
    let (Some(m), Some(plugin)) = (mount.manifest(), mount.wasm()) else {
        return json!({ "source": mount.source, "namespace": ns });
    };
    let limits = plugin.limits();
    json!({
        "file": mount.source,
        "plugin": plugin.name(),
        "name": m.name,
        "version": m.version,
        "namespace": ns,
        "hash": plugin.hash(),
        "limits": { "timeout_ms": limits.timeout.as_millis() as u64, "memory_mb": limits.memory_bytes >> 20 },
        "instances": plugin.instance_model(),
        "resident_bytes": plugin.resident_bytes(mapped),
        "grants": plugin.grants().describe(),
        // Where it came from and who signed it (`[trust] keys`).
        "digest": mount.provenance.as_ref().and_then(|p| p.digest.clone()),
        "verification": mount.provenance.as_ref().map(|p| &p.verification),
        // As clients see them: after the operator's transformations (a transformed
        // tool names its own name too; a hidden one is left out).
        "tools": mount.offer.tools.iter().map(|t| {
            let mut tool = json!({
                "name": namespace::name(ns, &t.tool.name),
                "description": t.tool.description,
                "input_schema": t.tool.input_schema,
                "output_schema": t.tool.output_schema,
                "annotations": t.tool.annotations,
            });
            if let Some(applied) = &t.applied {
                tool["original"] = json!(applied.original);
                tool["tags"] = json!(t.tags);
            }
            tool
        }).collect::<Vec<_>>(),
        "resources": m.resources.iter().map(|r| json!({
            "uri": namespace::uri(ns, &r.uri), "name": r.name, "description": r.description, "mime_type": r.mime_type,
        })).collect::<Vec<_>>(),
        "templates": m.templates.iter().map(|(t, _)| json!({
            "uri_template": namespace::uri(ns, &t.uri_template), "name": t.name, "description": t.description, "mime_type": t.mime_type,
        })).collect::<Vec<_>>(),
        "prompts": m.prompts.iter().map(|p| json!({
            "name": namespace::name(ns, &p.name),
            "description": p.description,
            "arguments": p.arguments.iter().map(|a| json!({"name": a.name, "description": a.description, "required": a.required})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// ANSI styles for terminal output; all empty when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    on: bool,
}

impl Style {
    /// Colour when `on`.
    pub fn new(on: bool) -> Self {
        Self { on }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Headings and plugin names.
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// What a client calls: tool, prompt names, URIs.
    pub fn name(self, text: &str) -> String {
        self.paint("36", text)
    }

    /// Details: argument types, limits.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Errors.
    pub fn error(self, text: &str) -> String {
        self.paint("31", text)
    }
}

/// A terminal-friendly description of a mounted plugin (`pier inspect`): aligned
/// columns, styled by `style`; `mapped` is [`mapped_files`].
pub fn describe_text(mount: &Mount, mapped: &HashMap<PathBuf, u64>, style: Style) -> String {
    let d = describe(mount, mapped);
    let mut out = format!(
        "{}  {}  {}\n",
        d["file"].as_str().unwrap_or_default(),
        style.bold(&format!(
            "{} {}",
            d["name"].as_str().unwrap_or_default(),
            d["version"].as_str().unwrap_or_default()
        )),
        style.dim(&format!(
            "(namespace `{}`, timeout {} ms, memory {} MiB, {} instances, {:.1} MiB of code resident)",
            d["namespace"].as_str().unwrap_or_default(),
            d["limits"]["timeout_ms"],
            d["limits"]["memory_mb"],
            d["instances"].as_str().unwrap_or_default(),
            d["resident_bytes"].as_u64().unwrap_or(0) as f64 / f64::from(1 << 20),
        )),
    );
    let signature = &d["verification"];
    if let Some(state) = signature["state"].as_str() {
        let detail = match (signature["signer"].as_str(), signature["reason"].as_str()) {
            (Some(signer), _) => format!("by {signer}"),
            (None, Some(reason)) => reason.to_string(),
            (None, None) => String::new(),
        };
        let digest = d["digest"]
            .as_str()
            .map(|digest| format!("  (pulled as {digest})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {}  {state}: {detail}{}\n",
            style.bold("signature"),
            style.dim(&digest)
        ));
    }
    let rows = |label: &str, items: &Value, key: &str, out: &mut String| {
        let items = items.as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return;
        }
        out.push_str(&format!("  {}\n", style.bold(label)));
        let width = items
            .iter()
            .map(|i| i[key].as_str().unwrap_or_default().len())
            .max()
            .unwrap_or(0);
        for item in &items {
            let name = item[key].as_str().unwrap_or_default();
            let description = item["description"].as_str().unwrap_or_default();
            let first_line = description.lines().next().unwrap_or_default();
            // Pad before painting: escape codes have no width on screen.
            let padded = format!("{name:<width$}");
            let original = match item["original"].as_str() {
                Some(own) => style.dim(&format!("  (transformed; its own name: {own})")),
                None => String::new(),
            };
            out.push_str(&format!(
                "    {}  {first_line}{original}\n",
                style.name(&padded)
            ));
            if let Some(props) = item["input_schema"]["properties"].as_object() {
                let required: Vec<&str> = item["input_schema"]["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for (arg, schema) in props {
                    let ty = schema["type"].as_str().unwrap_or("any");
                    let mark = if required.contains(&arg.as_str()) {
                        ""
                    } else {
                        "?"
                    };
                    out.push_str(&format!(
                        "    {:<width$}    {arg}{mark}: {}\n",
                        "",
                        style.dim(ty)
                    ));
                }
            }
        }
    };
    rows("tools", &d["tools"], "name", &mut out);
    rows("resources", &d["resources"], "uri", &mut out);
    rows("templates", &d["templates"], "uri_template", &mut out);
    rows("prompts", &d["prompts"], "name", &mut out);
    out.push_str(&grants_text(&d["grants"], style));
    out
}

/// The grants block of `pier inspect`: each HTTP grant asked for, with what the
/// operator left of the lowered ones; directories; configuration keys.
fn grants_text(grants: &Value, style: Style) -> String {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let http = &grants["http"];
    let (requested, effective, lowered) = (
        strings(&http["requested"]),
        strings(&http["effective"]),
        strings(&http["lowered"]),
    );
    let files = grants["files"].as_array().cloned().unwrap_or_default();
    let config = grants["config"].as_array().cloned().unwrap_or_default();
    if requested.is_empty() && files.is_empty() && config.is_empty() {
        return String::new();
    }
    let mut out = format!("  {}\n", style.bold("grants"));
    for grant in &requested {
        let mark = if lowered.contains(grant) {
            " (lowered by the operator)"
        } else {
            ""
        };
        out.push_str(&format!(
            "    http {}{}\n",
            style.name(grant),
            style.dim(mark)
        ));
    }
    if !lowered.is_empty() {
        out.push_str(&format!(
            "    {}\n",
            style.dim(&format!("in effect: [{}]", effective.join(", ")))
        ));
    }
    if http["private_networks"] == true {
        out.push_str(&format!("    {}\n", style.dim("private networks allowed")));
    }
    for file in &files {
        out.push_str(&format!(
            "    files {} -> {} ({})\n",
            file["host"].as_str().unwrap_or_default(),
            style.name(file["guest"].as_str().unwrap_or_default()),
            file["mode"].as_str().unwrap_or_default()
        ));
    }
    for entry in &config {
        let secret = if entry["secret"] == true {
            " (secret)"
        } else {
            ""
        };
        out.push_str(&format!(
            "    config {}{}\n",
            entry["key"].as_str().unwrap_or_default(),
            style.dim(secret)
        ));
    }
    out
}
