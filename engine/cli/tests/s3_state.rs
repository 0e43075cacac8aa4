//! The S3 state backend against the AWS emulator: lease locks (races, waiting, fencing a
//! holder whose lease expired), concurrent `gig apply` runs from separate checkouts
//! sharing one state, the `gig state` commands on S3, and the number of requests a read
//! costs.

mod common;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use common::Gig;
use gig_core::addr::ResourceAddr;
use gig_core::value::Value;
use gig_state::{LockInfo, ResourceRecord, StateBackend, StateError};
use gig_state_s3::{AwsOptions, S3Backend, S3Location, S3Options};
use support::Emu;

const BUCKET: &str = "gig-shared-state";

/// Creates the bucket on the emulator (`PUT /bucket`; the emulator accepts any
/// signature).
fn create_bucket(endpoint: &str) {
    let port: u16 = endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let req = format!(
        "PUT /{BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the emulator");
    s.write_all(req.as_bytes()).expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    assert!(
        resp.starts_with("HTTP/1.1 200"),
        "creating the bucket: {resp}"
    );
}

fn options(emu: &Emu, lease: Duration) -> S3Options {
    S3Options {
        aws: AwsOptions {
            region: Some(support::REGION.to_string()),
            endpoint: Some(emu.endpoint.clone()),
            profile: None,
            static_credentials: Some(("testing".to_string(), "testing".to_string())),
        },
        lease,
        keys: gig_state::crypt::Keys::none(),
        cache_dir: None,
    }
}

fn location(name: &str) -> S3Location {
    S3Location::parse(&format!("s3://{BUCKET}/lib/{name}")).expect("location")
}

fn record(name: &str) -> ResourceRecord {
    let addr = ResourceAddr::parse(&format!("random.id.{name}")).expect("address");
    let mut value = BTreeMap::new();
    value.insert("id".to_string(), Value::str(format!("id-{name}")));
    ResourceRecord {
        addr,
        provider: "random".to_string(),
        id: format!("id-{name}"),
        value: Value::Map(value),
        dependencies: Vec::new(),
        schema_version: 0,
    }
}

fn names(backend: &dyn StateBackend) -> Vec<String> {
    backend
        .snapshot()
        .expect("snapshot")
        .resources
        .keys()
        .map(ToString::to_string)
        .collect()
}

/// A gig context whose runs use the emulator's S3 through the standard AWS chain.
fn s3_gig(emu: &Emu) -> Gig {
    Gig::new()
        .with_endpoint(&emu.endpoint)
        .env("AWS_REGION", support::REGION)
}

fn random_stack(count: usize) -> String {
    (0..count)
        .map(|i| format!("resource random.id r{i:02} {{\n  byte_length = 8\n}}\n"))
        .collect()
}

/// Holds the lock of the default state of the stack in `dir` under the root `state`
/// (its place is derived from where the stack is), as another gig running `command`
/// would.
fn hold(emu: &Emu, state: &str, dir: &Path, command: &str) -> S3Backend {
    let loc = S3Location::parse(state)
        .expect("location")
        .join(&gig_engine::identity::derived_name(dir))
        .join("default");
    S3Backend::open(
        &loc,
        LockInfo::current(command),
        &options(emu, Duration::from_secs(30)),
    )
    .expect("open")
}

/// A checkout of repository `infra` holding the stack `web`, under a fresh temporary
/// directory: every checkout derives the same place for its state (the work tree's name
/// and the path below it), as CI runners' checkouts of one repository do.
fn checkout(src: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(root.path().join("infra").join(".git")).expect("work tree");
    let dir = root.path().join("infra").join("web");
    std::fs::create_dir_all(&dir).expect("stack dir");
    std::fs::write(dir.join("main.gig"), src).expect("main.gig");
    (root, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_openers_race_and_exactly_one_wins() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let opts = options(&emu, Duration::from_secs(30));
    for round in 0..3 {
        let loc = location(&format!("race-{round}"));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (loc, opts, barrier) = (loc.clone(), opts.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    S3Backend::open(&loc, LockInfo::current(format!("racer {i}")), &opts)
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("racer thread"))
            .collect();
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "round {round}: exactly one opener wins");
        let refused = results
            .iter()
            .find_map(|r| r.as_ref().err())
            .expect("one refusal");
        let StateError::Locked {
            holder, lock_id, ..
        } = refused
        else {
            panic!("expected Locked, got {refused}");
        };
        assert!(holder.command.starts_with("racer "), "{holder:?}");
        assert!(lock_id.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_whose_lease_expired_is_fenced_out() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let loc = location("fenced");
    let short = options(&emu, Duration::from_secs(2));
    let old = S3Backend::open(&loc, LockInfo::current("old holder"), &short).expect("open");
    old.begin("apply").expect("begin");
    old.put(&record("before")).expect("acknowledged write");
    // The old holder hangs: it stops renewing and its lease runs out.
    old.stop_renewing();
    std::thread::sleep(Duration::from_millis(3_500));
    let new = S3Backend::open(&loc, LockInfo::current("new holder"), &short)
        .expect("an expired lease is taken over");
    assert!(new.generation() > old.generation());
    assert_eq!(
        names(&new),
        ["random.id.before"],
        "the old holder's acknowledged write is kept"
    );
    // The old holder knows its lease ran out: it refuses to write.
    match old.put(&record("refused")) {
        Err(StateError::LockLost { .. }) => {}
        other => panic!("expected LockLost, got {other:?}"),
    }
    // A holder misled by its clock writes anyway: the write lands in S3 but is fenced.
    old.assume_lease_valid();
    old.put(&record("late"))
        .expect("the late journal object is written");
    match old.begin("apply") {
        Err(StateError::LockLost { .. }) => {}
        other => panic!("expected LockLost at compaction, got {other:?}"),
    }
    assert_eq!(names(&new), ["random.id.before"]);
    drop(new);
    drop(old);
    let reader = S3Backend::open(&loc, LockInfo::current("reader"), &short).expect("open");
    assert_eq!(
        names(&reader),
        ["random.id.before"],
        "the fenced write never appears"
    );
    assert_eq!(reader.history().expect("history").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_an_unchanged_state_costs_a_fixed_number_of_requests() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let opts = options(&emu, Duration::from_secs(30));
    let mut costs = Vec::new();
    for size in [10, 400] {
        let loc = location(&format!("reads-{size}"));
        {
            let writer = S3Backend::open(&loc, LockInfo::current("writer"), &opts).expect("open");
            writer.begin("apply").expect("begin");
            let writes: Vec<_> = (0..size)
                .map(|i| gig_state::Write::Put(record(&format!("r{i:04}"))))
                .collect();
            for chunk in writes.chunks(50) {
                writer.commit(chunk).expect("commit");
            }
        }
        let reader = S3Backend::open(&loc, LockInfo::current("plan"), &opts).expect("open");
        assert_eq!(reader.snapshot().expect("snapshot").resources.len(), size);
        reader.history().expect("history");
        let requests = reader.requests();
        drop(reader);
        costs.push(requests);
    }
    // GET lock.json, state.json and crypt.json, PUT lock.json, LIST journal/ — whatever
    // the size.
    assert_eq!(costs, [5, 5], "requests to open and read: {costs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_state_is_read_from_the_local_cache_and_a_changed_one_is_not() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let cache = tempfile::tempdir().expect("temp dir");
    let keyed = S3Options {
        keys: gig_state::crypt::Keys::from_passphrases(Some("cache test".to_string()), None),
        ..options(&emu, Duration::from_secs(30))
    };
    let cached = S3Options {
        cache_dir: Some(cache.path().to_path_buf()),
        ..keyed.clone()
    };
    let loc = location("cached");
    {
        let writer = S3Backend::open(&loc, LockInfo::current("writer"), &keyed).expect("open");
        writer.begin("apply").expect("begin");
        let writes: Vec<_> = (0..400)
            .map(|i| gig_state::Write::Put(record(&format!("r{i:04}"))))
            .collect();
        writer.commit(&writes).expect("commit");
    }
    let open_and_read = |opts: &S3Options| {
        let reader = S3Backend::open(&loc, LockInfo::current("plan"), opts).expect("open");
        let count = reader.snapshot().expect("snapshot").resources.len();
        (count, reader.requests(), reader.bytes())
    };
    let (count, cold_requests, cold_bytes) = open_and_read(&cached);
    assert_eq!(count, 400);
    let (count, warm_requests, warm_bytes) = open_and_read(&cached);
    assert_eq!(count, 400);
    assert_eq!(
        warm_requests, cold_requests,
        "the same requests, conditional"
    );
    assert!(
        warm_bytes * 20 < cold_bytes,
        "an unchanged state.json is not downloaded again: {warm_bytes} bytes warm, {cold_bytes} cold"
    );
    // The copy holds the stored bytes: sealed, no record in clear.
    let copy = std::fs::read(cache.path().join(BUCKET).join("lib/cached/state.json"))
        .expect("cached copy");
    assert!(
        !copy.windows(8).any(|w| w == b"id-r0001"),
        "the copy is sealed"
    );
    // Another writer (without the cache) changes the state: the copy is not used.
    {
        let writer = S3Backend::open(&loc, LockInfo::current("other"), &keyed).expect("open");
        writer.begin("apply").expect("begin");
        writer.put(&record("later")).expect("put");
    }
    let (count, _, _) = open_and_read(&cached);
    assert_eq!(count, 401, "a changed state is read again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_history_restore_and_compaction_match_the_sled_store() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let opts = options(&emu, Duration::from_secs(30));
    let loc = location("history");
    {
        let s = S3Backend::open(&loc, LockInfo::current("writer"), &opts).expect("open");
        assert_eq!(s.begin("apply").expect("begin"), 1);
        // More rounds than COMPACT_EVERY, so the session is compacted while open.
        for i in 0..(gig_state_s3::COMPACT_EVERY + 10) {
            s.put(&record(&format!("r{i:04}"))).expect("put");
        }
        assert_eq!(s.begin("apply").expect("begin"), 2);
        s.remove(&record("r0000").addr).expect("remove");
        let mut outputs = BTreeMap::new();
        outputs.insert("answer".to_string(), Value::str("42"));
        s.set_outputs(&outputs).expect("outputs");
    }
    let s = S3Backend::open(&loc, LockInfo::current("reader"), &opts).expect("open");
    let snap = s.snapshot().expect("snapshot");
    assert_eq!(snap.serial, 2);
    assert_eq!(snap.resources.len(), gig_state_s3::COMPACT_EVERY + 9);
    assert_eq!(snap.outputs.get("answer"), Some(&Value::str("42")));
    let history = s.history().expect("history");
    let summary: Vec<(u64, usize)> = history
        .iter()
        .map(|h| (h.serial, h.changed.len()))
        .collect();
    assert_eq!(summary, [(1, gig_state_s3::COMPACT_EVERY + 10), (2, 1)]);
    let at1 = s.snapshot_at(1).expect("snapshot at 1");
    assert!(at1.resources.contains_key(&record("r0000").addr));
    assert!(at1.outputs.is_empty());
    assert_eq!(s.snapshot_at(0).expect("at 0").resources.len(), 0);
    assert_eq!(s.restore(1).expect("restore"), 3);
    assert_eq!(s.snapshot().expect("snapshot").resources, at1.resources);
    assert_eq!(s.rm(&record("r0001").addr).expect("rm"), 4);
    let to = ResourceAddr::parse("random.id.moved").expect("address");
    assert_eq!(s.mv(&record("r0002").addr, &to).expect("mv"), 5);
    assert!(matches!(
        s.rm(&record("r0001").addr),
        Err(StateError::NoSuchResource(_))
    ));
    let lineage = s.snapshot().expect("snapshot").lineage;
    drop(s);
    let again = S3Backend::open(&loc, LockInfo::current("reader"), &opts).expect("open");
    let snap = again.snapshot().expect("snapshot");
    assert_eq!((snap.serial, snap.lineage), (5, lineage));
    assert!(snap.resources.contains_key(&to));
    assert!(!snap.resources.contains_key(&record("r0001").addr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_state_refuses_at_once_or_waits_with_lock_timeout() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let (_root, dir) = checkout(&random_stack(2));
    let gig = s3_gig(&emu);
    let state = format!("s3://{BUCKET}/cli");
    let holder = hold(&emu, &state, &dir, "gig apply (elsewhere)");
    let started = Instant::now();
    let refused = gig
        .run_in(&dir, &["plan", ".", "--state", &state])
        .expect_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused at once"
    );
    let all = refused.all();
    assert!(
        all.contains("(elsewhere)") && all.contains("locked by pid"),
        "{all}"
    );
    assert!(all.contains(&holder.lock_id()), "{all}");

    let waiter = {
        let gig_cmd = gig.command(
            &dir,
            &[
                "apply",
                ".",
                "--auto-approve",
                "--state",
                &state,
                "--lock-timeout",
                "60s",
            ],
        );
        std::thread::spawn(move || {
            let mut cmd = gig_cmd;
            cmd.output().expect("running gig")
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    drop(holder);
    let out = waiter.join().expect("waiter");
    assert!(
        out.status.success(),
        "after {:?}: {}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr)
    );
    gig.run_in(&dir, &["state", "list", ".", "--state", &state])
        .expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_breaks_a_lease_after_naming_it() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let (_root, dir) = checkout(&random_stack(1));
    let gig = s3_gig(&emu);
    let state = format!("s3://{BUCKET}/unlock");
    let stuck = hold(&emu, &state, &dir, "gig apply (stuck)");
    stuck.stop_renewing();
    let wrong = gig
        .run_in(
            &dir,
            &["state", "unlock", "0000", ".", "--state", &state, "--yes"],
        )
        .expect_code(1);
    assert!(wrong.all().contains("gig::E0512"), "{}", wrong.all());
    let id = stuck.lock_id();
    let no_tty = gig
        .run_in(&dir, &["state", "unlock", &id, ".", "--state", &state])
        .expect_code(1);
    assert!(no_tty.all().contains("--yes"), "{}", no_tty.all());
    let broke = gig
        .run_in(
            &dir,
            &["state", "unlock", &id, ".", "--state", &state, "--yes"],
        )
        .expect_code(0);
    assert!(
        broke.stdout.contains("gig apply (stuck)"),
        "{}",
        broke.stdout
    );
    gig.run_in(&dir, &["apply", ".", "--auto-approve", "--state", &state])
        .expect_code(0);
    stuck.assume_lease_valid();
    stuck.begin("apply").expect("begin is local");
    match stuck.put(&record("late")) {
        Ok(()) => {}
        Err(e) => panic!("the journal write itself lands: {e}"),
    }
    let list = gig
        .run_in(&dir, &["state", "list", ".", "--state", &state])
        .expect_code(0);
    assert!(!list.stdout.contains("late"), "{}", list.stdout);
    drop(stuck);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_applies_from_separate_checkouts_serialize() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let src = random_stack(12);
    let gig = s3_gig(&emu);
    let state = format!("s3://{BUCKET}/team");
    let checkouts: Vec<_> = (0..8).map(|_| checkout(&src)).collect();
    let runs: Vec<_> = checkouts
        .iter()
        .map(|(_, dir)| {
            gig.command(
                dir,
                &["apply", ".", "--auto-approve", "--lock-timeout", "120s"],
            )
            .env("GIG_STATE", &state)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start gig apply")
        })
        .collect();
    for child in runs {
        let out = child.wait_with_output().expect("gig apply");
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir: &Path = &checkouts[3].1;
    let list = gig
        .run_in(dir, &["state", "list", ".", "--state", &state])
        .expect_code(0);
    let addrs: Vec<&str> = list
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(l))
        .collect();
    let want: Vec<String> = (0..12).map(|i| format!("random.id.r{i:02}")).collect();
    assert_eq!(addrs, want, "every resource exactly once");
    let plan = gig
        .run_in(dir, &["plan", ".", "--state", &state])
        .expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    let history = gig
        .run_in(dir, &["state", "history", ".", "--state", &state])
        .expect_code(0);
    assert_eq!(
        history
            .stdout
            .lines()
            .filter(|l| l.contains("apply"))
            .count(),
        1,
        "one apply created everything; the others found nothing to do\n{}",
        history.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_commands_work_on_s3() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let (_root, dir) = checkout(&random_stack(3));
    let gig = s3_gig(&emu).env("GIG_STATE", &format!("s3://{BUCKET}/cmds"));
    let missing = gig.run_in(&dir, &["state", "list", "."]).expect_code(1);
    assert!(missing.all().contains("gig::E0361"), "{}", missing.all());
    gig.run_in(&dir, &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let show = gig
        .run_in(&dir, &["state", "show", "random.id.r01", "."])
        .expect_code(0);
    assert!(show.stdout.contains("hex"), "{}", show.stdout);
    gig.run_in(
        &dir,
        &["state", "mv", "random.id.r01", "random.id.moved", "."],
    )
    .expect_code(0);
    gig.run_in(&dir, &["state", "rm", "random.id.r02", "."])
        .expect_code(0);
    let list = gig.run_in(&dir, &["state", "list", "."]).expect_code(0);
    let addrs: Vec<&str> = list
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(l))
        .collect();
    assert_eq!(addrs, ["random.id.moved", "random.id.r00"]);
    let history = gig.run_in(&dir, &["state", "history", "."]).expect_code(0);
    let ops: Vec<&str> = history.stdout.lines().collect();
    assert_eq!(ops.len(), 3, "{}", history.stdout);
    assert!(
        ops[1].contains("state mv") && ops[2].contains("state rm"),
        "{ops:?}"
    );
    gig.run_in(&dir, &["state", "restore", "1", "."])
        .expect_code(0);
    let list = gig.run_in(&dir, &["state", "list", "."]).expect_code(0);
    assert_eq!(list.stdout.lines().count(), 3, "{}", list.stdout);
    // A saved plan made before another change is stale on S3 as on disk.
    let plan_file = dir.join("plan.bin");
    std::fs::write(dir.join("main.gig"), random_stack(4)).expect("edit");
    gig.run_in(
        &dir,
        &[
            "plan",
            ".",
            "--out",
            plan_file.to_str().expect("utf-8 path"),
        ],
    );
    gig.run_in(&dir, &["state", "rm", "random.id.r00", "."])
        .expect_code(0);
    let stale = gig
        .run_in(
            &dir,
            &[
                "apply",
                plan_file.to_str().expect("utf-8 path"),
                "--auto-approve",
            ],
        )
        .expect_code(1);
    assert!(stale.all().contains("gig::E0350"), "{}", stale.all());
    let bad = gig
        .run_in(&dir, &["plan", ".", "--state", "s3://No_Such"])
        .expect_code(1);
    assert!(bad.all().contains("gig::E0511"), "{}", bad.all());
    // A state key on a clear state: read-only commands read it as it is (its first write
    // encrypts it; tests/s3_encryption.rs).
    let keyed = gig.run_in_with(
        &dir,
        &["state", "list", "."],
        &[("GIG_STATE_PASSPHRASE", "correct horse battery staple")],
    );
    assert_eq!(keyed.expect_code(0).stdout.lines().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_moves_a_state_to_s3_and_back_with_its_lineage_serial_and_history() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let (_root, dir) = checkout(&random_stack(2));
    let gig = s3_gig(&emu);
    gig.run_in(&dir, &["apply", ".", "--auto-approve"])
        .expect_code(0);
    std::fs::write(dir.join("main.gig"), random_stack(3)).expect("edit");
    gig.run_in(&dir, &["apply", ".", "--auto-approve"])
        .expect_code(0);
    gig.run_in(&dir, &["state", "rm", "random.id.r00", "."])
        .expect_code(0);
    let local_history = gig
        .run_in(&dir, &["state", "history", "."])
        .expect_code(0)
        .stdout;
    let local_export = gig
        .run_in(&dir, &["state", "export", "."])
        .expect_code(0)
        .stdout;
    let to = format!("s3://{BUCKET}/moved");
    let onto_itself = gig
        .run_in(
            &dir,
            &[
                "state",
                "migrate",
                ".",
                "--to",
                gig.state_root.path().to_str().expect("utf-8 path"),
            ],
        )
        .expect_code(1);
    assert!(
        onto_itself.all().contains("gig::E0514"),
        "{}",
        onto_itself.all()
    );
    gig.run_in(&dir, &["state", "migrate", ".", "--to", &to])
        .expect_code(0);
    let s3_history = gig
        .run_in(&dir, &["state", "history", ".", "--state", &to])
        .expect_code(0)
        .stdout;
    assert_eq!(
        s3_history, local_history,
        "history is kept, serials included"
    );
    let s3_export = gig
        .run_in(&dir, &["state", "export", ".", "--state", &to])
        .expect_code(0)
        .stdout;
    assert_eq!(
        s3_export, local_export,
        "lineage, serial, records and outputs are kept"
    );
    // The old copy is marked: nobody keeps writing to it.
    let old = gig.run_in(&dir, &["plan", "."]).expect_code(1);
    assert!(old.all().contains("gig::E0513"), "{}", old.all());
    // And back from S3 into a directory: lineage, serial and history are kept again,
    // and the S3 copy is marked in turn.
    let back = tempfile::tempdir().expect("temp dir");
    let back_root = back.path().to_str().expect("utf-8 path");
    gig.run_in(
        &dir,
        &["state", "migrate", ".", "--state", &to, "--to", back_root],
    )
    .expect_code(0);
    let back_history = gig
        .run_in(&dir, &["state", "history", ".", "--state", back_root])
        .expect_code(0)
        .stdout;
    assert_eq!(back_history, local_history);
    let back_export = gig
        .run_in(&dir, &["state", "export", ".", "--state", back_root])
        .expect_code(0)
        .stdout;
    assert_eq!(back_export, local_export);
    let moved = gig
        .run_in(&dir, &["plan", ".", "--state", &to])
        .expect_code(1);
    assert!(moved.all().contains("gig::E0513"), "{}", moved.all());
    // Restoring a version from before the moves works on the new copy.
    gig.run_in(&dir, &["state", "restore", "1", ".", "--state", back_root])
        .expect_code(0);
    let list = gig
        .run_in(&dir, &["state", "list", ".", "--state", back_root])
        .expect_code(0);
    assert_eq!(list.stdout.lines().count(), 2, "{}", list.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_dies_mid_session_loses_no_acknowledged_write() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let loc = location("crashed");
    let short = options(&emu, Duration::from_secs(2));
    let rounds = gig_state_s3::COMPACT_EVERY + 3;
    let dying = S3Backend::open(&loc, LockInfo::current("dying"), &short).expect("open");
    dying.begin("apply").expect("begin");
    // Enough rounds for one compaction while the session is open, then three more that
    // exist only as journal objects.
    for i in 0..rounds {
        dying.put(&record(&format!("r{i:04}"))).expect("put");
    }
    let mut outputs = BTreeMap::new();
    outputs.insert("url".to_string(), Value::str("https://example.test"));
    dying.set_outputs(&outputs).expect("outputs");
    // Dies: no compaction, no release, no more renewals.
    dying.stop_renewing();
    std::mem::forget(dying);
    let refused = S3Backend::open(&loc, LockInfo::current("next"), &short);
    assert!(
        matches!(refused, Err(StateError::Locked { .. })),
        "the lease is still valid"
    );
    std::thread::sleep(Duration::from_millis(3_500));
    let next = S3Backend::open(&loc, LockInfo::current("next"), &short).expect("takeover");
    let snap = next.snapshot().expect("snapshot");
    assert_eq!(snap.serial, 1);
    assert_eq!(snap.resources.len(), rounds, "every acknowledged put");
    assert_eq!(snap.outputs, outputs);
    let history = next.history().expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].changed.len(), rounds);
    assert_eq!(next.snapshot_at(0).expect("at 0").resources.len(), 0);
    assert_eq!(next.begin("apply").expect("begin"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_block_points_each_env_at_its_own_prefix() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let src = format!(
        "param state_bucket: string\nparam env: string\n\nstate {{\n  location = \"s3://${{state_bucket}}/web/${{env}}\"\n}}\n\n{}",
        random_stack(2)
    );
    let (_root, dir) = checkout(&src);
    std::fs::create_dir_all(dir.join("env")).expect("env dir");
    for env in ["staging", "production"] {
        std::fs::write(
            dir.join("env").join(format!("{env}.gigvars")),
            format!("state_bucket = \"{BUCKET}\"\nenv          = \"{env}\"\n"),
        )
        .expect("gigvars");
    }
    let gig = s3_gig(&emu);
    for env in ["staging", "production"] {
        gig.run_in(&dir, &["apply", ".", "--env", env, "--auto-approve"])
            .expect_code(0);
    }
    let opts = options(&emu, Duration::from_secs(30));
    let mut lineages = Vec::new();
    for env in ["staging", "production"] {
        let loc = S3Location::parse(&format!("s3://{BUCKET}/web/{env}")).expect("location");
        let backend = S3Backend::open(&loc, LockInfo::current("test"), &opts).expect("open");
        assert_eq!(names(&backend), ["random.id.r00", "random.id.r01"], "{env}");
        lineages.push(backend.snapshot().expect("snapshot").lineage);
    }
    assert_ne!(lineages[0], lineages[1], "two states, not one");
    // The block wins over --state-dir; GIG_STATE wins over the block.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let listed = gig
        .run_in(
            &dir,
            &[
                "state",
                "list",
                ".",
                "--env",
                "staging",
                "--state-dir",
                elsewhere.path().to_str().expect("utf-8 path"),
            ],
        )
        .expect_code(0);
    assert_eq!(listed.stdout.lines().count(), 2, "{}", listed.stdout);
    let overridden = gig
        .run_in_with(
            &dir,
            &["state", "list", ".", "--env", "staging"],
            &[("GIG_STATE", &format!("s3://{BUCKET}/other"))],
        )
        .expect_code(1);
    assert!(
        overridden.all().contains("gig::E0361"),
        "{}",
        overridden.all()
    );
    // A block gig cannot read is refused, not replaced by another location.
    std::fs::write(
        dir.join("main.gig"),
        src.replace("location =", "passphrase = \"x\"\n  location ="),
    )
    .expect("edit");
    let bad = gig
        .run_in(&dir, &["state", "list", ".", "--env", "staging"])
        .expect_code(1);
    assert!(bad.all().contains("gig::E0517"), "{}", bad.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_an_apply_on_s3_keeps_every_reported_resource_and_the_next_apply_finishes() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    // A chain, so the apply commits one round after another for a while.
    const COUNT: usize = 400;
    let mut src = String::from("resource random.id r0000 {\n  byte_length = 8\n}\n");
    for i in 1..COUNT {
        src.push_str(&format!(
            "resource random.id r{i:04} {{\n  byte_length = 8\n  keepers     = {{ prev = random.id.r{:04}.hex }}\n}}\n",
            i - 1
        ));
    }
    let (_root, dir) = checkout(&src);
    let gig = s3_gig(&emu).env("GIG_STATE", &format!("s3://{BUCKET}/killed"));
    let mut child = gig
        .command(&dir, &["apply", ".", "--auto-approve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start gig apply");
    // Kill (SIGKILL: Child::kill) once some creates were reported done.
    let stdout = child.stdout.take().expect("piped stdout");
    let mut reported = Vec::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let Ok(line) = line else { break };
        if let Some((addr, _)) = line.split_once(": created after") {
            reported.push(addr.trim().to_string());
            if reported.len() == 60 {
                break;
            }
        }
    }
    child.kill().expect("kill -9");
    let status = child.wait().expect("reap");
    assert!(!status.success(), "the apply was killed before it finished");
    assert_eq!(reported.len(), 60, "creates were reported before the kill");

    // Its lease outlives it: refused at once, naming the lock id, until it is broken.
    let held = gig.run_in(&dir, &["state", "list", "."]).expect_code(1);
    let message = held.all();
    let id = message
        .split("lock id ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_hexdigit()).next())
        .unwrap_or_else(|| panic!("the refusal names the lock id: {message}"))
        .to_string();
    gig.run_in(&dir, &["state", "unlock", &id, ".", "--yes"])
        .expect_code(0);
    let list = gig.run_in(&dir, &["state", "list", "."]).expect_code(0);
    let recorded: Vec<&str> = list
        .stdout
        .lines()
        .filter(|l| !l.contains("interrupted create"))
        .map(|l| l.split('\t').next().unwrap_or(l))
        .collect();
    for addr in &reported {
        assert!(
            recorded.contains(&addr.as_str()),
            "{addr} was reported done and is not in the state"
        );
    }
    assert!(recorded.len() < COUNT, "killed mid-way");
    let run = gig
        .run_in(&dir, &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let expected = format!("{} succeeded", COUNT - recorded.len());
    assert!(
        run.stdout.contains(&expected),
        "expected `{expected}`: {}",
        run.stdout.lines().last().unwrap_or("")
    );
    let list = gig.run_in(&dir, &["state", "list", "."]).expect_code(0);
    assert_eq!(list.stdout.lines().count(), COUNT);
    gig.run_in(&dir, &["plan", ".", "--detailed-exitcode"])
        .expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposed_objects_survive_a_journal_recovery_and_compaction() {
    let emu = Emu::start().await;
    create_bucket(&emu.endpoint);
    let loc = location("deposed");
    let short = options(&emu, Duration::from_secs(2));
    let old = gig_state::Deposed::of(&record("a"));
    let dying = S3Backend::open(&loc, LockInfo::current("dying"), &short).expect("open");
    dying.begin("apply").expect("begin");
    dying
        .commit(&[
            gig_state::Write::Put(record("a")),
            gig_state::Write::Depose(old.clone()),
        ])
        .expect("commit");
    // Dies: the deposed object is only in a journal object.
    dying.stop_renewing();
    std::mem::forget(dying);
    std::thread::sleep(Duration::from_millis(3_500));
    let next = S3Backend::open(&loc, LockInfo::current("next"), &short).expect("takeover");
    assert_eq!(next.snapshot().expect("snapshot").deposed[&old.key()], old);
    assert!(next.snapshot_at(1).expect("at 1").deposed.is_empty());
    drop(next);
    // Compacted into state.json by the takeover, and read back from there.
    let again = S3Backend::open(&loc, LockInfo::current("again"), &short).expect("open");
    assert_eq!(again.snapshot().expect("snapshot").deposed.len(), 1);
    again.begin("apply").expect("begin");
    again
        .commit(&[gig_state::Write::DropDeposed(old.key())])
        .expect("commit");
    drop(again);
    let reader = S3Backend::open(&loc, LockInfo::current("reader"), &short).expect("open");
    let snap = reader.snapshot().expect("snapshot");
    assert!(snap.deposed.is_empty(), "{:?}", snap.deposed);
    assert_eq!(names(&reader), ["random.id.a"]);
}
