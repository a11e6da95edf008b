//! The one `bindgen!` of the host: Rust types and traits for the `pier:mcp` `plugin` world.
//!
//! Imports are `async` (sampling and elicitation await the client without blocking a
//! thread) and `trappable` (a host-side limit can end the guest with a trap).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "pier-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::exports::pier::mcp::plugin as guest;
pub use self::pier::mcp::{context, storage, types};
