//! `response-cache`: answers a repeated tool call, resource read or prompt from a cache
//! kept in the store for `ttl-seconds` (key: the component, its canonical arguments and
//! the serving mount's version), and lists from memory until the catalogue changes
//! (when clients hear `list_changed`).
//! A request that asked the client anything (sampling, elicitation, roots), or that
//! carries answers, is neither answered from the cache nor cached: its result depends
//! on the answers.
//! Hits and misses are counted in `pier_cache_requests_total`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rmcp::model::{
    CallToolResult, GetPromptResult, Prompt, ReadResourceResult, Resource, ResourceTemplate, Tool,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::rate_limit::Backend;
use super::spec::{Services, SpecError};
use super::{
    Middleware, MiddlewareContext, Next, Outcome, PromptCall, Response, ToolCall, mismatched,
};
use crate::registry::Catalogue;
use crate::storage::KeyValue;
use crate::telemetry::Metrics;

/// `[[middleware]] type = "response-cache"`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// How long a cached result is served.
    pub ttl_seconds: f64,
    /// Tools whose results are cached (absent: every tool).
    pub include_tools: Option<Vec<String>>,
    /// Tools whose results are never cached.
    pub exclude_tools: Vec<String>,
    /// Resource URIs whose contents are cached (absent: every resource).
    pub include_resources: Option<Vec<String>>,
    /// Resource URIs never cached.
    pub exclude_resources: Vec<String>,
    /// Prompts whose results are cached (absent: every prompt).
    pub include_prompts: Option<Vec<String>>,
    /// Prompts never cached.
    pub exclude_prompts: Vec<String>,
    /// Cache `tools/list`, `resources/list`, … until the catalogue changes.
    pub lists: bool,
    /// Where cached results live.
    pub backend: Backend,
    /// Larger results are not cached.
    pub max_item_bytes: usize,
    /// Whose results a cached result answers: `everyone` (the default) or `subject`
    /// (only requests of the same verified token subject; requests without one share
    /// the anonymous cache).
    pub per: Per,
}

/// Whose results a cached result answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Per {
    /// Any caller's.
    #[default]
    Everyone,
    /// The same token subject's.
    Subject,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ttl_seconds: 300.0,
            include_tools: None,
            exclude_tools: Vec::new(),
            include_resources: None,
            exclude_resources: Vec::new(),
            include_prompts: None,
            exclude_prompts: Vec::new(),
            lists: true,
            backend: Backend::Storage,
            max_item_bytes: 1 << 20,
            per: Per::Everyone,
        }
    }
}

impl Config {
    /// Checks the TTL.
    pub fn check(&self) -> Result<(), SpecError> {
        if !(self.ttl_seconds > 0.0 && self.ttl_seconds <= 31_536_000.0) {
            return Err(SpecError::new(
                "ttl-seconds",
                "expected a number above 0 (at most a year)",
            ));
        }
        Ok(())
    }

    fn ttl(&self) -> Duration {
        Duration::from_secs_f64(self.ttl_seconds)
    }
}

/// Whether `name` passes an include list (absent = all) and an exclude list.
fn selected(name: &str, include: &Option<Vec<String>>, exclude: &[String]) -> bool {
    include.as_ref().is_none_or(|i| i.iter().any(|n| n == name))
        && !exclude.iter().any(|n| n == name)
}

/// `value` with object keys sorted at every level: equal arguments, equal text.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut sorted = serde_json::Map::new();
            for key in keys {
                sorted.insert(key.clone(), canonical(&map[key]));
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Lists cached in memory, by method and (under `per = "subject"`) subject, with the
/// catalogue they were made from: a new catalogue (every change clients hear of as
/// `list_changed`) makes them stale at once.
type Lists = Mutex<HashMap<ListKey, (Arc<Catalogue>, Instant, Response)>>;

/// The method of a cached list, and whose it is (`None`: everyone's).
type ListKey = (&'static str, Option<String>);

/// Most lists kept in memory (four methods per subject): beyond, the stale ones go,
/// then the oldest.
const MAX_LISTS: usize = 4096;

/// Makes room for one more list in `lists`: drops the stale ones (of an older
/// catalogue than `current`, or older than `ttl`), then the oldest, while full.
fn make_room(
    lists: &mut HashMap<ListKey, (Arc<Catalogue>, Instant, Response)>,
    current: &Arc<Catalogue>,
    ttl: Duration,
) {
    if lists.len() < MAX_LISTS {
        return;
    }
    lists.retain(|_, (catalogue, at, _)| Arc::ptr_eq(catalogue, current) && at.elapsed() < ttl);
    if lists.len() >= MAX_LISTS
        && let Some(oldest) = lists
            .iter()
            .min_by_key(|(_, (_, at, _))| *at)
            .map(|(key, _)| key.clone())
    {
        lists.remove(&oldest);
    }
}

/// The response-cache middleware.
pub struct ResponseCache {
    config: Config,
    store: Arc<dyn KeyValue>,
    metrics: Arc<Metrics>,
    prefix: String,
    lists: Lists,
}

impl ResponseCache {
    /// A response cache configured by `config`, applying in `scope`.
    pub fn new(config: Config, services: &Services, scope: &str) -> Self {
        let store = match config.backend {
            Backend::Storage => services.store.clone(),
            Backend::Memory => Arc::new(crate::storage::memory::Memory::default()),
        };
        Self {
            config,
            store,
            metrics: services.metrics.clone(),
            prefix: format!("pier/cache/{scope}/"),
            lists: Lists::default(),
        }
    }

    fn count(&self, kind: &str, hit: bool) {
        let outcome = if hit { "hit" } else { "miss" };
        self.metrics.count(
            "pier_cache_requests_total",
            &[("kind", kind), ("outcome", outcome)],
            1,
        );
    }

    /// The store key of a request: its kind, component, canonical arguments and the
    /// version of the mount serving it (a new version never answers from an old cache),
    /// and the caller's subject under `per = "subject"`.
    fn key(
        &self,
        cx: &MiddlewareContext,
        kind: &str,
        component: &str,
        arguments: &Value,
        version: &str,
    ) -> String {
        let subject = match self.config.per {
            Per::Everyone => String::new(),
            Per::Subject => cx.subject().map_or_else(String::new, |s| format!("s:{s}")),
        };
        let mut hash = Sha256::new();
        for part in [
            component,
            &canonical(arguments).to_string(),
            version,
            &subject,
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        format!("{}{kind}/{}", self.prefix, hex::encode(hash.finalize()))
    }

    /// The cached value under `key`, when there is one that parses.
    async fn lookup<T: serde::de::DeserializeOwned>(&self, kind: &str, key: &str) -> Option<T> {
        let found = match self.store.get(key).await {
            Ok(found) => found.and_then(|bytes| serde_json::from_slice(&bytes).ok()),
            Err(e) => {
                tracing::warn!("response cache not read: {e}");
                None
            }
        };
        self.count(kind, found.is_some());
        found
    }

    /// Caches `value` under `key`, unless serving it asked the client anything: such a
    /// result holds the answers of whoever was asked, and the next caller must be
    /// asked too.
    async fn keep<T: Serialize>(&self, cx: &MiddlewareContext, key: &str, value: &T) {
        if cx.asked() {
            return;
        }
        let Ok(bytes) = serde_json::to_vec(value) else {
            return;
        };
        if bytes.len() > self.config.max_item_bytes {
            return;
        }
        if let Err(e) = self.store.set(key, bytes, Some(self.config.ttl())).await {
            tracing::warn!("response cache not written: {e}");
        }
    }

    /// A cached list, or the list from `next` (then cached).
    async fn list(
        &self,
        cx: &MiddlewareContext,
        request: super::Request,
        next: Next<'_>,
    ) -> Outcome {
        let method = request.method();
        if !self.config.lists {
            return next.run(cx, request).await;
        }
        let key = (
            method,
            match self.config.per {
                Per::Everyone => None,
                Per::Subject => Some(cx.subject().unwrap_or_default().to_string()),
            },
        );
        let cached = {
            let lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
            lists
                .get(&key)
                .filter(|(catalogue, at, _)| {
                    Arc::ptr_eq(catalogue, cx.catalogue()) && at.elapsed() < self.config.ttl()
                })
                .map(|(_, _, response)| response.clone())
        };
        self.count("lists", cached.is_some());
        if let Some(response) = cached {
            return Ok(response);
        }
        let response = next.run(cx, request).await?;
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        if !lists.contains_key(&key) {
            make_room(&mut lists, cx.catalogue(), self.config.ttl());
        }
        lists.insert(
            key,
            (cx.catalogue().clone(), Instant::now(), response.clone()),
        );
        Ok(response)
    }
}

#[async_trait]
impl Middleware for ResponseCache {
    fn name(&self) -> &str {
        "response-cache"
    }

    async fn on_call_tool(
        &self,
        cx: &MiddlewareContext,
        call: ToolCall,
        next: Next<'_>,
    ) -> Outcome<CallToolResult> {
        let config = &self.config;
        let version = cx
            .catalogue()
            .tools
            .get(&call.name)
            .map(|t| t.mount.version.clone());
        let (true, Some(version), false) = (
            selected(&call.name, &config.include_tools, &config.exclude_tools),
            version,
            cx.carries_answers(),
        ) else {
            return next.call_tool(cx, call).await;
        };
        let arguments = Value::Object(call.arguments.clone());
        let key = self.key(cx, "tools", &call.name, &arguments, &version);
        if let Some(hit) = self.lookup::<CallToolResult>("tools", &key).await {
            return Ok(hit);
        }
        let result = next.call_tool(cx, call).await?;
        if result.is_error != Some(true) {
            self.keep(cx, &key, &result).await;
        }
        Ok(result)
    }

    async fn on_read_resource(
        &self,
        cx: &MiddlewareContext,
        uri: String,
        next: Next<'_>,
    ) -> Outcome<ReadResourceResult> {
        let config = &self.config;
        let version = cx.resource(&uri).map(|r| r.mount.version.clone());
        let (true, Some(version), false) = (
            selected(&uri, &config.include_resources, &config.exclude_resources),
            version,
            cx.carries_answers(),
        ) else {
            return next.read_resource(cx, uri).await;
        };
        let key = self.key(cx, "resources", &uri, &Value::Null, &version);
        if let Some(hit) = self.lookup::<ReadResourceResult>("resources", &key).await {
            return Ok(hit);
        }
        let result = next.read_resource(cx, uri).await?;
        self.keep(cx, &key, &result).await;
        Ok(result)
    }

    async fn on_get_prompt(
        &self,
        cx: &MiddlewareContext,
        call: PromptCall,
        next: Next<'_>,
    ) -> Outcome<GetPromptResult> {
        let config = &self.config;
        let version = cx
            .catalogue()
            .prompts
            .get(&call.name)
            .map(|p| p.mount.version.clone());
        let (true, Some(version), false) = (
            selected(&call.name, &config.include_prompts, &config.exclude_prompts),
            version,
            cx.carries_answers(),
        ) else {
            return next.get_prompt(cx, call).await;
        };
        let arguments = Value::Object(call.arguments.clone());
        let key = self.key(cx, "prompts", &call.name, &arguments, &version);
        if let Some(hit) = self.lookup::<GetPromptResult>("prompts", &key).await {
            return Ok(hit);
        }
        let result = next.get_prompt(cx, call).await?;
        self.keep(cx, &key, &result).await;
        Ok(result)
    }

    async fn on_list_tools(&self, cx: &MiddlewareContext, next: Next<'_>) -> Outcome<Vec<Tool>> {
        match self.list(cx, super::Request::ListTools, next).await? {
            Response::Tools(items) => Ok(items),
            _ => Err(mismatched("tools/list")),
        }
    }

    async fn on_list_resources(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<Resource>> {
        match self.list(cx, super::Request::ListResources, next).await? {
            Response::Resources(items) => Ok(items),
            _ => Err(mismatched("resources/list")),
        }
    }

    async fn on_list_resource_templates(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<ResourceTemplate>> {
        match self
            .list(cx, super::Request::ListResourceTemplates, next)
            .await?
        {
            Response::ResourceTemplates(items) => Ok(items),
            _ => Err(mismatched("resources/templates/list")),
        }
    }

    async fn on_list_prompts(
        &self,
        cx: &MiddlewareContext,
        next: Next<'_>,
    ) -> Outcome<Vec<Prompt>> {
        match self.list(cx, super::Request::ListPrompts, next).await? {
            Response::Prompts(items) => Ok(items),
            _ => Err(mismatched("prompts/list")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_of_many_subjects_keep_the_newest_within_the_bound() {
        let current = Arc::new(Catalogue::default());
        let stale = Arc::new(Catalogue::default());
        let ttl = Duration::from_secs(60);
        let mut lists = HashMap::new();
        let started = Instant::now();
        for i in 0..MAX_LISTS {
            let catalogue = if i % 2 == 0 { &current } else { &stale };
            let at = started + Duration::from_micros(i as u64);
            lists.insert(
                ("tools/list", Some(format!("s{i}"))),
                (catalogue.clone(), at, Response::Tools(Vec::new())),
            );
        }
        // Full: the lists of an older catalogue go first.
        make_room(&mut lists, &current, ttl);
        assert_eq!(lists.len(), MAX_LISTS / 2);
        assert!(lists.values().all(|(c, _, _)| Arc::ptr_eq(c, &current)));
        // Full of current lists: the oldest one goes, one at a time.
        for i in 0..MAX_LISTS / 2 {
            lists.insert(
                ("prompts/list", Some(format!("s{i}"))),
                (
                    current.clone(),
                    Instant::now(),
                    Response::Prompts(Vec::new()),
                ),
            );
        }
        assert_eq!(lists.len(), MAX_LISTS);
        make_room(&mut lists, &current, ttl);
        assert_eq!(lists.len(), MAX_LISTS - 1);
        assert!(!lists.contains_key(&("tools/list", Some("s0".to_string()))));
        assert!(lists.contains_key(&("tools/list", Some("s2".to_string()))));
        // Not full: nothing goes.
        make_room(&mut lists, &current, ttl);
        assert_eq!(lists.len(), MAX_LISTS - 1);
    }

    #[test]
    fn equal_arguments_in_any_order_are_one_key() {
        let a = canonical(&json!({"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": null}}));
        let b = canonical(&json!({"a": {"x": null, "y": [1, {"c": 3, "d": 2}]}, "b": 1}));
        assert_eq!(a.to_string(), b.to_string());
        assert_eq!(
            a.to_string(),
            r#"{"a":{"x":null,"y":[1,{"c":3,"d":2}]},"b":1}"#
        );
    }

    #[test]
    fn include_and_exclude_lists_select_names() {
        let only_add = Some(vec!["add".to_string()]);
        assert!(selected("add", &only_add, &[]));
        assert!(!selected("sub", &only_add, &[]));
        assert!(selected("sub", &None, &[]));
        assert!(!selected("sub", &None, &["sub".to_string()]));
    }
}
