//! `wasm`: a middleware written as a WebAssembly component of the `pier-middleware`
//! world, sandboxed like a plugin.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use super::Middleware;
use super::spec::{Services, SpecError};

/// `[[middleware]] type = "wasm"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// The component file.
    pub path: PathBuf,
}

impl Config {
    /// Checks a path is given.
    pub fn check(&self) -> Result<(), SpecError> {
        Ok(())
    }
}

/// A middleware component.
pub struct WasmMiddleware {}

impl WasmMiddleware {
    /// Loads the component of `config`.
    pub fn load(_config: &Config, _services: &Services) -> Result<Self, SpecError> {
        Err(SpecError::new("path", "not yet"))
    }
}

#[async_trait]
impl Middleware for WasmMiddleware {
    fn name(&self) -> &str {
        "wasm"
    }
}
