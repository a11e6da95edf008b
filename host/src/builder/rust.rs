//! The Rust SDK as it comes with the `pier` binary: `pier-sdk`, its macros and its URI
//! templates, with the WIT contract, written to the cache once per version as a small
//! workspace of their own. A crate made by `pier new --lang rust` outside pier's
//! repository depends on it by path (and by version, for when `pier-sdk` is published),
//! so it builds wherever `pier` is installed.

use std::path::{Path, PathBuf};

use super::{WIT, cache, write_once};

/// The SDK crates, as `(path, text)`, laid out as in pier's repository.
const FILES: &[(&str, &str)] = &[
    (
        "guest-sdk/pier-sdk/Cargo.toml",
        include_str!("../../../guest-sdk/pier-sdk/Cargo.toml"),
    ),
    (
        "guest-sdk/pier-sdk/README.md",
        include_str!("../../../guest-sdk/pier-sdk/README.md"),
    ),
    (
        "guest-sdk/pier-sdk/src/config.rs",
        include_str!("../../../guest-sdk/pier-sdk/src/config.rs"),
    ),
    (
        "guest-sdk/pier-sdk/src/context.rs",
        include_str!("../../../guest-sdk/pier-sdk/src/context.rs"),
    ),
    (
        "guest-sdk/pier-sdk/src/http.rs",
        include_str!("../../../guest-sdk/pier-sdk/src/http.rs"),
    ),
    (
        "guest-sdk/pier-sdk/src/lib.rs",
        include_str!("../../../guest-sdk/pier-sdk/src/lib.rs"),
    ),
    (
        "guest-sdk/pier-sdk/src/output.rs",
        include_str!("../../../guest-sdk/pier-sdk/src/output.rs"),
    ),
    (
        "guest-sdk/pier-sdk/src/runtime.rs",
        include_str!("../../../guest-sdk/pier-sdk/src/runtime.rs"),
    ),
    (
        "guest-sdk/pier-sdk/src/storage.rs",
        include_str!("../../../guest-sdk/pier-sdk/src/storage.rs"),
    ),
    (
        "guest-sdk/pier-sdk/src/template.rs",
        include_str!("../../../guest-sdk/pier-sdk/src/template.rs"),
    ),
    (
        "guest-sdk/pier-sdk-macros/Cargo.toml",
        include_str!("../../../guest-sdk/pier-sdk-macros/Cargo.toml"),
    ),
    (
        "guest-sdk/pier-sdk-macros/src/lib.rs",
        include_str!("../../../guest-sdk/pier-sdk-macros/src/lib.rs"),
    ),
    (
        "guest-sdk/uri-template/Cargo.toml",
        include_str!("../../../guest-sdk/uri-template/Cargo.toml"),
    ),
    (
        "guest-sdk/uri-template/src/lib.rs",
        include_str!("../../../guest-sdk/uri-template/src/lib.rs"),
    ),
];

/// The SDK crates, members of the workspace [`workspace_manifest`] writes.
const MEMBERS: &[&str] = &[
    "guest-sdk/pier-sdk",
    "guest-sdk/pier-sdk-macros",
    "guest-sdk/uri-template",
];

/// pier's own workspace manifest: the SDK crates inherit their versions, dependencies and
/// lints from it.
const ROOT_MANIFEST: &str = include_str!("../../../Cargo.toml");

/// The manifest of the SDK's workspace: pier's, with the SDK crates as its only members.
fn workspace_manifest() -> Result<String, String> {
    let broken = |e: &dyn std::fmt::Display| format!("pier's own Cargo.toml cannot be read: {e}");
    let root: toml::Table = ROOT_MANIFEST.parse().map_err(|e| broken(&e))?;
    let inherited = root
        .get("workspace")
        .and_then(toml::Value::as_table)
        .ok_or_else(|| broken(&"no [workspace]"))?;
    let mut workspace = toml::Table::new();
    workspace.insert("resolver".into(), "3".into());
    workspace.insert(
        "members".into(),
        toml::Value::Array(MEMBERS.iter().map(|m| (*m).into()).collect()),
    );
    for key in ["package", "dependencies", "lints"] {
        if let Some(value) = inherited.get(key) {
            workspace.insert(key.into(), value.clone());
        }
    }
    let mut manifest = toml::Table::new();
    manifest.insert("workspace".into(), toml::Value::Table(workspace));
    let text = toml::to_string(&manifest).map_err(|e| broken(&e))?;
    Ok(format!(
        "# pier's Rust SDK as it came with pier {}: written by pier, not to be edited.\n{text}",
        env!("CARGO_PKG_VERSION")
    ))
}

/// The SDK written under `cache` (once per content): the folder of the `pier-sdk` crate.
pub fn rust_sdk_in(cache: &Path) -> Result<PathBuf, String> {
    let manifest = workspace_manifest()?;
    let wit: Vec<(String, &str)> = WIT
        .iter()
        .map(|(path, text)| (format!("guest-sdk/pier-sdk/{path}"), *text))
        .collect();
    let files: Vec<(&str, &str)> = FILES
        .iter()
        .copied()
        .chain(wit.iter().map(|(path, text)| (path.as_str(), *text)))
        .chain([("Cargo.toml", manifest.as_str())])
        .collect();
    let dir = write_once(cache, "rust-sdk", &files, "the Rust SDK")?;
    Ok(dir.join("guest-sdk/pier-sdk"))
}

/// The SDK written in pier's cache: the folder of the `pier-sdk` crate.
pub fn rust_sdk() -> Result<PathBuf, String> {
    rust_sdk_in(&cache()?)
}

#[cfg(test)]
mod tests {
    use super::super::tests::files;
    use super::*;

    #[test]
    fn the_embedded_sdk_is_the_whole_tree() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut on_disk = Vec::new();
        for member in MEMBERS {
            for ext in ["rs", "toml", "md"] {
                let dir = repo.join(member);
                let mut found = Vec::new();
                files(&repo, &dir, ext, &mut found);
                // The WIT is the repository's (`wit/`, linked into the crate).
                on_disk.extend(found.into_iter().filter(|f| !f.contains("/wit/")));
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "FILES must list every file of the SDK crates"
        );
    }

    #[test]
    fn the_sdk_is_a_workspace_of_its_three_crates_written_once() {
        let cache = tempfile::tempdir().unwrap();
        let sdk = rust_sdk_in(cache.path()).unwrap();
        assert!(sdk.join("src/lib.rs").is_file());
        assert!(sdk.join("wit/plugin.wit").is_file());
        assert!(sdk.join("wit/deps/config/store.wit").is_file());
        let root: toml::Table = std::fs::read_to_string(sdk.join("../../Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            root["workspace"]["members"],
            toml::Value::Array(MEMBERS.iter().map(|m| (*m).into()).collect())
        );
        assert_eq!(
            root["workspace"]["package"]["version"].as_str(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(rust_sdk_in(cache.path()).unwrap(), sdk);
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1);
    }
}
