//! The `pier` binary: parse the command line, then hand over to the library.
// `inspect` and `call` print their results on stdout; `serve` never writes to stdout
// (in stdio mode it carries the protocol, written by the transport).
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use pier::cli::{CallArgs, Cli, Command, InspectArgs, StorageAction};
use pier::config::{LogOptions, ServeConfig, Transport};
use pier::local::Style;
use pier::transport::http;
use tracing_subscriber::EnvFilter;

/// The allocator of the server: per-thread free lists. glibc's malloc spent ~15% of a
/// loaded server's CPU in its slow paths (aligned allocations of tokio's task cells
/// consolidating free chunks on every spawn); see `bench/results/hot-path.md`. Its
/// arenas ask for transparent huge pages, which [`main`] turns off.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns off transparent huge pages for this process (and the compiler processes it
/// starts): mimalloc's arenas ask for them, and a 2 MiB page per touched arena region kept
/// ~20 MiB more resident for no measurable speed; guests' memories gain nothing from
/// them either (their slots are reset page by page).
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// The admin API's client commands: `mounts`, `mount`, `unmount`, `storage --server`.
#[path = "main/remote.rs"]
mod remote;
use remote::{mount, mounts, storage_via, unmount};

/// The distribution commands: `push`, `pull`, `sign`, `keygen`.
#[path = "main/publish.rs"]
mod publish;

fn init_logging(log: &LogOptions) {
    if let Err(e) = init_tracing(log, None) {
        eprintln!("pier: {e}");
    }
}

/// Logs to stderr by `log`; with `telemetry` configured, pier's spans also go to its
/// OTLP receiver (the exporters are returned, to be shut down at exit).
fn init_tracing(
    log: &LogOptions,
    telemetry: Option<&pier::telemetry::otel::OtelOptions>,
) -> Result<Option<pier::telemetry::otel::Otel>, String> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    // RUST_LOG, when set, is a finer filter than log.level. The spans made for
    // OpenTelemetry are never log lines. rmcp's own warnings (one per JSON-RPC error
    // answered) and its transport worker's errors are `Debug` dumps of what pier
    // reports itself in a sentence: RUST_LOG shows them when wanted.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| {
            EnvFilter::new(format!(
                "{},rmcp=error,rmcp::transport::worker=off",
                log.level
            ))
        })
        .add_directive(
            format!("{}=off", pier::telemetry::otel::TARGET)
                .parse()
                .map_err(|e| format!("{e}"))?,
        );
    // Logs go to stderr: in stdio mode stdout carries only protocol messages.
    let fmt = tracing_subscriber::fmt::layer().with_writer(pier::progress::log_writer());
    let fmt: Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync> =
        if log.json {
            fmt.json().with_filter(filter).boxed()
        } else {
            fmt.with_ansi(false).with_filter(filter).boxed()
        };
    let registry = tracing_subscriber::registry().with(fmt);
    let exported = match telemetry {
        Some(options) => pier::telemetry::otel::install(options)?,
        None => None,
    };
    match exported {
        Some((otel, layer)) => {
            let only_spans = tracing_subscriber::filter::Targets::new()
                .with_target(pier::telemetry::otel::TARGET, tracing::Level::TRACE);
            registry.with(layer.with_filter(only_spans)).init();
            Ok(Some(otel))
        }
        None => {
            registry.init();
            Ok(None)
        }
    }
}

/// Binds first (so `/health` and `/ready` answer while plugins load), then loads; with
/// `dev` sources, then builds them and follows their changes.
async fn serve_http(config: ServeConfig, dev: Vec<pier::dev::Source>) -> anyhow::Result<()> {
    let app = Arc::new(pier::App::new(&config)?);
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.http.listen))?;
    let addr = listener.local_addr()?;
    let lifecycle = http::Lifecycle::of(&app);
    let router = http::router(app.clone(), &config.http, &lifecycle);
    eprintln!("pier: serving MCP on http://{addr}/mcp (health: /health, readiness: /ready)");
    if config.console.enabled {
        eprintln!("pier: console on http://{addr}/console");
    }
    let loading = app.clone();
    let plugins = config.plugins_dir.clone();
    tokio::spawn(async move {
        if let Err(e) = loading.load().await {
            tracing::error!("{e}");
        }
        if !dev.is_empty() {
            pier::dev::run(loading, dev, plugins).await;
        }
    });
    http::serve(
        listener,
        router,
        lifecycle,
        config.http.shutdown_grace,
        http::shutdown_signal(),
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Serves `config`; `pier dev` (`developing`) builds and follows the `dev` sources.
async fn serve(
    config: ServeConfig,
    dev: Vec<pier::dev::Source>,
    developing: bool,
) -> anyhow::Result<()> {
    if developing {
        // What `pier dev` builds, or what one drops in, goes there: a first run in a
        // new folder makes it (and watches it).
        if !config.plugins_dir.exists() {
            std::fs::create_dir_all(&config.plugins_dir).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the plugin directory {}: {e}",
                    config.plugins_dir.display()
                )
            })?;
            eprintln!(
                "pier: created {}/ — drop plugins (.wasm) there",
                config.plugins_dir.display()
            );
        }
        pier::dev::clear(&dev, &config.plugins_dir);
    }
    let plugins = config.plugins_dir.clone();
    let giving_back = dev.clone();
    let served = serve_on(config, dev).await;
    pier::dev::give_back(&giving_back, &plugins);
    served
}

async fn serve_on(config: ServeConfig, dev: Vec<pier::dev::Source>) -> anyhow::Result<()> {
    match config.transport {
        Transport::Stdio => {
            let app = Arc::new(pier::App::start(&config).await?);
            if !dev.is_empty() {
                tokio::spawn(pier::dev::run(app.clone(), dev, config.plugins_dir.clone()));
            }
            pier::transport::stdio::serve_process(app.session(None)).await?;
            Ok(())
        }
        Transport::Http => serve_http(config, dev).await,
    }
}

async fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let config = args.local.config()?;
    let local = pier::local::Local::new(&config)?;
    let (mounts, refused) = local.load_all(&args.paths).await?;
    let mapped = pier::local::mapped_files();
    if args.json {
        let report = serde_json::json!({
            "plugins": mounts.iter().map(|m| pier::local::describe(m, &mapped)).collect::<Vec<_>>(),
            "refused": refused.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let out = Style::new(args.color.enabled(&std::io::stdout()));
        for mount in &mounts {
            println!("{}", pier::local::describe_text(mount, &mapped, out));
        }
        let err = Style::new(args.color.enabled(&std::io::stderr()));
        for error in &refused {
            eprintln!("pier: {}", err.error(&error.to_string()));
        }
    }
    Ok(if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn new_plugin(args: pier::cli::NewArgs) -> anyhow::Result<ExitCode> {
    let written = pier::scaffold::new_plugin(&args.name, args.lang, args.dir.as_deref())
        .map_err(anyhow::Error::msg)?;
    for file in &written {
        println!("wrote {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A token given as an argument, else the first line of standard input.
fn token_from(token: Option<String>) -> anyhow::Result<String> {
    let token = match token {
        Some(token) => token,
        None => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    if token.is_empty() {
        anyhow::bail!("no token: pass it, or write it to standard input");
    }
    Ok(token)
}

async fn auth(action: pier::cli::AuthAction) -> anyhow::Result<ExitCode> {
    match action {
        pier::cli::AuthAction::HashToken { token } => {
            println!("{}", pier::auth::hash_token(&token_from(token)?));
            Ok(ExitCode::SUCCESS)
        }
        pier::cli::AuthAction::Check { token, local } => {
            let config = local.config()?;
            let token = token_from(token)?;
            let verifier = pier::auth::Verifier::new(config.auth, config.grants.trust)
                .map_err(anyhow::Error::msg)?;
            match verifier.check(&token).await {
                Ok(identity) => {
                    let expires = match identity.expires {
                        None => "never (a static token)".to_string(),
                        Some(t) => format!(
                            "{} (in {} s)",
                            pier::auth::jwt::when(t),
                            t - chrono::Utc::now().timestamp()
                        ),
                    };
                    println!(
                        "subject: {}\nscopes: {}\nexpires: {expires}",
                        identity.subject,
                        identity.scopes.join(" ")
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    println!("refused: {why}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

async fn build(args: pier::cli::BuildArgs) -> anyhow::Result<ExitCode> {
    if args.sdk_path {
        let sdk = pier::builder::python_sdk().map_err(anyhow::Error::msg)?;
        println!("{}", sdk.display());
        return Ok(ExitCode::SUCCESS);
    }
    let source = pier::dev::Source::detect(&args.dir).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.out.display()))?;
    let started = std::time::Instant::now();
    let (name, built) = source.build(&args.out).await.map_err(anyhow::Error::msg)?;
    let bytes = std::fs::read(&built).map_err(|e| anyhow::anyhow!("{}: {e}", built.display()))?;
    let placed =
        pier::dev::place(&source, &name, &built, &bytes, &args.out).map_err(anyhow::Error::msg)?;
    println!(
        "built {name}: {} ({:.1} MiB, {:.1} s)",
        placed.display(),
        bytes.len() as f64 / f64::from(1 << 20),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

async fn call(args: CallArgs) -> anyhow::Result<ExitCode> {
    let config = args.local.config()?;
    let arguments: serde_json::Value =
        serde_json::from_str(&args.args).map_err(|e| anyhow::anyhow!("--args is not JSON: {e}"))?;
    let local = pier::local::Local::new(&config)?;
    let result = local.call(&args.file, &args.tool, arguments).await?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(if result["isError"] == true {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `pier storage list|get|delete`: on the configured store, or through a running pier.
async fn storage(action: StorageAction) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let (StorageAction::List { target, .. }
    | StorageAction::Get { target, .. }
    | StorageAction::Delete { target, .. }) = &action;
    if let Some(server) = target.admin() {
        return storage_via(server, &action).await;
    }
    let config = target.config()?;
    if config.storage == pier::storage::Backend::Memory {
        anyhow::bail!("the memory store lives inside a running pier; there is nothing to open");
    }
    let store = pier::storage::open(&config.storage).map_err(|e| match e.to_string() {
        busy if busy.contains("in use by another process") => {
            anyhow::anyhow!("{busy}; go through its admin API instead: --server http://HOST:PORT")
        }
        _ => e.into(),
    })?;
    // An operator's view of the plugin's keys: the same scoping as the plugin's own.
    let store = pier::storage::PluginStore::new(store, &target.plugin, Default::default());
    let missing = |key: &str| {
        eprintln!(
            "pier: plugin `{}` has no key `{key}` in {}",
            target.plugin,
            config.storage.describe()
        );
        ExitCode::FAILURE
    };
    match &action {
        StorageAction::List { prefix, .. } => {
            let mut after = None;
            let mut out = std::io::stdout().lock();
            loop {
                let page = store.list_keys(prefix, after.as_deref()).await?;
                for key in &page.keys {
                    writeln!(out, "{key}")?;
                }
                match page.next_cursor {
                    Some(next) => after = Some(next),
                    None => return Ok(ExitCode::SUCCESS),
                }
            }
        }
        StorageAction::Get { key, .. } => match store.get(key).await? {
            Some(value) => {
                std::io::stdout().write_all(&value)?;
                Ok(ExitCode::SUCCESS)
            }
            None => Ok(missing(key)),
        },
        StorageAction::Delete { key, .. } => {
            if store.delete(key).await? {
                eprintln!("pier: deleted `{key}` of plugin `{}`", target.plugin);
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(missing(key))
            }
        }
    }
}

async fn run_server(
    args: pier::cli::ServeArgs,
    dev: Vec<pier::dev::Source>,
    developing: bool,
) -> ExitCode {
    let config = match args.config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("pier: {e}");
            return ExitCode::from(2);
        }
    };
    let otel = match init_tracing(&config.log, Some(&config.telemetry)) {
        Ok(otel) => otel,
        Err(e) => {
            eprintln!("pier: [telemetry]: {e}");
            return ExitCode::from(2);
        }
    };
    pier::progress::serving(config.log.json);
    let served = serve(config, dev, developing).await;
    if let Some(otel) = otel {
        // The last spans and metrics are sent before pier exits.
        let _ = tokio::task::spawn_blocking(move || otel.shutdown()).await;
    }
    if let Err(e) = served {
        eprintln!("pier: {e:#}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// `pier docs`: one reference page to standard output, or every page into a directory.
fn docs(args: pier::cli::DocsArgs) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    if let Some(dir) = args.write {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for name in pier::docs::PAGES {
            let path = dir.join(format!("{name}.md"));
            let text = pier::docs::page(name).context("a page of PAGES renders")?;
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("{}", path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name = args.page.unwrap_or_default();
    let text =
        pier::docs::page(&name).with_context(|| format!("no reference page named {name}"))?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn report(outcome: anyhow::Result<ExitCode>) -> ExitCode {
    outcome.unwrap_or_else(|e| {
        eprintln!("pier: {e:#}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    use pier::runtime::compiler;
    no_huge_pages();
    pier::runtime::grants::install_tls_provider();
    let args: Vec<String> = std::env::args().collect();
    // A compiler process needs no async runtime.
    if args.get(1).map(String::as_str) == Some(compiler::SUBCOMMAND) {
        return compiler::serve_one(args.get(2..).unwrap_or_default());
    }
    // Components compile in child processes of this binary: nothing of a compilation
    // stays in the serving process.
    if let Ok(exe) = std::env::current_exe() {
        compiler::compile_in_processes_of(exe);
    }
    run()
}

#[tokio::main]
async fn run() -> ExitCode {
    let cli = Cli::parse();
    // Local commands log plain text; `call` shows what the plugin logs.
    let text_at = |level: &str| LogOptions {
        level: level.into(),
        json: false,
    };
    match cli.command {
        Command::Inspect(args) => {
            init_logging(&text_at("warn"));
            report(inspect(args).await)
        }
        Command::Call(args) => {
            init_logging(&text_at("info"));
            report(call(args).await)
        }
        Command::Build(args) => report(build(args).await),
        Command::New(args) => report(new_plugin(args)),
        Command::Mounts(args) => report(mounts(args).await),
        Command::Mount(args) => report(mount(args).await),
        Command::Unmount(args) => report(unmount(args).await),
        Command::Storage(args) => report(storage(args.action).await),
        Command::Auth(args) => {
            // A JWKS that cannot be fetched is logged.
            init_logging(&text_at("warn"));
            report(auth(args.action).await)
        }
        Command::Docs(args) => report(docs(args)),
        Command::Push(args) => report(publish::push(args).await),
        Command::Pull(args) => report(publish::pull(args).await),
        Command::Sign(args) => report(publish::sign(args).await),
        Command::Keygen(args) => report(publish::keygen(args)),
        Command::Serve(args) => run_server(args, Vec::new(), false).await,
        Command::Dev(args) => {
            let mut sources = Vec::new();
            for dir in &args.sources {
                match pier::dev::Source::detect(dir) {
                    Ok(source) => sources.push(source),
                    Err(e) => {
                        eprintln!("pier: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            let mut serve = args.serve;
            // Rebuilt plugins reach the server through the directory watch.
            serve.watch = true;
            serve.no_watch = false;
            // The console shows what was rebuilt and swapped, unless asked not to.
            serve.console = !serve.no_console;
            run_server(serve, sources, true).await
        }
    }
}
