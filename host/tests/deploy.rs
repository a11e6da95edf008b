//! What operators deploy with is checked by the tools they would use: the Dockerfile
//! by `hadolint`, the Kubernetes manifests against the Kubernetes schemas
//! (`kubernetes-validate`), the balancer's configuration by `haproxy -c`. The tools
//! come from `make setup` (`.venv`, apt).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn venv_tool(name: &str) -> PathBuf {
    let tool = common::root().join(".venv/bin").join(name);
    assert!(
        tool.exists(),
        "{} is missing: run `make setup`, which installs it",
        tool.display()
    );
    tool
}

/// Runs `command`; panics with its output unless it succeeds.
fn passes(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run the check of {what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} fails its check:\n{text}");
    text
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let root = common::root();
    passes(
        Command::new(venv_tool("hadolint"))
            .arg("--failure-threshold")
            .arg("info")
            .arg(root.join("Dockerfile")),
        "Dockerfile",
    );
}

#[test]
fn hadolint_would_catch_a_bad_dockerfile() {
    // The check can fail: a Dockerfile with the mistakes hadolint exists for is refused.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Dockerfile");
    std::fs::write(&bad, "FROM debian\nRUN apt-get install curl\nUSER root\n").unwrap();
    let output = Command::new(venv_tool("hadolint"))
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("DL3006"), "an untagged image: {text}");
}

fn manifests() -> Vec<PathBuf> {
    let dir = common::root().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // kustomize's own file is not a Kubernetes object.
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    files
}

fn validate(files: &[PathBuf]) -> std::process::Output {
    Command::new(venv_tool("kubernetes-validate"))
        .arg("--strict")
        .args(["--kubernetes-version", "1.33"])
        .args(files)
        .output()
        .unwrap()
}

#[test]
fn the_kubernetes_manifests_are_valid_objects_and_kustomize_lists_each() {
    let files = manifests();
    let names: Vec<&str> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "configmap.yaml",
            "deployment.yaml",
            "hpa.yaml",
            "pdb.yaml",
            "secret.yaml",
            "service.yaml"
        ]
    );
    let output = validate(&files);
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let kustomization =
        std::fs::read_to_string(common::root().join("deploy/kubernetes/kustomization.yaml"))
            .unwrap();
    for name in names {
        assert!(
            kustomization.contains(&format!("  - {name}\n")),
            "kustomization.yaml lists {name}"
        );
    }
}

#[test]
fn the_schema_check_would_catch_a_wrong_field() {
    let dir = tempfile::tempdir().unwrap();
    let deployment =
        std::fs::read_to_string(common::root().join("deploy/kubernetes/deployment.yaml")).unwrap();
    let wrong = dir.path().join("deployment.yaml");
    std::fs::write(
        &wrong,
        deployment.replace("readinessProbe:", "readynessProbe:"),
    )
    .unwrap();
    let output = validate(&[wrong]);
    assert!(!output.status.success(), "a misspelt field is refused");
}

#[test]
fn the_configmap_holds_a_configuration_pier_accepts() {
    // The `pier.toml` of the ConfigMap, as pier reads it.
    let configmap =
        std::fs::read_to_string(common::root().join("deploy/kubernetes/configmap.yaml")).unwrap();
    let toml: String = configmap
        .split_once("pier.toml: |\n")
        .unwrap()
        .1
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(Path::new("pier.toml"), &toml)
        .unwrap_or_else(|e| panic!("{e}"));
    let config = layers.build().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.plugins_dir, Path::new("/plugins"));
    assert_eq!(
        config.storage,
        pier::storage::Backend::Redis {
            url: "redis://redis:6379/0".into(),
            prefix: "pier:".into()
        }
    );
}

fn haproxy() -> PathBuf {
    ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("haproxy is missing: run `make setup`, which installs it")
}

#[test]
fn the_compose_balancer_configuration_is_valid_for_haproxy() {
    // The replicas' names resolve only inside compose: checked with them as loopback.
    let cfg = std::fs::read_to_string(common::root().join("deploy/haproxy.cfg")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("haproxy.cfg");
    let cfg = cfg
        .replace("pier1:8000", "127.0.0.1:18001")
        .replace("pier2:8000", "127.0.0.1:18002")
        .replace("pier3:8000", "127.0.0.1:18003");
    std::fs::write(&local, cfg).unwrap();
    passes(
        Command::new(haproxy()).arg("-c").arg("-f").arg(&local),
        "deploy/haproxy.cfg",
    );
    let compose = std::fs::read_to_string(common::root().join("deploy/compose.yaml")).unwrap();
    for service in ["redis:", "pier1:", "pier2:", "pier3:", "haproxy:"] {
        assert!(compose.contains(&format!("\n  {service}\n")), "{service}");
    }
}
