//! The `pier` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use toml::Value;

use crate::config::{ConfigError, Layers, ServeConfig, Source};

/// pier serves MCP tools, resources and prompts from sandboxed WebAssembly plugins.
///
/// Drop `.wasm` plugins into a directory (default `plugins.d`) and run `pier serve`;
/// MCP clients connect over HTTP at http://127.0.0.1:8000/mcp, or start
/// `pier serve --transport stdio` themselves.
#[derive(Debug, Parser)]
#[command(name = "pier", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mount every plugin of a directory and serve them to MCP clients.
    Serve(ServeArgs),
    /// Serve, and rebuild plugin source folders on save: each fresh component is copied
    /// into the plugin directory and swapped in; a failed build keeps the previous one.
    Dev(DevArgs),
    /// Show what plugins expose: tools with their schemas, resources, templates,
    /// prompts, limits. Broken files are reported with the reason (exit code 1).
    Inspect(InspectArgs),
    /// Run one tool of one plugin locally, without a server, and print the result
    /// (exit code 1 when the tool fails).
    Call(CallArgs),
    /// Build a plugin source folder (a Rust crate, a Python folder with `server.py`, a
    /// JavaScript or TypeScript folder with `server.ts`/`server.js`, or a folder whose
    /// sidecar says `build = "…"`) into OUT/NAME.wasm, with its sidecar.
    Build(BuildArgs),
    /// Write a new plugin folder that builds and serves as it is: one tool `hello`, a
    /// sidecar, a README with the commands that matter, a test.
    New(NewArgs),
    /// List the mounts of a running pier (admin API; needs admin.token).
    Mounts(MountsArgs),
    /// Mount a plugin file or another MCP server into a running pier (admin API).
    Mount(MountArgs),
    /// Remove a mount added by `pier mount` or `[[mount]]` from a running pier (admin API).
    Unmount(UnmountArgs),
    /// Inspect or repair a plugin's stored data: in the configured store, or through the
    /// admin API of a running pier (`--server`; a running pier holds its sled store).
    Storage(StorageArgs),
    /// Authentication helpers: `hash-token` prints the `[[auth.token]]` hash of a token,
    /// `check` says whether the configured `[auth]` accepts one and as whom.
    Auth(AuthArgs),
    /// Print a reference page of the book, generated from this binary: `cli`, `config`,
    /// `metrics` or `wit` (Markdown); `--write DIR` writes them all.
    Docs(DocsArgs),
    /// Publish a plugin file (and its sidecar) to an OCI registry as a Wasm artifact;
    /// prints the reference by digest to mount.
    Push(PushArgs),
    /// Fetch a plugin from an OCI registry into a plugin directory: NAME.wasm and its
    /// sidecar, each written whole (a watching pier never sees half a file).
    Pull(PullArgs),
    /// Sign a plugin file (writes FILE.sig, as `cosign sign-blob` does) or an artifact
    /// in a registry (a cosign signature beside it, as `cosign sign --key` does).
    Sign(SignArgs),
    /// Make a key pair for `pier sign`: NAME.key (cosign's encrypted format, with the
    /// password in COSIGN_PASSWORD) and NAME.pub (for `[trust] keys`).
    Keygen(KeygenArgs),
}

/// How `push`, `pull` and `sign` reach a registry.
#[derive(Debug, Default, clap::Args)]
pub struct RegistryArgs {
    /// Registry user (default: the entry `docker login` wrote for the registry).
    #[arg(long, value_name = "USER", requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the registry password (or token) from standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Registries (`host:port`, comma-separated) reached over plain HTTP; loopback
    /// registries always are.
    #[arg(long, value_name = "HOST:PORT,…", value_delimiter = ',')]
    pub insecure_registries: Vec<String>,
}

/// Flags of `pier push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The plugin file (`.wasm`, a component).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Where to push it: `registry/repository:tag`.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Its sidecar, pushed as a layer of the artifact (default: none; `NAME.toml`
    /// beside the file is not taken unless named).
    #[arg(long, value_name = "FILE")]
    pub sidecar: Option<PathBuf>,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Flags of `pier pull`.
#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// What to pull: `registry/repository:tag` or `registry/repository@sha256:…`.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// The plugin directory to write into.
    #[arg(short = 'o', long = "output", value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
    /// Require a cosign signature by this public key (repeat for several; any one
    /// will do); without it nothing is checked.
    #[arg(long = "key", value_name = "PUB")]
    pub keys: Vec<PathBuf>,
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Flags of `pier sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// A plugin file, or an artifact's reference in a registry.
    #[arg(value_name = "FILE|REF")]
    pub target: String,
    /// The private key: cosign's (its password in COSIGN_PASSWORD) or a PKCS#8 PEM.
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// The registry (when signing a reference).
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Flags of `pier keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write: NAME.key and NAME.pub.
    #[arg(value_name = "NAME", default_value = "cosign")]
    pub name: PathBuf,
}

/// `pier docs`.
#[derive(Debug, clap::Args)]
pub struct DocsArgs {
    /// The page to print.
    #[arg(value_name = "PAGE", required_unless_present = "write", value_parser = clap::builder::PossibleValuesParser::new(crate::docs::PAGES))]
    pub page: Option<String>,
    /// Write every page to DIR/PAGE.md instead.
    #[arg(long, value_name = "DIR", conflicts_with = "page")]
    pub write: Option<PathBuf>,
}

/// `pier auth`.
#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AuthAction,
}

/// The subcommands of `pier auth`.
#[derive(Debug, Subcommand)]
pub enum AuthAction {
    /// Print `sha256:…` of a bearer token, for `hash` of an `[[auth.token]]` table. The
    /// token is read from standard input (one line) unless given: an argument stays in
    /// the shell's history.
    HashToken {
        /// The token (default: read from standard input).
        #[arg(value_name = "TOKEN")]
        token: Option<String>,
    },
    /// Check a bearer token against the configured `[auth]`: prints its subject and
    /// scopes, or exactly why pier refuses it (exit code 1). The token is read from
    /// standard input unless given.
    Check {
        /// The token (default: read from standard input).
        #[arg(value_name = "TOKEN")]
        token: Option<String>,
        /// Where the configuration is.
        #[command(flatten)]
        local: LocalArgs,
    },
}

/// `pier storage`.
#[derive(Debug, clap::Args)]
pub struct StorageArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: StorageAction,
}

/// The subcommands of `pier storage`.
#[derive(Debug, Subcommand)]
pub enum StorageAction {
    /// List a plugin's keys, one per line (those starting with PREFIX).
    List {
        /// Only keys starting with this.
        #[arg(value_name = "PREFIX", default_value = "")]
        prefix: String,
        /// The plugin and the store.
        #[command(flatten)]
        target: StorageTarget,
    },
    /// Print the value under KEY, byte for byte (exit code 1 when there is none).
    Get {
        /// The key, as the plugin names it.
        #[arg(value_name = "KEY")]
        key: String,
        /// The plugin and the store.
        #[command(flatten)]
        target: StorageTarget,
    },
    /// Delete KEY (exit code 1 when there is none).
    Delete {
        /// The key, as the plugin names it.
        #[arg(value_name = "KEY")]
        key: String,
        /// The plugin and the store.
        #[command(flatten)]
        target: StorageTarget,
    },
}

/// Whose data, and where the store is.
#[derive(Debug, clap::Args)]
pub struct StorageTarget {
    /// The plugin (its file name without `.wasm`).
    #[arg(long, value_name = "NAME")]
    pub plugin: String,
    /// `sled`, `memory` or `redis` (key storage.backend) [default: sled].
    #[arg(long, value_name = "BACKEND")]
    pub storage: Option<String>,
    /// Redis URL (key storage.url).
    #[arg(long, value_name = "URL")]
    pub storage_url: Option<String>,
    /// Go through the admin API of the pier running at this base URL instead of opening
    /// the store (how to reach a sled store that a running server holds).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Admin token for `--server` [default: admin.token of the configuration, or PIER_ADMIN_TOKEN].
    #[arg(long, value_name = "TOKEN", requires = "server")]
    pub token: Option<String>,
    /// Where the configuration and the data dir are.
    #[command(flatten)]
    pub local: LocalArgs,
}

impl StorageTarget {
    /// The running pier to ask, when `--server` is given.
    pub fn admin(&self) -> Option<AdminArgs> {
        self.server.as_ref().map(|server| AdminArgs {
            server: Some(server.clone()),
            token: self.token.clone(),
            local: LocalArgs {
                config: self.local.config.clone(),
                data_dir: self.local.data_dir.clone(),
            },
        })
    }

    /// The configuration: as `pier serve` reads it, with these flags.
    pub fn config(&self) -> Result<ServeConfig, ConfigError> {
        ServeArgs {
            config: self.local.config.clone(),
            data_dir: self.local.data_dir.clone(),
            storage: self.storage.clone(),
            storage_url: self.storage_url.clone(),
            ..ServeArgs::default()
        }
        .config()
    }
}

/// Flags of `pier dev`.
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Plugin source folders: Rust crates, Python folders with a FastMCP-style
    /// `server.py`, JavaScript or TypeScript folders with `server.ts` or `server.js`
    /// (the JS SDK), or folders with a sidecar `NAME.toml` whose `build = "…"` writes
    /// the component to `$PIER_OUT`.
    #[arg(value_name = "PLUGIN_SOURCE_DIR")]
    pub sources: Vec<PathBuf>,
    /// Everything `pier serve` takes.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// How to reach a running pier's admin API.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// Base URL of the running pier [default: http:// + server.listen of the configuration].
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Admin token [default: admin.token of the configuration, or PIER_ADMIN_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Where the configuration is.
    #[command(flatten)]
    pub local: LocalArgs,
}

/// Flags of `pier mounts`.
#[derive(Debug, clap::Args)]
pub struct MountsArgs {
    /// Print the admin API's JSON.
    #[arg(long)]
    pub json: bool,
    /// The running pier.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// Flags of `pier mount`.
#[derive(Debug, clap::Args)]
pub struct MountArgs {
    /// Namespace of the new mount (`""` keeps names).
    #[arg(value_name = "NAMESPACE")]
    pub namespace: String,
    /// A plugin file (path as the server sees it).
    #[arg(long, value_name = "FILE", group = "target")]
    pub path: Option<String>,
    /// Another MCP server over streamable HTTP.
    #[arg(long, value_name = "URL", group = "target")]
    pub url: Option<String>,
    /// A plugin in an OCI registry (`registry/repository:tag` or `@sha256:…`), pulled
    /// by the server.
    #[arg(long, value_name = "REF", group = "target")]
    pub oci: Option<String>,
    /// Bearer token for `--url`.
    #[arg(long, value_name = "TOKEN", requires = "url")]
    pub bearer: Option<String>,
    /// Another MCP server, started by pier, over stdio.
    #[arg(long, value_name = "PROGRAM", group = "target")]
    pub command: Option<String>,
    /// An argument of `--command` (repeat for several).
    #[arg(
        long = "arg",
        value_name = "ARG",
        requires = "command",
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
    /// `mount` (follow the server's changes) or `import` (copy its catalogue once).
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// The running pier.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// Flags of `pier unmount`.
#[derive(Debug, clap::Args)]
pub struct UnmountArgs {
    /// Namespace of the mount to remove.
    #[arg(value_name = "NAMESPACE")]
    pub namespace: String,
    /// The running pier.
    #[command(flatten)]
    pub admin: AdminArgs,
}

impl AdminArgs {
    /// The base URL and the token, from the flags or the configuration.
    pub fn target(&self) -> Result<(String, String), String> {
        let config = self.local.config().map_err(|e| e.to_string())?;
        let server = self
            .server
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.http.listen));
        let token = self.token.clone().or(config.admin_token).ok_or_else(|| {
            "no admin token: pass --token or set admin.token (PIER_ADMIN_TOKEN)".to_string()
        })?;
        Ok((server.trim_end_matches('/').to_string(), token))
    }
}

/// Flags of `pier inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Plugin files (`.wasm`), directories of them, or artifacts in an OCI registry
    /// (`registry/repository:tag`, pulled into the data dir; its digest and signature
    /// shown).
    #[arg(required = true, value_name = "FILE|DIR|REF")]
    pub paths: Vec<PathBuf>,
    /// Print stable JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Colour the text output: `auto` (when printing to a terminal and NO_COLOR is
    /// not set), `always` or `never`.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
    /// Where the configuration and the AOT cache are.
    #[command(flatten)]
    pub local: LocalArgs,
}

/// When `pier inspect` colours its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// When the output is a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour output written to `stream`.
    pub fn enabled(self, stream: &impl std::io::IsTerminal) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => {
                stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// Flags of `pier call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The plugin file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The tool: its name in the plugin (`greet`) or namespaced (`hello_greet`).
    #[arg(value_name = "TOOL")]
    pub tool: String,
    /// Arguments as a JSON object.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub args: String,
    /// Where the configuration and the AOT cache are.
    #[command(flatten)]
    pub local: LocalArgs,
}

/// Flags of `pier build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The plugin source folder.
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Where the component (NAME.wasm) and its sidecar go: a plugin directory.
    #[arg(short, long, value_name = "OUT", default_value = "plugins.d")]
    pub out: PathBuf,
    /// Print the folder of the Python SDK that comes with pier (to import `pier_sdk` in
    /// a plugin's tests) and build nothing.
    #[arg(long)]
    pub sdk_path: bool,
}

/// Flags of `pier new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The plugin's name (and its folder's, unless `--dir`).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Its language.
    #[arg(long, value_enum)]
    pub lang: crate::scaffold::Lang,
    /// The folder to write [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Flags shared by the local commands (`inspect`, `call`).
#[derive(Debug, clap::Args)]
pub struct LocalArgs {
    /// Configuration file (for data.dir and limits) [default: ./pier.toml when it exists].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of the AOT cache (key data.dir) [default: .pier].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
}

impl LocalArgs {
    /// The configuration of a local command: as `pier serve` reads it, with these flags.
    pub fn config(&self) -> Result<ServeConfig, ConfigError> {
        ServeArgs {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            ..ServeArgs::default()
        }
        .config()
    }
}

/// Flags of `pier serve`. Each overrides the same key of `pier.toml` and `PIER_*`.
#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Configuration file [default: ./pier.toml when it exists].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory whose `*.wasm` plugins are mounted (key plugins.dir) [default: plugins.d].
    #[arg(long, value_name = "DIR")]
    pub plugins: Option<String>,
    /// `http` (streamable HTTP) or `stdio` (for clients that start pier) (key server.transport) [default: http].
    #[arg(long, value_name = "http|stdio")]
    pub transport: Option<String>,
    /// HTTP address; port 0 picks a free one, printed to stderr (key server.listen) [default: 127.0.0.1:8000].
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// HTTP without sessions: JSON responses, any replica answers any request (key server.stateless).
    #[arg(long)]
    pub stateless: bool,
    /// Follow the plugin directory: mount, swap and unmount plugins as files change (key plugins.watch) [default].
    #[arg(long, overrides_with = "no_watch")]
    pub watch: bool,
    /// Do not follow the plugin directory; changes need a restart (key plugins.watch = false).
    #[arg(long, overrides_with = "watch")]
    pub no_watch: bool,
    /// Serve the browser console at /console (key console.enabled); on by default in `pier dev`.
    #[arg(long, overrides_with = "no_console")]
    pub console: bool,
    /// Do not serve the console (key console.enabled = false).
    #[arg(long, overrides_with = "console")]
    pub no_console: bool,
    /// Directory for pier's data: the AOT cache, the sled store (key data.dir) [default: .pier].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// OCI registries reached over plain HTTP, comma-separated (key plugins.insecure-registries); loopback ones always are.
    #[arg(long, value_name = "HOST:PORT,…")]
    pub insecure_registries: Option<String>,
    /// Where storage lives: `sled`, `memory` or `redis` (key storage.backend) [default: sled].
    #[arg(long, value_name = "BACKEND")]
    pub storage: Option<String>,
    /// Redis URL, `redis://host:port` (key storage.url).
    #[arg(long, value_name = "URL")]
    pub storage_url: Option<String>,
    /// Items per page of list results (key server.page-size) [default: 100].
    #[arg(long, value_name = "N")]
    pub page_size: Option<i64>,
    /// Least severe log level: trace, debug, info, warn, error (key log.level) [default: info].
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log lines as `text` or `json` (key log.format) [default: text].
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
}

impl ServeArgs {
    /// The flags given, as (flag, key, value).
    fn flags(&self) -> Vec<(&'static str, &'static str, Value)> {
        let mut out = Vec::new();
        let mut text = |flag, key, value: &Option<String>| {
            if let Some(v) = value {
                out.push((flag, key, Value::String(v.clone())));
            }
        };
        text("--plugins", "plugins.dir", &self.plugins);
        text("--transport", "server.transport", &self.transport);
        text("--listen", "server.listen", &self.listen);
        text("--data-dir", "data.dir", &self.data_dir);
        text("--storage", "storage.backend", &self.storage);
        text("--storage-url", "storage.url", &self.storage_url);
        text("--log-level", "log.level", &self.log_level);
        text("--log-format", "log.format", &self.log_format);
        if let Some(list) = &self.insecure_registries {
            let hosts = list
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(|h| Value::String(h.to_string()))
                .collect();
            out.push((
                "--insecure-registries",
                "plugins.insecure-registries",
                Value::Array(hosts),
            ));
        }
        if self.stateless {
            out.push(("--stateless", "server.stateless", Value::Boolean(true)));
        }
        if self.watch {
            out.push(("--watch", "plugins.watch", Value::Boolean(true)));
        }
        if self.no_watch {
            out.push(("--no-watch", "plugins.watch", Value::Boolean(false)));
        }
        if self.console {
            out.push(("--console", "console.enabled", Value::Boolean(true)));
        }
        if self.no_console {
            out.push(("--no-console", "console.enabled", Value::Boolean(false)));
        }
        if let Some(n) = self.page_size {
            out.push(("--page-size", "server.page-size", Value::Integer(n)));
        }
        out
    }

    /// The configuration: defaults < file < `env` < these flags.
    pub fn config_with_env(
        &self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ServeConfig, ConfigError> {
        let mut layers = Layers::default();
        let file = match &self.config {
            Some(path) => Some(path.clone()),
            None => Some(PathBuf::from("pier.toml")).filter(|p| p.exists()),
        };
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                origin: Source::File(path.clone()),
                key: "(file)".into(),
                message: format!("cannot read: {e}"),
            })?;
            layers.apply_file(&path, &text)?;
        }
        layers.apply_env(env)?;
        for (flag, key, value) in self.flags() {
            layers.set(key, value, Source::Flag(flag.into()))?;
        }
        layers.build()
    }

    /// The configuration from the file, the process environment and these flags.
    pub fn config(&self) -> Result<ServeConfig, ConfigError> {
        self.config_with_env(std::env::vars())
    }
}
