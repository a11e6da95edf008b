//! The MCP server layer: sessions, capabilities, routing, and the request context.

mod call;
pub mod context;
pub mod convert;
mod dispatch;
mod forward;
pub mod handler;
pub mod in_flight;
mod page;
pub mod quota;
pub mod rounds;
pub mod scope;
pub mod session;
pub mod subscriptions;
pub mod tasks;

pub use context::Context;
pub use handler::{PierServer, Shared};
pub use in_flight::{InFlight, InFlightGuard};
pub use session::Session;
