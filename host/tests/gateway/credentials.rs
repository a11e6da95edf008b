//! A `url` mount's own credentials: a token from a loopback authorization server by
//! OAuth client credentials (fetched once, again before it expires and when the
//! server refuses it) and headers from `[secrets]`, seen by a FastMCP upstream; the
//! client's own token never reaches it.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::*;

/// What the authorization server saw and how it answers.
#[derive(Default)]
struct Issued {
    /// Each token request: its Authorization header and form body.
    requests: Vec<(String, String)>,
    /// The lifetime of the tokens it issues, in seconds.
    expires_in: u64,
    /// The client secret it accepts.
    secret: String,
}

/// A token endpoint on a free loopback port issuing `tok-1`, `tok-2`, … to the client
/// `pier-gw` presenting `secret` by HTTP Basic; its URL and what it saw.
async fn authorization_server(secret: &str, expires_in: u64) -> (String, Arc<Mutex<Issued>>) {
    async fn token(
        State(issued): State<Arc<Mutex<Issued>>>,
        headers: HeaderMap,
        body: String,
    ) -> axum::response::Response {
        let mut issued = issued.lock().unwrap();
        let authorization = headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        issued.requests.push((authorization.clone(), body));
        use base64::Engine;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "pier-gw:{}",
                form_urlencoded::byte_serialize(issued.secret.as_bytes()).collect::<String>()
            ))
        );
        if authorization != expected {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "invalid_client", "error_description": "unknown client or wrong secret"})),
            )
                .into_response();
        }
        let n = issued.requests.len();
        axum::Json(json!({
            "access_token": format!("tok-{n}"),
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        }))
        .into_response()
    }
    let issued = Arc::new(Mutex::new(Issued {
        expires_in,
        secret: secret.to_string(),
        ..Issued::default()
    }));
    let app = axum::Router::new()
        .route("/oauth/token", axum::routing::post(token))
        .with_state(issued.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://127.0.0.1:{port}/oauth/token"), issued)
}

/// The mount of `upstream` as `crm` with client credentials at `token_url` and
/// secrets from files in `secrets` (the client secret `secret`, the API key `key-123`).
fn crm_mount(upstream: &str, token_url: &str, secrets: &std::path::Path, secret: &str) -> String {
    std::fs::write(secrets.join("client-secret"), format!("{secret}\n")).unwrap();
    std::fs::write(secrets.join("api-key"), "key-123").unwrap();
    format!(
        r#"
[[mount]]
namespace = "crm"
url = "{upstream}"
oauth = {{ token-url = "{token_url}", client-id = "pier-gw", client-secret = {{ secret = "client-secret" }}, scopes = ["tools.read", "tools.call"] }}
headers = {{ "X-Api-Key" = {{ secret = "api-key" }}, "X-Tenant" = "acme" }}

[secrets.crm]
client-secret = {{ file = "{dir}/client-secret" }}
api-key = {{ file = "{dir}/api-key" }}
"#,
        dir = secrets.display()
    )
}

async fn whoami(client: &Client) -> Value {
    let result = call(client, "crm_whoami", json!({})).await.unwrap();
    serde_json::from_str(&text(&result)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_credentials_token_is_fetched_once_refreshed_ahead_of_expiry_and_when_refused() {
    // The upstream refuses the first token issued: pier must fetch another at once.
    let upstream = PythonServer::start("gateway_server.py", &["tok-2", "tok-3"]).await;
    let (token_url, issued) = authorization_server("s3cr&t", 4).await;
    let secrets = tempfile::tempdir().unwrap();
    let operator = format!(
        "{}\n[auth]\nmode = \"tokens\"\nresource = \"http://127.0.0.1/mcp\"\n[[auth.token]]\nhash = \"{}\"\nsubject = \"ada\"\n",
        crm_mount(&upstream.url, &token_url, secrets.path(), "s3cr&t"),
        pier::auth::hash_token("the-clients-own")
    );
    let dir = PluginDir::new();
    let config = configured(&dir, &operator);
    let server = Server::start_with(config).await;
    assert_eq!(refusals(&server.app), []);
    {
        let issued = issued.lock().unwrap();
        assert_eq!(issued.requests.len(), 2, "tok-1 refused, tok-2 taken");
        let (authorization, form) = &issued.requests[0];
        // RFC 6749 §2.3.1: the secret form-encoded, then Basic.
        assert_eq!(authorization, "Basic cGllci1ndzpzM2NyJTI2dA==");
        assert_eq!(
            form,
            "grant_type=client_credentials&scope=tools.read+tools.call"
        );
    }

    // The client's own token stays with pier: the upstream sees pier's, and the
    // headers from [secrets] and the mount.
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            server.url.as_str(),
        )
        .auth_header("the-clients-own"),
    );
    let client = rmcp::ServiceExt::serve(Recorder::default(), transport)
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            whoami(&client).await,
            json!({"authorization": "Bearer tok-2", "x-api-key": "key-123", "x-tenant": "acme"})
        );
    }
    assert_eq!(issued.lock().unwrap().requests.len(), 2, "cached");

    // Ahead of its expiry (4 s, fetched again at 3.6 s), a new one.
    tokio::time::sleep(std::time::Duration::from_millis(3700)).await;
    assert_eq!(whoami(&client).await["authorization"], "Bearer tok-3");
    assert_eq!(whoami(&client).await["authorization"], "Bearer tok-3");
    assert_eq!(issued.lock().unwrap().requests.len(), 3);
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_that_cannot_be_had_refuse_the_mount_in_a_sentence_and_the_rest_serves() {
    let upstream = PythonServer::start("gateway_server.py", &["tok-1"]).await;
    let (token_url, _) = authorization_server("right", 3600).await;
    let secrets = tempfile::tempdir().unwrap();
    let dir = PluginDir::new().with(&example("hello"), "hello");

    // The authorization server refuses the secret.
    let operator = crm_mount(&upstream.url, &token_url, secrets.path(), "wrong");
    let app = pier::App::start(&configured(&dir, &operator))
        .await
        .unwrap();
    assert_eq!(
        refusals(&app),
        [(
            "crm".to_string(),
            format!(
                "cannot connect: the authorization server at {token_url} refused pier's client credentials: invalid_client (unknown client or wrong secret)"
            )
        )]
    );
    let (client, _) = connect(&app).await;
    assert_still_serving(&client).await;

    // The secret's file is gone.
    std::fs::remove_file(secrets.path().join("client-secret")).unwrap();
    let operator = operator.replace(
        &format!("{}/client-secret", secrets.path().display()),
        &format!("{}/missing", secrets.path().display()),
    );
    let app = pier::App::start(&configured(&dir, &operator))
        .await
        .unwrap();
    let reasons = refusals(&app);
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].1.starts_with(&format!(
            "cannot connect: the secret `client-secret` of [secrets.crm]: {}/missing: ",
            secrets.path().display()
        )),
        "{reasons:?}"
    );

    // No token at all: the upstream asks for one.
    let operator = format!(
        "[[mount]]\nnamespace = \"crm\"\nurl = \"{}\"\n",
        upstream.url
    );
    let app = pier::App::start(&configured(&dir, &operator))
        .await
        .unwrap();
    assert_eq!(
        refusals(&app),
        [(
            "crm".to_string(),
            "cannot connect: it asks for authorization (HTTP 401): the mount sent no token, or one it refused".to_string()
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_claims_to_live_for_ever_is_kept_until_refused() {
    let upstream = PythonServer::start("gateway_server.py", &["tok-1"]).await;
    let (token_url, issued) = authorization_server("s", u64::MAX).await;
    let secrets = tempfile::tempdir().unwrap();
    let dir = PluginDir::new();
    let operator = crm_mount(&upstream.url, &token_url, secrets.path(), "s");
    let server = Server::start_with(configured(&dir, &operator)).await;
    assert_eq!(refusals(&server.app), []);
    let (client, _) = server.client().await;
    assert_eq!(whoami(&client).await["authorization"], "Bearer tok-1");
    assert_eq!(issued.lock().unwrap().requests.len(), 1);
    drop(client);
    server.shutdown().await;
}
