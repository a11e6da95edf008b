//! pier: an MCP server whose tools, resources and prompts are sandboxed WebAssembly
//! components.
//!
//! [`App::start`] builds the runtime and mounts every plugin of a directory;
//! [`App::session`] makes the handler of one client session, which a transport serves.

pub mod cli;
pub mod config;
pub mod error;
pub mod local;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod telemetry;
pub mod transport;

use std::sync::{Arc, Mutex};

pub use config::ServeConfig;
pub use error::Error;
use registry::loader::{self, LoadError, LoadOptions};
use registry::{Catalogue, Registry};
use runtime::Runtime;
use server::{PierServer, Shared};

/// Whether the configured plugins are mounted yet.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// Plugins are being loaded.
    Loading,
    /// Loading finished; these files were refused.
    Loaded {
        /// The refused plugin files, with reasons.
        refused: Vec<LoadError>,
    },
}

/// A pier instance: runtime, catalogue, and what sessions share.
pub struct App {
    config: ServeConfig,
    runtime: Arc<Runtime>,
    shared: Arc<Shared>,
    readiness: Mutex<Readiness>,
}

impl App {
    /// Builds the runtime with an empty catalogue; [`App::load`] mounts the plugins.
    pub fn new(config: &ServeConfig) -> Result<Self, Error> {
        let runtime = Arc::new(Runtime::new(
            &config.data_dir.join("aot"),
            config.max_limits.memory_bytes,
        )?);
        let shared = Arc::new(Shared {
            registry: Arc::new(Registry::default()),
            page_size: config.page_size,
            in_flight: Arc::default(),
            metrics: Arc::default(),
        });
        Ok(Self {
            config: config.clone(),
            runtime,
            shared,
            readiness: Mutex::new(Readiness::Loading),
        })
    }

    /// Mounts every plugin of the plugin directory. Files that cannot be mounted are
    /// logged and listed by [`App::refused`]; the rest are served.
    pub async fn load(&self) -> Result<(), Error> {
        let options = LoadOptions {
            defaults: self.config.default_limits,
            cap: self.config.max_limits,
        };
        let dir = &self.config.plugins_dir;
        let (mounts, refused) = match loader::load_dir(&self.runtime, dir, options).await {
            Ok(loaded) => loaded,
            Err(e) => {
                let reason = format!("cannot read the plugin directory: {e}");
                self.set_readiness(Readiness::Loaded {
                    refused: vec![LoadError {
                        file: dir.clone(),
                        reason: reason.clone(),
                    }],
                });
                return Err(Error::PluginDir {
                    path: dir.clone(),
                    reason,
                });
            }
        };
        for (_, outcome) in &mounts {
            self.shared
                .metrics
                .aot_cache(*outcome == runtime::CacheOutcome::Hit);
        }
        let mounts = mounts.into_iter().map(|(mount, _)| mount).collect();
        self.shared.registry.publish(Catalogue::build(mounts));
        self.set_readiness(Readiness::Loaded { refused });
        Ok(())
    }

    fn set_readiness(&self, readiness: Readiness) {
        *self.readiness.lock().unwrap_or_else(|e| e.into_inner()) = readiness;
    }

    /// Builds the runtime and mounts the plugins: [`App::new`] then [`App::load`].
    pub async fn start(config: &ServeConfig) -> Result<Self, Error> {
        let app = Self::new(config)?;
        app.load().await?;
        Ok(app)
    }

    /// The handler of a new client session.
    pub fn session(&self, session_id: Option<String>) -> PierServer {
        PierServer::new(self.shared.clone(), session_id)
    }

    /// The live catalogue.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.shared.registry
    }

    /// The metrics of this instance.
    pub fn metrics(&self) -> &Arc<telemetry::Metrics> {
        &self.shared.metrics
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> &Arc<server::InFlight> {
        &self.shared.in_flight
    }

    /// The runtime (engine, linker, AOT cache).
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Whether loading finished, and what was refused.
    pub fn readiness(&self) -> Readiness {
        self.readiness
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Plugin files refused so far, with the reasons.
    pub fn refused(&self) -> Vec<LoadError> {
        match self.readiness() {
            Readiness::Loading => Vec::new(),
            Readiness::Loaded { refused } => refused,
        }
    }
}
