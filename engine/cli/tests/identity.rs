//! The stack's identity through the binary: stacks laid out alike are told apart, a
//! declared or given name is used, a name that contradicts the state is refused
//! (gig::E0357), and a state made before identities were recorded keeps working.

mod common;

use std::path::Path;

use common::{stack, Gig};

const MAIN: &str = "resource random.id a {\n  byte_length = 4\n}\n";

/// The stack name a plan of `dir` uses, from `gig plan --format json`.
fn planned_stack(gig: &Gig, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["plan", ".", "--format", "json"];
    args.extend_from_slice(extra);
    let run = gig.run_in(dir, &args).expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    plan["stack"].as_str().expect("stack").to_string()
}

fn resource_count(gig: &Gig, dir: &Path) -> usize {
    let run = gig.run_in(dir, &["state", "export", "."]).expect_code(0);
    let state: serde_json::Value = serde_json::from_str(&run.stdout).expect("state JSON");
    state["resources"]
        .as_object()
        .map_or(0, serde_json::Map::len)
}

/// Regression: two projects laid out as `environments/dev` were both stack `dev`, so they
/// shared `gig:stack` tags, derived names and (under GIG_STATE_DIR) one state.
#[test]
fn two_environments_dev_stacks_in_different_parents_get_different_identities() {
    let root = tempfile::tempdir().expect("temp dir");
    let a = root.path().join("shop/environments/dev");
    let b = root.path().join("blog/environments/dev");
    for dir in [&a, &b] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("main.gig"), MAIN).unwrap();
    }
    let gig = Gig::new();
    let (name_a, name_b) = (planned_stack(&gig, &a, &[]), planned_stack(&gig, &b, &[]));
    assert_ne!(name_a, name_b);
    assert!(
        name_a.starts_with("dev-") && name_b.starts_with("dev-"),
        "{name_a} {name_b}"
    );
    gig.run_in(&a, &["apply", ".", "--auto-approve"])
        .expect_code(0);
    // The second stack has a state of its own: its resource is still to be created.
    let run = gig
        .run_in(&b, &["plan", ".", "--detailed-exitcode"])
        .expect_code(2);
    assert!(run.stdout.contains("1 to add"), "{}", run.stdout);
    gig.run_in(&b, &["apply", ".", "--auto-approve"])
        .expect_code(0);
    assert_eq!((resource_count(&gig, &a), resource_count(&gig, &b)), (1, 1));
    assert_eq!(planned_stack(&gig, &a, &[]), name_a, "the identity is kept");
}

#[test]
fn a_declared_name_is_the_identity_and_stack_name_overrides_it() {
    let dir = stack(&[
        ("main.gig", MAIN),
        ("stack.gig", "stack {\n  name = \"shop-dev\"\n}\n"),
    ]);
    let gig = Gig::new();
    assert_eq!(planned_stack(&gig, dir.path(), &[]), "shop-dev");
    assert_eq!(
        planned_stack(&gig, dir.path(), &["--stack-name", "shop-qa"]),
        "shop-qa"
    );
    let run = gig
        .run_in(dir.path(), &["plan", ".", "--stack-name", "Shop QA"])
        .expect_code(1);
    assert!(run.stderr.contains("gig::E0355"), "{}", run.stderr);
}

/// A name that contradicts the state's is refused naming both, and nothing changes;
/// keeping the old name works, and `gig state rename-stack` is the way to change it.
#[test]
fn a_changed_identity_is_refused_naming_both() {
    let dir = stack(&[
        ("main.gig", MAIN),
        ("stack.gig", "stack {\n  name = \"shop\"\n}\n"),
    ]);
    let gig = Gig::new();
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    std::fs::write(
        dir.path().join("stack.gig"),
        "stack {\n  name = \"shop-v2\"\n}\n",
    )
    .unwrap();
    for args in [
        &["plan", "."][..],
        &["apply", ".", "--auto-approve"],
        &["destroy", ".", "--auto-approve"],
    ] {
        let run = gig.run_in(dir.path(), args).expect_code(1);
        assert!(
            run.stderr.contains("gig::E0357"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("`shop-v2`") && run.stderr.contains("`shop`"),
            "{args:?} names both: {}",
            run.stderr
        );
        assert!(run.stderr.contains("rename-stack"), "{}", run.stderr);
    }
    assert_eq!(resource_count(&gig, dir.path()), 1, "nothing was destroyed");
    // The state is found under the old name, and `--stack-name shop` keeps using it.
    gig.run_in(
        dir.path(),
        &["plan", ".", "--stack-name", "shop", "--detailed-exitcode"],
    )
    .expect_code(0);
    let run = gig
        .run_in(
            dir.path(),
            &["state", "rename-stack", "shop-v2", "--stack-name", "shop"],
        )
        .expect_code(0);
    assert!(run.stdout.contains("`shop-v2`"), "{}", run.stdout);
    gig.run_in(dir.path(), &["plan", ".", "--detailed-exitcode"])
        .expect_code(0);
}

/// A state written before identities were recorded belongs to the directory's name: an
/// unnamed stack keeps planning against it unchanged, under that name, and records it.
#[test]
fn a_state_from_before_identities_keeps_working() {
    let dir = stack(&[("main.gig", MAIN)]);
    let base = dir
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // Apply elsewhere, then put the state where gig used to keep it, without identity.
    let gig = Gig::new();
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let state_dir = elsewhere.path().join("state");
    let state_arg = state_dir.to_str().unwrap();
    gig.run_in(
        dir.path(),
        &["apply", ".", "--auto-approve", "--state-dir", state_arg],
    )
    .expect_code(0);
    let export = gig
        .run_in(
            dir.path(),
            &["state", "export", ".", "--state-dir", state_arg],
        )
        .expect_code(0);
    let backup = gig_state::Snapshot::from_json_raw(&serde_json::from_str(&export.stdout).unwrap())
        .expect("a backup");
    {
        let legacy = gig.state_root.path().join(&base).join("default");
        let store = gig_state::Store::open(&legacy, gig_state::LockInfo::unknown()).unwrap();
        store.load_backup(&backup).unwrap();
        assert_eq!(store.stack_identity().unwrap(), None);
    }
    assert_eq!(planned_stack(&gig, dir.path(), &[]), base);
    gig.run_in(dir.path(), &["plan", ".", "--detailed-exitcode"])
        .expect_code(0);
    // A declared name that is not the directory's is refused against it.
    std::fs::write(
        dir.path().join("stack.gig"),
        "stack {\n  name = \"shop\"\n}\n",
    )
    .unwrap();
    let run = gig.run_in(dir.path(), &["plan", "."]).expect_code(1);
    assert!(run.stderr.contains("gig::E0357"), "{}", run.stderr);
    assert!(run.stderr.contains("predates"), "{}", run.stderr);
    std::fs::remove_file(dir.path().join("stack.gig")).unwrap();
    // The next apply that writes records the identity it had.
    std::fs::write(
        dir.path().join("more.gig"),
        "resource random.id b {\n  byte_length = 4\n}\n",
    )
    .unwrap();
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let legacy = gig.state_root.path().join(&base).join("default");
    let store = gig_state::Store::open(&legacy, gig_state::LockInfo::unknown()).unwrap();
    assert_eq!(
        store.stack_identity().unwrap().as_deref(),
        Some(base.as_str())
    );
}

/// A saved plan applies only under the identity it was made for: renaming the stack's
/// state in between refuses it (renaming does not change the serial, so only the
/// identity check can notice).
#[test]
fn a_saved_plan_is_refused_after_the_stack_was_renamed() {
    let dir = stack(&[("main.gig", MAIN)]);
    let gig = Gig::new();
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    std::fs::write(
        dir.path().join("more.gig"),
        "resource random.id b {\n  byte_length = 4\n}\n",
    )
    .unwrap();
    let plan = dir.path().join("p.plan");
    let plan_arg = plan.to_str().unwrap();
    gig.run_in(dir.path(), &["plan", ".", "--out", plan_arg])
        .expect_code(0);
    gig.run_in(dir.path(), &["state", "rename-stack", "renamed"])
        .expect_code(0);
    let run = gig.run_in(dir.path(), &["apply", plan_arg]).expect_code(1);
    assert!(
        run.stderr.contains("gig::E0357") && run.stderr.contains("`renamed`"),
        "{}",
        run.stderr
    );
    assert_eq!(resource_count(&gig, dir.path()), 1, "nothing was applied");
}
