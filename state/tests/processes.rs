//! Behaviour across real processes: the lock refuses a second process and names the
//! holder, a killed holder blocks no one, and every acknowledged `put` survives kill -9.
//!
//! Each test re-executes this test binary (`current_exe`) running only itself, with
//! `GIG_STATE_CHILD` naming the child's role; the same test function then plays the
//! child instead of the parent.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{open, record, subnet, Scratch};
use gig_state::{LockInfo, StateError, Store, Write as StateWrite};

const ROLE: &str = "GIG_STATE_CHILD";
const DIR: &str = "GIG_STATE_CHILD_DIR";
const HOLDER_COMMAND: &str = "gig apply stacks/giggatek";

/// The child role this process was started for, if any.
fn child_role() -> Option<(String, PathBuf)> {
    let role = std::env::var(ROLE).ok()?;
    let dir = std::env::var_os(DIR)?;
    Some((role, PathBuf::from(dir)))
}

/// Starts this test binary running only `test`, as child `role` on state `dir`.
fn spawn_child(test: &str, role: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE, role)
        .env(DIR, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Writes one line to the real stdout (not the test harness's capture) and flushes it.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

/// Reads lines until one equals `want`; fails if the child's stdout ends first.
fn wait_for_line(lines: &mut impl Iterator<Item = std::io::Result<String>>, want: &str) {
    for line in lines.by_ref() {
        if line.unwrap() == want {
            return;
        }
    }
    panic!("child ended before printing {want}");
}

/// Child role `hold`: takes the lock, says READY, holds it until stdin closes.
fn hold(dir: &Path) {
    let store = Store::open(dir, LockInfo::current(HOLDER_COMMAND)).unwrap();
    say("READY");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(store);
}

fn lines_of(child: &mut Child) -> std::io::Lines<BufReader<ChildStdout>> {
    BufReader::new(child.stdout.take().unwrap()).lines()
}

#[test]
fn a_second_process_is_refused_at_once_with_the_holder_named() {
    if let Some((_, dir)) = child_role() {
        return hold(&dir);
    }
    let scratch = Scratch::new("lock-procs");
    let dir = scratch.state();
    let mut child = spawn_child(
        "a_second_process_is_refused_at_once_with_the_holder_named",
        "hold",
        &dir,
    );
    let mut lines = lines_of(&mut child);
    wait_for_line(&mut lines, "READY");

    let started = Instant::now();
    let refused = Store::open(&dir, LockInfo::current("gig plan"));
    let waited = started.elapsed();
    match refused {
        Err(err @ StateError::Locked { .. }) => {
            let StateError::Locked { path, holder, .. } = &err else {
                unreachable!()
            };
            assert_eq!(path, &dir);
            assert_eq!(holder.pid, child.id());
            assert_eq!(holder.command, HOLDER_COMMAND);
            assert_eq!(holder.since.len(), 20, "{}", holder.since);
            let message = err.to_string();
            assert!(
                message.contains(&format!("pid {}", child.id())),
                "{message}"
            );
            assert!(message.contains(HOLDER_COMMAND), "{message}");
        }
        Ok(_) => panic!("opened a state another process holds"),
        Err(other) => panic!("expected Locked, got {other}"),
    }
    // "At once": no waiting for the holder. The bound is generous; a wait would be endless.
    assert!(waited < Duration::from_secs(5), "refusal took {waited:?}");

    // Closing the child's stdin lets it drop the store and exit; then the state is free.
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert!(
        !dir.join("lock.json").exists(),
        "the holder removed its record"
    );
    let store = open(&dir);
    assert_eq!(store.serial().unwrap(), 0);
}

#[test]
fn a_holder_killed_with_sigkill_leaves_a_record_that_blocks_no_one() {
    if let Some((_, dir)) = child_role() {
        return hold(&dir);
    }
    let scratch = Scratch::new("lock-killed");
    let dir = scratch.state();
    let mut child = spawn_child(
        "a_holder_killed_with_sigkill_leaves_a_record_that_blocks_no_one",
        "hold",
        &dir,
    );
    let mut lines = lines_of(&mut child);
    wait_for_line(&mut lines, "READY");
    child.kill().unwrap(); // SIGKILL on Unix
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    assert!(
        dir.join("lock.json").exists(),
        "a killed holder cannot remove its record"
    );

    let store = Store::open(&dir, LockInfo::current("gig plan")).unwrap();
    let record: LockInfo =
        serde_json::from_slice(&std::fs::read(dir.join("lock.json")).unwrap()).unwrap();
    assert_eq!(
        record.pid,
        std::process::id(),
        "the new holder's record replaces the stale one"
    );
    drop(store);
}

/// Child role `write`: one session, then records one by one, acknowledging each on
/// stdout after `put` returns, until killed.
fn write_until_killed(dir: &Path) {
    let store = Store::open(dir, LockInfo::current("gig apply")).unwrap();
    store.begin("apply").unwrap();
    for i in 0..1_000_000 {
        let name = format!("{i:07}");
        store
            .put(&record(&subnet(&name), &format!("subnet-{name}")))
            .unwrap();
        say(&format!("ACK {name}"));
    }
}

#[test]
fn every_acknowledged_put_survives_kill_9() {
    if let Some((_, dir)) = child_role() {
        return write_until_killed(&dir);
    }
    let scratch = Scratch::new("kill9");
    let dir = scratch.state();
    let mut child = spawn_child("every_acknowledged_put_survives_kill_9", "write", &dir);
    let mut acked: Vec<String> = Vec::new();
    let mut killed = false;
    for line in lines_of(&mut child) {
        let line = line.unwrap();
        if let Some(name) = line.strip_prefix("ACK ") {
            acked.push(name.to_string());
        }
        if acked.len() == 200 && !killed {
            child.kill().unwrap(); // SIGKILL, mid-way through the writes
            killed = true;
        }
    }
    // Lines read after the kill were printed before the child died: acknowledged too.
    assert_eq!(
        child.wait().unwrap().signal(),
        Some(9),
        "the child was killed, not finished"
    );
    assert!(acked.len() >= 200);

    let store = open(&dir);
    assert_eq!(store.serial().unwrap(), 1);
    let snapshot = store.snapshot().unwrap();
    for name in &acked {
        let want = record(&subnet(name), &format!("subnet-{name}"));
        assert_eq!(
            snapshot.resources.get(&want.addr),
            Some(&want),
            "acknowledged {name}"
        );
    }
    // At most one put can have committed without its acknowledgement being printed.
    let extra = snapshot.resources.len() - acked.len();
    assert!(extra <= 1, "{extra} unacknowledged records");
    let history = store.history().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].operation, "apply");
    assert_eq!(history[0].changed.len(), snapshot.resources.len());
    assert_eq!(store.snapshot_at(1).unwrap(), snapshot);
    // The state takes new writes after the crash.
    assert_eq!(store.begin("apply").unwrap(), 2);
    store
        .put(&record(&subnet("after"), "subnet-after"))
        .unwrap();
}

/// Records per batch written by the child role `batches`.
const BATCH: usize = 10;

/// Child role `batches`: one session, then batches of [`BATCH`] records, acknowledging
/// each batch on stdout after `commit` returns, until killed.
fn write_batches_until_killed(dir: &Path) {
    let store = Store::open(dir, LockInfo::current("gig apply")).unwrap();
    store.begin("apply").unwrap();
    for b in 0..100_000 {
        let batch: Vec<StateWrite> = (0..BATCH)
            .map(|i| {
                let name = format!("{b:06}-{i}");
                StateWrite::Put(record(&subnet(&name), &format!("subnet-{name}")))
            })
            .collect();
        store.commit(&batch).unwrap();
        say(&format!("ACK {b:06}"));
    }
}

#[test]
fn every_acknowledged_batch_survives_kill_9_whole() {
    if let Some((_, dir)) = child_role() {
        return write_batches_until_killed(&dir);
    }
    let scratch = Scratch::new("kill9-batch");
    let dir = scratch.state();
    let mut child = spawn_child(
        "every_acknowledged_batch_survives_kill_9_whole",
        "batches",
        &dir,
    );
    let mut acked: Vec<String> = Vec::new();
    let mut killed = false;
    for line in lines_of(&mut child) {
        let line = line.unwrap();
        if let Some(b) = line.strip_prefix("ACK ") {
            acked.push(b.to_string());
        }
        if acked.len() == 50 && !killed {
            child.kill().unwrap(); // SIGKILL, mid-way through the batches
            killed = true;
        }
    }
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    assert!(acked.len() >= 50);

    let store = open(&dir);
    let snapshot = store.snapshot().unwrap();
    for b in &acked {
        for i in 0..BATCH {
            let name = format!("{b}-{i}");
            let want = record(&subnet(&name), &format!("subnet-{name}"));
            assert_eq!(
                snapshot.resources.get(&want.addr),
                Some(&want),
                "acknowledged {name}"
            );
        }
    }
    // Batches land whole: at most one unacknowledged batch, never part of one.
    let extra = snapshot.resources.len() - acked.len() * BATCH;
    assert!(
        extra == 0 || extra == BATCH,
        "{extra} unacknowledged records"
    );
    let history = store.history().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].changed.len(), snapshot.resources.len());
    assert_eq!(store.snapshot_at(1).unwrap(), snapshot);
    assert_eq!(store.snapshot_at(0).unwrap().resources.len(), 0);
}
