//! What the benches share: loading a bench plugin the way the server does.

#![allow(dead_code)] // each bench uses what it needs

use std::path::Path;
use std::sync::Arc;

use pier::registry::Mount;
use pier::registry::loader::{self, LoadOptions, Loaded};
use pier::runtime::Runtime;
use pier::runtime::limits::Instances;

/// `file` mounted in `runtime`; panics with the reason when it cannot be (run `make bench`
/// once to build the bench plugins).
pub fn load(rt: &tokio::runtime::Runtime, runtime: &Arc<Runtime>, file: &Path) -> Arc<Mount> {
    load_as(rt, runtime, file, Instances::Auto)
}

/// `file` mounted in `runtime` with the instance model `instances`.
pub fn load_as(
    rt: &tokio::runtime::Runtime,
    runtime: &Arc<Runtime>,
    file: &Path,
    instances: Instances,
) -> Arc<Mount> {
    let mut options = LoadOptions::default();
    options.defaults.instances = instances;
    match rt.block_on(loader::load_file(
        runtime,
        file,
        Default::default(),
        &options,
    )) {
        Ok(Loaded::Mounted(mount, _)) => mount,
        Ok(Loaded::Disabled) => panic!("{} is disabled", file.display()),
        Err(e) => panic!(
            "{}: {e} (run `make bench` once to build the plugins)",
            file.display()
        ),
    }
}
