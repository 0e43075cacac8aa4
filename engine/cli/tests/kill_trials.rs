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

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::trials::{self, STACK};
use common::Gig;

/// Runs one trial; returns a description of what went wrong, if anything.
async fn trial(n: u32) -> Result<(), String> {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let mut child = gig
        .command(&common::repo(), &trials::apply(STACK))
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

    let again = gig.run(&trials::apply(STACK));
    if again.code != 0 {
        return Err(format!(
            "trial {n} (killed after {lines} lines + {extra:?}, killed: {killed}): the re-apply \
             exited {}: {}",
            again.code,
            again.all()
        ));
    }
    let what = format!("trial {n} (killed after {lines} lines + {extra:?})");
    trials::converged(&gig, STACK, &emu.endpoint, &what).map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_never_duplicates_or_loses_an_object() {
    let trials = trials::count("GIG_KILL_TRIALS", 20);
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
