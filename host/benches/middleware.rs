//! Middleware overhead per call, in-process: a `tools/call` of the Rust bench plugin's
//! `echo` from an rmcp client over a pipe, through an empty chain, a chain of ten
//! pass-through middlewares, and a typical chain of built-ins. Run by `make bench`;
//! results in `target/criterion/middleware/`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pier::middleware::{Chain, Middleware};
use pier::{App, ServeConfig};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;

/// What an operator might run in production: every built-in that does not change a
/// result (the rate limit is far above the load; no log subscriber, so log lines are
/// built but not written).
const TYPICAL: &str = r#"
[[middleware]]
type = "error-handling"
mask-errors = true

[[middleware]]
type = "timing"
quiet = true

[[middleware]]
type = "detailed-timing"
quiet = true

[[middleware]]
type = "rate-limit"
capacity = 1000000000
refill-per-second = 1000000000
backend = "memory"

[[middleware]]
type = "logging"
"#;

/// Calls `next` and nothing else: the cost of one hop through the pipeline.
struct PassThrough;

impl Middleware for PassThrough {
    fn name(&self) -> &str {
        "pass-through"
    }
}

fn middleware(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plugins = tempfile::tempdir().expect("a temporary directory");
    std::fs::copy(
        root.join("target/wasm32-wasip2/release/bench_plugin.wasm"),
        plugins.path().join("bench.wasm"),
    )
    .expect("the bench plugin is built (make bench)");
    std::fs::write(plugins.path().join("bench.toml"), "namespace = \"\"\n").unwrap();
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(Path::new("typical.toml"), TYPICAL)
        .expect("a valid chain");
    let typical = layers.build().expect("a valid chain").middleware;
    let config = |middleware| ServeConfig {
        plugins_dir: plugins.path().to_path_buf(),
        data_dir: root.join("target/bench-data"),
        storage: pier::storage::Backend::Memory,
        watch: false,
        middleware,
        ..ServeConfig::default()
    };
    let mut group = c.benchmark_group("middleware");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (id, specs, hops) in [
        ("empty", Vec::new(), 0),
        ("ten-pass-through", Vec::new(), 10),
        ("typical", typical, 0),
    ] {
        let (app, client) = rt.block_on(async {
            let app = App::start(&config(specs)).await.expect("pier starts");
            if hops > 0 {
                let chain: Vec<Arc<dyn Middleware>> =
                    (0..hops).map(|_| Arc::new(PassThrough) as _).collect();
                app.pipeline().set_server(Chain::new(chain));
            }
            let (client_io, server_io) = tokio::io::duplex(1 << 20);
            let server = app.session(None);
            tokio::spawn(async move {
                let (r, w) = tokio::io::split(server_io);
                let _ = pier::transport::stdio::serve(server, r, w).await;
            });
            let client = ().serve(tokio::io::split(client_io)).await.expect("connects");
            (app, client)
        });
        group.bench_function(id, |b| {
            b.iter(|| {
                let params = CallToolRequestParams::new("echo").with_arguments(
                    serde_json::json!({"text": "hello, benchmark"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                );
                rt.block_on(client.peer().call_tool(params))
                    .expect("echo answers")
            })
        });
        rt.block_on(async {
            let _ = client.cancel().await;
        });
        drop(app);
    }
    group.finish();
}

criterion_group!(benches, middleware);
criterion_main!(benches);
