//! The `pier` binary: parse the command line, then hand over to the library.
// `inspect` and `call` print their results on stdout; `serve` never writes to stdout
// (in stdio mode it carries the protocol, written by the transport).
#![allow(clippy::print_stdout)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use pier::cli::{CallArgs, Cli, Command, InspectArgs};
use pier::config::{LogOptions, ServeConfig, Transport};
use pier::local::Style;
use pier::transport::http;
use tracing_subscriber::EnvFilter;

fn init_logging(log: &LogOptions) {
    // RUST_LOG, when set, is a finer filter than log.level.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},rmcp=warn", log.level)));
    // Logs go to stderr: in stdio mode stdout carries only protocol messages.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if log.json {
        builder.json().init();
    } else {
        builder.with_ansi(false).init();
    }
}

/// Binds first (so `/health` and `/ready` answer while plugins load), then loads.
async fn serve_http(config: ServeConfig) -> anyhow::Result<()> {
    let app = Arc::new(pier::App::new(&config)?);
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.http.listen))?;
    let addr = listener.local_addr()?;
    let lifecycle = http::Lifecycle::default();
    let router = http::router(app.clone(), &config.http, &lifecycle);
    eprintln!("pier: serving MCP on http://{addr}/mcp (health: /health, readiness: /ready)");
    let loading = app.clone();
    tokio::spawn(async move {
        if let Err(e) = loading.load().await {
            tracing::error!("{e}");
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

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    match config.transport {
        Transport::Stdio => {
            let app = pier::App::start(&config).await?;
            pier::transport::stdio::serve_process(app.session(None)).await?;
            Ok(())
        }
        Transport::Http => serve_http(config).await,
    }
}

async fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let config = args.local.config()?;
    let local = pier::local::Local::new(&config)?;
    let (mounts, refused) = local.load_all(&args.paths).await?;
    if args.json {
        let report = serde_json::json!({
            "plugins": mounts.iter().map(|m| pier::local::describe(m)).collect::<Vec<_>>(),
            "refused": refused.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let out = Style::new(args.color.enabled(&std::io::stdout()));
        for mount in &mounts {
            println!("{}", pier::local::describe_text(mount, out));
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

fn report(outcome: anyhow::Result<ExitCode>) -> ExitCode {
    outcome.unwrap_or_else(|e| {
        eprintln!("pier: {e:#}");
        ExitCode::from(2)
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Local commands log plain text; `call` shows what the plugin logs.
    let text_at = |level: &str| LogOptions {
        level: level.into(),
        json: false,
    };
    match cli.command {
        Command::Inspect(args) => {
            init_logging(&text_at("warn"));
            return report(inspect(args).await);
        }
        Command::Call(args) => {
            init_logging(&text_at("info"));
            return report(call(args).await);
        }
        Command::Serve(args) => {
            let config = match args.config() {
                Ok(config) => config,
                Err(e) => {
                    eprintln!("pier: {e}");
                    return ExitCode::from(2);
                }
            };
            init_logging(&config.log);
            if let Err(e) = serve(config).await {
                eprintln!("pier: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
