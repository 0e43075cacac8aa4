//! Shared helpers of the engine benchmarks: loading generated source, planning, and
//! reading the process's peak memory.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use gig_dsl::load::{load_str, LoadOptions};
use gig_engine::model::Plan;
use gig_engine::pipeline::{self, PlanOptions, Stack};
use gig_provider::{ProviderFactory, Registry};
use gig_state::Snapshot;

/// Loads generated source as a stack; exits with the diagnostics when it does not load.
pub fn load(text: &str) -> Stack {
    match Stack::from_loaded(load_str("bench.gig", text, &LoadOptions::default())) {
        Ok(stack) => stack,
        Err((_, diagnostics)) => {
            fail_on_errors(&diagnostics);
            eprintln!("the generated stack did not load");
            std::process::exit(1);
        }
    }
}

/// Times of the planning phases.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlanTimes {
    pub graph: Duration,
    pub plan: Duration,
}

/// Plans through the engine's pipeline without refresh; exits on an error diagnostic.
pub fn plan_without_refresh(
    stack: &Stack,
    prior: &Snapshot,
    registry: &Registry,
) -> (Plan, PlanTimes) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(1)
        });
    let options = PlanOptions {
        refresh: false,
        ..PlanOptions::default()
    };
    let outcome = runtime
        .block_on(pipeline::plan_stack(stack, prior, registry, &options))
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        });
    fail_on_errors(&outcome.diagnostics);
    let Some(plan) = outcome.plan else {
        eprintln!("planning stopped at {:?}", outcome.stopped);
        std::process::exit(1);
    };
    (
        plan,
        PlanTimes {
            graph: outcome.times.graph,
            plan: outcome.times.plan,
        },
    )
}

fn fail_on_errors(diags: &[gig_core::diag::Diagnostic]) {
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        for d in errors.iter().take(5) {
            eprintln!("{}: {} {}", d.code, d.summary, d.detail);
        }
        std::process::exit(1);
    }
}

/// A registry holding one factory.
pub fn registry(factory: Arc<dyn ProviderFactory>) -> Registry {
    let mut r = Registry::new();
    r.register(factory);
    r
}

/// Peak resident memory of this process so far (VmHWM), in MB.
pub fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time this thread has run so far (from /proc/thread-self/schedstat): unlike wall
/// time it does not grow when other processes compete for the cores.
pub fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
        })
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// A small deterministic generator (64-bit LCG), so every run builds the same graph.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}
