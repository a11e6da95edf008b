//! The `pier` binary: parse the command line, then hand over to the library.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use pier::cli::{Cli, Command};
use pier::config::{LogOptions, ServeConfig, Transport};
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
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
