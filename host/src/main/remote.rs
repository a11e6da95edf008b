//! The client side of the admin API of a running pier (`--server URL --token T`):
//! `pier mounts`, `pier mount`, `pier unmount`, and `pier storage … --server`.

use std::process::ExitCode;

use pier::cli::{AdminArgs, MountArgs, MountsArgs, StorageAction, UnmountArgs};

/// `text` with every byte but unreserved URL characters percent-encoded.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Sends one admin API request; the JSON answer, `None` for a 404 when `missing_ok`, or
/// the server's error as an error.
async fn admin(
    args: &AdminArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    admin_or_missing(args, method, path, body, false)
        .await
        .map(Option::unwrap_or_default)
}

async fn admin_or_missing(
    args: &AdminArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
    missing_ok: bool,
) -> anyhow::Result<Option<serde_json::Value>> {
    let (server, token) = args.target().map_err(|e| anyhow::anyhow!(e))?;
    let mut request = reqwest::Client::new()
        .request(method, format!("{server}/admin/{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach {server}: {e}"))?;
    let status = response.status();
    let answer: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() {
        return Ok(Some(answer));
    }
    if missing_ok && status == reqwest::StatusCode::NOT_FOUND && answer["error"].is_string() {
        eprintln!("pier: {}", answer["error"].as_str().unwrap_or_default());
        return Ok(None);
    }
    let message = answer["error"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| match status.as_u16() {
            404 => "the admin API is off (set admin.token on the server)".into(),
            _ => status.to_string(),
        });
    anyhow::bail!("{message} (HTTP {})", status.as_u16())
}

pub async fn mounts(args: MountsArgs) -> anyhow::Result<ExitCode> {
    let answer = admin(&args.admin, reqwest::Method::GET, "mounts", None).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<16} {:<8} {:<6} {:<9} {:>5} {:>9} {:>7}  SOURCE",
        "NAMESPACE", "STATE", "KIND", "ORIGIN", "TOOLS", "RESOURCES", "PROMPTS"
    );
    for m in answer["mounts"].as_array().into_iter().flatten() {
        let count = |k: &str| m[k].as_u64().unwrap_or(0);
        println!(
            "{:<16} {:<8} {:<6} {:<9} {:>5} {:>9} {:>7}  {}",
            m["namespace"].as_str().unwrap_or_default(),
            m["state"].as_str().unwrap_or_default(),
            m["kind"].as_str().unwrap_or_default(),
            m["origin"].as_str().unwrap_or_default(),
            count("tools"),
            count("resources") + count("templates"),
            count("prompts"),
            m["source"].as_str().unwrap_or_default(),
        );
        if let Some(error) = m["error"].as_str() {
            println!("{:<16} error: {error}", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn mount(args: MountArgs) -> anyhow::Result<ExitCode> {
    let mut body = serde_json::json!({ "namespace": args.namespace });
    for (key, value) in [
        ("path", &args.path),
        ("oci", &args.oci),
        ("url", &args.url),
        ("token", &args.bearer),
        ("command", &args.command),
        ("mode", &args.mode),
    ] {
        if let Some(value) = value {
            body[key] = serde_json::json!(value);
        }
    }
    if !args.args.is_empty() {
        body["args"] = serde_json::json!(args.args);
    }
    let answer = admin(&args.admin, reqwest::Method::POST, "mounts", Some(body)).await?;
    eprintln!(
        "pier: mounted {} under `{}`: {} tools, {} resources, {} prompts",
        answer["source"].as_str().unwrap_or_default(),
        answer["namespace"].as_str().unwrap_or_default(),
        answer["tools"],
        answer["resources"].as_u64().unwrap_or(0) + answer["templates"].as_u64().unwrap_or(0),
        answer["prompts"],
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn unmount(args: UnmountArgs) -> anyhow::Result<ExitCode> {
    let path = format!("mounts/{}", args.namespace);
    admin(&args.admin, reqwest::Method::DELETE, &path, None).await?;
    eprintln!("pier: unmounted `{}`", args.namespace);
    Ok(ExitCode::SUCCESS)
}

/// `pier storage list|get|delete` through the admin API of a running pier.
pub async fn storage_via(server: AdminArgs, action: &StorageAction) -> anyhow::Result<ExitCode> {
    use base64::Engine;
    use reqwest::Method;
    use std::io::Write;
    let (StorageAction::List { target, .. }
    | StorageAction::Get { target, .. }
    | StorageAction::Delete { target, .. }) = action;
    let base = format!("storage/{}", encode(&target.plugin));
    let missing = Ok(ExitCode::FAILURE);
    match action {
        StorageAction::List { prefix, .. } => {
            let mut cursor: Option<String> = None;
            let mut out = std::io::stdout().lock();
            loop {
                let mut path = format!("{base}?prefix={}", encode(prefix));
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={}", encode(c)));
                }
                let page = admin(&server, Method::GET, &path, None).await?;
                for key in page["keys"].as_array().into_iter().flatten() {
                    writeln!(out, "{}", key.as_str().unwrap_or_default())?;
                }
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_string()),
                    None => return Ok(ExitCode::SUCCESS),
                }
            }
        }
        StorageAction::Get { key, .. } => {
            let path = format!("{base}/{}", encode(key));
            let Some(value) = admin_or_missing(&server, Method::GET, &path, None, true).await?
            else {
                return missing;
            };
            let bytes = match (value["text"].as_str(), value["base64"].as_str()) {
                (Some(text), _) => text.as_bytes().to_vec(),
                (None, Some(b64)) => base64::engine::general_purpose::STANDARD.decode(b64)?,
                _ => anyhow::bail!("the server's answer has no value: {value}"),
            };
            std::io::stdout().write_all(&bytes)?;
            Ok(ExitCode::SUCCESS)
        }
        StorageAction::Delete { key, .. } => {
            let path = format!("{base}/{}", encode(key));
            if admin_or_missing(&server, Method::DELETE, &path, None, true)
                .await?
                .is_none()
            {
                return missing;
            }
            eprintln!("pier: deleted `{key}` of plugin `{}`", target.plugin);
            Ok(ExitCode::SUCCESS)
        }
    }
}
