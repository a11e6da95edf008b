//! A mount named in `pier.toml` (`[[mount]]`) or through the admin API: a plugin file, a
//! remote MCP server by URL, or a local MCP server by command, under a namespace.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::namespace;
use super::proxy::Remote;
use super::proxy::credentials::{Configured, Credentials, OAuthSpec};
use super::transform::ToolTransform;
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
    /// A REST API described by an OpenAPI document.
    OpenApi(super::openapi::OpenApiSpec),
    /// A plugin in an OCI registry.
    Oci(OciSpec),
}

/// A plugin mounted from an OCI registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciSpec {
    /// `registry/repository:tag` or `registry/repository@sha256:…`.
    pub reference: String,
    /// How often a tag is resolved again (a new digest is pulled and swapped in).
    pub refresh: Option<std::time::Duration>,
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
    /// How its tools are changed before clients see them (`[[mount.tool]]`).
    pub tools: Vec<ToolTransform>,
}

/// The fields of a `[[mount]]` table (or an admin API body); unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawMount {
    namespace: Option<String>,
    path: Option<PathBuf>,
    oci: Option<String>,
    refresh_seconds: Option<u64>,
    url: Option<String>,
    token: Option<Configured>,
    oauth: Option<OAuthSpec>,
    #[serde(default)]
    headers: BTreeMap<String, Configured>,
    openapi: Option<String>,
    base_url: Option<String>,
    #[serde(default)]
    operations: Vec<String>,
    grants: Option<crate::runtime::grants::GrantRequest>,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    mode: Option<Mode>,
    #[serde(default)]
    middleware: Vec<serde_json::Value>,
    storage: Option<String>,
    #[serde(default)]
    tool: Vec<ToolTransform>,
}

impl RawMount {
    /// Checks the fields: a valid namespace, exactly one of `path`, `oci`, `url`, `command`,
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
            self.oci.is_some(),
            self.url.is_some(),
            self.command.is_some(),
            self.openapi.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return fail(
                "path",
                "a mount needs exactly one of `path`, `oci`, `url`, `command`, `openapi`",
            );
        }
        if self.openapi.is_none() {
            let api_only = if self.base_url.is_some() {
                Some("base-url")
            } else if !self.operations.is_empty() {
                Some("operations")
            } else if self.grants.is_some() {
                Some("grants")
            } else {
                None
            };
            if let Some(key) = api_only {
                return fail(key, &format!("only an `openapi` mount takes `{key}`"));
            }
        }
        if self.url.is_none() && self.openapi.is_none() {
            let credential = if self.token.is_some() {
                Some("token")
            } else if self.oauth.is_some() {
                Some("oauth")
            } else if !self.headers.is_empty() {
                Some("headers")
            } else {
                None
            };
            if let Some(key) = credential {
                return fail(
                    key,
                    &format!("only a `url` or `openapi` mount takes `{key}`"),
                );
            }
        }
        if (!self.args.is_empty() || !self.env.is_empty()) && self.command.is_none() {
            return fail("args", "only a `command` mount takes `args` and `env`");
        }
        if self.refresh_seconds.is_some() && self.oci.is_none() {
            return fail(
                "refresh-seconds",
                "only an `oci` mount takes `refresh-seconds`",
            );
        }
        if let Some(storage) = &self.storage {
            if self.path.is_none() && self.oci.is_none() {
                return fail("storage", "only a `path` or `oci` mount has storage");
            }
            if storage.is_empty() || !namespace::is_valid(storage) {
                return fail(
                    "storage",
                    "must be the namespace whose data to share: 1 to 32 of A-Z a-z 0-9 _ -",
                );
            }
        }
        let target = if let Some(document) = self.openapi {
            if self.mode.is_some() {
                return fail("mode", "only a `url` or `command` mount has a mode");
            }
            let spec = super::openapi::OpenApiSpec {
                document,
                base_url: self.base_url,
                operations: self.operations,
                grants: self.grants,
                credentials: Credentials {
                    token: self.token,
                    oauth: self.oauth,
                    headers: self.headers,
                },
            };
            spec.check()?;
            Target::OpenApi(spec)
        } else if let Some(path) = self.path {
            if self.mode.is_some() {
                return fail("mode", "only a `url` or `command` mount has a mode");
            }
            Target::Path(path)
        } else if let Some(reference) = self.oci {
            if self.mode.is_some() {
                return fail("mode", "only a `url` or `command` mount has a mode");
            }
            let parsed = crate::oci::parse(&reference).map_err(|e| ("oci".to_string(), e))?;
            let refresh = match self.refresh_seconds {
                None | Some(0) => None,
                Some(_) if parsed.digest().is_some() => {
                    return fail(
                        "refresh-seconds",
                        "a reference by digest never moves: refresh a tag (`oci = \"…:TAG\"`)",
                    );
                }
                Some(seconds) if seconds > 86_400 => {
                    return fail("refresh-seconds", "must be at most 86400 (a day)");
                }
                Some(seconds) => Some(std::time::Duration::from_secs(seconds)),
            };
            Target::Oci(OciSpec { reference, refresh })
        } else if let Some(url) = self.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return fail("url", "must start with http:// or https://");
            }
            let credentials = Credentials {
                token: self.token,
                oauth: self.oauth,
                headers: self.headers,
            };
            credentials.check()?;
            Target::Remote(Remote::Http { url, credentials })
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
        super::transform::check(&self.tool)?;
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
            tools: self.tool,
        })
    }
}

impl MountSpec {
    /// Where it comes from, for people (a token is never shown).
    pub fn source(&self) -> String {
        match &self.target {
            Target::Path(path) => path.display().to_string(),
            Target::Remote(remote) => remote.to_string(),
            Target::OpenApi(api) => api.document.clone(),
            Target::Oci(oci) => oci.reference.clone(),
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
                "a mount needs exactly one of `path`, `oci`, `url`, `command`, `openapi`"
                    .to_string()
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
    fn an_oci_mount_takes_a_reference_and_refreshes_only_a_tag() {
        let spec =
            parse("namespace = \"w\"\noci = \"reg.example/tools/w:1\"\nrefresh-seconds = 30")
                .unwrap();
        assert_eq!(
            spec.target,
            Target::Oci(OciSpec {
                reference: "reg.example/tools/w:1".into(),
                refresh: Some(std::time::Duration::from_secs(30)),
            })
        );
        assert_eq!(spec.source(), "reg.example/tools/w:1");
        let digest = format!("reg.example/tools/w@sha256:{}", "a".repeat(64));
        assert_eq!(
            parse(&format!(
                "namespace = \"w\"\noci = \"{digest}\"\nrefresh-seconds = 30"
            ))
            .unwrap_err(),
            (
                "refresh-seconds".to_string(),
                "a reference by digest never moves: refresh a tag (`oci = \"…:TAG\"`)".to_string()
            )
        );
        assert_eq!(
            parse("namespace = \"w\"\npath = \"x.wasm\"\nrefresh-seconds = 3")
                .unwrap_err()
                .0,
            "refresh-seconds"
        );
        assert_eq!(
            parse("namespace = \"w\"\noci = \"reg.example/w:bad tag\"")
                .unwrap_err()
                .0,
            "oci"
        );
    }

    #[test]
    fn a_path_mount_may_share_another_namespaces_storage() {
        let shared = parse("namespace = \"ro\"\npath = \"x\"\nstorage = \"notes\"").unwrap();
        assert_eq!(shared.storage.as_deref(), Some("notes"));
        assert_eq!(
            parse("namespace = \"a\"\nurl = \"http://h\"\nstorage = \"notes\"").unwrap_err(),
            (
                "storage".to_string(),
                "only a `path` or `oci` mount has storage".to_string()
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

    #[test]
    fn a_url_mounts_credentials_are_checked_and_the_field_named() {
        let url = "namespace = \"a\"\nurl = \"https://h/mcp\"\n";
        let oauth = |fields: &str| parse(&format!("{url}oauth = {{ {fields} }}"));
        let good = "token-url = \"https://auth/token\", client-id = \"me\", client-secret = { secret = \"s\" }";
        let spec = oauth(&format!("{good}, scopes = [\"a\", \"b\"]")).unwrap();
        let Target::Remote(Remote::Http { credentials, .. }) = spec.target else {
            panic!("a url mount");
        };
        assert!(credentials.uses_secrets());
        assert_eq!(credentials.oauth.unwrap().scopes, ["a", "b"]);
        let refused = |text: &str| parse(text).unwrap_err();
        for (fields, key, message) in [
            (
                "token-url = \"https://auth/token\", client-id = \"me\", client-secret = \"plain\"",
                "oauth.client-secret",
                "must be { secret = \"KEY\" }: a client secret belongs in [secrets.NAMESPACE], not in the mount",
            ),
            (
                "token-url = \"http://auth.example/token\", client-id = \"me\", client-secret = { secret = \"s\" }",
                "oauth.token-url",
                "must be https (plain http only on a loopback address): the client secret travels in it",
            ),
            (
                "token-url = \"https://auth/token\", client-id = \"\", client-secret = { secret = \"s\" }",
                "oauth.client-id",
                "must not be empty",
            ),
            (
                &format!("{good}, scopes = [\"two words\"]"),
                "oauth.scopes",
                "`two words` is not a scope (one word each)",
            ),
        ] {
            assert_eq!(
                oauth(fields).unwrap_err(),
                (key.to_string(), message.to_string()),
                "{fields}"
            );
        }
        assert_eq!(
            refused(&format!("{url}token = \"t\"\noauth = {{ {good} }}")),
            (
                "oauth".to_string(),
                "a mount takes a `token` or an `oauth` table, not both".to_string()
            )
        );
        assert_eq!(
            refused(&format!("{url}headers = {{ Authorization = \"Basic x\" }}")),
            (
                "headers.Authorization".to_string(),
                "pier sets this header itself (use `token` or `oauth` for Authorization)"
                    .to_string()
            )
        );
        assert_eq!(
            refused(&format!("{url}headers = {{ \"X-A\" = \"line\\nbreak\" }}")).0,
            "headers.X-A"
        );
        assert_eq!(
            refused("namespace = \"a\"\npath = \"x.wasm\"\nheaders = { X-A = \"b\" }"),
            (
                "headers".to_string(),
                "only a `url` or `openapi` mount takes `headers`".to_string()
            )
        );
        let bad = toml::from_str::<RawMount>(&format!("{url}token = {{ file = \"x\" }}"))
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains(
                "expected a string, or { secret = \"KEY\" } naming a key of [secrets.NAMESPACE]"
            ),
            "{bad}"
        );
        let literal = parse(&format!("{url}token = \"t\"\nheaders = {{ X-A = \"b\" }}")).unwrap();
        let Target::Remote(Remote::Http { credentials, .. }) = literal.target else {
            panic!("a url mount");
        };
        assert!(!credentials.uses_secrets());
        assert_eq!(format!("{:?}", credentials.token), "Some(Literal(…))");
    }
}
