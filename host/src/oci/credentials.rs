//! Registry credentials: given on the command line, or read from the file `docker
//! login` writes (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`).

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;

/// Most bytes of a Docker config file.
const MAX_CONFIG: u64 = 1024 * 1024;

/// Where a registry's credentials come from.
#[derive(Clone, Default)]
pub enum Login {
    /// The Docker config file's entry for the registry, else none.
    #[default]
    DockerConfig,
    /// These, for every registry.
    Given {
        /// The user name.
        username: String,
        /// The password (or token).
        password: String,
    },
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Login::DockerConfig => f.write_str("DockerConfig"),
            Login::Given { username, .. } => write!(f, "Given({username}, …)"),
        }
    }
}

impl Login {
    /// The credentials for `registry` (`host[:port]`).
    pub fn auth(&self, registry: &str) -> Result<RegistryAuth, String> {
        match self {
            Login::Given { username, password } => {
                Ok(RegistryAuth::Basic(username.clone(), password.clone()))
            }
            Login::DockerConfig => {
                let Some(path) = config_path() else {
                    return Ok(RegistryAuth::Anonymous);
                };
                let text = match crate::trust::read_bounded(&path, MAX_CONFIG) {
                    Ok(text) => text,
                    Err(_) if !path.exists() => return Ok(RegistryAuth::Anonymous),
                    Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
                };
                from_config(&text, registry)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
            }
        }
    }
}

fn config_path() -> Option<std::path::PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(std::path::PathBuf::from(dir).join("config.json"));
    }
    let home = std::env::var_os("HOME")?;
    Some(std::path::PathBuf::from(home).join(".docker/config.json"))
}

/// The credentials a Docker config file's `auths` hold for `registry`.
fn from_config(text: &[u8], registry: &str) -> Result<RegistryAuth, String> {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        auths: std::collections::BTreeMap<String, Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        auth: Option<String>,
        username: Option<String>,
        password: Option<String>,
    }
    let file: File = serde_json::from_slice(text)
        .map_err(|e| format!("it is not a Docker config file ({e})"))?;
    let host = |key: &str| {
        let key = key
            .strip_prefix("https://")
            .or_else(|| key.strip_prefix("http://"))
            .unwrap_or(key);
        key.split('/').next().unwrap_or_default().to_string()
    };
    let wanted = if registry == "docker.io" {
        "index.docker.io"
    } else {
        registry
    };
    let Some(entry) = file
        .auths
        .iter()
        .find(|(key, _)| host(key) == wanted || host(key) == registry)
        .map(|(_, e)| e)
    else {
        return Ok(RegistryAuth::Anonymous);
    };
    if let (Some(user), Some(password)) = (&entry.username, &entry.password) {
        return Ok(RegistryAuth::Basic(user.clone(), password.clone()));
    }
    let Some(auth) = &entry.auth else {
        return Ok(RegistryAuth::Anonymous);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
        .ok_or_else(|| format!("the `auth` of {registry} is not base64 of USER:PASSWORD"))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| format!("the `auth` of {registry} is not base64 of USER:PASSWORD"))?;
    Ok(RegistryAuth::Basic(user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(auth: RegistryAuth) -> Option<(String, String)> {
        match auth {
            RegistryAuth::Basic(u, p) => Some((u, p)),
            _ => None,
        }
    }

    #[test]
    fn a_docker_config_gives_the_registrys_entry() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("ann:s3cret:x");
        let text = format!(
            r#"{{"auths": {{"127.0.0.1:5000": {{"auth": "{encoded}"}}, "https://index.docker.io/v1/": {{"auth": "{encoded}"}}}}, "credsStore": "desktop"}}"#
        );
        assert_eq!(
            basic(from_config(text.as_bytes(), "127.0.0.1:5000").unwrap()),
            Some(("ann".into(), "s3cret:x".into()))
        );
        assert!(basic(from_config(text.as_bytes(), "docker.io").unwrap()).is_some());
        assert!(basic(from_config(text.as_bytes(), "other:5000").unwrap()).is_none());
        assert_eq!(
            from_config(br#"{"auths": {"r": {"auth": "%%"}}}"#, "r")
                .err()
                .unwrap(),
            "the `auth` of r is not base64 of USER:PASSWORD"
        );
        assert!(from_config(b"\"x\"", "r").is_err());
    }
}
