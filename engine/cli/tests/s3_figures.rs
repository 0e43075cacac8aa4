//! S3 request and byte figures for docs/performance.md, measured through the binary
//! against the emulator from gig's own debug log (`GIG_LOG=gig_state_s3=debug
//! --log-format json`: one `S3 call` event per request with the bytes of a `PUT`, and a
//! `state closed` event with the backend's totals). Prints the figures and checks the
//! properties behind them: one journal `PUT` per commit round, and a plan against an
//! unchanged state that costs a fixed, small number of requests and bytes (the local
//! copy of `state.json`). Run with
//! `GIG_MOTO_SERVER=$PWD/.venv/bin/moto_server cargo test -p gig-cli --test s3_figures -- --nocapture`.

mod common;
mod s3_support;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use std::path::Path;

use common::Gig;
use support::Emu;

const BUCKET: &str = "gig-figures";

/// What one run of gig did on S3.
#[derive(Debug, Default)]
struct S3Cost {
    requests: u64,
    bytes: u64,
    journal_puts: u64,
    journal_bytes: u64,
    state_puts: u64,
}

/// The S3 cost of `gig ARGS…` in `dir`, from its JSON debug log.
fn measure(gig: &Gig, dir: &Path, args: &[&str]) -> S3Cost {
    let mut all = vec!["--log-format", "json"];
    all.extend_from_slice(args);
    let out = gig
        .command(dir, &all)
        .env("GIG_LOG", "gig_state_s3=debug")
        .output()
        .expect("run gig");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cost = S3Cost::default();
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let fields = event.get("fields").unwrap_or(&event);
        let number = |name: &str| fields.get(name).and_then(serde_json::Value::as_u64);
        match fields.get("message").and_then(serde_json::Value::as_str) {
            Some("S3 call") => {
                let key = fields.get("key").and_then(|k| k.as_str()).unwrap_or("");
                let is_put = fields.get("verb").and_then(|v| v.as_str()) == Some("PUT");
                if is_put && key.contains("/journal/") {
                    cost.journal_puts += 1;
                    cost.journal_bytes += number("bytes").unwrap_or(0);
                }
                if is_put && key.ends_with("/state.json") {
                    cost.state_puts += 1;
                }
            }
            Some("state closed") => {
                cost.requests += number("requests").unwrap_or(0);
                cost.bytes += number("bytes").unwrap_or(0);
            }
            _ => {}
        }
    }
    assert!(cost.requests > 0, "no state closed event for {args:?}");
    cost
}

async fn start() -> Emu {
    let emu = Emu::start().await;
    s3_support::bucket(&emu.endpoint, BUCKET).await;
    emu
}

fn report(name: &str, apply: &S3Cost, plan: &S3Cost, resources: usize) {
    println!(
        "{name}: {resources} resources; apply: {} requests, {} bytes, {} commit rounds \
         (journal PUTs) of {} bytes on average, {} state.json writes; \
         unchanged plan: {} requests, {} bytes",
        apply.requests,
        apply.bytes,
        apply.journal_puts,
        apply.journal_bytes / apply.journal_puts.max(1),
        apply.state_puts,
        plan.requests,
        plan.bytes
    );
}

/// The properties behind the figures: a round is one small PUT (well under the state's
/// size), and a plan of the unchanged state reads a fixed handful of requests and no
/// copy of `state.json`.
fn check(apply: &S3Cost, plan: &S3Cost, resources: usize) {
    assert!(apply.journal_puts > 0);
    let state_bytes = apply.bytes - apply.journal_bytes;
    assert!(
        apply.journal_bytes / apply.journal_puts < state_bytes.max(1),
        "a round writes less than the state: {apply:?}"
    );
    assert!(plan.requests <= 8, "plan requests: {plan:?}");
    assert!(
        (plan.bytes as usize) < 4_096 + resources,
        "an unchanged state.json is not downloaded: {plan:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_cost_of_the_giggatek_apply_and_an_unchanged_plan() {
    let emu = start().await;
    let gig = Gig::new()
        .with_endpoint(&emu.endpoint)
        .env("AWS_REGION", support::REGION)
        .env("GIG_STATE", &format!("s3://{BUCKET}/giggatek"));
    let repo = common::repo();
    let apply = measure(
        &gig,
        &repo,
        &[
            "apply",
            "stacks/giggatek",
            "--env",
            "staging",
            "--auto-approve",
        ],
    );
    let plan = measure(
        &gig,
        &repo,
        &[
            "plan",
            "stacks/giggatek",
            "--env",
            "staging",
            "--refresh=false",
        ],
    );
    report("giggatek staging", &apply, &plan, 38);
    check(&apply, &plan, 38);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_cost_of_a_1000_resource_apply_and_an_unchanged_plan() {
    let emu = start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let src: String = (0..1000)
        .map(|i| format!("resource random.id r{i:04} {{\n  byte_length = 8\n}}\n"))
        .collect();
    std::fs::write(dir.path().join("main.gig"), src).expect("main.gig");
    let gig = Gig::new()
        .with_endpoint(&emu.endpoint)
        .env("AWS_REGION", support::REGION)
        .env("GIG_STATE", &format!("s3://{BUCKET}/thousand"));
    let apply = measure(&gig, dir.path(), &["apply", ".", "--auto-approve"]);
    let plan = measure(&gig, dir.path(), &["plan", "."]);
    report("1,000 random.id", &apply, &plan, 1000);
    check(&apply, &plan, 1000);
}
