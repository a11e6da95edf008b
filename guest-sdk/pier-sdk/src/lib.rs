//! Write [pier](https://example.invalid/pier) plugins as ordinary Rust functions.
//!
//! A plugin is a WebAssembly component that offers MCP tools, resources and prompts.
//! Mark functions with [`tool`], [`resource`] and [`prompt`], list them in [`plugin!`],
//! and build with `cargo build --target wasm32-wasip2 --release`:
//!
//! ```ignore
//! use pier_sdk::prelude::*;
//!
//! /// Greet someone by name.
//! #[tool]
//! fn greet(name: String) -> String {
//!     format!("Hello, {name}!")
//! }
//!
//! pier_sdk::plugin! {
//!     name: "hello",
//!     version: "0.1.0",
//!     tools: [greet],
//! }
//! ```
//!
//! Tool arguments become a JSON Schema (derived with `schemars` from the parameter
//! types); doc comments become descriptions; a `&Context` parameter gives access to the
//! request (logging, progress, sampling, elicitation, cross-mount reads); errors are
//! `Result`s. [`storage`] keeps data between calls, per plugin.
#![deny(missing_docs)]

pub mod config;
mod context;
pub mod http;
mod output;
#[doc(hidden)]
pub mod runtime;
pub mod storage;
mod template;

pub use context::{
    Answer, Component, Context, Elicitation, LogLevel, Question, RequestInfo, Root, Sampled,
    Sampling, form_schema,
};
pub use output::{
    Body, Content, Message, PromptOutput, ResourceOutput, Role, Structured, ToolOutput, ToolResult,
};
pub use pier_sdk_macros::{prompt, resource, tool};

/// The generated bindings of the `pier:mcp` plugin world. Not a stable API: use the
/// types re-exported at the crate root instead.
#[doc(hidden)]
pub mod __bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "pier-plugin",
        pub_export_macro: true,
        export_macro_name: "__pier_export",
        default_bindings_module: "::pier_sdk::__bindings",
    });
}

/// What a plugin function can fail with.
///
/// Returned by a resource or a prompt, the kind is kept: `NotFound` is the client's
/// "resource not found", `InvalidParams` an invalid-params error. Returned by a tool,
/// every kind is a tool error whose text the model sees and can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The arguments are wrong.
    InvalidParams(String),
    /// The named thing does not exist.
    NotFound(String),
    /// The operation failed.
    Failed(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidParams(m) | Error::NotFound(m) | Error::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// A plain message is a failure (a tool error the model sees).
impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::Failed(message)
    }
}

/// A plain message is a failure (a tool error the model sees).
impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::Failed(message.to_string())
    }
}

/// What a completion request is about (see [`plugin!`]'s `complete`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompletionRef {
    /// An argument of this prompt.
    Prompt(String),
    /// A variable of this resource template.
    ResourceTemplate(String),
}

/// Everything a plugin author usually needs.
pub mod prelude {
    pub use crate::{
        Answer, Content, Context, Elicitation, Error, LogLevel, Message, Question, Role, Sampling,
        Structured, ToolResult, prompt, resource, storage, tool,
    };
}

/// Declares the plugin: its name, version, and the functions it offers.
///
/// ```ignore
/// pier_sdk::plugin! {
///     name: "calc",
///     version: env!("CARGO_PKG_VERSION"),
///     tools: [add, divide],
///     resources: [],           // optional
///     prompts: [],             // optional
///     complete: my_completer,  // optional: fn(&CompletionRef, &str, &str) -> Vec<String>
/// }
/// ```
#[macro_export]
macro_rules! plugin {
    (
        name: $name:expr,
        version: $version:expr,
        tools: [$($tool:ident),* $(,)?]
        $(, resources: [$($resource:ident),* $(,)?])?
        $(, prompts: [$($prompt:ident),* $(,)?])?
        $(, complete: $complete:expr)?
        $(,)?
    ) => {
        #[doc(hidden)]
        struct __PierPlugin;

        impl __PierPlugin {
            fn definition() -> &'static $crate::runtime::PluginDef {
                static DEF: ::std::sync::OnceLock<$crate::runtime::PluginDef> = ::std::sync::OnceLock::new();
                DEF.get_or_init(|| $crate::runtime::PluginDef {
                    name: $name,
                    version: $version,
                    tools: ::std::vec![$($tool::__pier_tool()),*],
                    resources: ::std::vec![$($($resource::__pier_resource()),*)?],
                    prompts: ::std::vec![$($($prompt::__pier_prompt()),*)?],
                    complete: $crate::__complete_fn!($($complete)?),
                })
            }
        }

        impl $crate::__bindings::exports::pier::mcp::plugin::Guest for __PierPlugin {
            fn describe() -> $crate::__bindings::pier::mcp::types::Manifest {
                $crate::runtime::describe(Self::definition())
            }
            fn call_tool(
                name: ::std::string::String,
                arguments: ::std::string::String,
            ) -> ::std::result::Result<$crate::__bindings::pier::mcp::types::ToolResult, $crate::__bindings::pier::mcp::types::Error> {
                $crate::runtime::call_tool(Self::definition(), &name, &arguments)
            }
            fn read_resource(
                uri: ::std::string::String,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::__bindings::pier::mcp::types::ResourceContents>, $crate::__bindings::pier::mcp::types::Error> {
                $crate::runtime::read_resource(Self::definition(), &uri)
            }
            fn get_prompt(
                name: ::std::string::String,
                arguments: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::std::result::Result<$crate::__bindings::pier::mcp::types::PromptResult, $crate::__bindings::pier::mcp::types::Error> {
                $crate::runtime::get_prompt(Self::definition(), &name, arguments)
            }
            fn complete(
                reference: $crate::__bindings::pier::mcp::types::CompletionRef,
                argument: ::std::string::String,
                value: ::std::string::String,
            ) -> ::std::result::Result<::std::vec::Vec<::std::string::String>, $crate::__bindings::pier::mcp::types::Error> {
                $crate::runtime::complete(Self::definition(), reference, &argument, &value)
            }
        }

        $crate::__bindings::__pier_export!(__PierPlugin with_types_in $crate::__bindings);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __complete_fn {
    () => {
        ::std::option::Option::None
    };
    ($f:expr) => {
        ::std::option::Option::Some($f)
    };
}
