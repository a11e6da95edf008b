//! `bench`: the benchmark's tools as a Rust plugin. `echo` and `add` are what every
//! server of the benchmark serves; `t1`…`t8` make it ten tools, so fifty copies of
//! this plugin serve the 500 tools of the `tools/list` scenario.

use pier_sdk::prelude::*;

/// Return the text unchanged.
#[tool(read_only, idempotent)]
fn echo(
    /// The text.
    text: String,
) -> String {
    text
}

/// Add two integers.
#[tool(read_only, idempotent)]
fn add(
    /// First addend.
    a: i64,
    /// Second addend.
    b: i64,
) -> String {
    a.wrapping_add(b).to_string()
}

/// A fixed 1 KiB document, the resource of the `resources/read` scenario.
#[resource(uri = "bench://data", mime_type = "text/plain")]
fn data() -> String {
    "x".repeat(1024)
}

macro_rules! fillers {
    ($($name:ident),*) => {$(
        /// A filler tool for the `tools/list` scenario.
        #[tool(read_only)]
        fn $name(
            /// Any text.
            text: String,
        ) -> String {
            text
        }
    )*};
}
fillers!(t1, t2, t3, t4, t5, t6, t7, t8);

pier_sdk::plugin! {
    name: "bench",
    version: env!("CARGO_PKG_VERSION"),
    tools: [echo, add, t1, t2, t3, t4, t5, t6, t7, t8],
    resources: [data],
}
