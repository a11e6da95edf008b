//! HTTPS from a plugin: a loopback server with a certificate from a test CA is reached
//! when the operator trusts that CA (`grants.ca-certificates`), and refused by the TLS
//! check (not by a grant) when it does not.

use super::*;

/// An HTTPS server on a free loopback port answering every request with `secure hello`.
async fn https_server(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> u16 {
    let acceptor = acceptor(chain, key);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(tcp).await {
                    answer_once(
                        stream,
                        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nsecure hello",
                    )
                    .await;
                }
            });
        }
    });
    port
}

/// A pier serving `hello` and `outbound` granted `https://127.0.0.1:PORT`, under the operator's
/// `pier.toml` text `operator`.
async fn serving_https(port: u16, operator: &str) -> (App, Client, PluginDir) {
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("outbound"), "outbound")
        .with_sidecar(
            "outbound",
            &format!("[grants]\nhttp = [\"https://127.0.0.1:{port}\"]\nprivate-networks = true\n"),
        );
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(std::path::Path::new("pier.toml"), operator)
        .unwrap();
    let config = ServeConfig {
        grants: layers.build().unwrap().grants,
        ..dir.config()
    };
    let app = App::start(&config).await.expect("pier starts");
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let client = connect(&app).await.0;
    (app, client, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_reaches_a_server_whose_ca_the_operator_trusts_and_no_other() {
    let (ca_pem, chain, key) = test_pki();
    let port = https_server(chain, key).await;
    let pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pem.path(), &ca_pem).unwrap();
    let url = format!("https://127.0.0.1:{port}/hello");

    let trusted = format!(
        "[grants]\nprivate-networks = true\nca-certificates = [\"{}\"]\n",
        pem.path().display()
    );
    let (_app, client, _dir) = serving_https(port, &trusted).await;
    let (text, failed) = request(&client, json!({"url": url, "times": 3})).await;
    assert_eq!(
        (text.as_str(), failed),
        ("200 [] 12 bytes: secure hello", false)
    );
    drop(client);

    // The web's roots only: the handshake fails on the certificate. The guest sees a
    // TLS error code; the client reads pier's words on what was wrong first.
    let (app, client, _dir) = serving_https(port, "[grants]\nprivate-networks = true\n").await;
    let (text, failed) = request(&client, json!({"url": url})).await;
    assert!(failed);
    assert_eq!(
        text,
        format!(
            "plugin `outbound` could not reach https://127.0.0.1:{port}: TLS error: invalid peer certificate: UnknownIssuer\n\
             HTTP request failed: ErrorCode::TlsProtocolError"
        )
    );
    let metrics = metrics(&app);
    assert!(
        metrics.contains(
            "pier_egress_requests_total{plugin=\"outbound\",host=\"127.0.0.1\",outcome=\"error\"} 1"
        ),
        "{metrics}"
    );
    assert_still_serving(&client).await;
}

#[test]
fn a_ca_file_without_a_certificate_is_a_configuration_error_naming_it() {
    let pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pem.path(), "not a certificate\n").unwrap();
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(
            std::path::Path::new("pier.toml"),
            &format!(
                "[grants]\nca-certificates = [\"{}\"]\n",
                pem.path().display()
            ),
        )
        .unwrap();
    let error = layers.build().expect_err("refused").to_string();
    assert_eq!(
        error,
        format!(
            "pier.toml: grants.ca-certificates: {}: no PEM certificate in it",
            pem.path().display()
        )
    );
}
