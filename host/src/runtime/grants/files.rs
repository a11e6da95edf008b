//! Host directories a plugin may see: `[grants] files = [{ path = "data", guest =
//! "/data", mode = "ro" }]`, each preopened at `guest` read-only or read-write, and only
//! when it lies within a directory the operator lists (`grants.files`). The guest sees
//! nothing else of the host's filesystem; `..` and symlinks cannot leave a preopened
//! directory (wasmtime resolves every path inside it). A granted directory is opened
//! once, when granted, and every call's preopen comes from that handle: replacing the
//! path later (with a symlink, say) does not move the grant.

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

/// One directory granted: the host directory (canonical), its guest path, its mode,
/// and the directory itself, opened when it was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrant {
    /// The host directory, symlinks resolved.
    pub host: PathBuf,
    /// Its path in the guest.
    pub guest: String,
    /// Read-only or read-write.
    pub mode: Mode,
    /// The directory as it was when granted.
    pub opened: Opened,
}

impl FileGrant {
    /// `host` (canonical) granted at `guest` in `mode`, opened now.
    pub fn new(host: PathBuf, guest: String, mode: Mode) -> Self {
        let opened = Opened::open(&host);
        Self {
            host,
            guest,
            mode,
            opened,
        }
    }
}

/// A granted directory, held open: each call's preopen is made from this handle, not
/// from the path, so that nothing done to the path later (a directory renamed away, a
/// symlink put in its place by another plugin with `rw` on a parent) moves the grant.
#[derive(Clone)]
pub struct Opened(Option<std::sync::Arc<std::fs::File>>);

impl Opened {
    /// `host`, opened now (`None` when it cannot be: calls then go by the path,
    /// checked against `host` each time).
    fn open(host: &Path) -> Self {
        Self(std::fs::File::open(host).ok().map(std::sync::Arc::new))
    }

    /// A path that opens the granted directory itself: its handle through
    /// `/proc/self/fd` (Linux), or `host` while it still resolves to itself; `None`
    /// when the path now leads elsewhere.
    pub fn path_for(&self, host: &Path) -> Option<PathBuf> {
        use std::os::fd::AsRawFd;
        if let Some(file) = &self.0 {
            let by_handle = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            if by_handle.is_dir() {
                return Some(by_handle);
            }
        }
        (host.canonicalize().ok()? == host).then(|| host.to_path_buf())
    }
}

impl PartialEq for Opened {
    /// Grants are compared by what they grant (path, guest path, mode).
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Opened {}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "open" } else { "by path" })
    }
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
        granted.push(FileGrant::new(host, request.guest.clone(), request.mode));
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
        assert_eq!(granted, [FileGrant::new(real, "/data".into(), Mode::Rw)]);
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

    #[test]
    fn a_grant_keeps_its_directory_when_the_path_is_replaced() {
        let root = tempfile::tempdir().unwrap();
        let granted = root.path().join("granted");
        let secret = root.path().join("secret");
        std::fs::create_dir_all(&granted).unwrap();
        std::fs::create_dir_all(&secret).unwrap();
        std::fs::write(granted.join("mine.txt"), "mine").unwrap();
        std::fs::write(secret.join("key.txt"), "not yours").unwrap();
        let grant = FileGrant::new(granted.canonicalize().unwrap(), "/d".into(), Mode::Ro);
        // Another plugin with `rw` on the parent moves the directory away and puts a
        // symlink to another directory in its place.
        std::fs::rename(&granted, root.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&secret, &granted).unwrap();
        let path = grant.opened.path_for(&grant.host).expect("still granted");
        assert!(
            path.join("mine.txt").exists(),
            "the granted directory itself"
        );
        assert!(!path.join("key.txt").exists(), "not the symlink's target");
        // Without the handle, the path is checked: leading elsewhere, it is no grant.
        let by_path = Opened(None);
        assert_eq!(by_path.path_for(&grant.host), None);
    }
}
