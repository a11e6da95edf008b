//! `url` mounts over HTTPS: a pier behind a TLS front whose certificate a test CA
//! signed is served when the operator trusts that CA (`grants.ca-certificates`), and
//! refused with a sentence when not; other failures to connect read as sentences too.

use super::*;

/// An upstream pier serving `calc`, behind HTTPS: the upstream, the HTTPS port and the
/// CA's PEM file.
async fn https_upstream() -> (Server, u16, tempfile::NamedTempFile) {
    let upstream = Server::start(&PluginDir::new().with(&example("calc"), "calc"), |_| {}).await;
    let backend: u16 = upstream.base.rsplit(':').next().unwrap().parse().unwrap();
    let (ca_pem, chain, key) = test_pki();
    let port = tls_front(chain, key, backend).await;
    let pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pem.path(), ca_pem).unwrap();
    (upstream, port, pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_upstream_is_served_when_its_ca_is_trusted_and_refused_in_a_sentence_when_not() {
    let (upstream, port, pem) = https_upstream().await;
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let mount = format!("[[mount]]\nnamespace = \"up\"\nurl = \"https://127.0.0.1:{port}/mcp\"\n");

    let trusted = format!(
        "{mount}[grants]\nca-certificates = [\"{}\"]\n",
        pem.path().display()
    );
    let server = Server::start_with(configured(&dir, &trusted)).await;
    assert_eq!(refusals(&server.app), []);
    let (client, _) = server.client().await;
    let result = call(&client, "up_calc_add", serde_json::json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(text(&result), "5");
    // The upstream goes away: its calls fail in words; the rest serves.
    upstream.shutdown().await;
    let error = mcp_error(
        call(&client, "up_calc_add", serde_json::json!({"a": 2, "b": 3}))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        error.message,
        "mount `up` could not be asked: it closed the connection before answering"
    );
    assert_still_serving(&client).await;
    drop(client);
    server.shutdown().await;

    // The web's roots only: refused, in words, and the rest serves.
    let server = Server::start_with(configured(&dir, &mount)).await;
    let reason = "cannot connect: its TLS certificate is signed by an authority pier does not trust (add that authority's PEM file to grants.ca-certificates)";
    assert_eq!(
        refusals(&server.app),
        [("up".to_string(), reason.to_string())]
    );
    let ready = reqwest::get(format!("{}/ready", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(
        ready["not_loaded"],
        serde_json::json!([{
            "mount": "up",
            "reason": reason,
            "source": format!("https://127.0.0.1:{port}/mcp"),
        }])
    );
    let (client, _) = server.client().await;
    assert_still_serving(&client).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_mount_that_cannot_connect_says_why_in_a_sentence() {
    let plain = Server::start(&PluginDir::new().with(&example("calc"), "calc"), |_| {}).await;
    let plain_port = plain.base.rsplit(':').next().unwrap();
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let cases = [
        (
            "http://127.0.0.1:9/mcp".to_string(),
            "cannot connect: nothing listens there (connection refused)",
        ),
        (
            format!("https://127.0.0.1:{plain_port}/mcp"),
            "cannot connect: it does not speak TLS there (is the URL meant to be http://?)",
        ),
        (
            format!("http://127.0.0.1:{plain_port}/elsewhere"),
            "cannot connect: it answered HTTP 404 Not Found",
        ),
    ];
    for (url, reason) in cases {
        let operator = format!("[[mount]]\nnamespace = \"up\"\nurl = \"{url}\"\n");
        let app = pier::App::start(&configured(&dir, &operator))
            .await
            .unwrap();
        assert_eq!(
            refusals(&app),
            [("up".to_string(), reason.to_string())],
            "{url}"
        );
        let (client, _) = connect(&app).await;
        assert_still_serving(&client).await;
    }
}
