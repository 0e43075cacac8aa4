//! Benchmark: how close apply gets to the critical path when every provider call takes
//! 50 ms.
//!
//! Run with `cargo bench -p gig-engine --bench apply_latency`. The stack is a layered
//! DAG of `test.thing` resources: L layers of W resources, each resource in layer k > 0
//! referencing 1–3 ids of layer k − 1 (at least one, so the critical path is exactly L
//! creates). With parallelism ≥ W the ideal wall time is L × 50 ms; the target is a
//! ratio ≤ 1.1 (docs/performance.md). Each shape is applied into a fresh state
//! directory, so every commit pays a real fsync.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{load, ms, plan_without_refresh, registry, Lcg};
use gig_engine::apply::{apply, ApplyOptions};
use gig_provider_test::{TestFactory, TestOptions};
use gig_state::{LockInfo, Snapshot, Store};

const LATENCY: Duration = Duration::from_millis(50);

/// L layers of W `test.thing`s; layer k > 0 references 1–3 ids of layer k − 1.
fn source(layers: usize, width: usize) -> String {
    let mut rng = Lcg(7);
    let mut s = String::new();
    for k in 0..layers {
        for i in 0..width {
            let _ = write!(
                s,
                "resource test.thing l{k}_{i} {{\n  name = \"l{k}_{i}\"\n"
            );
            if k > 0 {
                let n = 1 + rng.below(3);
                let deps: BTreeSet<usize> = (0..n).map(|_| rng.below(width)).collect();
                let refs: Vec<String> = deps
                    .iter()
                    .map(|j| format!("test.thing.l{}_{j}.id", k - 1))
                    .collect();
                let _ = writeln!(s, "  ref = [{}]", refs.join(", "));
            }
            s.push_str("}\n");
        }
    }
    s
}

/// Where the time beyond L × 50 ms went, averaged over layers: the calls' own overrun
/// (timer granularity), the spread of start times within a layer (launching), and the
/// gap from a layer's last end to the next layer's first start (commit and release).
fn overheads(calls: &[gig_provider_test::Call], t0: Instant, layers: usize) -> String {
    let layer_of = |address: &str| -> Option<usize> {
        let rest = address.strip_prefix("test.thing.l")?;
        rest.split('_').next()?.parse().ok()
    };
    let mut starts: Vec<Vec<Instant>> = vec![Vec::new(); layers];
    let mut ends: Vec<Vec<Instant>> = vec![Vec::new(); layers];
    let mut overrun = Duration::ZERO;
    for c in calls {
        if let Some(k) = layer_of(&c.address).filter(|k| *k < layers) {
            starts[k].push(c.start);
            ends[k].push(c.end);
            overrun += (c.end - c.start).saturating_sub(LATENCY);
        }
    }
    let first = |v: &Vec<Instant>| v.iter().min().copied().unwrap_or(t0);
    let last = |v: &Vec<Instant>| v.iter().max().copied().unwrap_or(t0);
    let mut spread = Duration::ZERO;
    let mut gap = Duration::ZERO;
    for k in 0..layers {
        spread += last(&starts[k]) - first(&starts[k]);
        if k + 1 < layers {
            gap += first(&starts[k + 1]).saturating_duration_since(last(&ends[k]));
        }
    }
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1000.0 / n.max(1) as f64;
    format!(
        "per layer: first start after {:.2} ms, call overrun {:.2} ms (mean), start spread {:.2} ms, last end to next start {:.2} ms",
        per(first(&starts[0]) - t0, 1),
        per(overrun, calls.len()),
        per(spread, layers),
        per(gap, layers.saturating_sub(1))
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(1)
        });
    for (layers, width) in [(10usize, 100usize), (20, 50), (50, 20)] {
        let n = layers * width;
        let config = load(&source(layers, width));
        let factory = Arc::new(TestFactory::new(TestOptions {
            latency: LATENCY,
            ..TestOptions::default()
        }));
        let reg = registry(factory.clone());
        let (plan, _) = plan_without_refresh(&config, &Snapshot::default(), &reg);
        assert_eq!(plan.summary.add, n);

        let dir = std::env::temp_dir().join(format!(
            "gig-bench-apply-latency-{n}-{layers}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, LockInfo::current("bench")).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        });
        let providers = BTreeMap::from([("test".to_string(), factory.provider())]);
        let opts = ApplyOptions {
            parallelism: width.max(32),
            stack: "bench".into(),
            ..ApplyOptions::default()
        };
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let t = Instant::now();
        let report = rt.block_on(apply(&plan, &providers, &store, &opts, rx, &|_| {}));
        let wall = t.elapsed();
        if !report.is_success() {
            eprintln!("apply failed: {:?}", report.failed.first());
            std::process::exit(1);
        }
        let ideal = LATENCY * layers as u32;
        println!(
            "{n} resources, critical path L={layers} (width {width}, parallelism {}): apply {} ms, L x 50 ms = {} ms, ratio {:.3}, max calls in flight {}",
            opts.parallelism,
            ms(wall),
            ms(ideal),
            wall.as_secs_f64() / ideal.as_secs_f64(),
            factory.log().max_in_flight()
        );
        println!("  {}", overheads(&factory.log().calls(), t, layers));
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
