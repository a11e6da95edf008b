//! Whom plugins' HTTPS requests trust: the web's root certificates (webpki-roots),
//! plus the certificate authorities the operator names in `grants.ca-certificates` (an
//! internal CA, a test CA). Built once at start; a file that holds no certificate, or
//! one rustls refuses, is a configuration error naming the file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The most bytes a certificate file may have (a bundle of every public CA is ~250 KiB).
const MAX_FILE_BYTES: u64 = 4 << 20;

/// The TLS client configuration egress uses, and the files it was built from.
#[derive(Clone)]
pub struct Trust {
    config: Arc<rustls::ClientConfig>,
    authorities: Vec<PathBuf>,
}

/// Makes ring the process's TLS provider, for HTTP clients built without a TLS
/// configuration of pier's own (reqwest's default client, rmcp's); idempotent.
pub fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Already installed (by the embedding program) is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Trust {
    /// The web's roots only (shared by every component that gets no other).
    pub fn web() -> Self {
        static WEB: OnceLock<Trust> = OnceLock::new();
        WEB.get_or_init(|| Self {
            config: client_config(web_roots()),
            authorities: Vec::new(),
        })
        .clone()
    }

    /// The web's roots and every certificate in the PEM files `authorities`.
    pub fn with_authorities(authorities: &[PathBuf]) -> Result<Self, String> {
        if authorities.is_empty() {
            return Ok(Self::web());
        }
        let mut roots = web_roots();
        for path in authorities {
            let added = add_file(&mut roots, path)?;
            if added == 0 {
                return Err(format!("{}: no PEM certificate in it", path.display()));
            }
        }
        Ok(Self {
            config: client_config(roots),
            authorities: authorities.to_vec(),
        })
    }

    /// The configuration to connect with.
    pub fn config(&self) -> Arc<rustls::ClientConfig> {
        self.config.clone()
    }
}

impl Default for Trust {
    fn default() -> Self {
        Self::web()
    }
}

impl PartialEq for Trust {
    fn eq(&self, other: &Self) -> bool {
        self.authorities == other.authorities
    }
}

impl Eq for Trust {}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("authorities", &self.authorities)
            .finish_non_exhaustive()
    }
}

fn web_roots() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    }
}

/// Adds the certificates of the PEM file at `path` to `roots`; how many.
fn add_file(roots: &mut rustls::RootCertStore, path: &Path) -> Result<usize, String> {
    use std::io::Read;
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut pem = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(|e| format!("{shown}: {e}"))?;
    if pem.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("{shown}: larger than {MAX_FILE_BYTES} bytes"));
    }
    let mut added = 0;
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate = certificate.map_err(|e| format!("{shown}: {e}"))?;
        roots
            .add(certificate)
            .map_err(|e| format!("{shown}: not a usable CA certificate: {e}"))?;
        added += 1;
    }
    Ok(added)
}

fn client_config(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    Arc::new(config.unwrap_or_else(|e| {
        // ring supports every safe default version: this cannot fail.
        tracing::error!("TLS configuration failed: {e}");
        rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_files_are_checked_and_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        assert_eq!(
            Trust::with_authorities(std::slice::from_ref(&empty)).err(),
            Some(format!("{}: no PEM certificate in it", empty.display()))
        );
        let missing = dir.path().join("missing.pem");
        let error = Trust::with_authorities(std::slice::from_ref(&missing)).unwrap_err();
        assert!(
            error.starts_with(&format!("{}: ", missing.display())),
            "{error}"
        );
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let error = Trust::with_authorities(std::slice::from_ref(&broken)).unwrap_err();
        assert!(
            error.starts_with(&format!(
                "{}: not a usable CA certificate: ",
                broken.display()
            )),
            "{error}"
        );
        assert_eq!(Trust::with_authorities(&[]).unwrap(), Trust::web());
    }
}
