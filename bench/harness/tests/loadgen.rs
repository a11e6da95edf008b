//! The load generator against a real pier serving the example plugins over HTTP, in
//! both response modes (SSE in sessions, JSON when stateless), and over stdio.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pier::ServeConfig;
use pier::transport::http;
use pier_bench::load::{self, Load, Target, Work};
use serde_json::json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// pier serving `plugins.d` (built by `make plugins`) on a free loopback port.
async fn serve(stateless: bool) -> String {
    let plugins = root().join("plugins.d");
    assert!(
        plugins.join("calc.wasm").exists(),
        "run `make plugins` (or `make test`) first"
    );
    let mut config = ServeConfig {
        plugins_dir: plugins,
        data_dir: root().join("target/test-data"),
        storage: pier::storage::Backend::Memory,
        ..ServeConfig::default()
    };
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.http.stateless = stateless;
    let app = Arc::new(pier::App::start(&config).await.expect("pier starts"));
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let lifecycle = http::Lifecycle::of(&app);
    let router = http::router(app, &config.http, &lifecycle);
    tokio::spawn(http::serve(
        listener,
        router,
        lifecycle,
        Duration::from_secs(1),
        std::future::pending(),
    ));
    url
}

fn add(a: i64, b: i64) -> Work {
    Work::Tool {
        name: "calc_add".into(),
        args: json!({"a": a, "b": b}),
    }
}

async fn run(target: Target, work: Work, concurrency: usize) -> pier_bench::stats::Report {
    load::run(&Load {
        target,
        work,
        concurrency,
        duration: Duration::from_millis(500),
        warmup: Duration::from_millis(100),
    })
    .await
    .expect("the load runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_successful_calls_over_sse_and_json_responses() {
    pier_bench::install_tls_provider();
    for stateless in [false, true] {
        let url = serve(stateless).await;
        let report = run(Target::Http(url.clone()), add(1, 2), 4).await;
        assert_eq!(
            report.errors, 0,
            "stateless={stateless}: {:?}",
            report.first_error
        );
        assert!(report.requests > 0, "stateless={stateless}");
        assert!(report.p50_us > 0.0 && report.p50_us <= report.p99_us);
        let listed = run(Target::Http(url.clone()), Work::ListTools, 1).await;
        assert_eq!(listed.errors, 0, "{:?}", listed.first_error);
        let read = run(
            Target::Http(url),
            Work::Read("hello://hello/readme".into()),
            1,
        )
        .await;
        assert_eq!(read.errors, 0, "{:?}", read.first_error);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_errors_and_protocol_errors_are_errors() {
    pier_bench::install_tls_provider();
    let url = serve(false).await;
    let divide = Work::Tool {
        name: "calc_divide".into(),
        args: json!({"a": 1, "b": 0}),
    };
    let report = run(Target::Http(url.clone()), divide, 1).await;
    assert_eq!(report.requests, 0);
    assert!(report.errors > 0);
    let error = report.first_error.unwrap();
    assert!(
        error.starts_with("tool error: [{") && error.contains(r#""text":"division by zero""#),
        "{error}"
    );
    let unknown = Work::Tool {
        name: "nope".into(),
        args: json!({}),
    };
    let report = run(Target::Http(url), unknown, 1).await;
    assert_eq!(report.requests, 0);
    let error = report.first_error.unwrap();
    assert!(
        error.starts_with("JSON-RPC error: ") && error.contains("unknown tool `nope`"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaks_stdio_to_a_child_process() {
    pier_bench::install_tls_provider();
    let pier = root().join("target/debug/pier");
    assert!(pier.exists(), "build pier first (`cargo build -p pier`)");
    let command = [
        pier.to_str().unwrap(),
        "serve",
        "--transport",
        "stdio",
        "--plugins",
        root().join("plugins.d").to_str().unwrap(),
        "--data-dir",
        root().join("target/test-data").to_str().unwrap(),
        "--storage",
        "memory",
    ]
    .map(String::from)
    .to_vec();
    let report = run(Target::Stdio(command), add(40, 2), 1).await;
    assert_eq!(report.errors, 0, "{:?}", report.first_error);
    assert!(report.requests > 0);
}
