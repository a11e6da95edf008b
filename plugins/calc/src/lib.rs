//! `calc`: arithmetic tools showing structured output, tool errors, logging and progress.

use pier_sdk::prelude::*;
use serde::Serialize;

/// The result of a calculation.
#[derive(Serialize, schemars::JsonSchema)]
struct Sum {
    /// The sum.
    result: f64,
}

/// Add two numbers.
#[tool(read_only, idempotent)]
fn add(
    /// First addend.
    a: f64,
    /// Second addend.
    b: f64,
) -> Structured<Sum> {
    let result = a + b;
    Structured::new(Sum { result }).with_text(result.to_string())
}

/// Divide `a` by `b`.
#[tool(read_only, idempotent)]
fn divide(
    /// Dividend.
    a: f64,
    /// Divisor (not zero).
    b: f64,
) -> Result<String, String> {
    if b == 0.0 {
        return Err("division by zero".to_string());
    }
    Ok((a / b).to_string())
}

/// Count down from `from` to zero, logging each step and reporting progress.
#[tool]
fn countdown(
    ctx: &Context,
    /// Where to start (at most 1000).
    from: u32,
) -> Result<String, String> {
    if from > 1000 {
        return Err(format!("`from` must be at most 1000, got {from}"));
    }
    let total = f64::from(from);
    for n in (0..=from).rev() {
        ctx.info(format!("countdown: {n}"));
        ctx.progress(
            total - f64::from(n),
            Some(total),
            Some(&format!("{n} left")),
        );
    }
    Ok(format!("counted down from {from}"))
}

pier_sdk::plugin! {
    name: "calc",
    version: env!("CARGO_PKG_VERSION"),
    tools: [add, divide, countdown],
}
