//! The `pier` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{ServeConfig, Transport};

/// pier: serve MCP tools, resources and prompts from sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "pier", version, about)]
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
}

/// Flags of `pier serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Directory whose `*.wasm` plugins are mounted (with their optional `NAME.toml`).
    #[arg(long, default_value = "plugins.d")]
    pub plugins: PathBuf,
    /// Transport to serve MCP on.
    #[arg(long, value_enum, default_value = "stdio")]
    pub transport: Transport,
    /// Directory for pier's data (AOT cache).
    #[arg(long, default_value = ".pier")]
    pub data_dir: PathBuf,
    /// Items per page of list results.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub page_size: u32,
}

impl ServeArgs {
    /// The server settings these flags describe.
    pub fn config(&self) -> ServeConfig {
        ServeConfig {
            plugins_dir: self.plugins.clone(),
            data_dir: self.data_dir.clone(),
            page_size: self.page_size as usize,
            ..ServeConfig::default()
        }
    }
}
