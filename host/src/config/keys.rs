//! Every configuration key: its type, default and meaning. The one list from which
//! files, environment variables and flags are read, checked and documented.

/// What a key's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `"host:port"`.
    Addr,
    /// `true` or `false`.
    Bool,
    /// An integer in `min..=max`.
    Int {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A filesystem path.
    Path,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A list of strings (comma-separated in an environment variable).
    List,
    /// A number from 0 to 1, or `""` for none.
    Ratio,
    /// Any string.
    Text,
}

impl Kind {
    /// What the value must be, for error messages.
    pub fn expected(self) -> String {
        match self {
            Kind::Addr => "\"host:port\"".into(),
            Kind::Bool => "true or false".into(),
            Kind::Int { min, max } => format!("an integer from {min} to {max}"),
            Kind::Path => "a path (string)".into(),
            Kind::Choice(words) => format!(
                "one of {}",
                words
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Kind::List => "a list of strings".into(),
            Kind::Ratio => "a number from 0 to 1, or \"\"".into(),
            Kind::Text => "a string".into(),
        }
    }
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Dotted path in `pier.toml`, e.g. `server.listen`.
    pub path: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Its default, as TOML text.
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
}

impl Key {
    /// The environment variable that sets it: `PIER_` + the path in capitals, `.` and
    /// `-` as `_` (`server.listen` → `PIER_SERVER_LISTEN`).
    pub fn env(&self) -> String {
        format!("PIER_{}", self.path.to_uppercase().replace(['.', '-'], "_"))
    }
}

const MS: Kind = Kind::Int {
    min: 1,
    max: 86_400_000,
};

/// All keys, in the order `pier.example.toml` documents them.
pub const KEYS: &[Key] = &[
    Key {
        path: "server.transport",
        kind: Kind::Choice(&["http", "stdio"]),
        default: "\"http\"",
        doc: "How clients reach pier: streamable HTTP, or stdio for a client that starts pier itself.",
    },
    Key {
        path: "server.listen",
        kind: Kind::Addr,
        default: "\"127.0.0.1:8000\"",
        doc: "Address of the HTTP transport; port 0 picks a free port (the bound address is printed to stderr).",
    },
    Key {
        path: "server.stateless",
        kind: Kind::Bool,
        default: "false",
        doc: "HTTP without sessions: JSON responses, any replica can answer any request.",
    },
    Key {
        path: "server.allowed-origins",
        kind: Kind::List,
        default: "[\"http://localhost:*\", \"http://127.0.0.1:*\", \"http://[::1]:*\", \"https://localhost:*\", \"https://127.0.0.1:*\"]",
        doc: "Browser origins allowed to call (`:*` = any port); a request with another Origin gets 403. Requests without Origin pass.",
    },
    Key {
        path: "server.allowed-hosts",
        kind: Kind::List,
        default: "[\"localhost\", \"127.0.0.1\", \"::1\", \"[::1]\"]",
        doc: "Host header values accepted (DNS-rebinding protection). Ignored (any Host passes) when listening on a non-loopback address.",
    },
    Key {
        path: "server.max-body-bytes",
        kind: Kind::Int {
            min: 1024,
            max: 1 << 30,
        },
        default: "4194304",
        doc: "Largest request body; larger requests get 413.",
    },
    Key {
        path: "server.header-timeout-ms",
        kind: MS,
        default: "30000",
        doc: "Time a client has to send a request's head (method, path, headers); a connection idle this long between requests is closed too.",
    },
    Key {
        path: "server.body-timeout-ms",
        kind: MS,
        default: "60000",
        doc: "Time a request's body has to arrive, counted from the request's start; a slower one gets 408.",
    },
    Key {
        path: "server.max-connections",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "4096",
        doc: "TCP connections served at once; more wait, unaccepted, until one closes.",
    },
    Key {
        path: "server.request-timeout-ms",
        kind: MS,
        default: "120000",
        doc: "Time a request may take until its response starts (504 beyond); an SSE response starts at once and its result is bounded by the plugin timeout.",
    },
    Key {
        path: "server.session-idle-ms",
        kind: MS,
        default: "1800000",
        doc: "An HTTP session without requests for this long is closed.",
    },
    Key {
        path: "server.session-hibernate-ms",
        kind: Kind::Int {
            min: 0,
            max: 86_400_000,
        },
        default: "60000",
        doc: "An HTTP session without requests for this long, holding no stream, subscription or log level, is put away: its record stays in the store, its memory is freed, and its next request brings it back unnoticed. 0 (or a time not shorter than server.session-idle-ms) keeps every session in memory.",
    },
    Key {
        path: "server.max-sessions",
        kind: Kind::Int {
            min: 1,
            max: 10_000_000,
        },
        default: "10000",
        doc: "HTTP sessions (MCP 2025-11-25) open at once; an `initialize` beyond is refused (error -32000) until one closes. A session holds about 70 KiB while in memory (sessions put away by `server.session-hibernate-ms` are not counted). Requests without a session (MCP 2026-07-28) are not counted.",
    },
    Key {
        path: "server.max-sessions-per-client",
        kind: Kind::Int {
            min: 1,
            max: 10_000_000,
        },
        default: "256",
        doc: "HTTP sessions one client holds open at once (its verified token subject; without auth, its IP address: raise it behind a proxy that hides clients' addresses).",
    },
    Key {
        path: "server.shutdown-grace-ms",
        kind: MS,
        default: "10000",
        doc: "On SIGINT/SIGTERM, time in-flight requests get to finish.",
    },
    Key {
        path: "server.page-size",
        kind: Kind::Int {
            min: 1,
            max: 10_000,
        },
        default: "100",
        doc: "Items per page of tools/list, resources/list, prompts/list.",
    },
    Key {
        path: "server.max-protocol-version",
        kind: Kind::Choice(&["2025-11-25", "2026-07-28"]),
        default: "\"2026-07-28\"",
        doc: "Newest MCP revision pier negotiates: 2026-07-28 (self-describing requests, server/discover, input round trips, subscriptions/listen, tasks) or 2025-11-25 (initialize, sessions only). Clients of 2025-11-25 and earlier are served in their own revision either way.",
    },
    Key {
        path: "server.list-ttl-ms",
        kind: Kind::Int {
            min: 0,
            max: 86_400_000,
        },
        default: "1000",
        doc: "How long an MCP 2026-07-28 client may treat a tools, resources, templates or prompts list as fresh (ttlMs): a hot swap stays hidden from a client that polls instead of listening at most this long after pier serves it. 0 = not cacheable.",
    },
    Key {
        path: "server.task-after-ms",
        kind: Kind::Int {
            min: 0,
            max: 3_600_000,
        },
        default: "1000",
        doc: "How long a call of a tool that may run as a task (taskSupport) runs in its request before it becomes a task, for an MCP 2026-07-28 client that declared the tasks extension; the plugin may start it sooner (context.start-task).",
    },
    Key {
        path: "server.max-tasks-per-subject",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "1000",
        doc: "Tasks one caller may start per hour, the time a task's record is kept (its verified token subject; without auth every caller is one): beyond, its calls answer in their request. Besides, one pier runs at most 256 tasks at once.",
    },
    Key {
        path: "server.request-state-keys",
        kind: Kind::List,
        default: "[]",
        doc: "Keys sealing the requestState of MCP 2026-07-28 input round trips, each \"ID:SECRET\" (a secret of at least 32 bytes): the first signs, all verify (add a new key first, drop the old one after an hour). Every replica of a fleet needs the same keys; empty = a random key of this process.",
    },
    Key {
        path: "server.max-uri-bytes",
        kind: Kind::Int {
            min: 256,
            max: 1 << 20,
        },
        default: "8192",
        doc: "Longest resource URI a request may name (resources/read, subscribe, completion references, reads by plugins); longer ones are invalid params.",
    },
    Key {
        path: "server.max-subscriptions",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "1000",
        doc: "Distinct resource URIs one session may subscribe to; more are refused until it unsubscribes.",
    },
    Key {
        path: "server.max-request-state-bytes",
        kind: Kind::Int {
            min: 1024,
            max: 1 << 30,
        },
        default: "4194304",
        doc: "Bytes of request-scoped state (context set-state: keys and JSON values) one request may hold across its plugins and middleware; a call that would exceed it fails, saying so.",
    },
    Key {
        path: "plugins.dir",
        kind: Kind::Path,
        default: "\"plugins.d\"",
        doc: "Directory whose `*.wasm` plugins (and `NAME.toml` sidecars) are mounted.",
    },
    Key {
        path: "plugins.watch",
        kind: Kind::Bool,
        default: "true",
        doc: "Follow the plugin directory while serving: a new file is mounted, a replaced one swapped (calls in flight finish on the old version), a deleted one unmounted.",
    },
    Key {
        path: "plugins.debounce-ms",
        kind: Kind::Int {
            min: 10,
            max: 60_000,
        },
        default: "200",
        doc: "A changed plugin file is loaded once it has had no event for this long and is no longer open for writing.",
    },
    Key {
        path: "plugins.insecure-registries",
        kind: Kind::List,
        default: "[]",
        doc: "OCI registries (`host:port`) reached over plain HTTP for `[[mount]] oci` and `pier inspect REF` (`pier push`, `pull` and `sign` take `--insecure-registries`); registries on a loopback address always are, every other one over HTTPS (the web's roots and grants.ca-certificates).",
    },
    Key {
        path: "trust.keys",
        kind: Kind::List,
        default: "[]",
        doc: "Public keys (PEM, as `cosign generate-key-pair` or `pier keygen` writes them) whose signatures pier trusts: cosign's signature of an OCI artifact, or `NAME.wasm.sig` beside a plugin file (`cosign sign-blob`, `pier sign`). Read at start, relative to the working directory.",
    },
    Key {
        path: "trust.require-signatures",
        kind: Kind::Bool,
        default: "false",
        doc: "Refuse every plugin (from the plugin directory, a `path` or an `oci` mount) that no key of trust.keys signed, for exactly its content; `false` serves it and shows its state (`/admin/mounts`, `pier inspect`, `pier_plugins_verified`).",
    },
    Key {
        path: "data.dir",
        kind: Kind::Path,
        default: "\".pier\"",
        doc: "pier's own data: the AOT cache of compiled plugins lives in `aot/` below it.",
    },
    Key {
        path: "data.aot-keep-days",
        kind: Kind::Int { min: 1, max: 3650 },
        default: "30",
        doc: "A compiled plugin in the AOT cache unused for this many days is deleted at the next start (with a persistent store, which keeps the cache's index).",
    },
    Key {
        path: "storage.backend",
        kind: Kind::Choice(&["sled", "memory", "redis"]),
        default: "\"sled\"",
        doc: "Where plugins' storage (and pier's own state) lives: `sled`, a database in `store/` under data.dir; `memory`, lost at exit; `redis`, the server at storage.url (setting storage.url alone selects it).",
    },
    Key {
        path: "storage.url",
        kind: Kind::Text,
        default: "\"\"",
        doc: "URL of the Redis server, `redis://[user:password@]host:port[/db]`.",
    },
    Key {
        path: "storage.redis-prefix",
        kind: Kind::Text,
        default: "\"pier:\"",
        doc: "Prefix of every Redis key pier writes; instances sharing a prefix share storage.",
    },
    Key {
        path: "storage.flush-ms",
        kind: Kind::Int {
            min: 0,
            max: 60_000,
        },
        default: "0",
        doc: "sled: 0 flushes every write to disk before it is acknowledged (it survives a crash); N > 0 flushes in the background every N ms instead (faster writes; a crash loses at most N ms of them).",
    },
    Key {
        path: "storage.cache-mib",
        kind: Kind::Int {
            min: 1,
            max: 1_048_576,
        },
        default: "128",
        doc: "sled: the most memory its page cache holds, in MiB (what is stored beyond it is read back from disk when asked for).",
    },
    Key {
        path: "storage.purge-ms",
        kind: MS,
        default: "60000",
        doc: "How often expired keys are purged (they are invisible from the moment they expire).",
    },
    Key {
        path: "defaults.timeout-ms",
        kind: MS,
        default: "30000",
        doc: "Per-call timeout of a plugin whose sidecar sets none.",
    },
    Key {
        path: "defaults.memory-mb",
        kind: Kind::Int {
            min: 1,
            max: 65_536,
        },
        default: "64",
        doc: "Memory limit of a plugin whose sidecar sets none.",
    },
    Key {
        path: "defaults.storage-keys",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000_000,
        },
        default: "10000",
        doc: "Storage keys a plugin whose sidecar sets none may hold.",
    },
    Key {
        path: "defaults.storage-value-bytes",
        kind: Kind::Int {
            min: 1,
            max: 512 << 20,
        },
        default: "1048576",
        doc: "Largest value a plugin whose sidecar sets none may store.",
    },
    Key {
        path: "defaults.log-messages",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "1000",
        doc: "Log messages, progress notifications and stdout/stderr lines one call of a plugin whose sidecar sets none may send; the rest is dropped and counted in one log line.",
    },
    Key {
        path: "defaults.log-bytes",
        kind: Kind::Int {
            min: 1024,
            max: 1 << 30,
        },
        default: "1048576",
        doc: "Bytes of log messages, progress and output one call of a plugin whose sidecar sets none may send.",
    },
    Key {
        path: "defaults.max-concurrent-calls",
        kind: Kind::Int {
            min: 1,
            max: 100_000,
        },
        default: "32",
        doc: "Calls of one plugin served at once (for a plugin whose sidecar sets none); more wait up to a second, then fail as busy, so one busy plugin cannot starve the others.",
    },
    Key {
        path: "defaults.http-requests",
        kind: Kind::Int {
            min: 0,
            max: 100_000,
        },
        default: "16",
        doc: "Outbound HTTP requests one call may make (for a plugin whose sidecar sets none); the next is refused.",
    },
    Key {
        path: "defaults.http-response-bytes",
        kind: Kind::Int {
            min: 0,
            max: 1 << 34,
        },
        default: "16777216",
        doc: "Response body bytes one call may receive over outbound HTTP, all its requests together (for a plugin whose sidecar sets none); beyond it the body is cut with an error.",
    },
    Key {
        path: "defaults.instances",
        kind: Kind::Choice(&["auto", "fresh", "reuse"]),
        default: "\"auto\"",
        doc: "Instance model of a plugin whose sidecar sets none: fresh (a new instance per call), reuse (a warm instance of the same scope may serve the next call of that scope) or auto (reuse for componentize-py and componentize-js guests, whose instantiation costs a millisecond or more; fresh for the others, which instantiate in microseconds).",
    },
    Key {
        path: "defaults.reuse-scope",
        kind: Kind::Choice(&["session", "plugin"]),
        default: "\"session\"",
        doc: "Who may share a warm instance, for a plugin whose sidecar sets none: session (the calls of one client session, or of one connection over stdio; a request without a session, as every MCP 2026-07-28 request over HTTP, shares with its principal: the verified subject, or every sessionless caller while auth is off) or plugin (any caller: only where [limits] reuse-scope allows it).",
    },
    Key {
        path: "defaults.max-calls",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "1000",
        doc: "Calls one warm instance serves before it is dropped (a plugin that reuses instances and whose sidecar sets none).",
    },
    Key {
        path: "defaults.idle-ms",
        kind: MS,
        default: "30000",
        doc: "Time a warm instance may wait for its next call before it is dropped.",
    },
    Key {
        path: "defaults.warm-instances",
        kind: Kind::Int { min: 0, max: 1000 },
        default: "32",
        doc: "Warm instances one plugin may keep waiting, all scopes together (the least recently used goes first); more concurrent calls get fresh instances.",
    },
    Key {
        path: "limits.timeout-ms",
        kind: MS,
        default: "300000",
        doc: "Operator cap: no sidecar may ask for a longer per-call timeout.",
    },
    Key {
        path: "limits.memory-mb",
        kind: Kind::Int {
            min: 1,
            max: 65_536,
        },
        default: "1024",
        doc: "Operator cap: no sidecar may ask for more memory.",
    },
    Key {
        path: "limits.storage-keys",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000_000,
        },
        default: "1000000",
        doc: "Operator cap: no sidecar may ask for more storage keys.",
    },
    Key {
        path: "limits.storage-value-bytes",
        kind: Kind::Int {
            min: 1,
            max: 512 << 20,
        },
        default: "16777216",
        doc: "Operator cap: no sidecar may ask for larger storage values.",
    },
    Key {
        path: "limits.log-messages",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "100000",
        doc: "Operator cap: no sidecar may ask to send more log messages per call.",
    },
    Key {
        path: "limits.log-bytes",
        kind: Kind::Int {
            min: 1024,
            max: 1 << 30,
        },
        default: "67108864",
        doc: "Operator cap: no sidecar may ask to send more log bytes per call.",
    },
    Key {
        path: "limits.max-concurrent-calls",
        kind: Kind::Int {
            min: 1,
            max: 100_000,
        },
        default: "1000",
        doc: "Operator cap: no sidecar may ask for more concurrent calls.",
    },
    Key {
        path: "limits.http-requests",
        kind: Kind::Int {
            min: 0,
            max: 100_000,
        },
        default: "1000",
        doc: "Operator cap: no sidecar may ask for more outbound HTTP requests per call.",
    },
    Key {
        path: "limits.http-response-bytes",
        kind: Kind::Int {
            min: 0,
            max: 1 << 34,
        },
        default: "1073741824",
        doc: "Operator cap: no sidecar may ask for more outbound HTTP response bytes per call.",
    },
    Key {
        path: "limits.instances",
        kind: Kind::Choice(&["reuse", "fresh"]),
        default: "\"reuse\"",
        doc: "Operator cap: fresh makes every plugin take a new instance per call, whatever its sidecar asks.",
    },
    Key {
        path: "limits.reuse-scope",
        kind: Kind::Choice(&["session", "plugin"]),
        default: "\"session\"",
        doc: "Operator cap: the widest scope a warm instance may serve. plugin lets a sidecar's reuse-scope = \"plugin\" share one instance between every caller (globals a call leaves behind are seen by the next caller); session lowers such a sidecar to session, with a warning.",
    },
    Key {
        path: "limits.max-calls",
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "100000",
        doc: "Operator cap: no sidecar may ask for a warm instance to serve more calls.",
    },
    Key {
        path: "limits.idle-ms",
        kind: MS,
        default: "600000",
        doc: "Operator cap: no sidecar may ask for a warm instance to wait longer.",
    },
    Key {
        path: "limits.warm-instances",
        kind: Kind::Int { min: 0, max: 1000 },
        default: "256",
        doc: "Operator cap: no sidecar may ask for more warm instances (each holds a slot of the engine's 1000 and its guest's dirtied memory).",
    },
    Key {
        path: "grants.http",
        kind: Kind::List,
        default: "[\"*\"]",
        doc: "Operator cap on the HTTP destinations any sidecar may grant its plugin: \"*\", or SCHEME://HOST[:PORT] with HOST a name, an IP address, * or *.DOMAIN and PORT a number or * (no port: the scheme's default). A sidecar's grants are narrowed to these.",
    },
    Key {
        path: "grants.private-networks",
        kind: Kind::Bool,
        default: "false",
        doc: "Whether a plugin whose sidecar asks for it may reach private addresses (loopback, RFC 1918, RFC 4193, link-local such as 169.254.169.254, CGNAT, multicast); otherwise every address a host resolves to must be public.",
    },
    Key {
        path: "grants.files",
        kind: Kind::List,
        default: "[]",
        doc: "Host directories a sidecar may preopen for its plugin ([grants] files), each with everything below it; relative to the working directory. Default: none.",
    },
    Key {
        path: "grants.ca-certificates",
        kind: Kind::List,
        default: "[]",
        doc: "PEM files of certificate authorities that plugins' HTTPS requests trust besides the web's public roots (an internal CA); read at start, relative to the working directory.",
    },
    Key {
        path: "upstream.connect-timeout-ms",
        kind: MS,
        default: "30000",
        doc: "Time a mounted MCP server (url or command) gets to start and initialize its session; beyond it the mount is refused.",
    },
    Key {
        path: "upstream.request-timeout-ms",
        kind: MS,
        default: "120000",
        doc: "Time a mounted MCP server gets to answer each forwarded request and each page of its lists; beyond it the request fails (and is cancelled upstream).",
    },
    Key {
        path: "upstream.max-protocol-version",
        kind: Kind::Choice(&["2025-11-25", "2026-07-28"]),
        default: "\"2025-11-25\"",
        doc: "Newest MCP revision pier speaks to a mounted server: 2025-11-25 (initialize; the server's sampling and elicitation requests reach pier's client in either revision) or 2026-07-28 (server/discover first, initialize for a server without it; the server's input rounds reach pier's client in either revision). FastMCP 4.1 tools that call ctx.elicit fail on 2026-07-28 connections, hence the default.",
    },
    Key {
        path: "upstream.max-list-pages",
        kind: Kind::Int {
            min: 1,
            max: 10_000,
        },
        default: "100",
        doc: "Pages of one list of a mounted MCP server pier follows; a server whose cursors go on is refused.",
    },
    Key {
        path: "admin.token",
        kind: Kind::Text,
        default: "\"\"",
        doc: "Bearer token of the admin API (/admin/mounts; `pier mounts`, `pier mount`, `pier unmount`). The admin API is on when it is set or auth.mode is not none; with command mounts allowed, the token is as good as a shell on this host.",
    },
    Key {
        path: "admin.scope",
        kind: Kind::Text,
        default: "\"pier:admin\"",
        doc: "With auth.mode tokens or jwt, a token carrying this scope may use the admin API too (one without it is answered 403 insufficient_scope).",
    },
    Key {
        path: "admin.allow-command-mounts",
        kind: Kind::Bool,
        default: "false",
        doc: "Whether the admin API may mount `command` servers: a program pier starts, i.e. running any command on this host.",
    },
    Key {
        path: "admin.allow-url-mounts",
        kind: Kind::Bool,
        default: "true",
        doc: "Whether the admin API may mount `url` servers and `openapi` REST APIs (pier connects wherever the URL points).",
    },
    Key {
        path: "console.enabled",
        kind: Kind::Bool,
        default: "false",
        doc: "Serve the browser console at /console: mounts, the catalogue with a form per tool, live calls and changes, per-mount charts. `pier dev` turns it on (`--no-console` keeps it off). Its data and calls need the admin token or, with auth on, a token with admin.scope.",
    },
    Key {
        path: "console.remote",
        kind: Kind::Bool,
        default: "false",
        doc: "Serve the console to clients beyond loopback too (by default only to 127.0.0.1 and ::1, asking for it by a loopback name). Needs admin.token or auth.mode other than none.",
    },
    Key {
        path: "auth.mode",
        kind: Kind::Choice(&["none", "tokens", "jwt"]),
        default: "\"none\"",
        doc: "How HTTP requests to /mcp are authenticated: none (anyone who reaches the port; a warning when listening beyond loopback), tokens (static bearer tokens, each an [[auth.token]] table: hash = \"sha256:…\" of the token, subject, scopes) or jwt (JWT access tokens of auth.issuer, checked with auth.jwks-url and/or auth.public-keys). stdio is local and never authenticated.",
    },
    Key {
        path: "auth.resource",
        kind: Kind::Text,
        default: "\"\"",
        doc: "This server's canonical resource URI (RFC 8707), e.g. https://mcp.example.com/mcp: published in the protected resource metadata, whose URL 401 answers point to. Required when auth.mode is not none.",
    },
    Key {
        path: "auth.authorization-servers",
        kind: Kind::List,
        default: "[]",
        doc: "Authorization servers clients get tokens from, published in the protected resource metadata; empty in jwt mode = auth.issuer.",
    },
    Key {
        path: "auth.scopes-supported",
        kind: Kind::List,
        default: "[]",
        doc: "Scopes published in the protected resource metadata.",
    },
    Key {
        path: "auth.required-scopes",
        kind: Kind::List,
        default: "[]",
        doc: "Scopes every token must carry to use /mcp at all: a valid token without them is answered 403 with error=\"insufficient_scope\" and the scopes. Per-component scopes are [[auth.rule]] tables.",
    },
    Key {
        path: "auth.open-endpoints",
        kind: Kind::List,
        default: "[\"/health\", \"/ready\", \"/metrics\"]",
        doc: "Which of /health, /ready and /metrics are served without a token when auth.mode is not none; the others need a valid token.",
    },
    Key {
        path: "auth.issuer",
        kind: Kind::Text,
        default: "\"\"",
        doc: "jwt: the issuer (`iss`) every token must carry, e.g. https://auth.example.com. Required in jwt mode.",
    },
    Key {
        path: "auth.audience",
        kind: Kind::Text,
        default: "\"\"",
        doc: "jwt: the audience (`aud`) every token must name; empty = auth.resource. A token minted for another resource is refused (RFC 8707: no token passthrough).",
    },
    Key {
        path: "auth.jwks-url",
        kind: Kind::Text,
        default: "\"\"",
        doc: "jwt: where the issuer publishes its JSON Web Key Set (https; plain http only on a loopback address, or with auth.jwks-allow-http; grants.ca-certificates is trusted too). Fetched at start and cached; refetched when a token names an unknown kid and when the cache is older than auth.jwks-cache-seconds; an outage keeps the cached keys.",
    },
    Key {
        path: "auth.require-jwt-type",
        kind: Kind::Bool,
        default: "false",
        doc: "jwt: a token's header must say typ = at+jwt (an RFC 9068 access token), so that an ID token or another JWT of the same issuer and audience is never taken for an access token. Turn on when the issuer sets it.",
    },
    Key {
        path: "auth.jwks-allow-http",
        kind: Kind::Bool,
        default: "false",
        doc: "jwt: accept a plain-http auth.jwks-url beyond loopback. Anyone on the path could then hand pier signing keys and mint tokens it accepts: only for a network you trust end to end.",
    },
    Key {
        path: "auth.public-keys",
        kind: Kind::List,
        default: "[]",
        doc: "jwt: PEM files of public keys (RSA, EC P-256/P-384, Ed25519) tokens may be signed with, besides the JWKS's; read at start.",
    },
    Key {
        path: "auth.algorithms",
        kind: Kind::List,
        default: "[\"RS256\", \"ES256\", \"EdDSA\"]",
        doc: "jwt: the signature algorithms accepted, of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA. none and HMAC (HS256…) are never accepted.",
    },
    Key {
        path: "auth.leeway-seconds",
        kind: Kind::Int { min: 0, max: 600 },
        default: "30",
        doc: "jwt: clock skew allowed when checking exp and nbf.",
    },
    Key {
        path: "auth.scopes-claim",
        kind: Kind::Text,
        default: "\"scope\"",
        doc: "jwt: the claim holding the token's scopes: a space-separated string (scope) or a list (scp).",
    },
    Key {
        path: "auth.subject-claim",
        kind: Kind::Text,
        default: "\"sub\"",
        doc: "jwt: the claim holding the caller's subject.",
    },
    Key {
        path: "auth.jwks-min-refresh-seconds",
        kind: Kind::Int {
            min: 1,
            max: 86_400,
        },
        default: "30",
        doc: "jwt: the least time between two fetches of the JWKS, however many tokens name unknown keys.",
    },
    Key {
        path: "auth.jwks-cache-seconds",
        kind: Kind::Int {
            min: 1,
            max: 604_800,
        },
        default: "600",
        doc: "jwt: how long fetched keys are used before the JWKS is fetched again (in the background; the cached keys keep verifying).",
    },
    Key {
        path: "telemetry.otlp-endpoint",
        kind: Kind::Text,
        default: "\"\"",
        doc: "Base URL of an OpenTelemetry receiver speaking OTLP over HTTP/protobuf (a Collector's port 4318): traces go to /v1/traces, metrics to /v1/metrics. Empty: the OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_/_METRICS_ENDPOINT) variable when set, else nothing is exported.",
    },
    Key {
        path: "telemetry.sample-ratio",
        kind: Kind::Ratio,
        default: "\"\"",
        doc: "Fraction of new traces recorded, from 0 to 1 (by trace id); a request whose incoming traceparent is sampled is always recorded, one that is not never. Empty: OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG decide when set, else every trace is recorded.",
    },
    Key {
        path: "telemetry.service-name",
        kind: Kind::Text,
        default: "\"\"",
        doc: "service.name of every span and metric exported. Empty: OTEL_SERVICE_NAME when set, else pier.",
    },
    Key {
        path: "telemetry.resource-attributes",
        kind: Kind::List,
        default: "[]",
        doc: "More attributes of the exported resource, as \"key=value\" (e.g. \"deployment.environment.name=prod\"), over OTEL_RESOURCE_ATTRIBUTES. service.version is pier's; service.instance.id is random per process unless given here.",
    },
    Key {
        path: "telemetry.export-interval-ms",
        kind: Kind::Int {
            min: 100,
            max: 3_600_000,
        },
        default: "10000",
        doc: "How often metrics are sent to the OTLP receiver.",
    },
    Key {
        path: "telemetry.trace-content",
        kind: Kind::List,
        default: "[]",
        doc: "Mounts (by namespace) whose tool arguments and results go into their spans (gen_ai.tool.call.arguments, gen_ai.tool.call.result; at most 4 KiB each). They may hold personal data or secrets: by default no argument value or result content is in any span.",
    },
    Key {
        path: "log.level",
        kind: Kind::Choice(&["trace", "debug", "info", "warn", "error"]),
        default: "\"info\"",
        doc: "Least severe log level written to stderr (RUST_LOG, when set, gives a finer filter).",
    },
    Key {
        path: "log.format",
        kind: Kind::Choice(&["text", "json"]),
        default: "\"text\"",
        doc: "Log lines as text or as JSON objects.",
    },
];

/// The key at `path`.
pub fn find(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}
