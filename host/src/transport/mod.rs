//! Transports: how MCP messages reach the server.

pub mod admin;
pub mod hibernation;
pub mod http;
pub mod relay;
pub mod request_ids;
pub mod sessions;
pub mod stdio;
