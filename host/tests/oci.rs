//! Plugins from an OCI registry, against a real one on loopback (Debian's
//! `docker-registry`): push, pull, mount by tag and by digest, a moving tag, what a
//! registry may send wrong, cosign signatures, directory plugins' `.sig` files, and a
//! registry that asks for a login.

mod common;

#[path = "oci/signatures.rs"]
mod signatures;

use std::path::{Path, PathBuf};

use common::*;
use pier::ServeConfig;
use serde_json::{Value, json};

/// `pier ARGS` with `stdin`; (success, stdout, stderr).
fn pier(args: &[&str], stdin: &str) -> (bool, String, String) {
    let out = pier_with_stdin(args, stdin.as_bytes());
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `pier push FILE REF [--sidecar S]`: the digest it printed.
fn push(file: &Path, reference: &str, sidecar: Option<&Path>) -> String {
    let mut args = vec!["push", file.to_str().unwrap(), reference];
    if let Some(sidecar) = sidecar {
        args.extend(["--sidecar", sidecar.to_str().unwrap()]);
    }
    let (ok, stdout, stderr) = pier(&args, "");
    assert!(ok, "pier push: {stderr}");
    let (repository, digest) = stdout.trim().split_once('@').unwrap();
    assert_eq!(
        repository,
        reference.rsplit_once(':').unwrap().0,
        "{stdout}"
    );
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    digest.to_string()
}

/// A configuration serving `dir` with `operator`'s `pier.toml` text, its data (the
/// pulled artifacts, the compiled code) in `data`.
fn configured(dir: &PluginDir, data: &Path, operator: &str) -> ServeConfig {
    let mut layers = pier::config::Layers::default();
    layers.apply_file(Path::new("pier.toml"), operator).unwrap();
    let built = layers.build().unwrap();
    ServeConfig {
        mounts: built.mounts,
        trust: built.trust,
        registries: built.registries,
        admin_token: Some("admin".into()),
        data_dir: data.to_path_buf(),
        ..dir.config()
    }
}

/// The admin API's listing of `namespace`.
async fn listed(server: &Server, namespace: &str) -> Value {
    let mounts: Value = reqwest::Client::new()
        .get(format!("{}/admin/mounts", server.base))
        .bearer_auth("admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    mounts["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["namespace"] == namespace)
        .cloned()
        .unwrap_or_else(|| panic!("{namespace} in {mounts}"))
}

fn sidecar_renaming_add(dir: &Path) -> PathBuf {
    let file = dir.join("calc.toml");
    std::fs::write(&file, "[[tool]]\nname = \"add\"\nrename = \"plus\"\n").unwrap();
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pushed_plugin_is_pulled_and_served_by_tag_and_by_digest() {
    let registry = OciRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let sidecar = sidecar_renaming_add(work.path());
    let tag = registry.reference("tools/calc:1.0");
    // A core module is refused before anything is sent.
    let core = work.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let (ok, _, stderr) = pier(&["push", core.to_str().unwrap(), &tag], "");
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        format!(
            "pier: {}: a core WebAssembly module, not a component: build it for wasm32-wasip2 or wrap it with `wasm-tools component new`",
            core.display()
        )
    );
    let digest = push(&example("calc"), &tag, Some(&sidecar));

    // `pier pull` writes the component and its sidecar, as pushed.
    let out = work.path().join("plugins");
    let (ok, _, stderr) = pier(&["pull", &tag, "-o", out.to_str().unwrap()], "");
    assert!(ok, "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "pier: pulled {}/tools/calc@{digest} into {}",
            registry.host,
            out.join("calc.wasm").display()
        )
    );
    assert_eq!(
        std::fs::read(out.join("calc.wasm")).unwrap(),
        std::fs::read(example("calc")).unwrap()
    );
    assert_eq!(
        std::fs::read(out.join("calc.toml")).unwrap(),
        std::fs::read(&sidecar).unwrap()
    );

    // Mounted by tag and by digest, beside a plugin of the directory.
    let data = tempfile::tempdir().unwrap();
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let by_digest = format!("{}/tools/calc@{digest}", registry.host);
    let config = configured(
        &dir,
        data.path(),
        &format!(
            "[[mount]]\nnamespace = \"w\"\noci = \"{tag}\"\n\n[[mount]]\nnamespace = \"d\"\noci = \"{by_digest}\"\n"
        ),
    );
    let server = Server::start_with(config).await;
    assert_eq!(refusals(&server.app), []);
    let (client, _) = server.client().await;
    for tool in ["w_plus", "d_plus"] {
        let result = call(&client, tool, json!({"a": 2, "b": 3})).await.unwrap();
        assert_eq!(text(&result), "5", "{tool}");
    }
    call(&client, "hello_greet", json!({"name": "Ann"}))
        .await
        .unwrap();
    for (namespace, source) in [("w", &tag), ("d", &by_digest)] {
        let mount = listed(&server, namespace).await;
        assert_eq!(mount["source"], source.as_str());
        assert_eq!(mount["digest"], digest.as_str());
        assert_eq!(mount["kind"], "plugin");
        assert_eq!(
            mount["verification"],
            json!({"state": "unchecked", "reason": "no keys are trusted ([trust] keys)"})
        );
    }
    let ready: Value = reqwest::get(format!("{}/ready", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["pulled"],
        json!([
            {"mount": "w", "reference": tag, "digest": digest},
            {"mount": "d", "reference": by_digest, "digest": digest},
        ])
    );
    // Kept by digest under the data dir: one copy for both mounts.
    let kept = data.path().join("oci").join(&digest[7..]);
    assert_eq!(
        std::fs::read(kept.join("calc.wasm")).unwrap(),
        std::fs::read(example("calc")).unwrap()
    );
    server.shutdown().await;

    // A digest kept starts again without its registry.
    drop(registry);
    let config = configured(
        &dir,
        data.path(),
        &format!("[[mount]]\nnamespace = \"d\"\noci = \"{by_digest}\"\n"),
    );
    let app = pier::App::start(&config).await.unwrap();
    assert_eq!(refusals(&app), []);
    assert_eq!(app.pulled(), [("d".to_string(), by_digest, digest)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_that_moves_is_pulled_again_and_swapped_in() {
    let registry = OciRegistry::start();
    let tag = registry.reference("tools/moving:latest");
    let first = push(&example("calc"), &tag, None);
    let data = tempfile::tempdir().unwrap();
    let dir = PluginDir::new();
    let config = configured(
        &dir,
        data.path(),
        &format!("[[mount]]\nnamespace = \"m\"\noci = \"{tag}\"\nrefresh-seconds = 1\n"),
    );
    let server = Server::start_with(config).await;
    let (client, recorder) = server.client().await;
    let names = |tools: Vec<rmcp::model::Tool>| -> Vec<String> {
        tools.into_iter().map(|t| t.name.to_string()).collect()
    };
    let before = names(client.peer().list_all_tools().await.unwrap());
    assert!(before.contains(&"m_add".to_string()), "{before:?}");
    assert_eq!(server.app.pulled()[0].2, first);

    let second = push(&example("hello"), &tag, None);
    assert_ne!(first, second);
    recorder
        .wait_for("the tools' list_changed", |r| r.tools_changed >= 1)
        .await;
    let after = names(client.peer().list_all_tools().await.unwrap());
    assert!(after.contains(&"m_greet".to_string()), "{after:?}");
    assert!(!after.contains(&"m_add".to_string()), "{after:?}");
    assert_eq!(server.app.pulled()[0].2, second);
    assert_eq!(listed(&server, "m").await["digest"], second.as_str());

    // Unmounted, it stays unmounted when the tag moves again: its refresher stopped.
    let removed = reqwest::Client::new()
        .delete(format!("{}/admin/mounts/m", server.base))
        .bearer_auth("admin")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    push(&example("calc"), &tag, None);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(server.app.pulled(), []);
    assert!(server.app.mounts().iter().all(|m| m.namespace != "m"));
    let left = names(client.peer().list_all_tools().await.unwrap());
    assert!(left.iter().all(|t| !t.starts_with("m_")), "{left:?}");
    server.shutdown().await;
}

/// Pushes an ordinary container image (a config and a tar layer): no Wasm artifact.
async fn push_image(reference: &str) {
    use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
    let client = oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    });
    let reference: oci_client::Reference = reference.parse().unwrap();
    let layer = ImageLayer::new(
        b"not a tar, not wasm".to_vec(),
        "application/vnd.oci.image.layer.v1.tar".into(),
        None,
    );
    let config = Config::oci_v1(br#"{"architecture":"amd64","os":"linux"}"#.to_vec(), None);
    client
        .push(
            &reference,
            &[layer],
            config,
            &oci_client::secrets::RegistryAuth::Anonymous,
            None,
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_registry_sends_wrong_is_refused_and_the_rest_serves() {
    let registry = OciRegistry::start();
    let missing = registry.reference("tools/calc:9.9");
    let image = registry.reference("tools/image:1");
    push_image(&image).await;
    let broken = registry.reference("tools/broken:1");
    push(&example("calc"), &broken, None);
    // Damage the component in the registry's storage: same size, other bytes.
    let layer = pier::oci::digest_of(&std::fs::read(example("calc")).unwrap());
    let file = registry.blob_file(&layer);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let down = "127.0.0.1:9/tools/calc:1".to_string();

    let data = tempfile::tempdir().unwrap();
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let mut text = String::new();
    for (namespace, reference) in [("a", &missing), ("b", &image), ("c", &broken), ("e", &down)] {
        text.push_str(&format!(
            "[[mount]]\nnamespace = \"{namespace}\"\noci = \"{reference}\"\n\n"
        ));
    }
    let server = Server::start_with(configured(&dir, data.path(), &text)).await;
    assert_eq!(
        refusals(&server.app),
        [
            (
                "a".to_string(),
                format!("cannot pull it: {missing} is not in the registry")
            ),
            (
                "b".to_string(),
                "cannot pull it: it is not a Wasm artifact: its config is `application/vnd.oci.image.config.v1+json`, not application/vnd.wasm.config.v0+json".to_string()
            ),
            (
                "c".to_string(),
                "cannot pull it: its component layer: what the registry sent does not match its digest (the registry's copy is damaged or was changed)".to_string()
            ),
            (
                "e".to_string(),
                "cannot pull it: cannot reach the registry 127.0.0.1:9: nothing listens there (connection refused)".to_string()
            ),
        ]
    );
    // Nothing of theirs is kept, and the rest serves.
    let kept: Vec<_> = std::fs::read_dir(data.path().join("oci"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(kept, Vec::<std::ffi::OsString>::new());
    let (client, _) = server.client().await;
    assert_still_serving(&client).await;
    let response = reqwest::get(format!("{}/ready", server.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let ready: Value = response.json().await.unwrap();
    let not_loaded: Vec<&str> = ready["not_loaded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mount"].as_str().unwrap())
        .collect();
    assert_eq!(not_loaded, ["a", "b", "c", "e"]);

    // `pier pull` says the same, and writes nothing.
    let out = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = pier(&["pull", &image, "-o", out.path().to_str().unwrap()], "");
    assert!(!ok);
    assert_eq!(
        stderr.trim(),
        format!(
            "pier: cannot pull {image}: it is not a Wasm artifact: its config is `application/vnd.oci.image.config.v1+json`, not application/vnd.wasm.config.v0+json"
        )
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_with_a_login_takes_the_right_password_only() {
    let registry = OciRegistry::with_login("ann", "s3cret");
    let tag = registry.reference("tools/calc:1");
    let calc = example("calc");
    let calc = calc.to_str().unwrap();
    let refused = format!(
        "pier: cannot push {tag}: the registry {host} refused pier's credentials (log in with `docker login {host}`, or give --username and --password-stdin)",
        host = registry.host
    );
    for (args, stdin) in [
        (vec!["push", calc, &tag], ""),
        (
            vec!["push", calc, &tag, "--username", "ann", "--password-stdin"],
            "wrong\n",
        ),
    ] {
        let (ok, _, stderr) = pier(&args, stdin);
        assert!(!ok);
        assert_eq!(stderr.trim(), refused, "{args:?}");
    }
    let (ok, stdout, stderr) = pier(
        &["push", calc, &tag, "--username", "ann", "--password-stdin"],
        "s3cret\n",
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("@sha256:"), "{stdout}");

    // `docker login`'s config file, as `pier pull` (and a serving pier) read it.
    use base64::Engine as _;
    for (password, works) in [("s3cret", true), ("wrong", false)] {
        let docker = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("ann:{password}"));
        std::fs::write(
            docker.path().join("config.json"),
            json!({"auths": {registry.host.clone(): {"auth": auth}}}).to_string(),
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        let pulled = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(["pull", &tag, "-o"])
            .arg(out.path())
            .env("DOCKER_CONFIG", docker.path())
            .output()
            .unwrap();
        assert_eq!(pulled.status.success(), works, "{pulled:?}");
        if !works {
            assert_eq!(
                String::from_utf8_lossy(&pulled.stderr).trim(),
                refused.replace("cannot push", "cannot pull")
            );
        } else {
            assert!(out.path().join("calc.wasm").is_file());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_serves_the_digest_its_first_replica_pulled_and_compiles_it_once_per_data_dir() {
    let registry = OciRegistry::start();
    let redis = RedisServer::start();
    let tag = registry.reference("tools/calc:stable");
    let digest = push(&example("calc"), &tag, None);
    let dir = PluginDir::new();
    let replica = |data: &Path| ServeConfig {
        storage: pier::storage::Backend::Redis {
            url: redis.url(),
            prefix: "oci:".into(),
        },
        admin_token: Some("admin".into()),
        data_dir: data.to_path_buf(),
        ..dir.config()
    };
    let first = tempfile::tempdir().unwrap();
    let a = Server::start_with(replica(first.path())).await;
    let added = reqwest::Client::new()
        .post(format!("{}/admin/mounts", a.base))
        .bearer_auth("admin")
        .json(&json!({"namespace": "w", "oci": tag}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201, "{}", added.text().await.unwrap());
    assert_eq!(listed(&a, "w").await["digest"], digest.as_str());

    // The tag moves; a replica started later serves what the first one pulled.
    let moved = push(&example("hello"), &tag, None);
    assert_ne!(moved, digest);
    let second = tempfile::tempdir().unwrap();
    let b = Server::start_with(replica(second.path())).await;
    let mount = listed(&b, "w").await;
    assert_eq!(mount["digest"], digest.as_str());
    assert_eq!(mount["source"], format!("{tag}@{digest}"));
    assert!(
        b.metrics()
            .await
            .contains("pier_aot_cache_total{outcome=\"miss\"} 1\n")
    );
    // One that shares its data dir finds the compiled code by the component's hash.
    let c = Server::start_with(replica(second.path())).await;
    assert_eq!(listed(&c, "w").await["digest"], digest.as_str());
    let metrics = c.metrics().await;
    assert!(
        metrics.contains("pier_aot_cache_total{outcome=\"hit\"} 1\n")
            && !metrics.contains("outcome=\"miss\""),
        "{metrics}"
    );
    for server in [a, b, c] {
        server.shutdown().await;
    }
}
