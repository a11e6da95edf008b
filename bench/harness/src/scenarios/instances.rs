//! Rows of the instance models: the Python and JS plugins with a fresh instance per
//! call, and what eleven different Python plugins keep resident.

use super::*;

/// `echo` over HTTP at 32 clients with every plugin taking a fresh instance per call
/// (the Rust plugin's default; the Python and JS ones told `instances = "fresh"`).
pub(super) async fn fresh_instances(setup: &Setup, seconds: Duration) -> Row {
    let mut row = Row::new(
        "tools/call `echo`, HTTP, 32 clients, a fresh instance per call",
        "req/s",
        Better::Higher,
    );
    row.note = Some(
        "pier · Rust as in the rows above (its default); Python and JS with `instances = \"fresh\"` (the rows above: their default, a warm instance per session). "
            .into(),
    );
    for (id, dir) in [("pier-py", PY_FRESH), ("pier-js", JS_FRESH)] {
        progress(&format!("HTTP, fresh instances: {id}"));
        let outcome = echo_at_32(seconds, |port| {
            Ok(pier_http(
                setup.dir(dir).context("a set-up")?,
                &setup.data,
                port,
            ))
        })
        .await;
        record(&mut row, id, outcome);
    }
    row
}

/// Memory (PSS) of pier serving eleven different Python plugins, each called once
/// (so each has compiled code mapped and a warm instance), and what each beyond the
/// first costs: against `one`, the same of pier serving one.
pub(super) async fn python_plugins(setup: &Setup, one: Option<f64>) -> Vec<Row> {
    let mut eleven = Row::new(
        "memory (PSS), 11 different Python plugins, each called once, idle",
        "MiB",
        Better::Lower,
    );
    let mut each = Row::new(
        "memory (PSS), each Python plugin beyond the first (of 11 different ones)",
        "MiB",
        Better::Lower,
    );
    progress("resident memory: 11 Python plugins");
    let outcome = async {
        let dir = setup.root.path().join("eleven-py");
        std::fs::create_dir_all(&dir)?;
        let wasm = std::fs::read(PY_WASM)?;
        for i in 0..11 {
            distinct_copy(&wasm, &dir, &format!("p{i:02}"))?;
        }
        let port = free_port()?;
        // Eleven compilations: minutes on two cores.
        let server = Server::start(
            &pier_http(&dir, &setup.data, port),
            port,
            "p00_echo",
            PATIENCE * 4,
        )
        .await?;
        // The first answers while the others still load.
        server.ready_in(PATIENCE * 4).await?;
        let client = reqwest::Client::new();
        let mut session = HttpSession::open(&client, &server.url).await?;
        for i in 0..11 {
            let name = format!("p{i:02}_echo");
            session
                .request(
                    "tools/call",
                    json!({"name": name, "arguments": {"text": "x"}}),
                )
                .await?;
        }
        // Measured as the one-plugin row is: after the session that called ended.
        session.close().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let memory = server.memory();
        server.stop().await;
        memory.context("no memory figures")
    }
    .await;
    match outcome {
        Ok(memory) => {
            eleven.set_memory("pier-py", memory);
            if let Some(one) = one {
                each.set("pier-py", (memory.pss - one) / 10.0);
            }
        }
        Err(e) => {
            progress(&format!("  failed: {e:#}"));
            eleven.note = Some(format!("failed: {e:#}. "));
        }
    }
    vec![eleven, each]
}
