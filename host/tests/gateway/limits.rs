//! Rate limits by tool: the calls of the tools a glob matches, per token subject, the
//! matched tools together or each apart; other tools, and names the catalogue does not
//! have, are not counted.

use serde_json::json;

use super::*;

/// A client of `server` presenting the bearer `token`.
async fn client_as(server: &Server, token: &str) -> Client {
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            server.url.as_str(),
        )
        .auth_header(token.to_string()),
    );
    rmcp::ServiceExt::serve(Recorder::default(), transport)
        .await
        .unwrap()
}

/// A pier serving calc and hello to the subjects `ada` and `bob`, with `limit` (the
/// rest of a rate-limit table).
async fn limited(dir: &PluginDir, limit: &str) -> Server {
    let operator = format!(
        r#"
[auth]
mode = "tokens"
resource = "http://127.0.0.1/mcp"
[[auth.token]]
hash = "{}"
subject = "ada"
[[auth.token]]
hash = "{}"
subject = "bob"

[[middleware]]
type = "rate-limit"
backend = "memory"
per = "token-subject"
refill-per-second = 0.001
{limit}
"#,
        pier::auth::hash_token("ada-token"),
        pier::auth::hash_token("bob-token"),
    );
    Server::start_with(configured(dir, &operator)).await
}

async fn add(client: &Client, tool: &str) -> Result<String, String> {
    call(client, tool, json!({"a": 1, "b": 2}))
        .await
        .map(|r| text(&r))
        .map_err(|e| mcp_error(e).message.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tools_a_glob_matches_share_a_limit_per_subject_and_others_pass() {
    let dir = PluginDir::examples();
    let server = limited(&dir, "capacity = 2\ntools = [\"calc_*\"]\n").await;
    let ada = client_as(&server, "ada-token").await;
    assert_eq!(add(&ada, "calc_add").await, Ok("3".into()));
    // A made-up name is refused as unknown, and not counted.
    assert_eq!(
        add(&ada, "calc_made_up").await,
        Err("unknown tool `calc_made_up`".into())
    );
    assert_eq!(add(&ada, "calc_divide").await, Ok("0.5".into()));
    let refused = add(&ada, "calc_add").await.unwrap_err();
    assert!(
        refused.starts_with(
            "rate limit exceeded (2 requests, then 0.001 per second, per token subject, for tools calc_*); retry after "
        ),
        "{refused}"
    );
    // Tools the glob does not match, and lists, are not counted.
    for _ in 0..3 {
        assert_still_serving(&ada).await;
    }
    // Another subject has a limit of its own.
    let bob = client_as(&server, "bob-token").await;
    assert_eq!(add(&bob, "calc_add").await, Ok("3".into()));
    drop((ada, bob));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_tool_gives_each_matched_tool_a_limit_of_its_own() {
    let dir = PluginDir::examples();
    let server = limited(
        &dir,
        "capacity = 1\ntools = [\"calc_add\", \"calc_div*\"]\nper-tool = true\n",
    )
    .await;
    let ada = client_as(&server, "ada-token").await;
    assert_eq!(add(&ada, "calc_add").await, Ok("3".into()));
    assert_eq!(add(&ada, "calc_divide").await, Ok("0.5".into()));
    let refused = add(&ada, "calc_add").await.unwrap_err();
    assert!(
        refused.contains("for tools calc_add calc_div*, each apart)"),
        "{refused}"
    );
    assert!(add(&ada, "calc_divide").await.is_err());
    // Not matched: not counted.
    for _ in 0..2 {
        assert_still_serving(&ada).await;
    }
    drop(ada);
    server.shutdown().await;
}

#[test]
fn a_tool_limit_that_counts_other_methods_is_refused() {
    let mut layers = pier::config::Layers::default();
    let error = layers
        .apply_file(
            std::path::Path::new("pier.toml"),
            "[[middleware]]\ntype = \"rate-limit\"\ntools = [\"x_*\"]\nmethods = [\"resources/read\"]\n",
        )
        .and_then(|()| layers.build().map(|_| ()))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "pier.toml: middleware[0].methods: a limit on tools counts tool calls only: leave out `methods` (or give just \"tools/call\")"
    );
}
