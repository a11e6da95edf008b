//! A real OCI registry of a test's own: Debian's `docker-registry` (the CNCF
//! distribution registry), on a free loopback port, its storage in a temporary directory.

use std::path::PathBuf;
use std::time::Duration;

/// A registry, stopped when dropped. Tests never skip without it: they fail saying how
/// to install it.
pub struct OciRegistry {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    dir: tempfile::TempDir,
}

impl OciRegistry {
    /// A registry anyone may push to and pull from.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A registry that takes only `user` with `password` (htpasswd, bcrypt).
    pub fn with_login(user: &str, password: &str) -> Self {
        Self::start_with(Some((user, password)))
    }

    fn start_with(login: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = login {
            let out = std::process::Command::new("htpasswd")
                .args(["-nbB", user, password])
                .output()
                .unwrap_or_else(|e| {
                    panic!("cannot run htpasswd ({e}): run `make setup`, which installs it")
                });
            assert!(out.status.success(), "htpasswd: {out:?}");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, &out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: pier-tests\n    path: {}\n",
                file.display()
            ));
        }
        let file = dir.path().join("config.yml");
        std::fs::write(&file, config).unwrap();
        let child = std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start docker-registry ({e}): run `make setup`, which installs it")
            });
        let registry = Self {
            child,
            host: format!("127.0.0.1:{port}"),
            dir,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return registry;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("docker-registry on port {port} did not listen within 15 s");
    }

    /// `127.0.0.1:PORT/PATH`.
    pub fn reference(&self, path: &str) -> String {
        format!("{}/{path}", self.host)
    }

    /// Where the registry keeps the blob `digest` (`sha256:…`).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for OciRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
