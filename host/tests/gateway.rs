//! pier as a gateway in front of other servers, each against real servers on loopback:
//! upstreams over HTTPS (a test CA) and with their own credentials (a loopback
//! authorization server).

mod common;

#[path = "gateway/credentials.rs"]
mod credentials;
#[path = "gateway/https.rs"]
mod https;
#[path = "gateway/limits.rs"]
mod limits;
#[path = "gateway/openapi.rs"]
mod openapi;
#[path = "gateway/transform.rs"]
mod transform;

use common::*;
use pier::ServeConfig;

/// A configuration serving `dir` with the operator's `pier.toml` text `operator` (its
/// mounts, middleware, grants and upstream settings).
fn configured(dir: &PluginDir, operator: &str) -> ServeConfig {
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(std::path::Path::new("pier.toml"), operator)
        .unwrap();
    let built = layers.build().unwrap();
    ServeConfig {
        mounts: built.mounts,
        middleware: built.middleware,
        grants: built.grants,
        upstream: built.upstream,
        auth: built.auth,
        tools: built.tools,
        default_limits: built.default_limits,
        max_limits: built.max_limits,
        ..dir.config()
    }
}

/// The ```toml blocks of `markdown`.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut open: Option<String> = None;
    for line in markdown.lines() {
        match (&mut open, line) {
            (None, "```toml") => open = Some(String::new()),
            (Some(text), "```") => {
                blocks.push(std::mem::take(text));
                open = None;
            }
            (Some(text), line) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn the_gateway_configurations_of_the_book_and_readme_are_valid_as_written() {
    let page = std::fs::read_to_string(root().join("docs/src/operating/gateway.md")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut blocks = toml_blocks(&page);
    assert_eq!(blocks.len(), 2, "the page's toml blocks");
    blocks.extend(
        toml_blocks(&readme)
            .into_iter()
            .filter(|b| b.contains("openapi =")),
    );
    assert_eq!(blocks.len(), 3, "and the README's gateway block");
    // The page's CA file, as a real one.
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), test_pki().0).unwrap();
    for block in &blocks {
        let block = block.replace(
            "/etc/pier/internal-ca.pem",
            &ca.path().display().to_string(),
        );
        let mut layers = pier::config::Layers::default();
        layers
            .apply_file(std::path::Path::new("pier.toml"), &block)
            .unwrap_or_else(|e| panic!("{e}\n{block}"));
        let config = layers.build().unwrap_or_else(|e| panic!("{e}\n{block}"));
        assert!(!config.mounts.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_of_mounts_only_needs_no_plugin_directory() {
    let dir = PluginDir::new();
    let operator = format!(
        "[[mount]]\nnamespace = \"calc\"\npath = \"{}\"\n",
        example("calc").display()
    );
    let config = ServeConfig {
        plugins_dir: dir.path().join("missing"),
        watch: true,
        ..configured(&dir, &operator)
    };
    let server = Server::start_with(config).await;
    let ready = reqwest::get(format!("{}/ready", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let (client, _) = server.client().await;
    let result = call(&client, "calc_add", serde_json::json!({"a": 1, "b": 2}))
        .await
        .unwrap();
    assert_eq!(text(&result), "3");
    drop(client);
    server.shutdown().await;

    // Without mounts, a missing directory is most likely a wrong path: not ready.
    let config = ServeConfig {
        plugins_dir: dir.path().join("missing"),
        ..dir.config()
    };
    assert!(pier::App::start(&config).await.is_err());
}
