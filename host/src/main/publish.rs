//! Distribution commands: `pier push`, `pier pull`, `pier sign`, `pier keygen`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use pier::cli::{KeygenArgs, PullArgs, PushArgs, RegistryArgs, SignArgs};
use pier::oci::{Login, Registries};
use pier::trust::keys::SigningKey;
use pier::trust::{State, Trust};

/// How to reach registries, from the flags (the password from standard input).
fn registries(args: &RegistryArgs) -> anyhow::Result<Registries> {
    let login = match &args.username {
        Some(username) => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            Login::Given {
                username: username.clone(),
                password: password.trim_end_matches(['\r', '\n']).to_string(),
            }
        }
        None => Login::DockerConfig,
    };
    Ok(Registries {
        insecure: args.insecure_registries.clone(),
        login,
        roots: Vec::new(),
    })
}

/// The stem of a plugin file: its name in the artifact.
fn stem(file: &Path) -> anyhow::Result<String> {
    file.file_stem()
        .and_then(|s| s.to_str())
        .map(String::from)
        .ok_or_else(|| anyhow!("{}: the file name is not UTF-8", file.display()))
}

pub async fn push(args: PushArgs) -> anyhow::Result<ExitCode> {
    let file = &args.file;
    let component =
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if let Some(problem) = pier::runtime::header_problem(&component) {
        bail!("{}: {problem}", file.display());
    }
    let sidecar = match &args.sidecar {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            pier::registry::sidecar::Sidecar::parse_for(file, Some(&text))
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            Some(text.into_bytes())
        }
        None => {
            let beside = file.with_extension("toml");
            if beside.exists() {
                eprintln!(
                    "pier: {} is not pushed (name it with --sidecar to push it)",
                    beside.display()
                );
            }
            None
        }
    };
    let registries = registries(&args.registry)?;
    let digest = registries
        .push(&args.reference, &stem(file)?, component, sidecar)
        .await
        .map_err(|e| anyhow!("cannot push {}: {e}", args.reference))?;
    let parsed = pier::oci::parse(&args.reference).map_err(|e| anyhow!(e))?;
    println!("{}@{digest}", pier::oci::repository(&parsed));
    Ok(ExitCode::SUCCESS)
}

pub async fn pull(args: PullArgs) -> anyhow::Result<ExitCode> {
    let registries = registries(&args.registry)?;
    let trust =
        Trust::load(&args.keys, !args.keys.is_empty(), Path::new(".")).map_err(|e| anyhow!(e))?;
    let cache = std::env::temp_dir().join(format!("pier-pull-{}", std::process::id()));
    let pulled = registries
        .pull(&args.reference, &cache)
        .await
        .map_err(|e| anyhow!("cannot pull {}: {e}", args.reference));
    let result = match pulled {
        Ok(pulled) => place(&registries, &trust, &args, &pulled).await,
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&cache);
    result
}

/// Checks the signature of `pulled` (when keys were given) and writes it into the
/// output directory.
async fn place(
    registries: &Registries,
    trust: &Trust,
    args: &PullArgs,
    pulled: &pier::oci::Pulled,
) -> anyhow::Result<ExitCode> {
    if !trust.keys.is_empty() {
        let signatures = registries
            .signatures(&args.reference, &pulled.digest)
            .await
            .map_err(|e| anyhow!("cannot check {}: {e}", args.reference))?;
        let verification = trust.check_image(&pulled.digest, &signatures);
        if verification.state != State::Verified {
            bail!(
                "refused {}: no key given with --key signed it: {}",
                args.reference,
                verification.reason.as_deref().unwrap_or("it is not signed")
            );
        }
    }
    let name = pulled
        .file
        .file_name()
        .ok_or_else(|| anyhow!("the pulled file has no name"))?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let target = args.output.join(name);
    let sidecar = pulled.file.with_extension("toml");
    if sidecar.exists() {
        write_whole(&sidecar, &target.with_extension("toml"))?;
    } else if target.with_extension("toml").exists() {
        eprintln!(
            "pier: the artifact has no sidecar; {} is kept as it is",
            target.with_extension("toml").display()
        );
    }
    write_whole(&pulled.file, &target)?;
    let parsed = pier::oci::parse(&args.reference).map_err(|e| anyhow!(e))?;
    eprintln!(
        "pier: pulled {}@{} into {}",
        pier::oci::repository(&parsed),
        pulled.digest,
        target.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Copies `from` to `to` through a hidden file renamed into place.
fn write_whole(from: &Path, to: &Path) -> anyhow::Result<()> {
    let name = to
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{}: not a file name", to.display()))?;
    let staging = to.with_file_name(format!(".{name}.pulling"));
    std::fs::copy(from, &staging)
        .and_then(|_| std::fs::rename(&staging, to))
        .map_err(|e| {
            let _ = std::fs::remove_file(&staging);
            anyhow!("cannot write {}: {e}", to.display())
        })
}

/// The password of an encrypted key: COSIGN_PASSWORD, as cosign reads it.
fn password() -> Result<Vec<u8>, String> {
    match std::env::var("COSIGN_PASSWORD") {
        Ok(password) => Ok(password.into_bytes()),
        Err(_) => Err("the key is encrypted: set COSIGN_PASSWORD to its password".into()),
    }
}

pub async fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let text = pier::trust::read_bounded(&args.key, pier::trust::keys::MAX_KEY_FILE)
        .map_err(|e| anyhow!("cannot read the key {}: {e}", args.key.display()))?;
    let key = SigningKey::from_pem(&text, password)
        .map_err(|e| anyhow!("the key {}: {e}", args.key.display()))?;
    let file = PathBuf::from(&args.target);
    if file.is_file() {
        use base64::Engine as _;
        let bytes =
            std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let signature = key.sign(&bytes).map_err(|e| anyhow!(e))?;
        let mut out = file.clone().into_os_string();
        out.push(".sig");
        let out = PathBuf::from(out);
        std::fs::write(
            &out,
            base64::engine::general_purpose::STANDARD.encode(signature),
        )
        .with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!(
            "pier: signed {} with {} into {}",
            file.display(),
            key.public().fingerprint(),
            out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let parsed = pier::oci::parse(&args.target).map_err(|e| {
        anyhow!(
            "{} is neither a file nor an OCI reference: {e}",
            args.target
        )
    })?;
    let registries = registries(&args.registry)?;
    let digest = registries
        .resolve(&args.target)
        .await
        .map_err(|e| anyhow!("cannot find {}: {e}", args.target))?;
    let repository = pier::oci::repository(&parsed);
    let payload = pier::trust::payload(&repository, &digest);
    let signature = key.sign(&payload).map_err(|e| anyhow!(e))?;
    registries
        .push_signature(&args.target, &digest, payload, &signature)
        .await
        .map_err(|e| anyhow!("cannot store the signature of {}: {e}", args.target))?;
    eprintln!(
        "pier: signed {repository}@{digest} with {}",
        key.public().fingerprint()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let private = args.name.with_extension("key");
    let public = args.name.with_extension("pub");
    for file in [&private, &public] {
        if file.exists() {
            bail!("{} exists: pier does not overwrite a key", file.display());
        }
    }
    let password = std::env::var("COSIGN_PASSWORD").unwrap_or_default();
    if password.is_empty() {
        eprintln!(
            "pier: COSIGN_PASSWORD is not set: the private key is sealed with an empty password"
        );
    }
    let (key, pkcs8) = SigningKey::generate().map_err(|e| anyhow!(e))?;
    let sealed = pier::trust::keys::seal(&pkcs8, password.as_bytes()).map_err(|e| anyhow!(e))?;
    write_private(&private, &sealed)?;
    std::fs::write(&public, key.public_pem())
        .with_context(|| format!("cannot write {}", public.display()))?;
    eprintln!(
        "pier: wrote {} and {} ({})",
        private.display(),
        public.display(),
        key.public().fingerprint()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}
