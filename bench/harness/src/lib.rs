//! pier's benchmark: an MCP load generator ([`load`]) that speaks streamable HTTP and
//! stdio, and the pieces `pier-bench` uses to run the scenarios of `make bench`.

pub mod load;
pub mod mcp;
pub mod process;
pub mod report;
pub mod soak;
pub mod stats;

/// Makes ring the process's TLS provider: reqwest is built with rustls and no provider
/// of its own (pier chooses ring); every binary and test here calls this first, and
/// the library before it builds a client. Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
