//! Trials like the kill trials (`kill_trials.rs`), for the other ways an apply of the
//! reference stack is cut short: SIGTERM (CI cancellation, `timeout`, `systemctl
//! stop`), a second SIGINT while calls are in flight, and an endpoint that stops
//! answering mid-apply (after the requests got through). Each trial starts from a fresh
//! emulator and state, disturbs the apply at a moment spread over the whole apply, then
//! re-applies and checks what the kill trials check: the re-apply exits 0, the plan
//! after it is empty, no address has two live objects, every live object is in state.
//!
//! Few trials run in the suite; `GIG_SIGTERM_TRIALS`, `GIG_SIGINT_TRIALS` and
//! `GIG_HANG_TRIALS` set other numbers (figures in docs/reliability.md).

mod common;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::proxy::{Faults, Proxy};
use common::trials::{self, STACK};
use common::Gig;

/// Sends `signal` to the process `pid`.
fn send(pid: u32, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits");
    // SAFETY: kill(2) on a child this test started; no memory is shared.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
}

/// Starts the apply of `stack` and returns once it printed its `k`-th create line (or
/// ended), with the lines seen.
fn start_and_wait_for(gig: &Gig, stack: &str, k: usize) -> (Child, usize) {
    start_logged(gig, stack, k, Stdio::null())
}

/// [`start_and_wait_for`] with gig's standard error (and debug log) going to `stderr`.
fn start_logged(gig: &Gig, stack: &str, k: usize, stderr: Stdio) -> (Child, usize) {
    let mut child = gig
        .command(&common::repo(), &trials::apply(stack))
        .env("GIG_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start gig apply");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut reader = BufReader::new(stdout).lines();
    let lines = reader
        .by_ref()
        .map_while(Result::ok)
        .filter(|l| l.contains(": creat"))
        .take(k)
        .count();
    // gig goes on printing while it winds down: keep reading, so it never writes to a
    // closed pipe.
    std::thread::spawn(move || reader.map_while(Result::ok).for_each(drop));
    (child, lines)
}

/// Waits for `child` to exit, at most `limit`; its exit code (`None` on timeout, after
/// killing it).
fn wait(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status.code().unwrap_or(-1));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The re-apply and the end-state checks of every trial.
fn reapply_and_check(gig: &Gig, stack: &str, emulator: &str, what: &str) -> Result<(), String> {
    let again = gig.run(&trials::apply(stack));
    if again.code != 0 {
        return Err(format!(
            "{what}: the re-apply exited {}: {}",
            again.code,
            again.all()
        ));
    }
    trials::converged(gig, stack, emulator, what).map(drop)
}

/// The moment of trial `n`: after the k-th create line, plus a short delay.
fn moment(n: u32) -> (usize, Duration) {
    let k = 1 + (n * 37 + 11) % 45;
    (k as usize, Duration::from_millis(u64::from(n % 4) * 50))
}

/// SIGTERM: gig starts nothing new, lets calls in flight finish and records them, and
/// exits 130.
async fn sigterm_trial(n: u32) -> Result<(), String> {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let (k, extra) = moment(n);
    let (mut child, lines) = start_and_wait_for(&gig, STACK, k);
    std::thread::sleep(extra);
    let what = format!("SIGTERM trial {n} (after {lines} lines + {extra:?})");
    if child.try_wait().expect("try_wait").is_none() {
        send(child.id(), libc::SIGTERM);
    }
    match wait(&mut child, Duration::from_secs(60)) {
        Some(0 | 130) => {}
        Some(code) => return Err(format!("{what}: gig exited {code} after SIGTERM")),
        None => return Err(format!("{what}: gig did not exit within 60 s of SIGTERM")),
    }
    reapply_and_check(&gig, STACK, &emu.endpoint, &what)
}

/// A second SIGINT while calls are in flight (slowed by the proxy): gig stops waiting
/// at once, leaving the creates in flight as intents, and exits 130 within seconds.
async fn second_sigint_trial(n: u32) -> Result<(), String> {
    let emu = support::Emu::start().await;
    let proxy = Proxy::start(
        &emu.endpoint,
        Faults {
            latency: Duration::from_millis(400),
            ..Faults::default()
        },
    );
    let gig = Gig::new().with_endpoint(&proxy.endpoint);
    let (k, extra) = moment(n);
    let (mut child, lines) = start_and_wait_for(&gig, STACK, k.min(20));
    std::thread::sleep(extra);
    let what = format!("second-SIGINT trial {n} (after {lines} lines + {extra:?})");
    if child.try_wait().expect("try_wait").is_none() {
        send(child.id(), libc::SIGINT);
        std::thread::sleep(Duration::from_millis(100));
        if child.try_wait().expect("try_wait").is_none() {
            send(child.id(), libc::SIGINT);
        }
    }
    match wait(&mut child, Duration::from_secs(5)) {
        Some(0 | 130) => {}
        Some(code) => return Err(format!("{what}: gig exited {code} after two SIGINTs")),
        None => {
            return Err(format!(
                "{what}: gig did not exit within 5 s of two SIGINTs"
            ))
        }
    }
    reapply_and_check(&gig, STACK, &emu.endpoint, &what)
}

/// How long gig may take to give up on a hung endpoint with the trial's settings (one
/// call at most 2 s, two SDK attempts, five engine attempts with backoff, and the waits
/// of resource types for their objects to become ready).
const HANG_LIMIT: Duration = Duration::from_secs(120);

/// The endpoint stops answering mid-apply (requests still reach the emulator): gig
/// fails in bounded time; once the path is back, the re-apply converges.
async fn hung_endpoint_trial(n: u32) -> Result<(), String> {
    let emu = support::Emu::start().await;
    let proxy = Proxy::start(&emu.endpoint, Faults::default());
    let gig = Gig::new().with_endpoint(&proxy.endpoint);
    let copy = trials::copy_with_provider_settings(
        "  read_timeout      = \"1s\"\n  operation_timeout = \"2s\"\n  max_attempts      = 2",
    );
    let stack = copy.path().join("giggatek");
    let stack = stack.to_str().expect("a UTF-8 path");
    let (k, extra) = moment(n);
    let log_path = copy.path().join("gig.log");
    let log = std::fs::File::create(&log_path).expect("a log file");
    let (mut child, lines) = start_logged(&gig, stack, k, Stdio::from(log));
    std::thread::sleep(extra);
    proxy.set_hang(true);
    let hung = Instant::now();
    let what = format!("hung-endpoint trial {n} (after {lines} lines + {extra:?})");
    match wait(&mut child, HANG_LIMIT) {
        Some(_) => eprintln!("{what}: gig exited {:?} after the hang", hung.elapsed()),
        None => {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            return Err(format!(
                "{what}: gig did not exit within {HANG_LIMIT:?} of the hang; its log ended:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
    }
    proxy.set_hang(false);
    reapply_and_check(&gig, stack, &emu.endpoint, &what)
}

/// Runs `trials` trials of `one`; fails naming every failed trial.
async fn run<F, Fut>(name: &str, trials: u32, one: F)
where
    F: Fn(u32) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let mut failures = Vec::new();
    for n in 0..trials {
        if let Err(e) = one(n).await {
            failures.push(e);
        }
    }
    eprintln!(
        "{name}: {trials} trials, {} failed, {:?}",
        failures.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {trials} {name} trials failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_at_random_moments_never_duplicates_or_loses_an_object() {
    run(
        "SIGTERM",
        trials::count("GIG_SIGTERM_TRIALS", 3),
        sigterm_trial,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigint_during_calls_never_duplicates_or_loses_an_object() {
    run(
        "second SIGINT",
        trials::count("GIG_SIGINT_TRIALS", 3),
        second_sigint_trial,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_hung_mid_apply_never_duplicates_or_loses_an_object() {
    run(
        "hung endpoint",
        trials::count("GIG_HANG_TRIALS", 2),
        hung_endpoint_trial,
    )
    .await;
}
