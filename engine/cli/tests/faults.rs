//! The reference stack's staging apply through a fault-injecting proxy in front of the
//! AWS API emulator (see `common/proxy.rs`): throttling in each protocol's shape,
//! connection resets, added latency, and answers dropped after the emulator processed
//! the request. Re-applies are allowed, as a user would run them; the end state must be
//! the one a fault-free run reaches, with no address holding two objects.

mod common;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use common::proxy::{Faults, Proxy};
use common::trials::{self, EndState, STACK};
use common::Gig;

/// Applies `stack` until an apply exits 0 (at most `tries` times); returns how many it
/// took, or the last failure.
fn apply_until_done(gig: &Gig, stack: &str, tries: u32) -> Result<u32, String> {
    let mut last = String::new();
    for n in 1..=tries {
        let run = gig.run(&trials::apply(stack));
        if run.code == 0 {
            return Ok(n);
        }
        last = run.all();
    }
    Err(format!(
        "{tries} applies did not finish; the last said:\n{last}"
    ))
}

/// Checks `got` against `expected`, naming the addresses that differ.
fn assert_same(got: &EndState, expected: &EndState) {
    let diff = |a: &BTreeSet<String>, b: &BTreeSet<String>| {
        (
            a.difference(b).cloned().collect::<Vec<_>>(),
            b.difference(a).cloned().collect::<Vec<_>>(),
        )
    };
    assert!(
        got == expected,
        "recorded (extra, missing): {:?}; live (extra, missing): {:?}",
        diff(&got.recorded, &expected.recorded),
        diff(&got.live, &expected.live)
    );
}

/// The end state of a fault-free apply of the reference stack.
async fn fault_free() -> EndState {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    gig.run(&trials::apply(STACK)).expect_code(0);
    trials::converged(&gig, STACK, &emu.endpoint, "the fault-free run")
        .expect("a fault-free run converges")
}

/// Applies `stack` through a proxy with `faults`, then checks the end state against the
/// emulator itself (not through the proxy).
async fn faulted(stack: &str, faults: Faults) -> Result<EndState, String> {
    let emu = support::Emu::start().await;
    let proxy = Proxy::start(&emu.endpoint, faults);
    let gig = Gig::new().with_endpoint(&proxy.endpoint);
    let applies = apply_until_done(&gig, stack, 8)?;
    let state = trials::converged(&gig, stack, &emu.endpoint, "the faulted run")?;
    eprintln!("converged after {applies} applies; {}", proxy.summary());
    Ok(state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_faults_converge_to_the_fault_free_end_state() {
    let expected = fault_free().await;
    let faults = Faults {
        throttle: 0.08,
        reset: 0.07,
        drop_answer: 0.05,
        latency: Duration::from_millis(20),
        seed: 20,
        ..Faults::default()
    };
    let got = faulted(STACK, faults)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_same(&got, &expected);
}

/// Every create's answer has a one-in-four chance of being lost after the emulator made
/// the object: the SDK does not send the create again (it cannot know the first one was
/// processed), apply looks the object up and adopts it, and nothing is made twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_dropped_after_creates_make_no_duplicates() {
    let expected = fault_free().await;
    let faults = Faults {
        drop_answer: 0.25,
        drop_creates_only: true,
        seed: 25,
        ..Faults::default()
    };
    let got = faulted(STACK, faults)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_same(&got, &expected);
}
