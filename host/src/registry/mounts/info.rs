//! What the admin API lists of the mounts.

use super::*;

/// One mount as the admin API lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MountInfo {
    /// Plugin name, or the namespace of a configured mount.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// File, URL or command.
    pub source: String,
    /// `directory`, `config` or `admin`.
    pub origin: &'static str,
    /// `plugin`, `proxy` or `openapi`.
    pub kind: &'static str,
    /// Version hash being served.
    pub version: Option<String>,
    /// `serving`, `refused` (nothing serves) or `disabled`.
    pub state: &'static str,
    /// Why the latest version was refused.
    pub error: Option<String>,
    /// Tools served.
    pub tools: usize,
    /// Static resources served.
    pub resources: usize,
    /// Resource templates served.
    pub templates: usize,
    /// Prompts served.
    pub prompts: usize,
    /// The tools the operator's transformations changed: each as served
    /// (namespaced) and as the mount itself names it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transformed: Vec<serde_json::Value>,
    /// What a plugin was granted (`pier inspect`'s `grants`; never a configuration
    /// value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<serde_json::Value>,
    /// A plugin's limits in effect (`timeout-ms`, `memory-mb`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<serde_json::Value>,
    /// A plugin's instance model: `fresh` or `reuse`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<&'static str>,
    /// A plugin's resident compiled code, in bytes (best estimate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resident_bytes: Option<u64>,
    /// The manifest digest an `oci` mount serves (what its tag resolved to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// How a plugin's signature was checked: `state`, `signer`, `reason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::trust::Verification>,
}

impl Mounts {
    /// The `oci` mounts served, in mount order: namespace, reference, digest.
    pub fn pulled(&self) -> Vec<(String, String, String)> {
        self.slots()
            .iter()
            .filter_map(|s| {
                let digest = s.serving.as_ref()?.provenance.as_ref()?.digest.clone()?;
                let spec = s.spec.as_ref()?;
                Some((spec.namespace.clone(), spec.source(), digest))
            })
            .collect()
    }

    /// Every mount, in mount order.
    pub fn list(&self) -> Vec<MountInfo> {
        let mapped = crate::runtime::resident::mapped_files();
        self.slots()
            .iter()
            .map(|s| {
                let m = s.serving.as_ref();
                let namespace = m
                    .map(|m| m.namespace.clone())
                    .or_else(|| s.spec.as_ref().map(|x| x.namespace.clone()))
                    .unwrap_or_default();
                let (name, source) = match (&s.key, &s.spec) {
                    (Key::File(file), _) => (
                        file.file_stem()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        file.display().to_string(),
                    ),
                    (_, Some(spec)) => (spec.namespace.clone(), spec.source()),
                    (Key::Entry(_), None) => (String::new(), String::new()),
                };
                let kind = match (m.map(|m| &m.backend), &s.spec) {
                    (Some(Backend::Proxy(_)), _) => "proxy",
                    (Some(Backend::Api(_)), _) => "openapi",
                    (None, Some(spec)) if matches!(spec.target, Target::Remote(_)) => "proxy",
                    (None, Some(spec)) if matches!(spec.target, Target::OpenApi(_)) => "openapi",
                    _ => "plugin",
                };
                MountInfo {
                    name,
                    namespace,
                    source,
                    origin: s.origin,
                    kind,
                    version: m.map(|m| m.version.clone()),
                    state: match (m, &s.error) {
                        (Some(_), _) => "serving",
                        (None, Some(_)) => "refused",
                        (None, None) => "disabled",
                    },
                    error: s.error.as_ref().map(|e| e.reason.clone()),
                    tools: m.map_or(0, |m| m.offer.tools.len()),
                    resources: m.map_or(0, |m| m.offer.resources.len()),
                    templates: m.map_or(0, |m| m.offer.templates.len()),
                    prompts: m.map_or(0, |m| m.offer.prompts.len()),
                    transformed: m.map_or_else(Vec::new, |m| {
                        m.offer
                            .tools
                            .iter()
                            .filter_map(|t| {
                                let applied = t.applied.as_ref()?;
                                Some(serde_json::json!({
                                    "name": super::super::namespace::name(&m.namespace, &t.tool.name),
                                    "original": applied.original,
                                }))
                            })
                            .collect()
                    }),
                    grants: m.and_then(|m| m.wasm()).map(|p| p.grants().describe()),
                    limits: m.and_then(|m| m.wasm()).map(|p| p.limits().describe()),
                    instances: m.and_then(|m| m.wasm()).map(|p| p.instance_model()),
                    resident_bytes: m.and_then(|m| m.wasm()).map(|p| p.resident_bytes(&mapped)),
                    digest: m
                        .and_then(|m| m.provenance.as_ref())
                        .and_then(|p| p.digest.clone()),
                    verification: m
                        .and_then(|m| m.provenance.as_ref())
                        .map(|p| p.verification.clone()),
                }
            })
            .collect()
    }
}
