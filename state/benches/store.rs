//! Measures the state store: put+flush latency, disk growth per put at 100 vs 10,000
//! records, read costs, and the latency of batch commits. Run with
//! `cargo bench -p gig-state --bench store`; the figures go to docs/performance.md and
//! docs/state.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gig_core::addr::{InstanceKey, ResourceAddr};
use gig_core::value::Value;
use gig_state::{LockInfo, ResourceRecord, Store, Write};

/// A record shaped like a subnet's: about 300 bytes of JSON.
fn record(name: &str) -> ResourceRecord {
    let addr = ResourceAddr::managed("aws.subnet", "private")
        .with_key(InstanceKey::Name(name.to_string()));
    let mut value = BTreeMap::new();
    value.insert("id".to_string(), Value::str(format!("subnet-{name}")));
    value.insert("cidr_block".to_string(), Value::str("10.0.1.0/24"));
    value.insert("availability_zone".to_string(), Value::str("us-east-1a"));
    value.insert("vpc_id".to_string(), Value::str("vpc-0123456789abcdef0"));
    value.insert("map_public_ip_on_launch".to_string(), Value::Bool(false));
    ResourceRecord {
        addr,
        provider: "aws".to_string(),
        id: format!("subnet-{name}"),
        value: Value::Map(value),
        dependencies: vec![ResourceAddr::managed("aws.vpc", "main")],
        schema_version: 0,
    }
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gig-state-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Total size of the files under `dir`.
fn du(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => total += du(&entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Puts `n` records one by one (each durable), returning their latencies.
fn put_many(store: &Store, from: usize, n: usize) -> Vec<Duration> {
    (from..from + n)
        .map(|i| {
            let r = record(&format!("{i:06}"));
            let t = Instant::now();
            store.put(&r).expect("put");
            t.elapsed()
        })
        .collect()
}

fn report(label: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let total: Duration = latencies.iter().sum();
    println!(
        "{label}: n={} mean={:.2?} p50={:.2?} p99={:.2?} max={:.2?}",
        latencies.len(),
        total / latencies.len() as u32,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
}

/// Fills a store with `existing` records, then measures disk growth over `n` more puts.
fn growth(existing: usize, n: usize) {
    let dir = scratch(&format!("growth-{existing}"));
    let store = Store::open(&dir, LockInfo::current("bench")).expect("open");
    store.begin("apply").expect("begin");
    put_many(&store, 0, existing);
    store.begin("apply").expect("begin");
    let sled_before = du(&dir.join("sled"));
    let latencies = put_many(&store, existing, n);
    let sled_after = du(&dir.join("sled"));
    report(
        &format!("put+flush with {existing} records in state"),
        latencies,
    );
    println!(
        "  disk growth over {n} puts: {} bytes ({} bytes/put); state dir now {} bytes",
        sled_after.saturating_sub(sled_before),
        sled_after.saturating_sub(sled_before) / n as u64,
        sled_after
    );
    let t = Instant::now();
    let snap = store.snapshot().expect("snapshot");
    println!(
        "  snapshot() of {} records: {:.2?}",
        snap.resources.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let old = store.snapshot_at(1).expect("snapshot_at");
    println!(
        "  snapshot_at(1) ({} records, undoing {n} deltas): {:.2?}",
        old.resources.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let h = store.history().expect("history");
    println!("  history() of {} sessions: {:.2?}", h.len(), t.elapsed());
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Commits `rounds` batches of `size` new records each (one transaction and one flush
/// per batch) into a fresh state, reporting the latency per batch.
fn batches(size: usize, rounds: usize) {
    let dir = scratch(&format!("batch-{size}"));
    let store = Store::open(&dir, LockInfo::current("bench")).expect("open");
    store.begin("apply").expect("begin");
    let latencies = (0..rounds)
        .map(|b| {
            let batch: Vec<Write> = (0..size)
                .map(|i| Write::Put(record(&format!("{:06}", b * size + i))))
                .collect();
            let t = Instant::now();
            store.commit(&batch).expect("commit");
            t.elapsed()
        })
        .collect();
    report(
        &format!("commit of a batch of {size} records (one flush)"),
        latencies,
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is ignored.
    let dir = scratch("latency");
    let store = Store::open(&dir, LockInfo::current("bench")).expect("open");
    store.begin("apply").expect("begin");
    report(
        "put+flush, 1,000 puts into a fresh state",
        put_many(&store, 0, 1_000),
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);

    growth(100, 1_000);
    growth(10_000, 1_000);
    for size in [1, 20, 100, 1_000] {
        batches(size, (20_000 / size).clamp(20, 200));
    }
}
