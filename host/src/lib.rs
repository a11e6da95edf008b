//! pier: an MCP server whose tools, resources and prompts are sandboxed WebAssembly
//! components.
//!
//! [`App::start`] builds the runtime and mounts every plugin of a directory;
//! [`App::session`] makes the handler of one client session, which a transport serves.

pub mod cli;
pub mod config;
pub mod error;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod transport;

use std::sync::Arc;

pub use config::ServeConfig;
pub use error::Error;
use registry::loader::{self, LoadError, LoadOptions};
use registry::{Catalogue, Registry};
use runtime::Runtime;
use server::{PierServer, Shared};

/// A started pier: runtime, mounted plugins, and what sessions share.
pub struct App {
    runtime: Arc<Runtime>,
    shared: Arc<Shared>,
    refused: Vec<LoadError>,
}

impl App {
    /// Builds the runtime and mounts every plugin in `config.plugins_dir`. Plugins that
    /// cannot be mounted are logged and listed in [`App::refused`]; the rest are served.
    pub async fn start(config: &ServeConfig) -> Result<Self, Error> {
        let runtime = Arc::new(Runtime::new(
            &config.data_dir.join("aot"),
            config.max_limits.memory_bytes,
        )?);
        let options = LoadOptions {
            defaults: config.default_limits,
            cap: config.max_limits,
        };
        let (mounts, refused) = loader::load_dir(&runtime, &config.plugins_dir, options)
            .await
            .map_err(|e| Error::PluginDir {
                path: config.plugins_dir.clone(),
                reason: e.to_string(),
            })?;
        let registry = Arc::new(Registry::new(Catalogue::build(mounts)));
        let shared = Arc::new(Shared {
            registry,
            page_size: config.page_size,
        });
        Ok(Self {
            runtime,
            shared,
            refused,
        })
    }

    /// The handler of a new client session.
    pub fn session(&self, session_id: Option<String>) -> PierServer {
        PierServer::new(self.shared.clone(), session_id)
    }

    /// The live catalogue.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.shared.registry
    }

    /// The runtime (engine, linker, AOT cache).
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Plugin files that were refused at start, with the reasons.
    pub fn refused(&self) -> &[LoadError] {
        &self.refused
    }
}
