//! Host overhead per call, in-process: one `echo` tool call and the conversion of its
//! result to MCP, on a fresh instance of the plugin (`ID-fresh`: instantiation
//! included) and on a warm instance of the caller's session (`ID-reuse`) — for a Rust,
//! a Python and a JS plugin. Run by `make bench` (which builds the plugins); results in
//! `target/criterion/call/`.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::load_as;
use criterion::{Criterion, criterion_group, criterion_main};
use pier::runtime::limits::Instances;
use pier::runtime::{CallContext, NoRequest, Runtime};
use pier::server::convert;

const PLUGINS: &[(&str, &str)] = &[
    (
        "pier-rust",
        "target/wasm32-wasip2/release/bench_plugin.wasm",
    ),
    ("pier-py", "target/bench-plugins/bench-py.wasm"),
    ("pier-js", "target/bench-plugins/bench-js.wasm"),
];

fn call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // The workspace root: benches run with the package directory as working directory.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cache = root.join("target/bench-data/aot");
    let store = Arc::new(pier::storage::memory::Memory::default());
    let runtime = Arc::new(Runtime::new(&cache, 64 << 20, store).expect("a runtime"));
    let mut group = c.benchmark_group("call");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (id, file) in PLUGINS {
        for (model, instances, context) in [
            ("fresh", Instances::Fresh, NoRequest::default()),
            ("reuse", Instances::Reuse, NoRequest::scoped("one session")),
        ] {
            let mount = load_as(&rt, &runtime, &root.join(file), instances);
            let plugin = mount.wasm().expect("a plugin mount");
            let context: Arc<dyn CallContext> = Arc::new(context);
            group.bench_function(format!("{id}-{model}"), |b| {
                b.iter(|| {
                    let result = rt
                        .block_on(plugin.call_tool(
                            context.clone(),
                            "echo",
                            r#"{"text":"hello, benchmark"}"#.to_string(),
                        ))
                        .expect("echo answers");
                    convert::tool_result(&mount.namespace, &result).expect("a valid result")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, call);
criterion_main!(benches);
