//! The `pier` binary: parse the command line, then hand over to the library.

use clap::Parser;
use pier::cli::{Cli, Command};
use pier::config::Transport;
use tracing_subscriber::EnvFilter;

fn init_logging() {
    // Logs go to stderr: in stdio mode stdout carries only protocol messages.
    let filter =
        EnvFilter::try_from_env("PIER_LOG").unwrap_or_else(|_| EnvFilter::new("info,rmcp=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Serve(args) => {
            let app = pier::App::start(&args.config()).await?;
            match args.transport {
                Transport::Stdio => {
                    pier::transport::stdio::serve_process(app.session(None)).await?
                }
            }
        }
    }
    Ok(())
}
