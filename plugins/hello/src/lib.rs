//! `hello`: the smallest useful pier plugin — a tool, a resource, a template and a prompt.

use pier_sdk::prelude::*;

/// Greet someone by name.
#[tool(read_only)]
fn greet(
    /// Who to greet.
    name: String,
) -> String {
    format!("Hello, {name}!")
}

/// What this plugin is.
#[resource(uri = "hello://readme", mime_type = "text/markdown")]
fn readme() -> String {
    include_str!("../README.md").to_string()
}

/// A greeting for anyone: `hello://greeting/{name}`.
#[resource(uri = "hello://greeting/{name}", mime_type = "text/plain")]
fn greeting(name: String) -> String {
    format!("Hello, {name}!")
}

/// Ask the model to introduce itself to someone.
#[prompt]
fn introduce(
    /// Who the model should introduce itself to.
    name: String,
) -> String {
    format!("Please introduce yourself to {name}.")
}

pier_sdk::plugin! {
    name: "hello",
    version: env!("CARGO_PKG_VERSION"),
    tools: [greet],
    resources: [readme, greeting],
    prompts: [introduce],
    complete: |reference, argument, value| {
        // Suggest a few names for the prompt's and the template's `name`.
        let _ = reference;
        if argument != "name" {
            return Vec::new();
        }
        ["Ada", "Alan", "Grace"]
            .iter()
            .filter(|n| n.to_lowercase().starts_with(&value.to_lowercase()))
            .map(|n| n.to_string())
            .collect()
    },
}
