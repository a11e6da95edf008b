//! What the benches share: loading a bench plugin the way the server does.

use std::path::Path;
use std::sync::Arc;

use pier::registry::Mount;
use pier::registry::loader::{self, LoadOptions, Loaded};
use pier::runtime::Runtime;

/// `file` mounted in `runtime`; panics with the reason when it cannot be (run `make bench`
/// once to build the bench plugins).
pub fn load(rt: &tokio::runtime::Runtime, runtime: &Arc<Runtime>, file: &Path) -> Arc<Mount> {
    match rt.block_on(loader::load_file(
        runtime,
        file,
        Default::default(),
        &LoadOptions::default(),
    )) {
        Ok(Loaded::Mounted(mount, _)) => mount,
        Ok(Loaded::Disabled) => panic!("{} is disabled", file.display()),
        Err(e) => panic!(
            "{}: {e} (run `make bench` once to build the plugins)",
            file.display()
        ),
    }
}
