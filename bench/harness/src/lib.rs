//! pier's benchmark: an MCP load generator ([`load`]) that speaks streamable HTTP and
//! stdio, and the pieces `pier-bench` uses to run the scenarios of `make bench`.

pub mod load;
pub mod mcp;
pub mod process;
pub mod report;
pub mod soak;
pub mod stats;
