//! Cosign signatures: of artifacts in the registry (`pier sign REF`) and of files in
//! the plugin directory (`NAME.wasm.sig`, `pier sign FILE` or any `cosign sign-blob`
//! equivalent), required or only shown.

use super::*;

/// `pier keygen DIR/NAME` (password `pw`): the key files and the key's fingerprint.
fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf, String) {
    let base = dir.join(name);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
        .arg("keygen")
        .arg(&base)
        .env("COSIGN_PASSWORD", "pw")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let public = base.with_extension("pub");
    let key = pier::trust::keys::PublicKey::from_pem(&std::fs::read(&public).unwrap()).unwrap();
    (
        base.with_extension("key"),
        public,
        key.fingerprint().to_string(),
    )
}

/// `pier sign TARGET --key KEY` (password `pw`).
fn sign(target: &str, key: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["sign", target, "--key"])
        .arg(key)
        .env("COSIGN_PASSWORD", "pw")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// Copies the cosign signatures of `from` to the signature tag of `to` in the same
/// repository: a signature moved to another artifact.
async fn move_signature(repository: &str, from: &str, to: &str) {
    use oci_client::client::{ClientConfig, ClientProtocol};
    let client = oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    });
    let anonymous = oci_client::secrets::RegistryAuth::Anonymous;
    let tag = |digest: &str| -> oci_client::Reference {
        format!("{repository}:sha256-{}.sig", &digest[7..])
            .parse()
            .unwrap()
    };
    let (manifest, _) = client.pull_manifest(&tag(from), &anonymous).await.unwrap();
    client.push_manifest(&tag(to), &manifest).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn artifacts_run_only_when_a_trusted_key_signed_exactly_them() {
    let registry = OciRegistry::start();
    let keys = tempfile::tempdir().unwrap();
    let (trusted_key, trusted_pub, trusted) = keygen(keys.path(), "release");
    let (other_key, _, _) = keygen(keys.path(), "other");
    let calc = example("calc");

    let signed = registry.reference("tools/signed:1");
    let digest = push(&calc, &signed, None);
    assert_eq!(
        sign(&signed, &trusted_key),
        format!(
            "pier: signed {}/tools/signed@{digest} with {trusted}",
            registry.host
        )
    );
    let unsigned = registry.reference("tools/unsigned:1");
    push(&calc, &unsigned, None);
    let stranger = registry.reference("tools/stranger:1");
    push(&calc, &stranger, None);
    sign(&stranger, &other_key);
    // Signed, then the tag pushed again with other content, and the signature copied
    // to the new digest's signature tag.
    let moved = registry.reference("tools/moved:1");
    let before = push(&calc, &moved, None);
    sign(&moved, &trusted_key);
    let after = push(&example("hello"), &moved, None);
    move_signature(&registry.reference("tools/moved"), &before, &after).await;

    let mounts = [
        ("s", &signed),
        ("u", &unsigned),
        ("o", &stranger),
        ("m", &moved),
    ];
    let mut operator = format!(
        "[trust]\nkeys = [\"{}\"]\nrequire-signatures = true\n\n",
        trusted_pub.display()
    );
    for (namespace, reference) in mounts {
        operator.push_str(&format!(
            "[[mount]]\nnamespace = \"{namespace}\"\noci = \"{reference}\"\n\n"
        ));
    }
    let data = tempfile::tempdir().unwrap();
    let dir = PluginDir::new();
    let required = "signatures are required ([trust] require-signatures) and";
    let server = Server::start_with(configured(&dir, data.path(), &operator)).await;
    assert_eq!(
        refusals(&server.app),
        [
            (
                "u".to_string(),
                format!("{required} it has no cosign signature in its registry")
            ),
            (
                "o".to_string(),
                format!("{required} no signature of it verifies with a trusted key")
            ),
            (
                "m".to_string(),
                format!(
                    "{required} its signature is for {before}, not for this artifact ({after})"
                )
            ),
        ]
    );
    let (client, _) = server.client().await;
    let result = call(&client, "s_add", json!({"a": 2, "b": 3}))
        .await
        .unwrap();
    assert_eq!(text(&result), "5");
    assert_eq!(
        listed(&server, "s").await["verification"],
        json!({"state": "verified", "signer": trusted})
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("pier_plugins_verified{state=\"verified\"} 1\n"),
        "{metrics}"
    );
    server.shutdown().await;

    // Not required: each is served, its state shown.
    let shown = operator.replace("require-signatures = true", "require-signatures = false");
    let server = Server::start_with(configured(&dir, data.path(), &shown)).await;
    assert_eq!(refusals(&server.app), []);
    for (namespace, state) in [
        ("s", "verified"),
        ("u", "unsigned"),
        ("o", "untrusted"),
        ("m", "untrusted"),
    ] {
        assert_eq!(
            listed(&server, namespace).await["verification"]["state"],
            state,
            "{namespace}"
        );
    }
    let metrics = server.metrics().await;
    for line in [
        "pier_plugins_verified{state=\"verified\"} 1\n",
        "pier_plugins_verified{state=\"unsigned\"} 1\n",
        "pier_plugins_verified{state=\"untrusted\"} 2\n",
        "pier_plugins_verified{state=\"unchecked\"} 0\n",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    server.shutdown().await;

    // `pier inspect REF` pulls it and shows its digest and signer (with the keys of
    // the configuration it reads).
    let toml = keys.path().join("pier.toml");
    std::fs::write(
        &toml,
        format!("[trust]\nkeys = [\"{}\"]\n", trusted_pub.display()),
    )
    .unwrap();
    let inspect_data = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = pier(
        &[
            "inspect",
            "--json",
            "--config",
            toml.to_str().unwrap(),
            "--data-dir",
            inspect_data.path().to_str().unwrap(),
            &signed,
        ],
        "",
    );
    assert!(ok, "{stderr}");
    let inspected: Value = serde_json::from_str(&stdout).unwrap();
    let plugin = &inspected["plugins"][0];
    assert_eq!(plugin["digest"], digest.as_str(), "{stdout}");
    assert_eq!(
        plugin["verification"],
        json!({"state": "verified", "signer": trusted})
    );
    assert_eq!(plugin["file"], format!("{signed} ({digest})"));
    let (ok, stdout, _) = pier(
        &[
            "inspect",
            "--config",
            toml.to_str().unwrap(),
            "--data-dir",
            inspect_data.path().to_str().unwrap(),
            &unsigned,
        ],
        "",
    );
    assert!(ok);
    assert!(
        stdout.contains(
            "  signature  unsigned: it has no cosign signature in its registry  (pulled as sha256:"
        ),
        "{stdout}"
    );

    // `pier pull --key` checks the same way.
    let out = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = pier(
        &[
            "pull",
            &unsigned,
            "-o",
            out.path().to_str().unwrap(),
            "--key",
            trusted_pub.to_str().unwrap(),
        ],
        "",
    );
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        format!(
            "pier: refused {unsigned}: no key given with --key signed it: it has no cosign signature in its registry"
        )
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);

    // A digest pulled before is checked again without its registry: its signatures
    // were kept beside it.
    let pinned = format!("{}/tools/signed@{digest}", registry.host);
    drop(registry);
    let operator = format!(
        "[trust]\nkeys = [\"{}\"]\nrequire-signatures = true\n\n[[mount]]\nnamespace = \"s\"\noci = \"{pinned}\"\n",
        trusted_pub.display()
    );
    let app = pier::App::start(&configured(&dir, data.path(), &operator))
        .await
        .unwrap();
    assert_eq!(refusals(&app), []);
    let served = app.mounts();
    assert_eq!(
        serde_json::to_value(&served[0].verification).unwrap(),
        json!({"state": "verified", "signer": trusted})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn directory_plugins_need_a_signature_file_by_a_trusted_key_when_required() {
    let keys = tempfile::tempdir().unwrap();
    let (key, public, fingerprint) = keygen(keys.path(), "release");
    let dir = PluginDir::new()
        .with(&example("calc"), "calc")
        .with(&example("hello"), "hello")
        .with(&example("notes"), "notes");
    // calc signed by pier; notes signed, then changed; hello not signed.
    let calc = dir.path().join("calc.wasm");
    assert_eq!(
        sign(calc.to_str().unwrap(), &key),
        format!(
            "pier: signed {} with {fingerprint} into {}.sig",
            calc.display(),
            calc.display()
        )
    );
    let notes = dir.path().join("notes.wasm");
    sign(notes.to_str().unwrap(), &key);
    std::fs::copy(example("fetch"), &notes).unwrap();
    // A key and a signature made by OpenSSL, as `cosign sign-blob` makes them: an
    // ECDSA P-256 signature over the file, DER, in base64.
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
        out.stdout
    };
    let made = keys.path().join("made.pem");
    let made_pub = keys.path().join("made.pub");
    let fetch = dir.path().join("fetch.wasm");
    std::fs::copy(example("fetch"), &fetch).unwrap();
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        made.to_str().unwrap(),
    ]);
    openssl(&[
        "ec",
        "-in",
        made.to_str().unwrap(),
        "-pubout",
        "-out",
        made_pub.to_str().unwrap(),
    ]);
    let der = openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        made.to_str().unwrap(),
        fetch.to_str().unwrap(),
    ]);
    use base64::Engine as _;
    std::fs::write(
        dir.path().join("fetch.wasm.sig"),
        base64::engine::general_purpose::STANDARD.encode(der),
    )
    .unwrap();

    let data = tempfile::tempdir().unwrap();
    let text = format!(
        "[trust]\nkeys = [\"{}\", \"{}\"]\nrequire-signatures = true\n",
        public.display(),
        made_pub.display()
    );
    let app = pier::App::start(&configured(&dir, data.path(), &text))
        .await
        .unwrap();
    let refused: Vec<(String, String)> = app
        .refusals()
        .into_iter()
        .map(|r| (r.error.file.display().to_string(), r.error.reason))
        .collect();
    let required = "signatures are required ([trust] require-signatures) and";
    assert_eq!(
        refused,
        [
            (
                dir.path().join("hello.wasm").display().to_string(),
                format!("{required} it has no signature file (NAME.wasm.sig) beside it")
            ),
            (
                notes.display().to_string(),
                format!(
                    "{required} its signature does not verify with any trusted key (signed by another key, or the file changed after it was signed)"
                )
            ),
        ]
    );
    let states: Vec<(String, Value)> = app
        .mounts()
        .into_iter()
        .filter(|m| m.state == "serving")
        .map(|m| (m.name, serde_json::to_value(m.verification).unwrap()))
        .collect();
    let made_fingerprint =
        pier::trust::keys::PublicKey::from_pem(&std::fs::read(&made_pub).unwrap())
            .unwrap()
            .fingerprint()
            .to_string();
    assert_eq!(
        states,
        [
            (
                "calc".to_string(),
                json!({"state": "verified", "signer": fingerprint})
            ),
            (
                "fetch".to_string(),
                json!({"state": "verified", "signer": made_fingerprint})
            ),
        ]
    );
    // `pier inspect` shows the state (and refuses nothing for it).
    let (ok, stdout, stderr) = pier(
        &[
            "inspect",
            "--json",
            dir.path().join("hello.wasm").to_str().unwrap(),
        ],
        "",
    );
    assert!(ok, "{stderr}");
    let inspected: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        inspected["plugins"][0]["verification"],
        json!({"state": "unchecked", "reason": "no keys are trusted ([trust] keys)"}),
        "{stdout}"
    );
}
