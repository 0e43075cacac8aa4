//! Benchmark: N `random.id` resources, each keyed (through `keepers`) to 1–3 earlier
//! ones; apply from empty state, then plan with refresh off and nothing to change.
//!
//! Run with `cargo bench -p gig-engine --bench apply_random`. For each size (1,000 and
//! 10,000) the binary runs itself twice in child processes — once to apply into a fresh
//! state directory, once to plan against that state — so each phase's peak memory
//! (VmHWM) is its own. Targets (docs/performance.md): apply of 10,000 ≤ 5 s with every
//! commit durable before dependents start; the no-change plan ≤ 0.5 s and ≤ 300 MB;
//! 1k → 10k scaling ≤ 12×.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use common::{load, ms, peak_rss_mb, plan_without_refresh, registry, thread_cpu, Lcg};
use gig_engine::apply::{apply, ApplyOptions};
use gig_provider::ProviderFactory as _;
use gig_provider_random::RandomFactory;
use gig_state::{LockInfo, Store};

/// The stack: `r0` alone, then every `r{i}` keyed to 1–3 distinct earlier ids.
fn source(n: usize) -> String {
    let mut rng = Lcg(42);
    let mut s = String::with_capacity(n * 120);
    for i in 0..n {
        let _ = write!(s, "resource random.id r{i} {{\n  byte_length = 8\n");
        if i > 0 {
            let k = 1 + rng.below(3);
            let deps: BTreeSet<usize> = (0..k).map(|_| rng.below(i)).collect();
            let entries: Vec<String> = deps
                .iter()
                .map(|j| format!("k{j} = random.id.r{j}.id"))
                .collect();
            let _ = writeln!(s, "  keepers = {{ {} }}", entries.join(", "));
        }
        s.push_str("}\n");
    }
    s
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.as_slice() {
        [phase, n, dir] if phase == "apply" => apply_phase(parse(n), Path::new(dir)),
        [phase, n, dir] if phase == "plan" => plan_phase(parse(n), Path::new(dir)),
        _ => orchestrate(),
    }
}

fn parse(n: &str) -> usize {
    n.parse().unwrap_or_else(|_| {
        eprintln!("not a size: {n}");
        std::process::exit(2)
    })
}

/// `RESULT key=value …` figures printed by a phase.
type Figures = BTreeMap<String, f64>;

fn orchestrate() {
    let exe = std::env::current_exe().unwrap_or_else(|e| {
        eprintln!("cannot find the bench binary: {e}");
        std::process::exit(1)
    });
    let mut results: BTreeMap<usize, (Figures, Figures)> = BTreeMap::new();
    for n in [1_000usize, 10_000] {
        let dir =
            std::env::temp_dir().join(format!("gig-bench-apply-random-{n}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let run = |phase: &str| -> Figures {
            let out = Command::new(&exe)
                .args([phase, &n.to_string(), &dir.to_string_lossy()])
                .output();
            let out = out.unwrap_or_else(|e| {
                eprintln!("cannot run the {phase} phase: {e}");
                std::process::exit(1)
            });
            let text = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                eprintln!(
                    "{phase} phase failed:\n{text}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                std::process::exit(1);
            }
            print!("{text}");
            text.lines()
                .filter_map(|l| l.strip_prefix("RESULT "))
                .flat_map(|l| l.split_whitespace())
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| v.parse().ok().map(|v| (k.to_string(), v)))
                .collect()
        };
        let a = run("apply");
        let p = run("plan");
        let _ = std::fs::remove_dir_all(&dir);
        results.insert(n, (a, p));
    }
    let get = |n: usize, apply: bool, k: &str| {
        results
            .get(&n)
            .and_then(|(a, p)| if apply { a.get(k) } else { p.get(k) })
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!();
    println!(
        "scaling 1k -> 10k: apply {:.1}x, plan total {:.1}x (CPU {:.1}x), planner only {:.1}x",
        get(10_000, true, "apply_ms") / get(1_000, true, "apply_ms"),
        get(10_000, false, "total_ms") / get(1_000, false, "total_ms"),
        get(10_000, false, "cpu_ms") / get(1_000, false, "cpu_ms"),
        get(10_000, false, "plan_ms") / get(1_000, false, "plan_ms")
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(1)
        })
}

fn apply_phase(n: usize, dir: &Path) {
    let text = source(n);
    let t = Instant::now();
    let config = load(&text);
    let load_time = t.elapsed();
    let store = Store::open(dir, LockInfo::current("bench apply")).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let prior = store.snapshot().unwrap_or_default();
    let factory = Arc::new(RandomFactory::new());
    let reg = registry(factory.clone());
    let (plan, times) = plan_without_refresh(&config, &prior, &reg);
    assert_eq!(plan.summary.add, n, "every resource is created");

    let rt = runtime();
    let random = rt
        .block_on(factory.configure(&gig_core::value::Value::Null))
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        });
    let providers = BTreeMap::from([("random".to_string(), random)]);
    let opts = ApplyOptions {
        stack: "bench".into(),
        ..ApplyOptions::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let t = Instant::now();
    let report = rt.block_on(apply(&plan, &providers, &store, &opts, rx, &|_| {}));
    let apply_time = t.elapsed();
    if !report.is_success() {
        eprintln!("apply failed: {:?}", report.failed.first());
        std::process::exit(1);
    }
    let stored = store.snapshot().map(|s| s.resources.len()).unwrap_or(0);
    assert_eq!(stored, n, "every resource is in state");
    println!(
        "apply n={n}: load {} ms, graph {} ms, plan {} ms, apply {} ms ({:.0} resources/s), peak RSS {:.0} MB",
        ms(load_time),
        ms(times.graph),
        ms(times.plan),
        ms(apply_time),
        n as f64 / apply_time.as_secs_f64(),
        peak_rss_mb()
    );
    println!(
        "RESULT apply_ms={} rss_mb={:.0}",
        ms(apply_time),
        peak_rss_mb()
    );
}

fn plan_phase(n: usize, dir: &Path) {
    let text = source(n);
    let cpu_start = thread_cpu();
    let start = Instant::now();
    let store = Store::open(dir, LockInfo::current("bench plan")).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let prior = store.snapshot().unwrap_or_default();
    let snapshot_time = start.elapsed();
    let t = Instant::now();
    let config = load(&text);
    let load_time = t.elapsed();
    let reg = registry(Arc::new(RandomFactory::new()));
    let (plan, times) = plan_without_refresh(&config, &prior, &reg);
    let total = start.elapsed();
    let cpu = thread_cpu().saturating_sub(cpu_start);
    assert!(
        !plan.summary.has_changes(),
        "nothing to change: {:?}",
        plan.summary
    );
    println!(
        "plan n={n} (refresh off, no changes): state read {} ms, load {} ms, graph {} ms, plan {} ms, total {} ms (CPU {} ms), peak RSS {:.0} MB",
        ms(snapshot_time),
        ms(load_time),
        ms(times.graph),
        ms(times.plan),
        ms(total),
        ms(cpu),
        peak_rss_mb()
    );
    println!(
        "RESULT total_ms={} cpu_ms={} plan_ms={} rss_mb={:.0}",
        ms(total),
        ms(cpu),
        ms(times.plan),
        peak_rss_mb()
    );
}
