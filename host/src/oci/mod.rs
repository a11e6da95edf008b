//! Plugins as OCI artifacts: pushed to, pulled from, and signed in any registry that
//! speaks the OCI distribution API, through `oci-client`.
//!
//! The artifact is the Wasm OCI artifact layout of the CNCF TAG Runtime: a manifest
//! whose config has media type `application/vnd.wasm.config.v0+json` and whose one
//! `application/wasm` layer is the component; pier adds the sidecar as an optional
//! layer `application/vnd.pier.sidecar.v1+toml`. Signatures are cosign's: the
//! simple-signing payload naming the manifest digest, as a layer of the manifest
//! tagged `sha256-<hex>.sig` ([`crate::trust`]).
//!
//! What a registry sends is checked before it is kept: the manifest's kind and media
//! types, each layer's declared and actual size, its digest (by `oci-client`). Pulled
//! artifacts are kept by manifest digest under the data dir (`oci/<hex>/`), so a digest
//! pulled once starts again without the registry, and its compiled code is found in the
//! AOT cache by the component's content hash.

mod cache;
mod credentials;

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine as _;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};

pub use cache::{keep_signatures, kept_signatures};
pub use credentials::Login;

use crate::trust::ImageSignature;

/// The media type of a Wasm artifact's config.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of the component layer.
pub const WASM_MEDIA_TYPE: &str = "application/wasm";
/// The media type of the sidecar layer.
pub const SIDECAR_MEDIA_TYPE: &str = "application/vnd.pier.sidecar.v1+toml";
/// The media type of a cosign signature layer.
pub const COSIGN_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding a cosign signature.
pub const COSIGN_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The annotation naming a layer's file.
const TITLE: &str = "org.opencontainers.image.title";

/// Most bytes of a component layer.
pub const MAX_COMPONENT: u64 = 256 * 1024 * 1024;
/// Most bytes of a sidecar layer.
pub const MAX_SIDECAR: u64 = 1024 * 1024;
/// Most bytes of one signature payload.
const MAX_PAYLOAD: u64 = 64 * 1024;
/// Most signatures read for one artifact.
const MAX_SIGNATURES: usize = 16;
/// Most layers an artifact's manifest may list.
const MAX_LAYERS: usize = 16;
/// Longest a pull may take, every request of it.
pub const PULL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
/// Longest resolving a tag, or reading an artifact's signatures, may take.
pub const ASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How pier reaches registries: which ones over plain HTTP, with which credentials,
/// trusting which authorities.
#[derive(Debug, Clone, Default)]
pub struct Registries {
    /// Registries (`host[:port]`) reached over plain HTTP besides loopback ones.
    pub insecure: Vec<String>,
    /// Where credentials come from.
    pub login: Login,
    /// PEM texts of authorities trusted besides the web's (`grants.ca-certificates`,
    /// read at start).
    pub roots: Vec<Vec<u8>>,
}

/// A plugin pulled from a registry, kept under the data dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The manifest's digest (`sha256:…`): what a tag resolved to.
    pub digest: String,
    /// The component file (`NAME.wasm`, its sidecar `NAME.toml` beside it when the
    /// artifact has one).
    pub file: PathBuf,
}

/// A registry reference, checked.
pub fn parse(reference: &str) -> Result<Reference, String> {
    if reference.len() > 512 {
        return Err("an OCI reference is at most 512 characters".into());
    }
    reference.parse::<Reference>().map_err(|e| {
        format!(
            "`{reference}` is not an OCI reference like registry.example/tools/weather:1.2.0 ({e})"
        )
    })
}

/// Whether `registry` (`host[:port]`) is on this machine.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => registry.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Registries {
    /// Whether `registry` is reached over plain HTTP.
    pub fn plain_http(&self, registry: &str) -> bool {
        is_loopback(registry) || self.insecure.iter().any(|r| r == registry)
    }

    fn client(&self, reference: &Reference) -> Result<Client, String> {
        let registry = reference.resolve_registry().to_string();
        let roots = self
            .roots
            .iter()
            .map(|pem| oci_client::client::Certificate {
                encoding: oci_client::client::CertificateEncoding::Pem,
                data: pem.clone(),
            })
            .collect();
        Ok(Client::new(ClientConfig {
            protocol: if self.plain_http(&registry) {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates: roots,
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            read_timeout: Some(std::time::Duration::from_secs(60)),
            max_concurrent_download: 2,
            max_concurrent_upload: 2,
            ..Default::default()
        }))
    }

    fn auth(&self, reference: &Reference) -> Result<RegistryAuth, String> {
        self.login.auth(reference.resolve_registry())
    }

    /// The manifest digest `reference` names now (a tag's current one).
    pub async fn resolve(&self, reference: &str) -> Result<String, String> {
        let parsed = parse(reference)?;
        if let Some(digest) = parsed.digest() {
            return Ok(digest.to_string());
        }
        let client = self.client(&parsed)?;
        let auth = self.auth(&parsed)?;
        let asked = async {
            client
                .fetch_manifest_digest(&parsed, &auth)
                .await
                .map_err(|e| explain(&e, &parsed))
        };
        within(ASK_TIMEOUT, "answer", asked).await
    }

    /// Pulls `reference` into `cache` (`CACHE/<hex>/NAME.wasm` and its sidecar) unless
    /// that digest is there already, and returns where it is. A registry gets
    /// [`PULL_TIMEOUT`] for all of it.
    pub async fn pull(&self, reference: &str, cache: &Path) -> Result<Pulled, String> {
        within(
            PULL_TIMEOUT,
            "send it",
            self.pull_unbounded(reference, cache),
        )
        .await
    }

    async fn pull_unbounded(&self, reference: &str, cache: &Path) -> Result<Pulled, String> {
        let parsed = parse(reference)?;
        if let Some(digest) = parsed.digest()
            && let Some(file) = cache::cached(cache, digest)
        {
            return Ok(Pulled {
                digest: digest.to_string(),
                file,
            });
        }
        let client = self.client(&parsed)?;
        let auth = self.auth(&parsed)?;
        let (manifest, digest) = client
            .pull_manifest(&parsed, &auth)
            .await
            .map_err(|e| explain(&e, &parsed))?;
        if let Some(file) = cache::cached(cache, &digest) {
            return Ok(Pulled { digest, file });
        }
        let manifest = artifact(manifest)?;
        let wasm = &manifest.wasm;
        let component = fetch(&client, &parsed, wasm, MAX_COMPONENT, "component").await?;
        if let Some(problem) = crate::runtime::header_problem(&component) {
            return Err(format!("its application/wasm layer is {problem}"));
        }
        let sidecar = match &manifest.sidecar {
            Some(layer) => Some(fetch(&client, &parsed, layer, MAX_SIDECAR, "sidecar").await?),
            None => None,
        };
        let name = file_name(wasm, &parsed);
        // Up to hundreds of MiB written: off the async threads.
        let (dir, kept) = (cache.to_path_buf(), digest.clone());
        let file = tokio::task::spawn_blocking(move || {
            cache::keep(&dir, &kept, &name, &component, sidecar.as_deref())
        })
        .await
        .map_err(|e| format!("keeping it failed: {e}"))??;
        Ok(Pulled { digest, file })
    }

    /// The cosign signatures of the manifest `digest` in `reference`'s repository (none
    /// when it has no signature tag).
    pub async fn signatures(
        &self,
        reference: &str,
        digest: &str,
    ) -> Result<Vec<ImageSignature>, String> {
        let asked = self.signatures_unbounded(reference, digest);
        within(ASK_TIMEOUT, "send its signatures", asked).await
    }

    async fn signatures_unbounded(
        &self,
        reference: &str,
        digest: &str,
    ) -> Result<Vec<ImageSignature>, String> {
        let parsed = parse(reference)?;
        let tag = signature_reference(&parsed, digest)?;
        let client = self.client(&tag)?;
        let auth = self.auth(&tag)?;
        let manifest = match client.pull_manifest(&tag, &auth).await {
            Ok((OciManifest::Image(manifest), _)) => manifest,
            Ok((OciManifest::ImageIndex(_), _)) => {
                return Err("its signature tag holds an index, not cosign's signatures".into());
            }
            Err(e) if not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot read its signatures: {}", explain(&e, &tag))),
        };
        let mut found = Vec::new();
        for layer in manifest
            .layers
            .iter()
            .filter(|l| l.media_type == COSIGN_MEDIA_TYPE)
            .take(MAX_SIGNATURES)
        {
            let Some(signature) = layer
                .annotations
                .as_ref()
                .and_then(|a| a.get(COSIGN_ANNOTATION))
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            else {
                continue;
            };
            let payload = fetch(&client, &tag, layer, MAX_PAYLOAD, "signature payload").await?;
            found.push(ImageSignature { payload, signature });
        }
        Ok(found)
    }

    /// Pushes the component `component` (and its sidecar) as `reference`; returns the
    /// manifest's digest.
    pub async fn push(
        &self,
        reference: &str,
        name: &str,
        component: Vec<u8>,
        sidecar: Option<Vec<u8>>,
    ) -> Result<String, String> {
        let parsed = parse(reference)?;
        if parsed.digest().is_some() {
            return Err("push to a tag: a digest is what the registry computes".into());
        }
        let client = self.client(&parsed)?;
        let auth = self.auth(&parsed)?;
        let title = |file: String| Some([(TITLE.to_string(), file)].into_iter().collect());
        let mut layers = vec![ImageLayer::new(
            component,
            WASM_MEDIA_TYPE.into(),
            title(format!("{name}.wasm")),
        )];
        if let Some(sidecar) = sidecar {
            layers.push(ImageLayer::new(
                sidecar,
                SIDECAR_MEDIA_TYPE.into(),
                title(format!("{name}.toml")),
            ));
        }
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let config = serde_json::json!({
            "created": created,
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": layers.iter().map(|l| l.sha256_digest()).collect::<Vec<_>>(),
        });
        let config = Config::new(
            config.to_string().into_bytes(),
            CONFIG_MEDIA_TYPE.into(),
            None,
        );
        let manifest = OciImageManifest::build(
            &layers,
            &config,
            Some(
                [("org.opencontainers.image.created".to_string(), created)]
                    .into_iter()
                    .collect(),
            ),
        );
        client
            .push(&parsed, &layers, config, &auth, Some(manifest))
            .await
            .map_err(|e| explain(&e, &parsed))?;
        client
            .fetch_manifest_digest(&parsed, &auth)
            .await
            .map_err(|e| explain(&e, &parsed))
    }

    /// Adds the cosign signature `signature` over `payload` to the signatures of the
    /// manifest `digest` in `reference`'s repository (kept beside those already there).
    pub async fn push_signature(
        &self,
        reference: &str,
        digest: &str,
        payload: Vec<u8>,
        signature: &[u8],
    ) -> Result<(), String> {
        let parsed = parse(reference)?;
        let tag = signature_reference(&parsed, digest)?;
        let client = self.client(&tag)?;
        let auth = self.auth(&tag)?;
        let mut layers = Vec::new();
        match client.pull_manifest(&tag, &auth).await {
            Ok((OciManifest::Image(manifest), _)) => {
                for layer in manifest
                    .layers
                    .iter()
                    .filter(|l| l.media_type == COSIGN_MEDIA_TYPE)
                    .take(MAX_SIGNATURES - 1)
                {
                    let data =
                        fetch(&client, &tag, layer, MAX_PAYLOAD, "signature payload").await?;
                    layers.push(ImageLayer::new(
                        data,
                        COSIGN_MEDIA_TYPE.into(),
                        layer.annotations.clone(),
                    ));
                }
            }
            Ok(_) => return Err("its signature tag holds an index, not cosign's signatures".into()),
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(explain(&e, &tag)),
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(signature);
        layers.push(ImageLayer::new(
            payload,
            COSIGN_MEDIA_TYPE.into(),
            Some(
                [(COSIGN_ANNOTATION.to_string(), encoded)]
                    .into_iter()
                    .collect(),
            ),
        ));
        // The config cosign writes for its signature images.
        let diff_ids: Vec<String> = layers.iter().map(|l| l.sha256_digest()).collect();
        let config = serde_json::json!({
            "architecture": "",
            "config": {},
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = Config::oci_v1(config.to_string().into_bytes(), None);
        client
            .push(&tag, &layers, config, &auth, None)
            .await
            .map_err(|e| explain(&e, &tag))?;
        Ok(())
    }
}

/// `work`, or the registry's failure to `what` within `limit`.
async fn within<T>(
    limit: std::time::Duration,
    what: &str,
    work: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
        Err(format!(
            "the registry did not {what} within {} s",
            limit.as_secs()
        ))
    })
}

/// The reference of cosign's signature tag for `digest` in `reference`'s repository.
pub fn signature_reference(reference: &Reference, digest: &str) -> Result<Reference, String> {
    let Some(hex) = digest.strip_prefix("sha256:") else {
        return Err(format!("`{digest}` is not a sha256 digest"));
    };
    Ok(Reference::with_tag(
        reference.registry().to_string(),
        reference.repository().to_string(),
        format!("sha256-{hex}.sig"),
    ))
}

/// The repository `reference` names, with its registry (what cosign's payload names).
pub fn repository(reference: &Reference) -> String {
    format!("{}/{}", reference.registry(), reference.repository())
}

/// A Wasm artifact's layers.
struct Artifact {
    wasm: OciDescriptor,
    sidecar: Option<OciDescriptor>,
}

/// The layers of `manifest` when it is a Wasm artifact.
fn artifact(manifest: OciManifest) -> Result<Artifact, String> {
    let OciManifest::Image(manifest) = manifest else {
        return Err("it is an index of several images, not a Wasm artifact".into());
    };
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(format!(
            "it is not a Wasm artifact: its config is `{}`, not {CONFIG_MEDIA_TYPE}",
            crate::text::clip(&manifest.config.media_type)
        ));
    }
    if manifest.layers.len() > MAX_LAYERS {
        return Err(format!("it has more than {MAX_LAYERS} layers"));
    }
    let of = |media: &str| {
        manifest
            .layers
            .iter()
            .filter(|l| l.media_type == media)
            .cloned()
            .collect::<Vec<_>>()
    };
    let mut wasm = of(WASM_MEDIA_TYPE);
    let mut sidecar = of(SIDECAR_MEDIA_TYPE);
    if wasm.len() != 1 {
        return Err(format!(
            "it has {} {WASM_MEDIA_TYPE} layers; a plugin has exactly one",
            wasm.len()
        ));
    }
    if sidecar.len() > 1 {
        return Err(format!(
            "it has {} sidecar layers; at most one",
            sidecar.len()
        ));
    }
    Ok(Artifact {
        wasm: wasm.remove(0),
        sidecar: sidecar.pop(),
    })
}

/// The plugin's file name: the layer's title when it is a plain `NAME.wasm`, else the
/// repository's last part.
fn file_name(layer: &OciDescriptor, reference: &Reference) -> String {
    let titled = layer
        .annotations
        .as_ref()
        .and_then(|a| a.get(TITLE))
        .and_then(|t| t.strip_suffix(".wasm"))
        .filter(|stem| plain_name(stem));
    match titled {
        Some(stem) => stem.to_string(),
        None => {
            let last = reference
                .repository()
                .rsplit('/')
                .next()
                .unwrap_or_default();
            if plain_name(last) {
                last.to_string()
            } else {
                "plugin".to_string()
            }
        }
    }
}

fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `text` names an artifact in a registry rather than a file: a reference whose
/// first part is a registry host (`host.domain`, `host:port` or `localhost`) and whose
/// last part has a tag or a digest (`…/weather:1.2.0`, `…/weather@sha256:…`).
pub fn looks_like_reference(text: &str) -> bool {
    let (Some((first, _)), Some((_, last))) = (text.split_once('/'), text.rsplit_once('/')) else {
        return false;
    };
    (first.contains('.') || first.contains(':') || first == "localhost")
        && !first.starts_with('.')
        && (last.contains(':') || last.contains('@'))
        && !text.ends_with(".wasm")
        && parse(text).is_ok()
}

/// Pulls the blob of `layer`, refused when it is (or says it is) larger than `max`.
async fn fetch(
    client: &Client,
    reference: &Reference,
    layer: &OciDescriptor,
    max: u64,
    what: &str,
) -> Result<Vec<u8>, String> {
    if layer.size < 0 || layer.size as u64 > max {
        return Err(format!(
            "its {what} layer is {} bytes, more than the {max} pier takes",
            layer.size
        ));
    }
    let mut out = Capped {
        // What a manifest declares is not trusted with memory up front.
        bytes: Vec::with_capacity((layer.size as usize).min(16 << 20)),
        max: max as usize,
    };
    client
        .pull_blob(reference, layer, &mut out)
        .await
        .map_err(|e| format!("its {what} layer: {}", explain(&e, reference)))?;
    Ok(out.bytes)
}

/// A writer that refuses more than `max` bytes.
struct Capped {
    bytes: Vec<u8>,
    max: usize,
}

impl tokio::io::AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.bytes.len() + buf.len() > self.max {
            return Poll::Ready(Err(std::io::Error::other(format!(
                "the registry sent more than {} bytes",
                self.max
            ))));
        }
        self.bytes.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn not_found(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NotFound
            )
        }),
        OciDistributionError::ServerError { code, .. } => *code == 404,
        _ => false,
    }
}

/// What `error` means for people, for `reference`.
pub fn explain(error: &OciDistributionError, reference: &Reference) -> String {
    let registry = reference.resolve_registry();
    match error {
        OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::UnauthorizedError { .. } => format!(
            "the registry {registry} refused pier's credentials (log in with `docker login {registry}`, or give --username and --password-stdin)"
        ),
        OciDistributionError::ImageManifestNotFoundError(_) => {
            format!("{} is not in the registry", reference.whole())
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::ManifestUnknown | OciErrorCode::NotFound))
            {
                format!("{} is not in the registry", reference.whole())
            } else if codes.iter().any(|c| matches!(c, OciErrorCode::NameUnknown)) {
                format!(
                    "the repository {} is not in the registry",
                    reference.repository()
                )
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                format!(
                    "the registry {registry} refused pier's credentials (log in with `docker login {registry}`, or give --username and --password-stdin)"
                )
            } else if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::BlobUnknown))
            {
                "the registry does not have one of its layers".into()
            } else {
                let messages: Vec<String> = envelope
                    .errors
                    .iter()
                    .take(3)
                    .map(|e| crate::text::clip(&e.message).into_owned())
                    .collect();
                format!("the registry refused: {}", messages.join("; "))
            }
        }
        OciDistributionError::ServerError { code, message, .. } => match code {
            401 | 403 => format!(
                "the registry {registry} refused pier's credentials (log in with `docker login {registry}`, or give --username and --password-stdin)"
            ),
            404 => format!("{} is not in the registry", reference.whole()),
            _ => format!(
                "the registry answered HTTP {code}: {}",
                crate::text::clip(message)
            ),
        },
        OciDistributionError::DigestError(_) => {
            "what the registry sent does not match its digest (the registry's copy is damaged or was changed)".into()
        }
        OciDistributionError::RequestError(e) => format!(
            "cannot reach the registry {registry}: {}",
            crate::registry::proxy::upstream::explain(e)
        ),
        OciDistributionError::IoError(e) => e.to_string(),
        OciDistributionError::UnsupportedMediaTypeError(media) => format!(
            "it is not an image or artifact manifest (media type `{}`)",
            crate::text::clip(media)
        ),
        OciDistributionError::ManifestParsingError(_)
        | OciDistributionError::VersionedParsingError(_)
        | OciDistributionError::JsonError(_)
        | OciDistributionError::UnsupportedSchemaVersionError(_) => {
            "its manifest is not a valid OCI manifest".into()
        }
        other => crate::text::clip(&other.to_string()).into_owned(),
    }
}

/// The hex SHA-256 of `bytes` as an OCI digest.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_plain_http_and_others_only_when_listed() {
        let r = Registries {
            insecure: vec!["build.internal:5000".into()],
            ..Default::default()
        };
        for plain in [
            "localhost:5000",
            "127.0.0.1:41234",
            "[::1]:5000",
            "build.internal:5000",
        ] {
            assert!(r.plain_http(plain), "{plain}");
        }
        for tls in ["registry.example", "build.internal", "10.0.0.1:5000"] {
            assert!(!r.plain_http(tls), "{tls}");
        }
    }

    #[test]
    fn a_reference_is_checked() {
        assert!(parse("127.0.0.1:5000/tools/weather:1.2.0").is_ok());
        assert!(
            parse("reg.example/w:bad tag")
                .unwrap_err()
                .starts_with("`reg.example/w:bad tag` is not an OCI reference")
        );
        assert!(parse(&"a".repeat(600)).is_err());
        let r = parse("127.0.0.1:5000/tools/weather:1").unwrap();
        assert_eq!(
            signature_reference(&r, &format!("sha256:{}", "a".repeat(64)))
                .unwrap()
                .whole(),
            format!("127.0.0.1:5000/tools/weather:sha256-{}.sig", "a".repeat(64))
        );
        assert_eq!(repository(&r), "127.0.0.1:5000/tools/weather");
    }

    #[test]
    fn a_reference_is_told_from_a_file() {
        assert!(looks_like_reference("127.0.0.1:5000/tools/w:1"));
        assert!(looks_like_reference(
            "registry.example.com/tools/w@sha256:0000000000000000000000000000000000000000000000000000000000000000"
        ));
        assert!(looks_like_reference("localhost/w:1"));
        for file in [
            "plugins.d/w.wasm",
            "plugins.d/more",
            "registry.example.com/tools/w",
            "./w.wasm",
            "../x/w.wasm",
            "w.wasm",
            "/abs/w.wasm",
        ] {
            assert!(!looks_like_reference(file), "{file}");
        }
    }

    #[test]
    fn a_file_name_is_the_title_when_plain() {
        let r = parse("reg.example/tools/weather:1").unwrap();
        let layer = |title: &str| OciDescriptor {
            annotations: Some(
                [(TITLE.to_string(), title.to_string())]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        };
        assert_eq!(file_name(&layer("forecast.wasm"), &r), "forecast");
        assert_eq!(file_name(&layer("../../etc/x.wasm"), &r), "weather");
        assert_eq!(file_name(&OciDescriptor::default(), &r), "weather");
    }
}
