//! The live catalogue: mounts and the namespaced tools, resources, templates and prompts
//! they expose, published as immutable snapshots.

pub mod loader;
pub mod manifest;
pub mod mounts;
pub mod namespace;
pub mod sidecar;
pub mod template;
pub mod watcher;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};
use serde_json::{Value, json};

use crate::runtime::Plugin;
use manifest::CheckedManifest;
use template::UriTemplate;

/// A plugin attached under a namespace.
pub struct Mount {
    /// The loaded plugin.
    pub plugin: Plugin,
    /// Its namespace (`""` = names kept as they are).
    pub namespace: String,
    /// The file it came from.
    pub file: PathBuf,
    /// What it offers, validated.
    pub manifest: CheckedManifest,
}

/// A tool as clients see it, with the mount that serves it.
pub struct ToolEntry {
    /// The serving mount.
    pub mount: Arc<Mount>,
    /// The tool's name inside the plugin.
    pub local_name: String,
    /// The tool as listed to clients (namespaced).
    pub tool: Tool,
    /// Its compiled input schema.
    pub validator: Arc<jsonschema::Validator>,
    /// Its compiled output schema, if it declares one.
    pub output_validator: Option<Arc<jsonschema::Validator>>,
}

/// A static resource as clients see it.
pub struct ResourceEntry {
    /// The serving mount.
    pub mount: Arc<Mount>,
    /// The resource as listed to clients (namespaced URI).
    pub resource: Resource,
}

/// A resource template as clients see it.
pub struct TemplateEntry {
    /// The serving mount.
    pub mount: Arc<Mount>,
    /// The namespaced template, parsed, for matching URIs.
    pub parsed: UriTemplate,
    /// The plugin's own template text.
    pub local_template: String,
    /// The template as listed to clients.
    pub template: ResourceTemplate,
}

/// A prompt as clients see it.
pub struct PromptEntry {
    /// The serving mount.
    pub mount: Arc<Mount>,
    /// The prompt's name inside the plugin.
    pub local_name: String,
    /// The prompt as listed to clients (namespaced).
    pub prompt: Prompt,
}

/// A list of named entries in mount order, with lookup by name. A later entry with a
/// name already present replaces the earlier one in place.
pub struct Listing<T> {
    items: Vec<T>,
    index: HashMap<String, usize>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T> Listing<T> {
    /// Adds `item` under `key`; returns the entry it replaced.
    fn insert(&mut self, key: String, item: T) -> Option<T> {
        match self.index.get(&key) {
            Some(&i) => Some(std::mem::replace(&mut self.items[i], item)),
            None => {
                self.index.insert(key, self.items.len());
                self.items.push(item);
                None
            }
        }
    }

    /// The entry named `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.index.get(key).map(|&i| &self.items[i])
    }

    /// All entries, in mount order.
    pub fn items(&self) -> &[T] {
        &self.items
    }
}

/// One immutable snapshot of everything pier serves.
#[derive(Default)]
pub struct Catalogue {
    /// Mounts in mount order.
    pub mounts: Vec<Arc<Mount>>,
    /// Tools by namespaced name.
    pub tools: Listing<ToolEntry>,
    /// Static resources by namespaced URI.
    pub resources: Listing<ResourceEntry>,
    /// Resource templates by namespaced template.
    pub templates: Listing<TemplateEntry>,
    /// Prompts by namespaced name.
    pub prompts: Listing<PromptEntry>,
}

fn model<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("catalogue entries are built from checked manifests")
}

fn warn_replaced(kind: &str, key: &str, old: &Arc<Mount>, new: &Arc<Mount>) {
    tracing::warn!(
        "{kind} `{key}` of {} replaces the one of {} (the later mount wins)",
        new.file.display(),
        old.file.display()
    );
}

impl Catalogue {
    /// The catalogue of `mounts`, in order; on a name conflict the later mount wins.
    pub fn build(mounts: Vec<Arc<Mount>>) -> Self {
        let mut cat = Catalogue::default();
        for mount in &mounts {
            cat.add(mount);
        }
        cat.mounts = mounts;
        cat
    }

    fn add(&mut self, mount: &Arc<Mount>) {
        let ns = mount.namespace.as_str();
        let m = &mount.manifest;
        for t in &m.tools {
            let name = namespace::name(ns, &t.tool.name);
            let tool = model(json!({
                "name": name,
                "title": t.tool.title,
                "description": t.tool.description,
                "inputSchema": t.input_schema,
                "outputSchema": t.output_schema,
                "annotations": t.annotations,
            }));
            let entry = ToolEntry {
                mount: mount.clone(),
                local_name: t.tool.name.clone(),
                tool,
                validator: t.validator.clone(),
                output_validator: t.output_validator.clone(),
            };
            if let Some(old) = self.tools.insert(name.clone(), entry) {
                warn_replaced("tool", &name, &old.mount, mount);
            }
        }
        for r in &m.resources {
            let uri = namespace::uri(ns, &r.uri);
            let resource = model(json!({
                "uri": uri, "name": r.name, "title": r.title,
                "description": r.description, "mimeType": r.mime_type,
            }));
            let entry = ResourceEntry {
                mount: mount.clone(),
                resource,
            };
            if let Some(old) = self.resources.insert(uri.clone(), entry) {
                warn_replaced("resource", &uri, &old.mount, mount);
            }
        }
        for (t, _) in &m.templates {
            let uri_template = namespace::uri(ns, &t.uri_template);
            let template = model(json!({
                "uriTemplate": uri_template, "name": t.name, "title": t.title,
                "description": t.description, "mimeType": t.mime_type,
            }));
            let entry = TemplateEntry {
                mount: mount.clone(),
                parsed: UriTemplate::parse(&uri_template)
                    .expect("namespacing keeps a template valid"),
                local_template: t.uri_template.clone(),
                template,
            };
            if let Some(old) = self.templates.insert(uri_template.clone(), entry) {
                warn_replaced("resource template", &uri_template, &old.mount, mount);
            }
        }
        for p in &m.prompts {
            let name = namespace::name(ns, &p.name);
            let arguments: Vec<Value> = p
                .arguments
                .iter()
                .map(|a| json!({"name": a.name, "description": a.description, "required": a.required}))
                .collect();
            let prompt = model(json!({
                "name": name, "title": p.title, "description": p.description, "arguments": arguments,
            }));
            let entry = PromptEntry {
                mount: mount.clone(),
                local_name: p.name.clone(),
                prompt,
            };
            if let Some(old) = self.prompts.insert(name.clone(), entry) {
                warn_replaced("prompt", &name, &old.mount, mount);
            }
        }
    }

    /// The mount serving the resource at (namespaced) `uri`, and the URI as that plugin
    /// knows it: a static resource first, else the latest-mounted matching template.
    pub fn resolve_resource(&self, uri: &str) -> Option<(&Arc<Mount>, String)> {
        let mount = match self.resources.get(uri) {
            Some(entry) => &entry.mount,
            None => {
                &self
                    .templates
                    .items()
                    .iter()
                    .rev()
                    .find(|t| t.parsed.matches(uri).is_some())?
                    .mount
            }
        };
        let local = namespace::strip_uri(&mount.namespace, uri)?;
        Some((mount, local))
    }
}

/// Which lists of the catalogue a new snapshot changed: a list changed when an entry
/// was added, removed or renamed, or when the mount serving one of its entries was
/// replaced (a new version of a plugin may answer differently under the same names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// `tools/list` changed.
    pub tools: bool,
    /// `resources/list` or `resources/templates/list` changed.
    pub resources: bool,
    /// `prompts/list` changed.
    pub prompts: bool,
}

impl Changes {
    /// Every list changed (what a client that missed some changes must assume).
    pub const ALL: Self = Self {
        tools: true,
        resources: true,
        prompts: true,
    };

    /// Whether anything changed.
    pub fn any(self) -> bool {
        self.tools || self.resources || self.prompts
    }

    /// What changed from `old` to `new`.
    pub fn between(old: &Catalogue, new: &Catalogue) -> Self {
        fn differ<T>(a: &Listing<T>, b: &Listing<T>, mount: impl Fn(&T) -> &Arc<Mount>) -> bool {
            a.items.len() != b.items.len()
                || a.index.iter().any(|(key, &i)| {
                    b.index
                        .get(key)
                        .is_none_or(|&j| !Arc::ptr_eq(mount(&a.items[i]), mount(&b.items[j])))
                })
        }
        Self {
            tools: differ(&old.tools, &new.tools, |e| &e.mount),
            resources: differ(&old.resources, &new.resources, |e| &e.mount)
                || differ(&old.templates, &new.templates, |e| &e.mount),
            prompts: differ(&old.prompts, &new.prompts, |e| &e.mount),
        }
    }
}

/// How many published changes a slow subscriber may fall behind before it is told
/// that everything changed.
const CHANGES_BUFFER: usize = 64;

/// The catalogue currently served; readers get a consistent snapshot, writers swap a
/// new one in atomically and subscribers hear which lists changed.
pub struct Registry {
    current: ArcSwap<Catalogue>,
    changes: tokio::sync::broadcast::Sender<Changes>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new(Catalogue::default())
    }
}

impl Registry {
    /// A registry serving `catalogue`.
    pub fn new(catalogue: Catalogue) -> Self {
        Self {
            current: ArcSwap::from_pointee(catalogue),
            changes: tokio::sync::broadcast::channel(CHANGES_BUFFER).0,
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Catalogue> {
        self.current.load_full()
    }

    /// Replaces the snapshot; returns what changed, which subscribers also receive.
    pub fn publish(&self, catalogue: Catalogue) -> Changes {
        let new = Arc::new(catalogue);
        let old = self.current.swap(new.clone());
        let changes = Changes::between(&old, &new);
        if changes.any() {
            // No subscriber is not an error: nobody is connected.
            let _ = self.changes.send(changes);
        }
        changes
    }

    /// Receives the [`Changes`] of every later [`Registry::publish`] that changed something.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Changes> {
        self.changes.subscribe()
    }
}
