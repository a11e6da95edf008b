//! Configuration values and secrets of a plugin, through `wasi:config/store`: the
//! sidecar's `[config]` table and the operator's `[secrets.PLUGIN]` (secrets never
//! appear in sidecars, logs or listings; a plugin reads them like any value).
//!
//! ```ignore
//! let token = pier_sdk::config::require("github-token")?;
//! let base = pier_sdk::config::get("base-url")?.unwrap_or("https://api.github.com".into());
//! ```

mod bindings {
    wit_bindgen::generate!({
        path: "wit/deps/config",
        world: "wasi:config/imports@0.2.0-rc.1",
    });
}

use bindings::wasi::config::store;

fn failed(error: store::Error) -> crate::Error {
    crate::Error::Failed(match error {
        store::Error::Upstream(m) | store::Error::Io(m) => format!("configuration: {m}"),
    })
}

/// The value of `key`, `None` when it is not set.
pub fn get(key: &str) -> Result<Option<String>, crate::Error> {
    store::get(key).map_err(failed)
}

/// The value of `key`; an error naming the key (not a value) when it is not set.
pub fn require(key: &str) -> Result<String, crate::Error> {
    get(key)?.ok_or_else(|| {
        crate::Error::Failed(format!(
            "configuration `{key}` is not set (the plugin's sidecar [config], or the operator's [secrets])"
        ))
    })
}

/// Every key and value.
pub fn all() -> Result<Vec<(String, String)>, crate::Error> {
    store::get_all().map_err(failed)
}
