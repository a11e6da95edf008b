//! `make soak`: the soak of [`pier_bench::soak`] for `SOAK_MINUTES` (10), its table
//! written to `bench/results/soak.md`; exits 1 when the run fails its bounds.

use std::path::PathBuf;
use std::time::Duration;

use pier_bench::soak::{Setup, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    pier_bench::install_tls_provider();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let minutes: u64 = std::env::var("SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10);
    let pier = std::env::var_os("PIER")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/perf/pier"));
    let setup = Setup {
        pier,
        root: root.clone(),
        duration: Duration::from_secs(minutes * 60),
        warm_up: Duration::from_secs((minutes * 6).clamp(20, 60)),
        swap_every: Duration::from_secs(3),
    };
    eprintln!("soak: {minutes} min against {}", setup.pier.display());
    let outcome = run(&setup).await?;
    let table = outcome.markdown(&setup);
    let out = root.join("bench/results/soak.md");
    std::fs::write(&out, &table)?;
    std::io::Write::write_all(&mut std::io::stdout(), table.as_bytes())?;
    eprintln!("written to {}", out.display());
    let verdict = outcome.verdict(setup.warm_up);
    if !verdict.is_empty() {
        anyhow::bail!("the soak failed: {}", verdict.join("; "));
    }
    Ok(())
}
