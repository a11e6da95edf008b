//! pier as a gateway in front of other servers, each against real servers on loopback:
//! upstreams over HTTPS (a test CA) and with their own credentials (a loopback
//! authorization server).

mod common;

#[path = "gateway/credentials.rs"]
mod credentials;
#[path = "gateway/https.rs"]
mod https;
#[path = "gateway/limits.rs"]
mod limits;
#[path = "gateway/openapi.rs"]
mod openapi;
#[path = "gateway/transform.rs"]
mod transform;

use common::*;
use pier::ServeConfig;

/// A configuration serving `dir` with the operator's `pier.toml` text `operator` (its
/// mounts, middleware, grants and upstream settings).
fn configured(dir: &PluginDir, operator: &str) -> ServeConfig {
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(std::path::Path::new("pier.toml"), operator)
        .unwrap();
    let built = layers.build().unwrap();
    ServeConfig {
        mounts: built.mounts,
        middleware: built.middleware,
        grants: built.grants,
        upstream: built.upstream,
        auth: built.auth,
        tools: built.tools,
        ..dir.config()
    }
}

/// The reasons of `app`'s refused mounts, by namespace.
fn refusals(app: &pier::App) -> Vec<(String, String)> {
    app.refusals()
        .into_iter()
        .map(|r| (r.mount.unwrap_or_default(), r.error.reason))
        .collect()
}
