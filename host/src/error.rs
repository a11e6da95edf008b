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
    /// `server.request-state-keys` holds an unusable key.
    #[error("server.request-state-keys: {reason}")]
    RequestStateKeys {
        /// Why.
        reason: String,
    },
    /// `[auth]` names keys that cannot be read.
    #[error("auth.public-keys: {reason}")]
    Auth {
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

/// The errors a client gets for a name or URI pier does not serve (or hides): one
/// wording wherever they are made, the client's text clipped.
pub mod not_served {
    use rmcp::ErrorData as McpError;

    use crate::text::clip;

    /// `tools/call` of a tool that is not served.
    pub fn tool(name: &str) -> McpError {
        McpError::invalid_params(format!("unknown tool `{}`", clip(name)), None)
    }

    /// A prompt that is not served.
    pub fn prompt(name: &str) -> McpError {
        McpError::invalid_params(format!("unknown prompt `{}`", clip(name)), None)
    }

    /// A completion reference to a resource template that is not served.
    pub fn template(uri: &str) -> McpError {
        McpError::invalid_params(format!("unknown resource template `{}`", clip(uri)), None)
    }

    /// A resource that is not served.
    pub fn resource(uri: &str) -> McpError {
        let uri = clip(uri);
        McpError::resource_not_found(
            format!("resource not found: {uri}"),
            Some(serde_json::json!({ "uri": uri })),
        )
    }
}
