//! Host implementations of the interfaces plugins import: one module per interface.

pub mod context;
pub mod storage;

impl super::bindings::types::Host for super::state::CallState {}
