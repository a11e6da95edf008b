//! About a minute of the soak (`make soak` runs it for minutes): a real pier process
//! under mixed load of both MCP revisions while a plugin is swapped; no errors but
//! cancelled ones, no growth beyond the bounds after the warm-up, every note read back.

use std::path::PathBuf;
use std::time::Duration;

use pier_bench::soak::{Setup, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_of_mixed_load_and_swaps_loses_nothing_and_leaks_nothing() {
    pier_bench::install_tls_provider();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pier = root.join("target/debug/pier");
    assert!(
        pier.exists(),
        "{} is missing: `make test` builds it (or `cargo build -p pier`)",
        pier.display()
    );
    let seconds = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let setup = Setup {
        pier,
        root,
        duration: Duration::from_secs(seconds),
        warm_up: Duration::from_secs(seconds / 3),
        swap_every: Duration::from_secs(3),
    };
    let outcome = run(&setup).await.expect("the soak runs");
    let table = outcome.markdown(&setup);
    eprintln!("{table}");
    let verdict = outcome.verdict(setup.warm_up);
    assert!(verdict.is_empty(), "{}\n{table}", verdict.join("\n"));
}
