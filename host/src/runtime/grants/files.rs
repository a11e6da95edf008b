//! Host directories a plugin may see: `[grants] files = [{ path = "data", guest =
//! "/data", mode = "ro" }]`, each preopened at `guest` read-only or read-write, and only
//! when it lies within a directory the operator lists (`grants.files`). The guest sees
//! nothing else of the host's filesystem; `..` and symlinks cannot leave a preopened
//! directory (wasmtime resolves every path inside it).

use std::path::{Component, Path, PathBuf};

/// Read-only or read-write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Read files and list directories.
    #[default]
    Ro,
    /// Also create, write, rename and delete.
    Rw,
}

/// One directory a sidecar asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileRequest {
    /// The host directory (relative paths from the plugin's directory).
    pub path: PathBuf,
    /// Where the guest sees it: an absolute path such as `/data`.
    pub guest: String,
    /// `ro` (the default) or `rw`.
    #[serde(default)]
    pub mode: Mode,
}

/// One directory granted: the host directory (canonical), its guest path, its mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrant {
    /// The host directory, symlinks resolved.
    pub host: PathBuf,
    /// Its path in the guest.
    pub guest: String,
    /// Read-only or read-write.
    pub mode: Mode,
}

impl std::fmt::Display for FileGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.mode {
            Mode::Ro => "ro",
            Mode::Rw => "rw",
        };
        write!(f, "{} -> {} ({mode})", self.host.display(), self.guest)
    }
}

impl FileRequest {
    /// Checks the guest path: absolute, plain names, at most 256 bytes.
    pub fn check(&self) -> Result<(), String> {
        let guest = Path::new(&self.guest);
        let plain = guest
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        if !self.guest.starts_with('/') || !plain || self.guest.len() > 256 {
            return Err(format!(
                "[grants] files: guest `{}` must be an absolute path of plain names (no `..`), at most 256 bytes",
                crate::text::clip(&self.guest)
            ));
        }
        Ok(())
    }
}

/// The requests that fall within the operator's directories (`allowed`), resolved
/// against `base`; a warning naming `who` for each left out.
pub fn capped(
    who: &str,
    requests: &[FileRequest],
    base: &Path,
    allowed: &[PathBuf],
) -> (Vec<FileGrant>, Vec<String>) {
    let allowed: Vec<PathBuf> = allowed
        .iter()
        .filter_map(|dir| dir.canonicalize().ok())
        .collect();
    let mut granted = Vec::new();
    let mut warnings = Vec::new();
    for request in requests {
        let asked = base.join(&request.path);
        let host = match asked.canonicalize() {
            Ok(host) if host.is_dir() => host,
            Ok(_) => {
                warnings.push(format!(
                    "{who}: [grants] files: {} is not a directory; left out",
                    asked.display()
                ));
                continue;
            }
            Err(e) => {
                warnings.push(format!(
                    "{who}: [grants] files: {}: {e}; left out",
                    asked.display()
                ));
                continue;
            }
        };
        if !allowed.iter().any(|dir| host.starts_with(dir)) {
            warnings.push(format!(
                "{who}: [grants] files: {} is not within a directory of the operator's [grants] files; left out",
                host.display()
            ));
            continue;
        }
        granted.push(FileGrant {
            host,
            guest: request.guest.clone(),
            mode: request.mode,
        });
    }
    (granted, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_directories_within_the_operators_are_granted() {
        let root = tempfile::tempdir().unwrap();
        let allowed = root.path().join("allowed");
        std::fs::create_dir_all(allowed.join("data")).unwrap();
        std::fs::create_dir_all(root.path().join("other")).unwrap();
        let ask = |path: &str| FileRequest {
            path: path.into(),
            guest: "/data".into(),
            mode: Mode::Rw,
        };
        let (granted, warnings) = capped(
            "plugin `p`",
            &[
                ask("allowed/data"),
                ask("other"),
                ask("allowed/data/../../other"),
                ask("nope"),
            ],
            root.path(),
            std::slice::from_ref(&allowed),
        );
        let real = allowed.canonicalize().unwrap().join("data");
        assert_eq!(
            granted,
            [FileGrant {
                host: real,
                guest: "/data".into(),
                mode: Mode::Rw
            }]
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0]
                .ends_with("is not within a directory of the operator's [grants] files; left out")
        );
        assert!(
            warnings[2].contains("No such file or directory"),
            "{}",
            warnings[2]
        );
        for bad in ["data", "/a/../b", ""] {
            let request = FileRequest {
                guest: bad.into(),
                ..ask("x")
            };
            assert!(request.check().is_err(), "{bad}");
        }
        assert_eq!(ask("x").check(), Ok(()));
    }
}
