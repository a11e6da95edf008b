//! The library's top-level error.

use std::path::PathBuf;

/// Why pier could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The runtime could not be built.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// The plugin directory could not be read.
    #[error("{}: {reason}", path.display())]
    PluginDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Storage(#[from] crate::storage::StoreError),
    /// A configured middleware could not be built.
    #[error("{at} ({kind}): {error}")]
    Middleware {
        /// Where it is configured: `middleware[0]`, `mount[1].middleware[0]`.
        at: String,
        /// Its `type`.
        kind: &'static str,
        /// What is wrong.
        error: crate::middleware::spec::SpecError,
    },
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(#[from] std::io::Error),
}
