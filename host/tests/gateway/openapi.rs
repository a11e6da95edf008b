//! A REST API as tools: a petstore-like server on loopback serves its OpenAPI document
//! and its API; pier mounts the operations its allow-list names, the Python `mcp`
//! Client calls them, the server sees the requests they make; requests outside the
//! mount's grants are refused by the same egress checks plugins meet.

use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

use super::*;

const DOCUMENT: &str = r##"
openapi: 3.0.3
info: { title: Petstore, version: "1.0" }
servers: [{ url: "http://127.0.0.1:PORT/v1" }]
paths:
  /pets:
    get:
      operationId: listPets
      summary: List pets
      tags: [pets]
      parameters:
        - { name: limit, in: query, description: How many at most, schema: { type: integer, minimum: 1 } }
      responses: { "200": { description: The pets } }
    post:
      operationId: createPet
      summary: Add a pet
      tags: [pets]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/NewPet" }
      responses: { "201": { description: Added } }
  /pets/{petId}:
    parameters:
      - { name: petId, in: path, required: true, schema: { type: string } }
    get:
      operationId: showPetById
      tags: [pets]
      responses: { "200": { description: The pet } }
    delete:
      operationId: deletePet
      responses: { "204": { description: Gone } }
  /admin/stats:
    get:
      operationId: adminStats
      tags: [admin]
      responses: { "200": { description: Stats } }
components:
  schemas:
    NewPet:
      type: object
      required: [name]
      properties:
        name: { type: string }
        tag: { type: string }
"##;

/// Each request the API received: method, path, query, `X-Api-Key`, body.
type Seen = Arc<Mutex<Vec<(String, String, String, String, String)>>>;

/// The petstore on a free loopback port: its port and what it saw.
async fn petstore() -> (u16, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let document = DOCUMENT.replace("PORT", &port.to_string());
    async fn api(
        State(seen): State<Seen>,
        method: axum::http::Method,
        uri: axum::http::Uri,
        RawQuery(query): RawQuery,
        headers: HeaderMap,
        body: String,
    ) -> axum::response::Response {
        let key = headers
            .get("x-api-key")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        seen.lock().unwrap().push((
            method.to_string(),
            uri.path().to_string(),
            query.unwrap_or_default(),
            key,
            body.clone(),
        ));
        let path = uri.path();
        match (method.as_str(), path) {
            ("GET", "/v1/pets") => {
                axum::Json(json!([{"id": 1, "name": "Tom"}, {"id": 2, "name": "Rex"}]))
                    .into_response()
            }
            ("POST", "/v1/pets") => {
                let mut pet: Value = serde_json::from_str(&body).unwrap();
                pet["id"] = json!(3);
                (StatusCode::CREATED, axum::Json(pet)).into_response()
            }
            ("GET", "/v1/pets/1") => axum::Json(json!({"id": 1, "name": "Tom"})).into_response(),
            ("DELETE", "/v1/pets/1") => StatusCode::NO_CONTENT.into_response(),
            (_, p) => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": format!("nothing at {p}")})),
            )
                .into_response(),
        }
    }
    let app = axum::Router::new()
        .route("/openapi.yaml", get(move || async move { document }))
        .fallback(api)
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, seen)
}

/// A pier mounting the petstore as `pets` with `grants` (the mount's) and the
/// operator's `[grants]` table `operator_grants`.
async fn serving(
    port: u16,
    grants: &str,
    operator_grants: &str,
    key: &std::path::Path,
) -> (Server, PluginDir) {
    serving_with(port, grants, operator_grants, key, "").await
}

/// [`serving`], with more of `pier.toml` (`more`).
async fn serving_with(
    port: u16,
    grants: &str,
    operator_grants: &str,
    key: &std::path::Path,
    more: &str,
) -> (Server, PluginDir) {
    std::fs::write(key, "k-42\n").unwrap();
    let operator = format!(
        r#"
[grants]
{operator_grants}

[[mount]]
namespace = "pets"
openapi = "http://127.0.0.1:{port}/openapi.yaml"
operations = ["tag:pets", "DELETE /pets/*"]
headers = {{ "X-Api-Key" = {{ secret = "key" }} }}
{grants}

[secrets.pets]
key = {{ file = "{}" }}

{more}
"#,
        key.display()
    );
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let server = Server::start_with(configured(&dir, &operator)).await;
    (server, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_are_listed_called_and_their_requests_seen_by_the_api() {
    let (port, seen) = petstore().await;
    let key = tempfile::NamedTempFile::new().unwrap();
    let (server, _dir) = serving(
        port,
        &format!("grants = {{ http = [\"http://127.0.0.1:{port}\"], private-networks = true }}"),
        "private-networks = true",
        key.path(),
    )
    .await;
    assert_eq!(refusals(&server.app), []);
    let calls = json!([
        ["pets_listPets", {"limit": 2}],
        ["pets_createPet", {"body": {"name": "Rex", "tag": "dog"}}],
        ["pets_showPetById", {"petId": "a b/c"}],
        ["pets_deletePet", {"petId": "1"}],
        ["pets_listPets", {"limit": "many"}],
        ["pets_adminStats", {}],
    ]);
    let result = python_script("gateway.py", &[&server.url, "pets_", &calls.to_string()]);
    let names: Vec<&str> = result["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "pets_listPets",
            "pets_createPet",
            "pets_showPetById",
            "pets_deletePet"
        ]
    );
    let list = &result["tools"][0];
    assert_eq!(list["description"], "List pets");
    assert_eq!(
        list["inputSchema"],
        json!({"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1, "description": "How many at most"}}})
    );
    assert_eq!(list["annotations"]["readOnlyHint"], true);
    assert_eq!(result["tools"][3]["annotations"]["destructiveHint"], true);
    assert_eq!(
        result["tools"][1]["inputSchema"]["properties"]["body"]["required"],
        json!(["name"])
    );

    let calls = &result["calls"];
    assert_eq!(
        calls[0]["structured"],
        json!({"result": [{"id": 1, "name": "Tom"}, {"id": 2, "name": "Rex"}]})
    );
    assert_eq!(
        calls[1]["structured"],
        json!({"id": 3, "name": "Rex", "tag": "dog"})
    );
    assert_eq!(calls[2]["isError"], true);
    assert_eq!(
        calls[2]["text"],
        "HTTP 404 Not Found: {\"error\":\"nothing at /v1/pets/a%20b%2Fc\"}"
    );
    assert_eq!(calls[3]["text"], "HTTP 204 No Content");
    assert!(
        calls[4]["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid arguments for tool `pets_listPets`: "),
        "{}",
        calls[4]
    );
    assert_eq!(calls[5]["error"], "unknown tool `pets_adminStats`");
    // Fetching the document is not the API's business; the calls are.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            (
                "GET".into(),
                "/v1/pets".into(),
                "limit=2".into(),
                "k-42".into(),
                String::new()
            ),
            (
                "POST".into(),
                "/v1/pets".into(),
                String::new(),
                "k-42".into(),
                "{\"name\":\"Rex\",\"tag\":\"dog\"}".into()
            ),
            (
                "GET".into(),
                "/v1/pets/a%20b%2Fc".into(),
                String::new(),
                "k-42".into(),
                String::new()
            ),
            (
                "DELETE".into(),
                "/v1/pets/1".into(),
                String::new(),
                "k-42".into(),
                String::new()
            ),
        ]
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(
            "pier_egress_requests_total{plugin=\"pets\",host=\"127.0.0.1\",outcome=\"ok\"} 4"
        ),
        "{metrics}"
    );
    let mounts = server.app.mounts();
    let pets = mounts.iter().find(|m| m.namespace == "pets").unwrap();
    assert_eq!((pets.kind, pets.tools), ("openapi", 4));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_outside_the_mounts_grants_are_refused_as_a_plugins_are() {
    let (port, seen) = petstore().await;
    let key = tempfile::NamedTempFile::new().unwrap();
    // Granted another port only.
    let (server, _dir) = serving(
        port,
        "grants = { http = [\"http://127.0.0.1:1\"], private-networks = true }",
        "private-networks = true",
        key.path(),
    )
    .await;
    let (client, _) = server.client().await;
    let refused = call(&client, "pets_listPets", json!({})).await.unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(
        text(&refused),
        format!("mount `pets` may not reach http://127.0.0.1:{port}: not in its [grants] http")
    );
    assert_still_serving(&client).await;
    drop(client);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(
            "pier_egress_requests_total{plugin=\"pets\",host=\"other\",outcome=\"denied\"} 1"
        ),
        "{metrics}"
    );
    server.shutdown().await;

    // The operator allows no private network: the loopback API is refused.
    let (server, _dir) = serving(port, "", "", key.path()).await;
    let (client, _) = server.client().await;
    let refused = call(&client, "pets_listPets", json!({})).await.unwrap();
    assert_eq!(
        text(&refused),
        format!(
            "mount `pets` may not reach http://127.0.0.1:{port}: 127.0.0.1 is a loopback address, and private networks are not in its [grants] (private-networks)"
        )
    );
    drop(client);
    server.shutdown().await;
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the API");

    // The per-call budget of response bytes holds for it too.
    let (server, _dir) = serving_with(
        port,
        &format!("grants = {{ http = [\"http://127.0.0.1:{port}\"], private-networks = true }}"),
        "private-networks = true",
        key.path(),
        "[defaults]\nhttp-response-bytes = 16\n",
    )
    .await;
    let (client, _) = server.client().await;
    let cut = call(&client, "pets_listPets", json!({})).await.unwrap();
    assert_eq!(cut.is_error, Some(true));
    assert_eq!(
        text(&cut),
        format!(
            "mount `pets` may not reach http://127.0.0.1:{port}: its responses passed 16 bytes in this call ([defaults] http-response-bytes)"
        )
    );
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_pier_cannot_use_refuses_the_mount_in_words_and_the_rest_serves() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let swagger = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(swagger.path(), "swagger: '2.0'\npaths: {}\n").unwrap();
    let spec = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(spec.path(), DOCUMENT.replace("PORT", "9")).unwrap();
    let cases = [
        (
            format!(
                "openapi = \"{}\"\noperations = [\"*\"]",
                swagger.path().display()
            ),
            format!(
                "{}: a Swagger (OpenAPI 2.0) document: pier reads OpenAPI 3.0 and 3.1",
                swagger.path().display()
            ),
        ),
        (
            format!(
                "openapi = \"{}\"\noperations = [\"tag:nothing\"]",
                spec.path().display()
            ),
            format!(
                "no operation of {} is in its `operations`",
                spec.path().display()
            ),
        ),
        (
            "openapi = \"/nonexistent/spec.yaml\"\noperations = [\"*\"]".to_string(),
            "/nonexistent/spec.yaml: No such file or directory (os error 2)".to_string(),
        ),
    ];
    for (mount, reason) in cases {
        let operator = format!("[[mount]]\nnamespace = \"pets\"\n{mount}\n");
        let app = pier::App::start(&configured(&dir, &operator))
            .await
            .unwrap();
        assert_eq!(refusals(&app), [("pets".to_string(), reason)]);
        let (client, _) = connect(&app).await;
        assert_still_serving(&client).await;
    }
    // No allow-list: a configuration error naming the key.
    let mut layers = pier::config::Layers::default();
    let error = layers
        .apply_file(
            std::path::Path::new("pier.toml"),
            "[[mount]]\nnamespace = \"pets\"\nopenapi = \"spec.yaml\"\n",
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "pier.toml: mount[0].operations: missing: list the operations to serve (operationIds, `tag:NAME`, path globs such as \"GET /pets/*\", or \"*\" for all)"
    );
}
