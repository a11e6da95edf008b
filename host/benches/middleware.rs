//! Middleware overhead per call, in-process: a `tools/call` through the server-level
//! chain to an end that answers at once — an empty chain, ten pass-through
//! middlewares, and a typical chain of built-ins — so the numbers are the pipeline's
//! own cost, without transport or plugin. The request context is a real one, captured
//! from a call over an in-process session. Run by `make bench`; results in
//! `target/criterion/middleware/`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::future::BoxFuture;
use pier::middleware::spec::{Services, build_chain};
use pier::middleware::{
    Answer, Chain, Middleware, MiddlewareContext, Next, Outcome, Request, Response, ToolCall,
};
use pier::{App, ServeConfig};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};

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

/// Keeps the context of the request it sees.
struct Capture(Arc<Mutex<Option<MiddlewareContext>>>);

#[async_trait]
impl Middleware for Capture {
    fn name(&self) -> &str {
        "capture"
    }

    async fn on_request(
        &self,
        cx: &MiddlewareContext,
        request: Request,
        next: Next<'_>,
    ) -> Outcome {
        *self.0.lock().unwrap() = Some(cx.clone());
        next.run(cx, request).await
    }
}

/// A real request context: one `tools/call` over an in-process session, captured.
fn captured(rt: &tokio::runtime::Runtime, app: &App) -> MiddlewareContext {
    let slot = Arc::new(Mutex::new(None));
    app.pipeline()
        .set_server(Chain::new(vec![Arc::new(Capture(slot.clone()))]));
    rt.block_on(async {
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let server = app.session(None);
        tokio::spawn(async move {
            let (r, w) = tokio::io::split(server_io);
            let _ = pier::transport::stdio::serve(server, r, w).await;
        });
        let client = ().serve(tokio::io::split(client_io)).await.expect("connects");
        let params = CallToolRequestParams::new("echo").with_arguments(
            serde_json::json!({"text": "hello, benchmark"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        client.peer().call_tool(params).await.expect("echo answers");
    });
    app.pipeline().set_server(Chain::default());
    let cx = slot.lock().unwrap().take();
    cx.expect("the request passed the pipeline")
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
    let config = ServeConfig {
        plugins_dir: plugins.path().to_path_buf(),
        data_dir: root.join("target/bench-data"),
        storage: pier::storage::Backend::Memory,
        watch: false,
        ..ServeConfig::default()
    };
    let app = rt.block_on(App::start(&config)).expect("pier starts");
    let cx = captured(&rt, &app);

    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(Path::new("typical.toml"), TYPICAL)
        .expect("a valid chain");
    let specs = layers.build().expect("a valid chain").middleware;
    let services = Services {
        store: app.store().clone(),
        metrics: app.metrics().clone(),
        runtime: app.runtime().clone(),
        grants: Default::default(),
    };
    let typical = build_chain(&specs, &services, "server").expect("the chain builds");
    let ten = Chain::new((0..10).map(|_| Arc::new(PassThrough) as _).collect());

    let result = CallToolResult::success(vec![ContentBlock::text("hello, benchmark")]);
    let end = Answer(move |_| {
        let answer = Ok(Response::CallTool(result.clone()));
        Box::pin(std::future::ready(answer)) as BoxFuture<'static, Outcome>
    });
    let call = ToolCall {
        name: "echo".into(),
        arguments: serde_json::json!({"text": "hello, benchmark"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    };

    let mut group = c.benchmark_group("middleware");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (id, chain) in [
        ("empty", Chain::default()),
        ("ten-pass-through", ten),
        ("typical", typical),
    ] {
        group.bench_function(id, |b| {
            b.iter(|| {
                rt.block_on(chain.run(&cx, Request::CallTool(call.clone()), &end))
                    .expect("answered")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, middleware);
criterion_main!(benches);
