//! Settings of a running server. Every value has a default; the CLI overrides them.

use std::path::PathBuf;
use std::time::Duration;

use crate::runtime::Limits;

/// The transport `pier serve` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// Newline-delimited JSON-RPC on stdin/stdout.
    Stdio,
}

/// Everything `pier serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Directory whose `*.wasm` files are mounted.
    pub plugins_dir: PathBuf,
    /// Directory for pier's own data (the AOT cache lives in `aot/` below it).
    pub data_dir: PathBuf,
    /// Items per page of list results.
    pub page_size: usize,
    /// Limits of a plugin whose sidecar sets none.
    pub default_limits: Limits,
    /// The most any sidecar may ask for.
    pub max_limits: Limits,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            plugins_dir: PathBuf::from("plugins.d"),
            data_dir: PathBuf::from(".pier"),
            page_size: 100,
            default_limits: Limits::default(),
            max_limits: Limits {
                timeout: Duration::from_secs(300),
                memory_bytes: 1 << 30,
            },
        }
    }
}
