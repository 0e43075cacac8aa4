//! `kill -9` at a random moment of the reference stack's apply, against the AWS API
//! emulator, then a full re-apply — as a CI runner being preempted would do it. Each
//! trial starts from a fresh emulator and a fresh state. After the re-apply:
//!
//! - it exited 0 and the plan after it is empty;
//! - no address has two live objects (counting primary objects: EBS volumes and network
//!   interfaces carry their instance's tags and are not counted);
//! - every object carrying the stack's tags is in state under its address, with its id.
//!
//! 20 trials run in the suite (`GIG_KILL_TRIALS` sets another number; the figures of a
//! longer run are in docs/reliability.md). The kill moments are spread over the whole
//! apply: after the k-th progress line, plus a short delay, both varied by trial.

mod common;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::Gig;
use serde_json::Value as J;

const STACK: &str = "stacks/giggatek";

/// Every object the emulator holds with the stack's staging tags: (ARN, gig:address).
fn tagged(endpoint: &str) -> Vec<(String, String)> {
    let filters =
        r#"[{"Key":"gig:stack","Values":["giggatek"]},{"Key":"gig:env","Values":["staging"]}]"#;
    common::tagged_objects(endpoint, "us-east-1", filters)
        .into_iter()
        // Volumes and network interfaces carry the tags of the instance they belong to.
        .filter(|(arn, _)| !arn.contains(":volume/") && !arn.contains(":network-interface/"))
        .collect()
}

/// State as address → id.
fn state_ids(gig: &Gig) -> BTreeMap<String, String> {
    let export = gig
        .run(&["state", "export", STACK, "--env", "staging"])
        .expect_code(0);
    let state: J = serde_json::from_str(&export.stdout).expect("state JSON");
    state["resources"]
        .as_object()
        .expect("resources")
        .iter()
        .map(|(addr, r)| {
            (
                addr.clone(),
                r["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Runs one trial; returns a description of what went wrong, if anything.
async fn trial(n: u32) -> Result<(), String> {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let mut child = gig
        .command(
            &common::repo(),
            &["apply", STACK, "--env", "staging", "--auto-approve"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gig apply");
    // The kill moment: after the k-th progress line (1..=60), then 0-150 ms more.
    let k = 1 + (n * 37 + 11) % 60;
    let extra = Duration::from_millis(u64::from(n % 4) * 50);
    let stdout = child.stdout.take().expect("piped stdout");
    let lines = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.contains(": creat"))
        .take(k as usize)
        .count();
    std::thread::sleep(extra);
    let _ = child.kill();
    let status = child.wait().expect("reap");
    let killed = !status.success();

    let again = gig.run(&["apply", STACK, "--env", "staging", "--auto-approve"]);
    if again.code != 0 {
        return Err(format!(
            "trial {n} (killed after {lines} lines + {extra:?}, killed: {killed}): the re-apply \
             exited {}: {}",
            again.code,
            again.all()
        ));
    }
    let plan = gig.run(&["plan", STACK, "--env", "staging", "--detailed-exitcode"]);
    if plan.code != 0 {
        return Err(format!(
            "trial {n}: the plan after the re-apply is not empty: {}",
            plan.all()
        ));
    }
    let objects = tagged(&emu.endpoint);
    let mut per_address: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (arn, address) in &objects {
        per_address.entry(address).or_default().push(arn);
    }
    let twice: Vec<_> = per_address
        .iter()
        .filter(|(_, arns)| arns.len() > 1)
        .collect();
    if !twice.is_empty() {
        let recovered: Vec<&str> = again
            .stdout
            .lines()
            .take_while(|l| !l.trim().is_empty() || l.is_empty())
            .take(40)
            .collect();
        return Err(format!(
            "trial {n} (killed after {lines} lines + {extra:?}): addresses with two objects: \
             {twice:#?}\nthe re-apply began:\n{}",
            recovered.join("\n")
        ));
    }
    let state = state_ids(&gig);
    let missing: BTreeSet<_> = objects
        .iter()
        .filter(|(arn, address)| {
            state
                .get(address)
                .is_none_or(|id| !arn.contains(id.trim_start_matches('/')))
        })
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "trial {n}: live objects not in state: {missing:#?}"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_never_duplicates_or_loses_an_object() {
    let trials: u32 = std::env::var("GIG_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut failures = Vec::new();
    for n in 0..trials {
        if let Err(e) = trial(n).await {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {trials} trials failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
