//! A mount named in `pier.toml` (`[[mount]]`) or through the admin API: a plugin file, a
//! remote MCP server by URL, or a local MCP server by command, under a namespace.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::namespace;
use super::proxy::Remote;
use crate::middleware::spec::Spec;

/// Whether a proxied server's catalogue is followed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Live: the remote catalogue is fetched again on its `list_changed`.
    #[default]
    Mount,
    /// Static: the remote catalogue is copied once, when mounted (FastMCP's
    /// `import_server`); calls are still forwarded.
    Import,
}

/// What a mount serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A plugin file.
    Path(PathBuf),
    /// Another MCP server.
    Remote(Remote),
}

/// One mount, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct MountSpec {
    /// Its namespace (`""` keeps names).
    pub namespace: String,
    /// What it serves.
    pub target: Target,
    /// Live or static catalogue (proxied servers).
    pub mode: Mode,
    /// Middleware for this mount's components only, inside the server-level chain.
    pub middleware: Vec<Spec>,
    /// A plugin mount's storage key space when it is not its own namespace: a mount
    /// that shares another's data on purpose (e.g. a read-only view of it).
    pub storage: Option<String>,
}

/// The fields of a `[[mount]]` table (or an admin API body); unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawMount {
    namespace: Option<String>,
    path: Option<PathBuf>,
    url: Option<String>,
    token: Option<String>,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    mode: Option<Mode>,
    #[serde(default)]
    middleware: Vec<serde_json::Value>,
    storage: Option<String>,
}

impl RawMount {
    /// Checks the fields: a valid namespace, exactly one of `path`, `url`, `command`,
    /// and only the fields that go with it. The error names the field.
    pub fn check(self) -> Result<MountSpec, (String, String)> {
        let fail = |key: &str, message: &str| Err((key.to_string(), message.to_string()));
        let Some(ns) = self.namespace else {
            return fail(
                "namespace",
                "missing: every mount needs a namespace (\"\" keeps names)",
            );
        };
        if !namespace::is_valid(&ns) {
            return fail("namespace", "must be at most 32 of A-Z a-z 0-9 _ -");
        }
        let given = [
            self.path.is_some(),
            self.url.is_some(),
            self.command.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return fail(
                "path",
                "a mount needs exactly one of `path`, `url`, `command`",
            );
        }
        if self.token.is_some() && self.url.is_none() {
            return fail("token", "only a `url` mount takes a token");
        }
        if (!self.args.is_empty() || !self.env.is_empty()) && self.command.is_none() {
            return fail("args", "only a `command` mount takes `args` and `env`");
        }
        if let Some(storage) = &self.storage {
            if self.path.is_none() {
                return fail("storage", "only a `path` mount has storage");
            }
            if storage.is_empty() || !namespace::is_valid(storage) {
                return fail(
                    "storage",
                    "must be the namespace whose data to share: 1 to 32 of A-Z a-z 0-9 _ -",
                );
            }
        }
        let target = if let Some(path) = self.path {
            if self.mode.is_some() {
                return fail("mode", "only a `url` or `command` mount has a mode");
            }
            Target::Path(path)
        } else if let Some(url) = self.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return fail("url", "must start with http:// or https://");
            }
            Target::Remote(Remote::Http {
                url,
                token: self.token,
            })
        } else {
            let command = self.command.unwrap_or_default();
            if command.is_empty() {
                return fail("command", "must not be empty");
            }
            Target::Remote(Remote::Command {
                command,
                args: self.args,
                env: self.env,
            })
        };
        let mut middleware = Vec::with_capacity(self.middleware.len());
        for (i, item) in self.middleware.iter().enumerate() {
            let spec = crate::middleware::spec::parse(item).map_err(|e| match e.key.as_str() {
                "" => (format!("middleware[{i}]"), e.message),
                key => (format!("middleware[{i}].{key}"), e.message),
            })?;
            middleware.push(spec);
        }
        Ok(MountSpec {
            namespace: ns,
            target,
            mode: self.mode.unwrap_or_default(),
            middleware,
            storage: self.storage,
        })
    }
}

impl MountSpec {
    /// Where it comes from, for people (a token is never shown).
    pub fn source(&self) -> String {
        match &self.target {
            Target::Path(path) => path.display().to_string(),
            Target::Remote(remote) => remote.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MountSpec, (String, String)> {
        toml::from_str::<RawMount>(text).unwrap().check()
    }

    #[test]
    fn each_kind_of_mount_parses() {
        assert_eq!(
            parse("namespace = \"w\"\npath = \"x.wasm\"")
                .unwrap()
                .target,
            Target::Path("x.wasm".into())
        );
        let remote =
            parse("namespace = \"r\"\nurl = \"http://h/mcp\"\ntoken = \"t\"\nmode = \"import\"")
                .unwrap();
        assert_eq!(remote.mode, Mode::Import);
        assert_eq!(remote.source(), "http://h/mcp");
        let local = parse("namespace = \"l\"\ncommand = \"srv\"\nargs = [\"-v\"]").unwrap();
        assert_eq!(local.source(), "srv -v");
        assert_eq!(local.mode, Mode::Mount);
    }

    #[test]
    fn a_bad_mount_names_the_field() {
        assert_eq!(parse("path = \"x\"").unwrap_err().0, "namespace");
        assert_eq!(
            parse("namespace = \"a\"\npath = \"x\"\nurl = \"http://h\"").unwrap_err(),
            (
                "path".to_string(),
                "a mount needs exactly one of `path`, `url`, `command`".to_string()
            )
        );
        assert_eq!(
            parse("namespace = \"a\"\npath = \"x\"\ntoken = \"t\"")
                .unwrap_err()
                .0,
            "token"
        );
        assert_eq!(
            parse("namespace = \"a b\"\npath = \"x\"").unwrap_err().0,
            "namespace"
        );
        assert_eq!(
            parse("namespace = \"a\"\nurl = \"ftp://h\"").unwrap_err().0,
            "url"
        );
        assert!(toml::from_str::<RawMount>("namespace = \"a\"\nurll = \"x\"").is_err());
    }

    #[test]
    fn a_path_mount_may_share_another_namespaces_storage() {
        let shared = parse("namespace = \"ro\"\npath = \"x\"\nstorage = \"notes\"").unwrap();
        assert_eq!(shared.storage.as_deref(), Some("notes"));
        assert_eq!(
            parse("namespace = \"a\"\nurl = \"http://h\"\nstorage = \"notes\"").unwrap_err(),
            (
                "storage".to_string(),
                "only a `path` mount has storage".to_string()
            )
        );
        for bad in ["", "../notes", "a b"] {
            assert_eq!(
                parse(&format!(
                    "namespace = \"a\"\npath = \"x\"\nstorage = \"{bad}\""
                ))
                .unwrap_err()
                .0,
                "storage",
                "{bad:?}"
            );
        }
    }
}
