//! The `bindgen!`s of the host: Rust types and traits for the `pier:mcp` worlds.
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

/// The `pier-middleware` world, sharing the plugin world's `types` and `context` (one
/// host implementation of `context` serves both).
pub mod middleware {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "pier-middleware",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "pier:mcp/types": super::pier::mcp::types,
            "pier:mcp/context": super::pier::mcp::context,
        },
    });

    pub use self::exports::pier::mcp::middleware::{Action, Request};
}
