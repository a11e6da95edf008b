//! Capability grants: what a plugin (or a middleware component) may reach beyond its
//! sandbox, as its sidecar asks and the operator's `[grants]` allow. Each capability is
//! one module with its grant, its check and its host side: outbound HTTP ([`http`],
//! [`net`], [`egress`], [`tls`]), directories ([`files`]), configuration ([`config`]).

pub mod config;
pub mod egress;
pub mod files;
pub mod http;
pub mod net;
pub mod tls;

pub use egress::{Counted, Egress, EgressCounter, HttpBudget};
pub use http::{HttpGrant, HttpGrants};
pub use tls::{Trust, install_provider as install_tls_provider};

/// A `[grants]` table as a sidecar (or a `[[middleware]]` entry) writes it: nothing
/// unless it says so.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct GrantRequest {
    /// HTTP destinations (`"https://api.github.com"`, `"https://*.example.com"`, …).
    pub http: Vec<String>,
    /// Whether requests may reach private addresses (the operator must allow it too).
    pub private_networks: bool,
    /// Host directories to preopen.
    pub files: Vec<files::FileRequest>,
}

impl GrantRequest {
    /// Checks every grant asked for; the first that is not one, as an error.
    pub fn check(&self) -> Result<(), String> {
        self.http_grants()?;
        self.files.iter().try_for_each(files::FileRequest::check)
    }

    /// The HTTP grants asked for, or why one is not a grant.
    pub fn http_grants(&self) -> Result<Vec<HttpGrant>, String> {
        self.http
            .iter()
            .map(|text| HttpGrant::parse(text).map_err(|e| format!("[grants] http: {e}")))
            .collect()
    }

    /// What is granted of this to `who` under the operator's `cap`, file paths
    /// relative to `base`; warnings for what the cap lowered or left out.
    pub fn capped(
        &self,
        who: &str,
        cap: &GrantCaps,
        base: &std::path::Path,
    ) -> Result<(Grants, Vec<String>), String> {
        self.check()?;
        let (files, mut warnings) = files::capped(who, &self.files, base, &cap.files);
        let grants = Grants {
            http: HttpGrants::capped(
                self.http_grants()?,
                self.private_networks,
                &cap.http,
                cap.private_networks,
                &cap.trust,
            ),
            files,
            config: config::ConfigValues::default(),
        };
        warnings.extend(self.lowered(who, &grants));
        Ok((grants, warnings))
    }

    /// A warning naming `who` when `granted` is less HTTP than this asks for.
    fn lowered(&self, who: &str, granted: &Grants) -> Option<String> {
        let http = &granted.http;
        let lost_private = self.private_networks && !http.private_networks;
        if http.lowered().is_empty() && !lost_private {
            return None;
        }
        let with = |private: bool| {
            if private {
                " with private networks"
            } else {
                ""
            }
        };
        Some(format!(
            "{who} asks for [grants] http {}{}; the operator's [grants] leave it {}{}",
            list(&http.requested),
            with(self.private_networks),
            list(&http.effective),
            with(http.private_networks),
        ))
    }
}

/// Grants as a list for people: `[a, b]`, `[]` for none.
fn list(grants: &[HttpGrant]) -> String {
    let shown: Vec<String> = grants.iter().map(ToString::to_string).collect();
    format!("[{}]", shown.join(", "))
}

/// What one component was granted, after the operator's caps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Outbound HTTP.
    pub http: HttpGrants,
    /// Preopened host directories.
    pub files: Vec<files::FileGrant>,
    /// Configuration values and secrets (`wasi:config/store`).
    pub config: config::ConfigValues,
}

/// The operator's `[grants]`: the most any sidecar may be granted; and the secrets it
/// hands to plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantCaps {
    /// HTTP destinations (`grants.http`; default `*`: any public destination).
    pub http: Vec<HttpGrant>,
    /// Whether private addresses may be granted (`grants.private-networks`).
    pub private_networks: bool,
    /// Host directories a sidecar may preopen (`grants.files`).
    pub files: Vec<std::path::PathBuf>,
    /// `[secrets.PLUGIN]`: where each plugin's secrets are.
    pub secrets: std::sync::Arc<config::Secrets>,
    /// Whom HTTPS requests trust (`grants.ca-certificates` beside the web's roots).
    pub trust: Trust,
}

impl Default for GrantCaps {
    fn default() -> Self {
        Self {
            http: vec![HttpGrant::any()],
            private_networks: false,
            files: Vec::new(),
            secrets: Default::default(),
            trust: Trust::web(),
        }
    }
}

impl Grants {
    /// What was granted, for people and listings (`pier inspect`, `/admin/mounts`):
    /// HTTP grants asked for and in effect (the ones the operator lowered marked),
    /// directories, and the configuration's keys — never a value.
    pub fn describe(&self) -> serde_json::Value {
        let shown =
            |grants: &[HttpGrant]| grants.iter().map(ToString::to_string).collect::<Vec<_>>();
        serde_json::json!({
            "http": {
                "requested": shown(&self.http.requested),
                "effective": shown(&self.http.effective),
                "lowered": self.http.lowered().iter().map(ToString::to_string).collect::<Vec<_>>(),
                "private_networks": self.http.private_networks,
            },
            "files": self.files.iter().map(|f| serde_json::json!({
                "host": f.host,
                "guest": f.guest,
                "mode": f.mode,
            })).collect::<Vec<_>>(),
            "config": self.config.keys().iter().map(|(key, secret)| serde_json::json!({
                "key": key,
                "secret": secret,
            })).collect::<Vec<_>>(),
        })
    }
}
