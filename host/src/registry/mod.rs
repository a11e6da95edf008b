//! The live catalogue: mounts and the namespaced tools, resources, templates and prompts
//! they expose, published as immutable snapshots.

pub mod folders;
pub mod loader;
pub mod manifest;
pub mod mounts;
pub mod namespace;
mod offer;
pub mod openapi;
pub mod proxy;
pub mod sidecar;
pub mod spec;
pub mod template;
pub mod transform;
pub mod watcher;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};

use crate::runtime::Plugin;
use manifest::{CheckedManifest, ManifestError};
use template::UriTemplate;

pub use offer::{Offer, OfferedTool};

/// The storage key space of a plugin mounted under `namespace` from a file named
/// `stem`: its namespace, so that two mounts of one file keep their data apart and a
/// plugin's data follows its namespace (a mount renamed to another namespace starts
/// empty). A plugin mounted without a namespace (`""`) uses `~STEM`, which no namespace
/// can be.
pub fn storage_space(namespace: &str, stem: &str) -> String {
    if namespace.is_empty() {
        format!("~{stem}")
    } else {
        namespace.to_string()
    }
}

/// What serves a mount's components.
#[allow(clippy::large_enum_variant)] // one per mount; boxing buys nothing
pub enum Backend {
    /// A WebAssembly plugin.
    Plugin {
        /// The loaded plugin.
        plugin: Plugin,
        /// What it offers, validated.
        manifest: CheckedManifest,
        /// The file it came from.
        file: PathBuf,
    },
    /// Another MCP server (over streamable HTTP or stdio), proxied.
    Proxy(Arc<proxy::Proxy>),
    /// A REST API, its operations as tools (from its OpenAPI document).
    Api(Arc<openapi::Api>),
}

/// A plugin or another MCP server attached under a namespace.
pub struct Mount {
    /// The plugin's name (its file stem), or the namespace of a configured mount.
    pub name: String,
    /// Its namespace (`""` = names kept as they are).
    pub namespace: String,
    /// Where it comes from, for people: a file, a URL, a command.
    pub source: String,
    /// Its version: the component's SHA-256, or a hash of a remote server's catalogue.
    pub version: String,
    /// What serves it.
    pub backend: Backend,
    /// What it offers, under its own names.
    pub offer: Offer,
    /// The components of its offer switched off at runtime (`context.set-enabled`).
    disabled: std::sync::Mutex<std::collections::BTreeSet<(Component, String)>>,
    /// Scopes a caller must all have to see or use its components (a sidecar's
    /// `required-scopes`).
    pub required_scopes: Vec<String>,
    /// A plugin's origin and signature.
    pub provenance: Option<Provenance>,
}

/// Where a plugin came from and who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The reference it was pulled by (an `oci` mount).
    pub reference: Option<String>,
    /// The manifest digest it was pulled as (an `oci` mount).
    pub digest: Option<String>,
    /// How its signature was checked.
    pub verification: crate::trust::Verification,
}

/// A kind of component a plugin may switch off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Component {
    /// A tool, by name.
    Tool,
    /// A prompt, by name.
    Prompt,
    /// A static resource by URI, or a template by its template.
    Resource,
}

impl Mount {
    /// A mount of `plugin` from `file` under `namespace`; refused when its manifest
    /// does not fit MCP's types.
    pub fn plugin(
        plugin: Plugin,
        manifest: CheckedManifest,
        file: PathBuf,
        namespace: String,
    ) -> Result<Self, ManifestError> {
        Ok(Self::new(
            plugin.name().to_string(),
            namespace,
            file.display().to_string(),
            plugin.hash().to_string(),
            Offer::from_manifest(&manifest)?,
            Backend::Plugin {
                plugin,
                manifest,
                file,
            },
        ))
    }

    /// A mount with everything in its `offer` enabled.
    pub fn new(
        name: String,
        namespace: String,
        source: String,
        version: String,
        offer: Offer,
        backend: Backend,
    ) -> Self {
        Self {
            name,
            namespace,
            source,
            version,
            backend,
            offer,
            disabled: Default::default(),
            required_scopes: Vec::new(),
            provenance: None,
        }
    }

    /// Switches the component `name` (as this mount knows it) on or off; whether that
    /// changed anything. `Err` when the mount offers no such component. The catalogue
    /// shows it once rebuilt ([`Registry::rebuild`]).
    pub fn set_enabled(&self, kind: Component, name: &str, enabled: bool) -> Result<bool, String> {
        let offer = &self.offer;
        let offered = match kind {
            Component::Tool => offer.tools.iter().any(|t| t.own_name() == name),
            Component::Prompt => offer.prompts.iter().any(|p| p.name == name),
            Component::Resource => {
                offer.resources.iter().any(|r| r.uri == name)
                    || offer.templates.iter().any(|(t, _)| t.uri_template == name)
            }
        };
        if !offered {
            let what = match kind {
                Component::Tool => "tool",
                Component::Prompt => "prompt",
                Component::Resource => "resource or resource template",
            };
            return Err(format!(
                "{} offers no {what} `{}`",
                self.name,
                crate::text::clip(name)
            ));
        }
        let mut disabled = self.disabled.lock().unwrap_or_else(|e| e.into_inner());
        let key = (kind, name.to_string());
        Ok(if enabled {
            disabled.remove(&key)
        } else {
            disabled.insert(key)
        })
    }

    /// The components switched off now.
    fn disabled(&self) -> std::collections::BTreeSet<(Component, String)> {
        self.disabled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The WebAssembly plugin serving this mount, if it is one.
    pub fn wasm(&self) -> Option<&Plugin> {
        match &self.backend {
            Backend::Plugin { plugin, .. } => Some(plugin),
            Backend::Proxy(_) | Backend::Api(_) => None,
        }
    }

    /// The checked manifest of a plugin mount.
    pub fn manifest(&self) -> Option<&CheckedManifest> {
        match &self.backend {
            Backend::Plugin { manifest, .. } => Some(manifest),
            Backend::Proxy(_) | Backend::Api(_) => None,
        }
    }

    /// The file of a plugin mount.
    pub fn file(&self) -> Option<&std::path::Path> {
        match &self.backend {
            Backend::Plugin { file, .. } => Some(file),
            Backend::Proxy(_) | Backend::Api(_) => None,
        }
    }
}

/// A tool as clients see it, with the mount that serves it.
pub struct ToolEntry {
    /// The serving mount.
    pub mount: Arc<Mount>,
    /// The tool's name inside the plugin.
    pub local_name: String,
    /// The tool as listed to clients (namespaced).
    pub tool: Tool,
    /// Its compiled input schema, when there is one to check.
    pub validator: Option<Arc<jsonschema::Validator>>,
    /// Its compiled output schema, if it declares one.
    pub output_validator: Option<Arc<jsonschema::Validator>>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Whether a call may go on as a task.
    pub task: manifest::TaskSupport,
    /// The operator's transformation of the tool, if any (its arguments map back).
    pub applied: Option<Arc<transform::Applied>>,
}

impl ToolEntry {
    /// The arguments the tool itself takes for the client's `given`.
    pub fn own_arguments(
        &self,
        given: serde_json::Map<String, serde_json::Value>,
    ) -> serde_json::Map<String, serde_json::Value> {
        match self.applied.as_ref().and_then(|a| a.mapping.as_ref()) {
            Some(mapping) => mapping.map_back(given),
            None => given,
        }
    }
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
    /// The mount's own template text.
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
    /// What building it found worth a warning (name conflicts, unusable templates).
    notices: std::collections::BTreeSet<String>,
}

/// The notice of a name conflict: `new` replaces `old`'s `kind` `key`.
fn replaced(kind: &str, key: &str, old: &Arc<Mount>, new: &Arc<Mount>) -> String {
    format!(
        "{kind} `{key}` of {} replaces the one of {} (the later mount wins)",
        new.source, old.source
    )
}

/// The notices of `new` that `old` did not have: each is logged once, when it
/// appears, not at every rebuild that keeps it.
fn fresh_notices<'a>(
    old: &'a std::collections::BTreeSet<String>,
    new: &'a std::collections::BTreeSet<String>,
) -> impl Iterator<Item = &'a String> {
    new.difference(old)
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
        let offer = &mount.offer;
        let disabled = mount.disabled();
        let off = |kind: Component, name: &str| {
            !disabled.is_empty() && disabled.contains(&(kind, name.to_string()))
        };
        for t in offer
            .tools
            .iter()
            .filter(|t| !off(Component::Tool, t.own_name()))
        {
            let name = namespace::name(ns, &t.tool.name);
            let mut tool = t.tool.clone();
            tool.name = name.clone().into();
            let entry = ToolEntry {
                mount: mount.clone(),
                local_name: t.own_name().to_string(),
                tool,
                validator: t.validator.clone(),
                output_validator: t.output_validator.clone(),
                tags: t.tags.clone(),
                task: t.task,
                applied: t.applied.clone(),
            };
            if let Some(old) = self.tools.insert(name.clone(), entry) {
                self.notices
                    .insert(replaced("tool", &name, &old.mount, mount));
            }
        }
        for r in offer
            .resources
            .iter()
            .filter(|r| !off(Component::Resource, &r.uri))
        {
            let uri = namespace::uri(ns, &r.uri);
            let mut resource = r.clone();
            resource.uri = uri.clone();
            let entry = ResourceEntry {
                mount: mount.clone(),
                resource,
            };
            if let Some(old) = self.resources.insert(uri.clone(), entry) {
                self.notices
                    .insert(replaced("resource", &uri, &old.mount, mount));
            }
        }
        for (t, _) in offer
            .templates
            .iter()
            .filter(|(t, _)| !off(Component::Resource, &t.uri_template))
        {
            let uri_template = namespace::uri(ns, &t.uri_template);
            let Ok(parsed) = UriTemplate::parse(&uri_template) else {
                self.notices.insert(format!(
                    "resource template `{uri_template}` of {} cannot be parsed; left out",
                    mount.source
                ));
                continue;
            };
            let mut template = t.clone();
            template.uri_template = uri_template.clone();
            let entry = TemplateEntry {
                mount: mount.clone(),
                parsed,
                local_template: t.uri_template.clone(),
                template,
            };
            if let Some(old) = self.templates.insert(uri_template.clone(), entry) {
                self.notices.insert(replaced(
                    "resource template",
                    &uri_template,
                    &old.mount,
                    mount,
                ));
            }
        }
        for p in offer
            .prompts
            .iter()
            .filter(|p| !off(Component::Prompt, &p.name))
        {
            let name = namespace::name(ns, &p.name);
            let mut prompt = p.clone();
            prompt.name = name.clone();
            let entry = PromptEntry {
                mount: mount.clone(),
                local_name: p.name.clone(),
                prompt,
            };
            if let Some(old) = self.prompts.insert(name.clone(), entry) {
                self.notices
                    .insert(replaced("prompt", &name, &old.mount, mount));
            }
        }
    }

    /// Where the resource at (namespaced) `uri` is served: a static resource first,
    /// else the latest-mounted matching template. Matching is linear in the URI's
    /// length per template; callers inside a request share one result through
    /// [`crate::middleware::MiddlewareContext::resource`].
    pub fn resolve_resource(&self, uri: &str) -> Option<Resolved> {
        let (mount, template) = match self.resources.get(uri) {
            Some(entry) => (&entry.mount, None),
            None => {
                let entry = self
                    .templates
                    .items()
                    .iter()
                    .rev()
                    .find(|t| t.parsed.matches(uri).is_some())?;
                (&entry.mount, Some(entry.template.uri_template.clone()))
            }
        };
        let local = namespace::strip_uri(&mount.namespace, uri)?;
        Some(Resolved {
            mount: mount.clone(),
            local,
            template,
        })
    }
}

/// Where a resource URI is served.
#[derive(Clone)]
pub struct Resolved {
    /// The serving mount.
    pub mount: Arc<Mount>,
    /// The URI as that mount knows it.
    pub local: String,
    /// The (namespaced) template the URI matched; `None` for a static resource.
    pub template: Option<String>,
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

    /// The lists that changed, by name: `tools`, `resources`, `prompts`.
    pub fn lists(self) -> Vec<&'static str> {
        [
            (self.tools, "tools"),
            (self.resources, "resources"),
            (self.prompts, "prompts"),
        ]
        .into_iter()
        .filter_map(|(yes, name)| yes.then_some(name))
        .collect()
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
    /// Held while a catalogue is built and published, so that a rebuild (a component
    /// switched) and a new set of mounts never publish over each other.
    writing: std::sync::Mutex<()>,
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
            writing: std::sync::Mutex::new(()),
        }
    }

    /// Builds the catalogue of `mounts` and publishes it; returns what changed.
    pub fn publish_mounts(&self, mounts: Vec<Arc<Mount>>) -> Changes {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        self.swap(Catalogue::build(mounts))
    }

    /// Builds the catalogue of the mounts served now again (a component was switched
    /// on or off) and publishes it; returns what changed.
    pub fn rebuild(&self) -> Changes {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let mounts = self.snapshot().mounts.clone();
        self.swap(Catalogue::build(mounts))
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Catalogue> {
        self.current.load_full()
    }

    /// Replaces the snapshot (with `writing` held); returns what changed, which
    /// subscribers also receive.
    fn swap(&self, catalogue: Catalogue) -> Changes {
        let new = Arc::new(catalogue);
        let old = self.current.swap(new.clone());
        for notice in fresh_notices(&old.notices, &new.notices) {
            tracing::warn!("{notice}");
        }
        let changes = Changes::between(&old, &new);
        if changes.any() {
            // No subscriber is not an error: nobody is connected.
            let _ = self.changes.send(changes);
        }
        changes
    }

    /// How many receivers of [`Registry::subscribe`] are live (one per session that
    /// hears of changes).
    pub fn subscribers(&self) -> usize {
        self.changes.receiver_count()
    }

    /// Receives the [`Changes`] of every later publication that changed something.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Changes> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::fresh_notices;

    #[test]
    fn a_notice_is_fresh_only_in_the_catalogue_where_it_appears() {
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        let first = set(&["tool `a` of x replaces the one of y"]);
        let rebuilt = set(&[
            "tool `a` of x replaces the one of y",
            "prompt `p` of x replaces the one of z",
        ]);
        assert_eq!(
            fresh_notices(&Default::default(), &first).collect::<Vec<_>>(),
            ["tool `a` of x replaces the one of y"]
        );
        assert_eq!(
            fresh_notices(&first, &rebuilt).collect::<Vec<_>>(),
            ["prompt `p` of x replaces the one of z"]
        );
        assert_eq!(fresh_notices(&rebuilt, &rebuilt).count(), 0);
    }
}
