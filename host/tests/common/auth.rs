//! `[auth]` in tests: configurations from `pier.toml` text, clients that send a token.

use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

use super::Server;

/// `text` written to a `pier.toml` of a new directory.
pub fn config_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pier.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The configuration of `pier.toml` `text` (environment: none); an error names the file
/// `pier.toml`.
pub fn configured(text: &str) -> Result<pier::ServeConfig, String> {
    let (_dir, path) = config_file(text);
    let args = pier::cli::ServeArgs {
        config: Some(path.clone()),
        ..pier::cli::ServeArgs::default()
    };
    args.config_with_env(Vec::new()).map_err(|e| {
        e.to_string()
            .replace(&path.display().to_string(), "pier.toml")
    })
}

/// A client of `server` sending `token`.
pub async fn client_with(
    server: &Server,
    token: &str,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let config = StreamableHttpClientTransportConfig::with_uri(server.url.as_str())
        .auth_header(token.to_string());
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .unwrap()
}
