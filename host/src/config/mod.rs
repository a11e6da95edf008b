//! Settings of a running server, from four layers: defaults < `pier.toml` < `PIER_*`
//! environment variables < command-line flags. Every key is declared once in
//! [`keys::KEYS`]; an unknown key or a value of the wrong type is an error naming the
//! key, where it came from, and what was expected.

mod example;
pub mod keys;
mod tables;

pub use example::example_toml;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keys::{KEYS, Key, Kind};
use tables::{
    parse_middleware, parse_mounts, parse_rules, parse_secrets, parse_tokens, parse_tools,
};
use toml::Value;

use crate::middleware::spec::Spec;
use crate::registry::spec::MountSpec;
use crate::runtime::grants::config::Secrets;
use crate::runtime::grants::{GrantCaps, HttpBudget, HttpGrant, Trust};
use crate::runtime::limits::{Instances, ReusePolicy, ReuseScope};
use crate::runtime::{Limits, OutputLimits};
use crate::storage::{Backend, Quota};
use crate::transport::http::HttpOptions;

/// The transport `pier serve` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// Streamable HTTP on `/mcp` (with `/health` and `/ready`).
    #[default]
    Http,
    /// Newline-delimited JSON-RPC on stdin/stdout.
    Stdio,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// Least severe level written.
    pub level: String,
    /// `text` or `json`.
    pub json: bool,
}

/// `PIER_*` variables that are not configuration keys: where `pier build` and `pier dev`
/// keep their cache and find their toolchains (`builder/`).
pub const TOOL_VARIABLES: &[&str] = &[
    "PIER_CACHE_DIR",
    "PIER_COMPONENTIZE_PY",
    "PIER_JS_TOOLCHAIN",
];

/// Everything `pier serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Directory whose `*.wasm` files are mounted.
    pub plugins_dir: PathBuf,
    /// Follow the plugin directory (mount, swap, unmount on changes).
    pub watch: bool,
    /// Quiet time before a changed plugin file is loaded.
    pub debounce: Duration,
    /// Directory for pier's own data (the AOT cache lives in `aot/` below it).
    pub data_dir: PathBuf,
    /// An AOT artifact unused this long is deleted at start.
    pub aot_keep: Duration,
    /// Items per page of list results.
    pub page_size: usize,
    /// Newest MCP revision negotiated.
    pub max_protocol: rmcp::model::ProtocolVersion,
    /// Keys sealing `requestState` (`ID:SECRET`; the first signs).
    pub request_state_keys: Vec<String>,
    /// How long an MCP 2026-07-28 client may cache a list result (`ttlMs`).
    pub list_ttl_ms: u64,
    /// How long a call of a tool that may run as a task runs before it becomes one.
    pub task_after: Duration,
    /// Tasks one subject may start per hour (`server.max-tasks-per-subject`).
    pub max_tasks_per_subject: usize,
    /// Longest resource URI a request may name.
    pub max_uri_bytes: usize,
    /// Distinct resource URIs one session may subscribe to.
    pub max_subscriptions: usize,
    /// HTTP sessions open at once (`server.max-sessions`).
    pub max_sessions: usize,
    /// HTTP sessions one client holds open at once (`server.max-sessions-per-client`).
    pub max_sessions_per_client: usize,
    /// Bytes of request-scoped state one request may hold.
    pub max_state_bytes: usize,
    /// Limits of a plugin whose sidecar sets none.
    pub default_limits: Limits,
    /// The most any sidecar may ask for.
    pub max_limits: Limits,
    /// What any sidecar may be granted (`[grants]`).
    pub grants: GrantCaps,
    /// The transport to serve on.
    pub transport: Transport,
    /// Settings of the HTTP transport.
    pub http: HttpOptions,
    /// Logging.
    pub log: LogOptions,
    /// OpenTelemetry export (`[telemetry]`).
    pub telemetry: crate::telemetry::otel::OtelOptions,
    /// `[[mount]]` entries: plugin files and other MCP servers under namespaces,
    /// mounted after the plugin directory, in this order.
    pub mounts: Vec<MountSpec>,
    /// `[[middleware]]` entries: the server-level chain, outermost first.
    pub middleware: Vec<Spec>,
    /// `[[tools.PLUGIN]]`: tool transformations of the plugin directory's plugins (after
    /// each one's sidecar, which they override tool by tool).
    pub tools: std::collections::BTreeMap<String, Vec<crate::registry::transform::ToolTransform>>,
    /// Bounds on proxied servers (connect, requests, list pages).
    pub upstream: crate::registry::proxy::UpstreamLimits,
    /// How HTTP requests are authenticated (`[auth]`).
    pub auth: crate::auth::AuthConfig,
    /// Bearer token of the admin API (`/admin/mounts`); off when `None`.
    pub admin_token: Option<String>,
    /// Whether the admin API may mount `command` servers.
    pub admin_command_mounts: bool,
    /// The browser console (`[console]`).
    pub console: crate::console::ConsoleOptions,
    /// Whether the admin API may mount `url` servers.
    pub admin_url_mounts: bool,
    /// How OCI registries are reached (`plugins.insecure-registries`, the CAs).
    pub registries: crate::oci::Registries,
    /// Which plugins run (`[trust]`).
    pub trust: std::sync::Arc<crate::trust::Trust>,
    /// Where storage lives.
    pub storage: Backend,
    /// How often expired storage keys are purged.
    pub storage_purge: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Layers::default().build().expect("the defaults are valid")
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    Default,
    /// A configuration file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Env(var) => write!(f, "environment {var}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// A configuration value that is unknown or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {key}: {message}")]
pub struct ConfigError {
    /// Where it came from.
    pub origin: Source,
    /// The key (or the variable or flag, when no key matches).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

/// Checks `value` against `key`'s kind.
fn check(key: &Key, value: &Value) -> Result<(), String> {
    let wrong = || format!("expected {}, got {}", key.kind.expected(), shown(value));
    let ok = match (key.kind, value) {
        (Kind::Addr, Value::String(s)) => s.parse::<SocketAddr>().is_ok(),
        (Kind::Bool, Value::Boolean(_)) => true,
        (Kind::Int { min, max }, Value::Integer(n)) => {
            u64::try_from(*n).is_ok_and(|n| (min..=max).contains(&n))
        }
        (Kind::Path, Value::String(s)) => !s.is_empty(),
        (Kind::Text, Value::String(_)) => true,
        (Kind::Choice(words), Value::String(s)) => words.contains(&s.as_str()),
        (Kind::List, Value::Array(items)) => items.iter().all(Value::is_str),
        (Kind::Ratio, Value::Float(x)) => (0.0..=1.0).contains(x),
        (Kind::Ratio, Value::Integer(n)) => (0..=1).contains(n),
        (Kind::Ratio, Value::String(s)) => s.is_empty(),
        _ => false,
    };
    if ok { Ok(()) } else { Err(wrong()) }
}

/// Parses an environment variable's text as `key`'s kind.
fn parse_env(key: &Key, text: &str) -> Value {
    match key.kind {
        Kind::Bool => match text {
            "true" | "1" => Value::Boolean(true),
            "false" | "0" => Value::Boolean(false),
            _ => Value::String(text.into()),
        },
        Kind::Int { .. } => text
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.into()), Value::Integer),
        Kind::List => Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.into()))
                .collect(),
        ),
        Kind::Ratio => text
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map_or_else(|| Value::String(text.into()), Value::Float),
        Kind::Addr | Kind::Path | Kind::Text | Kind::Choice(_) => Value::String(text.into()),
    }
}

/// Configuration values by key, each with its source; later layers override earlier.
#[derive(Debug, Clone)]
pub struct Layers {
    values: BTreeMap<&'static str, (Value, Source)>,
    mounts: Vec<MountSpec>,
    middleware: Vec<Spec>,
    secrets: Secrets,
    tools: std::collections::BTreeMap<String, Vec<crate::registry::transform::ToolTransform>>,
    tokens: Vec<crate::auth::TokenSpec>,
    rules: Vec<crate::middleware::authorize::Rule>,
}

impl Default for Layers {
    /// The defaults of every key.
    fn default() -> Self {
        let values = KEYS
            .iter()
            .map(|k| {
                let value: Value = toml::from_str::<toml::Table>(&format!("v = {}", k.default))
                    .expect("defaults are TOML")
                    .remove("v")
                    .expect("parsed");
                (k.path, (value, Source::Default))
            })
            .collect();
        Self {
            values,
            mounts: Vec::new(),
            middleware: Vec::new(),
            secrets: Secrets::new(),
            tools: Default::default(),
            tokens: Vec::new(),
            rules: Vec::new(),
        }
    }
}

impl Layers {
    /// Sets `path` from `source`, checking the key exists and the value fits.
    pub fn set(&mut self, path: &str, value: Value, source: Source) -> Result<(), ConfigError> {
        let error = |message: String| ConfigError {
            origin: source.clone(),
            key: path.to_string(),
            message,
        };
        let key = keys::find(path).ok_or_else(|| error("unknown key".into()))?;
        check(key, &value).map_err(error)?;
        self.values.insert(key.path, (value, source));
        Ok(())
    }

    /// Applies the TOML text of a configuration file read from `path`.
    pub fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let source = Source::File(path.to_path_buf());
        let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError {
            origin: source.clone(),
            key: "(file)".into(),
            message: format!("invalid TOML: {}", e.message()),
        })?;
        let mut table = table;
        if let Some(mounts) = table.remove("mount") {
            self.mounts = parse_mounts(&source, mounts)?;
        }
        if let Some(middleware) = table.remove("middleware") {
            self.middleware = parse_middleware(&source, middleware)?;
        }
        if let Some(secrets) = table.remove("secrets") {
            self.secrets = parse_secrets(&source, secrets)?;
        }
        if let Some(tools) = table.remove("tools") {
            self.tools = parse_tools(&source, tools)?;
        }
        if let Some(auth) = table.get_mut("auth").and_then(toml::Value::as_table_mut) {
            if let Some(tokens) = auth.remove("token") {
                self.tokens = parse_tokens(&source, tokens)?;
            }
            if let Some(rules) = auth.remove("rule") {
                self.rules = parse_rules(&source, rules)?;
            }
        }
        let mut flat = Vec::new();
        flatten("", &table, &mut flat);
        for (path, value) in flat {
            self.set(&path, value, source.clone())?;
        }
        Ok(())
    }

    /// Applies every `PIER_*` variable of `vars`; an unknown `PIER_*` name is an error
    /// (the variables of [`TOOL_VARIABLES`] are not configuration and are skipped).
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (name, text) in vars {
            if !name.starts_with("PIER_") || TOOL_VARIABLES.contains(&name.as_str()) {
                continue;
            }
            let source = Source::Env(name.clone());
            let key = KEYS
                .iter()
                .find(|k| k.env() == name)
                .ok_or_else(|| ConfigError {
                    origin: source.clone(),
                    key: name.clone(),
                    message: "unknown variable (see pier.example.toml for the keys)".into(),
                })?;
            self.set(key.path, parse_env(key, &text), source)?;
        }
        Ok(())
    }

    fn get(&self, path: &str) -> &Value {
        &self
            .values
            .get(path)
            .unwrap_or_else(|| panic!("key {path} has a default"))
            .0
    }

    /// `[telemetry]`: what is exported over OTLP, where.
    fn telemetry(&self) -> Result<crate::telemetry::otel::OtelOptions, ConfigError> {
        let key = "telemetry.resource-attributes";
        let mut resource_attributes = Vec::new();
        for item in self.list(key) {
            let Some((k, v)) = item.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
                return Err(ConfigError {
                    origin: self.source(key).cloned().unwrap_or(Source::Default),
                    key: key.into(),
                    message: format!("expected \"key=value\", got \"{item}\""),
                });
            };
            resource_attributes.push((k.trim().to_string(), v.trim().to_string()));
        }
        let endpoint = self.str("telemetry.otlp-endpoint").trim();
        Ok(crate::telemetry::otel::OtelOptions {
            endpoint: Some(endpoint.to_string()).filter(|e| !e.is_empty()),
            sample_ratio: {
                let value = self.get("telemetry.sample-ratio");
                value
                    .as_float()
                    .or_else(|| value.as_integer().map(|n| n as f64))
            },
            service_name: Some(self.str("telemetry.service-name").trim().to_string())
                .filter(|n| !n.is_empty()),
            resource_attributes,
            export_interval: self.ms("telemetry.export-interval-ms"),
            trace_content: self.list("telemetry.trace-content"),
        })
    }

    /// Where the value of `path` came from.
    pub fn source(&self, path: &str) -> Option<&Source> {
        self.values.get(path).map(|(_, s)| s)
    }

    fn str(&self, path: &str) -> &str {
        self.get(path).as_str().unwrap_or_default()
    }

    fn int(&self, path: &str) -> u64 {
        self.get(path)
            .as_integer()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or_default()
    }

    fn flag(&self, path: &str) -> bool {
        self.get(path).as_bool().unwrap_or_default()
    }

    fn ms(&self, path: &str) -> Duration {
        Duration::from_millis(self.int(path))
    }

    fn list(&self, path: &str) -> Vec<String> {
        self.get(path)
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The server settings these layers describe.
    pub fn build(&self) -> Result<ServeConfig, ConfigError> {
        let listen: SocketAddr = self.str("server.listen").parse().map_err(|_| ConfigError {
            origin: self
                .source("server.listen")
                .cloned()
                .unwrap_or(Source::Default),
            key: "server.listen".into(),
            message: "expected \"host:port\"".into(),
        })?;
        let mut allowed_hosts = self.list("server.allowed-hosts");
        if !listen.ip().is_loopback() {
            // Host validation protects loopback servers from DNS rebinding; a server bound
            // to a routable address is reached under names pier cannot know.
            allowed_hosts.clear();
        }
        let http = HttpOptions {
            listen,
            stateless: self.get("server.stateless").as_bool().unwrap_or_default(),
            allowed_origins: self.list("server.allowed-origins"),
            allowed_hosts,
            max_body_bytes: self.int("server.max-body-bytes") as usize,
            request_timeout: self.ms("server.request-timeout-ms"),
            session_idle: self.ms("server.session-idle-ms"),
            session_hibernate: Duration::from_millis(self.int("server.session-hibernate-ms")),
            body_timeout: self.ms("server.body-timeout-ms"),
            header_timeout: self.ms("server.header-timeout-ms"),
            max_connections: self.int("server.max-connections") as usize,
            shutdown_grace: self.ms("server.shutdown-grace-ms"),
        };
        Ok(ServeConfig {
            plugins_dir: PathBuf::from(self.str("plugins.dir")),
            watch: self.get("plugins.watch").as_bool().unwrap_or(true),
            debounce: self.ms("plugins.debounce-ms"),
            data_dir: PathBuf::from(self.str("data.dir")),
            aot_keep: Duration::from_secs(self.int("data.aot-keep-days") * 86_400),
            page_size: self.int("server.page-size") as usize,
            max_protocol: match self.str("server.max-protocol-version") {
                "2026-07-28" => rmcp::model::ProtocolVersion::V_2026_07_28,
                _ => rmcp::model::ProtocolVersion::V_2025_11_25,
            },
            request_state_keys: self.list("server.request-state-keys"),
            list_ttl_ms: self.int("server.list-ttl-ms"),
            task_after: self.ms("server.task-after-ms"),
            max_tasks_per_subject: self.int("server.max-tasks-per-subject") as usize,
            max_uri_bytes: self.int("server.max-uri-bytes") as usize,
            max_subscriptions: self.int("server.max-subscriptions") as usize,
            max_sessions: self.int("server.max-sessions") as usize,
            max_sessions_per_client: self.int("server.max-sessions-per-client") as usize,
            max_state_bytes: self.int("server.max-request-state-bytes") as usize,
            default_limits: self.limits("defaults"),
            max_limits: self.limits("limits"),
            grants: self.grants()?,
            transport: match self.str("server.transport") {
                "stdio" => Transport::Stdio,
                _ => Transport::Http,
            },
            http,
            log: LogOptions {
                level: self.str("log.level").to_string(),
                json: self.str("log.format") == "json",
            },
            telemetry: self.telemetry()?,
            mounts: self.mounts.clone(),
            middleware: self.middleware.clone(),
            tools: self.tools.clone(),
            admin_token: Some(self.str("admin.token").to_string()).filter(|t| !t.is_empty()),
            auth: self.auth()?,
            upstream: crate::registry::proxy::UpstreamLimits {
                connect_timeout: self.ms("upstream.connect-timeout-ms"),
                request_timeout: self.ms("upstream.request-timeout-ms"),
                max_list_pages: self.int("upstream.max-list-pages") as usize,
                modern: self.str("upstream.max-protocol-version") == "2026-07-28",
            },
            admin_command_mounts: self.flag("admin.allow-command-mounts"),
            console: self.console()?,
            admin_url_mounts: self.flag("admin.allow-url-mounts"),
            registries: crate::oci::Registries {
                insecure: self.list("plugins.insecure-registries"),
                login: crate::oci::Login::DockerConfig,
                // Read (and checked) already by `grants.ca-certificates`'s trust.
                roots: self
                    .list("grants.ca-certificates")
                    .iter()
                    .filter_map(|file| std::fs::read(file).ok())
                    .collect(),
            },
            trust: std::sync::Arc::new(self.trust()?),
            storage: self.storage()?,
            storage_purge: self.ms("storage.purge-ms"),
        })
    }

    /// The `[console]` table. Beyond loopback it needs a token to ask for.
    fn console(&self) -> Result<crate::console::ConsoleOptions, ConfigError> {
        let options = crate::console::ConsoleOptions {
            enabled: self.flag("console.enabled"),
            remote: self.flag("console.remote"),
        };
        if options.remote && self.str("admin.token").is_empty() && self.str("auth.mode") == "none" {
            return Err(ConfigError {
                origin: self.source("console.remote").cloned().unwrap_or(Source::Default),
                key: "console.remote".into(),
                message: "a console served beyond loopback needs admin.token or auth.mode tokens or jwt: without either, anyone who reaches the port would see every mount and call every tool".into(),
            });
        }
        Ok(options)
    }

    /// The `[trust]` table: its keys read.
    fn trust(&self) -> Result<crate::trust::Trust, ConfigError> {
        let keys: Vec<PathBuf> = self
            .list("trust.keys")
            .into_iter()
            .map(PathBuf::from)
            .collect();
        let require = self.flag("trust.require-signatures");
        crate::trust::Trust::load(&keys, require, std::path::Path::new(".")).map_err(|message| {
            let key = if keys.is_empty() {
                "trust.require-signatures"
            } else {
                "trust.keys"
            };
            ConfigError {
                origin: self.source(key).cloned().unwrap_or(Source::Default),
                key: key.into(),
                message,
            }
        })
    }

    /// The `[defaults]` or `[limits]` table as limits.
    fn limits(&self, table: &str) -> Limits {
        let int = |name: &str| self.int(&format!("{table}.{name}")) as usize;
        Limits {
            timeout: self.ms(&format!("{table}.timeout-ms")),
            memory_bytes: int("memory-mb") << 20,
            storage: Quota {
                max_keys: int("storage-keys"),
                max_value_bytes: int("storage-value-bytes"),
            },
            output: OutputLimits {
                messages: int("log-messages"),
                bytes: int("log-bytes"),
            },
            max_concurrent_calls: int("max-concurrent-calls"),
            http: HttpBudget {
                requests: int("http-requests"),
                response_bytes: int("http-response-bytes"),
            },
            instances: match self.str(&format!("{table}.instances")) {
                "fresh" => Instances::Fresh,
                "reuse" => Instances::Reuse,
                _ => Instances::Auto,
            },
            reuse_scope: match self.str(&format!("{table}.reuse-scope")) {
                "plugin" => ReuseScope::Plugin,
                _ => ReuseScope::Session,
            },
            reuse: ReusePolicy {
                max_calls: self.int(&format!("{table}.max-calls")) as u32,
                idle: self.ms(&format!("{table}.idle-ms")),
                capacity: int("warm-instances"),
            },
        }
    }

    /// The operator's `[grants]`: what any sidecar may be granted.
    fn grants(&self) -> Result<GrantCaps, ConfigError> {
        let http = self
            .list("grants.http")
            .iter()
            .map(|text| HttpGrant::parse(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| ConfigError {
                origin: self
                    .source("grants.http")
                    .cloned()
                    .unwrap_or(Source::Default),
                key: "grants.http".into(),
                message,
            })?;
        let authorities: Vec<PathBuf> = self
            .list("grants.ca-certificates")
            .into_iter()
            .map(PathBuf::from)
            .collect();
        Ok(GrantCaps {
            http,
            private_networks: self.flag("grants.private-networks"),
            files: self
                .list("grants.files")
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            secrets: std::sync::Arc::new(self.secrets.clone()),
            trust: Trust::with_authorities(&authorities).map_err(|message| ConfigError {
                origin: self
                    .source("grants.ca-certificates")
                    .cloned()
                    .unwrap_or(Source::Default),
                key: "grants.ca-certificates".into(),
                message,
            })?,
        })
    }

    /// The `[auth]` settings; tokens mode needs tokens, jwt mode an issuer and keys, both
    /// the resource URI.
    fn auth(&self) -> Result<crate::auth::AuthConfig, ConfigError> {
        let error = |key: &str, message: &str| ConfigError {
            origin: self.source(key).cloned().unwrap_or(Source::Default),
            key: key.into(),
            message: message.into(),
        };
        let mode = match self.str("auth.mode") {
            "tokens" => crate::auth::Mode::Tokens,
            "jwt" => crate::auth::Mode::Jwt,
            _ => crate::auth::Mode::None,
        };
        let resource = self.str("auth.resource").to_string();
        if mode == crate::auth::Mode::Tokens && self.tokens.is_empty() {
            return Err(error(
                "auth.mode",
                "tokens needs at least one [[auth.token]] (hash = \"sha256:…\", subject, scopes)",
            ));
        }
        if mode != crate::auth::Mode::None
            && !(resource.starts_with("https://") || resource.starts_with("http://"))
        {
            return Err(error(
                "auth.resource",
                "needed when auth.mode is not none: this server's canonical URI, e.g. \"https://mcp.example.com/mcp\"",
            ));
        }
        let open_endpoints = self.list("auth.open-endpoints");
        if let Some(other) = open_endpoints
            .iter()
            .find(|e| !["/health", "/ready", "/metrics"].contains(&e.as_str()))
        {
            return Err(error(
                "auth.open-endpoints",
                &format!("{other}: only /health, /ready and /metrics can be opened"),
            ));
        }
        let scope_word = |key: &str, scope: &str| {
            if scope.is_empty()
                || scope
                    .chars()
                    .any(|c| c.is_whitespace() || c == '"' || c == '\\')
            {
                Err(error(
                    key,
                    &format!("{scope:?}: a scope is a word without spaces, quotes or backslashes"),
                ))
            } else {
                Ok(())
            }
        };
        let required_scopes = self.list("auth.required-scopes");
        for scope in &required_scopes {
            scope_word("auth.required-scopes", scope)?;
        }
        let admin_scope = self.str("admin.scope").to_string();
        scope_word("admin.scope", &admin_scope)?;
        let jwt = self.jwt(mode, &resource)?;
        // A JWT issuer is the authorization server clients go to, unless told otherwise.
        let authorization_servers = match self.list("auth.authorization-servers") {
            servers if servers.is_empty() && mode == crate::auth::Mode::Jwt => {
                vec![jwt.issuer.clone()]
            }
            servers => servers,
        };
        Ok(crate::auth::AuthConfig {
            mode,
            tokens: self.tokens.clone(),
            jwt,
            resource,
            authorization_servers,
            scopes_supported: self.list("auth.scopes-supported"),
            required_scopes,
            open_endpoints,
            admin_scope,
            rules: self.rules.clone(),
        })
    }

    /// The `jwt` settings of `[auth]`: an issuer and a source of keys when in jwt mode.
    fn jwt(
        &self,
        mode: crate::auth::Mode,
        resource: &str,
    ) -> Result<crate::auth::jwt::JwtSettings, ConfigError> {
        let error = |key: &str, message: String| ConfigError {
            origin: self.source(key).cloned().unwrap_or(Source::Default),
            key: key.into(),
            message,
        };
        let algorithms = self
            .list("auth.algorithms")
            .iter()
            .map(|name| crate::auth::jwt::algorithm(name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| error("auth.algorithms", m))?;
        let jwks_url = Some(self.str("auth.jwks-url").to_string()).filter(|u| !u.is_empty());
        let public_keys: Vec<PathBuf> = self
            .list("auth.public-keys")
            .into_iter()
            .map(PathBuf::from)
            .collect();
        let issuer = self.str("auth.issuer").to_string();
        if mode == crate::auth::Mode::Jwt {
            if issuer.is_empty() {
                return Err(error(
                    "auth.issuer",
                    "needed when auth.mode is jwt: the `iss` of the tokens, e.g. \"https://auth.example.com\"".into(),
                ));
            }
            if jwks_url.is_none() && public_keys.is_empty() {
                return Err(error(
                    "auth.mode",
                    "jwt needs keys: auth.jwks-url and/or auth.public-keys".into(),
                ));
            }
            if algorithms.is_empty() {
                return Err(error(
                    "auth.algorithms",
                    "no algorithm left to verify with".into(),
                ));
            }
            if let Some(url) = &jwks_url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return Err(error("auth.jwks-url", format!("{url}: not an http(s) URL")));
            }
            if let Some(url) = &jwks_url
                && url.starts_with("http://")
                && !crate::text::is_loopback_url(url)
                && !self.flag("auth.jwks-allow-http")
            {
                return Err(error(
                    "auth.jwks-url",
                    format!(
                        "{url}: plain http beyond loopback, where anyone on the path could hand pier signing keys: use https (or set auth.jwks-allow-http on a network you trust)"
                    ),
                ));
            }
            for path in &public_keys {
                crate::auth::jwks::read_pem(path).map_err(|m| error("auth.public-keys", m))?;
            }
        }
        let audience = match self.str("auth.audience") {
            "" => resource.to_string(),
            given => given.to_string(),
        };
        Ok(crate::auth::jwt::JwtSettings {
            issuer,
            audience,
            jwks_url,
            public_keys,
            algorithms,
            leeway: self.int("auth.leeway-seconds"),
            scopes_claim: self.str("auth.scopes-claim").to_string(),
            subject_claim: self.str("auth.subject-claim").to_string(),
            jwks_min_refresh: std::time::Duration::from_secs(
                self.int("auth.jwks-min-refresh-seconds"),
            ),
            jwks_max_age: std::time::Duration::from_secs(self.int("auth.jwks-cache-seconds")),
            require_type: self.flag("auth.require-jwt-type"),
        })
    }

    /// The storage backend: `storage.backend`, or `redis` when only `storage.url` is set.
    fn storage(&self) -> Result<Backend, ConfigError> {
        let error = |key: &str, message: String| ConfigError {
            origin: self.source(key).cloned().unwrap_or(Source::Default),
            key: key.into(),
            message,
        };
        let url = self.str("storage.url");
        let chosen = self.str("storage.backend");
        let explicit = self.source("storage.backend") != Some(&Source::Default);
        if !url.is_empty() && !url.starts_with("redis://") {
            return Err(error(
                "storage.url",
                format!("expected a redis://host:port URL, got \"{url}\""),
            ));
        }
        let redis = Backend::Redis {
            url: url.to_string(),
            prefix: self.str("storage.redis-prefix").to_string(),
        };
        match (chosen, url.is_empty()) {
            ("redis", true) => Err(error(
                "storage.backend",
                "\"redis\" needs storage.url (redis://host:port)".into(),
            )),
            (_, false) if !explicit || chosen == "redis" => Ok(redis),
            (other, false) => Err(error(
                "storage.url",
                format!("only the redis backend uses a URL, but storage.backend is \"{other}\""),
            )),
            ("memory", true) => Ok(Backend::Memory),
            _ => Ok(Backend::Sled {
                path: crate::storage::sled_path(Path::new(self.str("data.dir"))),
                flush_every: Some(self.int("storage.flush-ms"))
                    .filter(|ms| *ms > 0)
                    .map(Duration::from_millis),
                cache_bytes: self.int("storage.cache-mib") << 20,
            }),
        }
    }
}

/// `table` as dotted paths to leaf values (arrays are leaves).
fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, Value)>) {
    for (name, value) in table {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            Value::Table(inner) => flatten(&path, inner, out),
            other => out.push((path, other.clone())),
        }
    }
}
