//! Rows of a server's life rather than its load: start-up to the first answer, idle
//! memory with ten plugins, and hot swaps of a new and of an already seen build.

use super::*;

/// Time from process start to the first successful tool call (one plugin) or to every
/// plugin loaded (10, 100); and the memory (PSS) of pier with ten plugins, idle.
pub(super) async fn cold_starts(setup: &Setup) -> anyhow::Result<(Vec<Row>, Row)> {
    let wasm = std::fs::read(RUST_WASM)?;
    let mut rows = Vec::new();
    let mut rss10 = Row::new("memory (PSS), idle, 10 plugins", "MiB", Better::Lower);
    let mut peers = Vec::new();
    for peer in ["fastmcp", "native"] {
        let port = free_port()?;
        let server =
            Server::start(&http_command(peer, setup, port, 0), port, "echo", PATIENCE).await?;
        peers.push((peer, server.started_in));
        server.stop().await;
    }
    for count in [1, 10, 100] {
        let dir = setup.root.path().join(format!("start-{count}"));
        let data = setup.root.path().join(format!("start-{count}-data"));
        std::fs::create_dir_all(&dir)?;
        for i in 0..count {
            distinct_copy(&wasm, &dir, &format!("p{i:03}"))?;
        }
        for cache in ["cold", "warm"] {
            progress(&format!(
                "start to first call: {count} plugins, AOT cache {cache}"
            ));
            // With several plugins: until every one is loaded (`/ready`), not only the
            // first that answers.
            let mut row = Row::new(
                match count {
                    1 => format!("start to first call, 1 plugin, AOT cache {cache}"),
                    n => format!("start to every plugin loaded, {n} plugins, AOT cache {cache}"),
                },
                "ms",
                Better::Lower,
            );
            let port = free_port()?;
            let server =
                Server::start(&pier_http(&dir, &data, port), port, "p000_echo", PATIENCE).await?;
            let took = match count {
                1 => server.started_in,
                _ => server.ready_in(PATIENCE).await?,
            };
            row.set("pier-rust", took.as_secs_f64() * 1e3);
            if count == 10
                && cache == "warm"
                && let Some(memory) = server.memory()
            {
                rss10.set_memory("pier-rust", memory);
            }
            server.stop().await;
            if count == 1 {
                for (peer, took) in &peers {
                    row.set(peer, took.as_secs_f64() * 1e3);
                }
                if cache == "cold" {
                    row.note = Some("the peers have nothing to compile: in both rows their time is process start to first call. ".into());
                }
            }
            rows.push(row);
        }
    }
    Ok((rows, rss10))
}

/// Builds never served before, per plugin kind, for the uncached hot-swap samples.
const NEW_BUILDS: [(&str, &str, usize); 3] = [
    ("pier-rust", RUST_WASM, 10),
    ("pier-py", PY_WASM, 3),
    ("pier-js", JS_WASM, 3),
];
/// Swaps between two builds served before (AOT cache warm).
const SEEN_SWAPS: usize = 10;

/// Time from a plugin file replaced (renamed into the watched directory, the way
/// `pier dev` and deploy scripts do it) to the new version answering a call: a build
/// never seen (compiled on the way) and a build served before (loaded from the AOT cache).
pub(super) async fn hot_swaps(setup: &Setup) -> Vec<Row> {
    let mut new = Row::new(
        "hot swap: file replaced → new version answering, a new build (compiled)",
        "ms",
        Better::Lower,
    );
    let mut seen = Row::new(
        "hot swap: file replaced → new version answering, a build served before (AOT cache)",
        "ms",
        Better::Lower,
    );
    for (id, wasm, samples) in NEW_BUILDS {
        progress(&format!("hot swap: {id}"));
        match swap_times(setup, id, wasm, samples).await {
            Ok((compiled, cached)) => {
                progress(&format!(
                    "  {id}: new build {:.0} ms, seen build {:.0} ms (medians)",
                    median(&compiled),
                    median(&cached)
                ));
                new.set(id, median(&compiled));
                seen.set(id, median(&cached));
            }
            Err(e) => {
                progress(&format!("  {id}: failed: {e:#}"));
                new.note
                    .get_or_insert_default()
                    .push_str(&format!("{id} failed: {e:#}. "));
            }
        }
    }
    let why = format!(
        "Median of {} (Rust) or {} (Python, JS) new builds and {SEEN_SWAPS} swaps between two seen builds; includes the 200 ms debounce (`plugins.debounce-ms`) pier waits for a changed file to settle. ",
        NEW_BUILDS[0].2, NEW_BUILDS[1].2
    );
    new.note = Some(format!("{why}{}", new.note.take().unwrap_or_default()));
    seen.note = Some(why);
    vec![new, seen]
}

/// Serves a copy of `wasm`, replaces it with `samples` new builds, then swaps between
/// two of them `SEEN_SWAPS` times; the milliseconds each replacement took to answer.
async fn swap_times(
    setup: &Setup,
    id: &str,
    wasm: &str,
    samples: usize,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let root = setup.root.path().join(format!("swap-{id}"));
    let (plugins, builds, data) = (root.join("plugins"), root.join("builds"), root.join("data"));
    for dir in [&plugins, &builds, &data] {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = std::fs::read(wasm).with_context(|| wasm.to_string())?;
    for i in 0..=samples {
        distinct_copy(&bytes, &builds, &format!("v{i}"))?;
    }
    std::fs::copy(builds.join("v0.wasm"), plugins.join("bench.wasm"))?;
    std::fs::write(plugins.join("bench.toml"), "namespace = \"\"\n")?;
    let config = root.join("pier.toml");
    std::fs::write(&config, "[admin]\ntoken = \"bench\"\n")?;
    let port = free_port()?;
    let mut command = pier_http(&plugins, &data, port);
    command.extend(strings(&["--config", config.to_str().unwrap_or_default()]));
    let server = Server::start(&command, port, "echo", PATIENCE).await?;
    let admin = format!("http://127.0.0.1:{port}/admin/mounts");
    let client = reqwest::Client::new();
    let mut session = HttpSession::open(&client, &server.url).await?;
    let mut version = served_version(&client, &admin).await?;
    let mut swap = async |build: &str| -> anyhow::Result<f64> {
        // Copied beside (a hidden name pier ignores), then renamed over the plugin.
        let part = plugins.join(".bench.wasm.part");
        std::fs::copy(builds.join(format!("{build}.wasm")), &part)?;
        let replaced = Instant::now();
        std::fs::rename(&part, plugins.join("bench.wasm"))?;
        loop {
            let now = served_version(&client, &admin).await?;
            if now != version {
                version = now;
                break;
            }
            if replaced.elapsed() > PATIENCE {
                bail!("{build} was not served within {PATIENCE:?}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let result = session
            .request(
                "tools/call",
                json!({"name": "echo", "arguments": {"text": "x"}}),
            )
            .await?;
        if result["isError"] == true {
            bail!("the swapped-in {build} failed: {result}");
        }
        let took = replaced.elapsed().as_secs_f64() * 1e3;
        // Let the previous version's instances drain before the next sample.
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(took)
    };
    let mut compiled = Vec::new();
    for i in 1..=samples {
        compiled.push(swap(&format!("v{i}")).await?);
    }
    let mut cached = Vec::new();
    for i in 0..SEEN_SWAPS {
        cached.push(swap(if i % 2 == 0 { "v0" } else { "v1" }).await?);
    }
    session.close().await;
    server.stop().await;
    Ok((compiled, cached))
}

/// The version hash `/admin/mounts` reports for the plugin `bench`.
async fn served_version(client: &reqwest::Client, admin: &str) -> anyhow::Result<String> {
    let list: serde_json::Value = client
        .get(admin)
        .bearer_auth("bench")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    list["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["name"] == "bench")
        .and_then(|m| m["version"].as_str())
        .map(str::to_string)
        .context("no version for `bench` in /admin/mounts")
}
