//! State and saved plan files encrypted at rest, through the binary: the generated
//! password never reaches the disk with GIG_STATE_PASSPHRASE set (and does without it),
//! wrong and missing keys are coded errors that leave the state intact, rotation with
//! GIG_STATE_PASSPHRASE_FALLBACK, `gig state rekey`, and encrypted plan files.

mod common;

use std::path::{Path, PathBuf};

use common::PASSWORD_STACK_GROWN as STACK_GROWN;
use common::{stack, Gig, Run, OTHER_PASSPHRASE, PASSPHRASE, PASSWORD_STACK as STACK};

/// A stack directory and a context whose state root is inside the test's temp dirs.
fn setup() -> (tempfile::TempDir, Gig) {
    (stack(&[("main.gig", STACK)]), Gig::new())
}

fn with_key(passphrase: &str) -> Vec<(&'static str, String)> {
    vec![("GIG_STATE_PASSPHRASE", passphrase.to_string())]
}

fn rotating(new: &str, old: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GIG_STATE_PASSPHRASE", new.to_string()),
        ("GIG_STATE_PASSPHRASE_FALLBACK", old.to_string()),
    ]
}

/// Runs `gig ARGS…` in `dir` with the variables `env` set for this run.
fn run(gig: &Gig, dir: &Path, args: &[&str], env: &[(&'static str, String)]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    gig.run_in_with(dir, args, &env)
}

/// The generated password, read back through `gig output` with `env`'s keys.
fn password(gig: &Gig, dir: &Path, env: &[(&'static str, String)]) -> String {
    let run = run(
        gig,
        dir,
        &["output", ".", "--name", "pw", "--raw", "--show-secret"],
        env,
    )
    .expect_code(0);
    let pw = run.stdout.trim().to_string();
    assert_eq!(pw.len(), 40, "{}", run.all());
    pw
}

/// Every file under `root`, recursively.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(path);
            }
        }
    }
    assert!(!out.is_empty(), "no files under {}", root.display());
    out
}

/// The files under `root` whose bytes contain `needle`.
fn files_holding(root: &Path, needle: &str) -> Vec<PathBuf> {
    files(root)
        .into_iter()
        .filter(|f| {
            std::fs::read(f)
                .expect("readable file")
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
        .collect()
}

/// Applies the stack, saves a plan made after it (which holds the password as Prior),
/// and returns the password with the files of the state and the plan file holding it.
fn exposure(env: &[(&'static str, String)]) -> (String, Vec<PathBuf>, bool) {
    let (dir, gig) = setup();
    run(&gig, dir.path(), &["apply", ".", "--auto-approve"], env).expect_code(0);
    let pw = password(&gig, dir.path(), env);
    let plan = dir.path().join("after.plan");
    run(
        &gig,
        dir.path(),
        &["plan", ".", "--out", plan.to_str().unwrap()],
        env,
    )
    .expect_code(0);
    let in_plan = !files_holding(dir.path(), &pw).is_empty();
    let state_files = files_holding(gig.state_root.path(), &pw);
    (pw, state_files, in_plan)
}

#[test]
fn with_a_passphrase_the_generated_password_is_in_no_state_file_nor_the_saved_plan() {
    let (_, state_files, in_plan) = exposure(&with_key(PASSPHRASE));
    assert_eq!(state_files, Vec::<PathBuf>::new());
    assert!(!in_plan, "the saved plan holds the password");
    // The same steps without a passphrase leave it in both: the check above can fail.
    let (_, state_files, in_plan) = exposure(&[]);
    assert!(
        !state_files.is_empty(),
        "the clear state holds the password"
    );
    assert!(in_plan, "the clear saved plan holds the password");
}

#[test]
fn a_wrong_key_is_e0531_exit_1_and_the_right_key_still_reads_everything() {
    let (dir, gig) = setup();
    let key = with_key(PASSPHRASE);
    run(&gig, dir.path(), &["apply", ".", "--auto-approve"], &key).expect_code(0);
    let pw = password(&gig, dir.path(), &key);
    let history = run(&gig, dir.path(), &["state", "history", "."], &key)
        .expect_code(0)
        .stdout;
    let wrong = with_key(OTHER_PASSPHRASE);
    for args in [
        &["plan", "."][..],
        &["apply", ".", "--auto-approve"],
        &["state", "list", "."],
        &["state", "rekey", "."],
    ] {
        let out = run(&gig, dir.path(), args, &wrong).expect_code(1);
        let all = out.all();
        assert!(all.contains("gig::E0531"), "{args:?}: {all}");
        assert!(all.contains("GIG_STATE_PASSPHRASE"), "{all}");
        for secret in [PASSPHRASE, OTHER_PASSPHRASE, pw.as_str()] {
            assert!(!all.contains(secret), "{args:?} printed a secret: {all}");
        }
    }
    assert_eq!(password(&gig, dir.path(), &key), pw);
    assert_eq!(
        run(&gig, dir.path(), &["state", "history", "."], &key)
            .expect_code(0)
            .stdout,
        history
    );
    let plan = run(
        &gig,
        dir.path(),
        &["plan", ".", "--detailed-exitcode"],
        &key,
    )
    .expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
}

#[test]
fn once_encrypted_the_state_is_refused_without_a_key_and_never_written_in_clear() {
    let (dir, gig) = setup();
    let key = with_key(PASSPHRASE);
    run(&gig, dir.path(), &["apply", ".", "--auto-approve"], &key).expect_code(0);
    let pw = password(&gig, dir.path(), &key);
    std::fs::write(dir.path().join("main.gig"), STACK_GROWN).unwrap();
    for args in [
        &["apply", ".", "--auto-approve"][..],
        &["plan", "."],
        &["output", "."],
        &["state", "rm", "random.password.db", "."],
    ] {
        let out = run(&gig, dir.path(), args, &[]).expect_code(1);
        assert!(out.all().contains("gig::E0530"), "{args:?}: {}", out.all());
        assert!(!out.all().contains(&pw));
    }
    assert_eq!(
        files_holding(gig.state_root.path(), &pw),
        Vec::<PathBuf>::new()
    );
    // Nothing was written: the keyed apply still has the second password to create.
    let apply = run(&gig, dir.path(), &["apply", ".", "--auto-approve"], &key).expect_code(0);
    assert!(apply.stdout.contains("1 succeeded"), "{}", apply.stdout);
    assert_eq!(password(&gig, dir.path(), &key), pw);
}

#[test]
fn rotation_uses_the_fallback_until_rekey_puts_everything_under_the_new_key() {
    let (dir, gig) = setup();
    let old = with_key(PASSPHRASE);
    let new = with_key(OTHER_PASSPHRASE);
    let both = rotating(OTHER_PASSPHRASE, PASSPHRASE);
    run(&gig, dir.path(), &["apply", ".", "--auto-approve"], &old).expect_code(0);
    let pw = password(&gig, dir.path(), &old);

    // The next write uses the new key; the fallback reads what the old key wrote.
    std::fs::write(dir.path().join("main.gig"), STACK_GROWN).unwrap();
    run(&gig, dir.path(), &["apply", ".", "--auto-approve"], &both).expect_code(0);
    assert_eq!(password(&gig, dir.path(), &both), pw);

    // Without the fallback, the old record is under a key not set.
    let out = run(&gig, dir.path(), &["state", "history", "."], &new).expect_code(1);
    assert!(out.all().contains("gig::E0532"), "{}", out.all());
    assert!(
        out.all().contains("GIG_STATE_PASSPHRASE_FALLBACK"),
        "{}",
        out.all()
    );

    let rekey = run(&gig, dir.path(), &["state", "rekey", "."], &both).expect_code(0);
    assert!(rekey.stdout.contains("Encrypted"), "{}", rekey.stdout);
    assert_eq!(password(&gig, dir.path(), &new), pw);
    let history = run(&gig, dir.path(), &["state", "history", "."], &new).expect_code(0);
    assert_eq!(history.stdout.lines().count(), 2, "{}", history.stdout);
    run(
        &gig,
        dir.path(),
        &["plan", ".", "--detailed-exitcode"],
        &new,
    )
    .expect_code(0);
    let out = run(&gig, dir.path(), &["plan", "."], &old).expect_code(1);
    assert!(out.all().contains("gig::E0531"), "{}", out.all());
    assert_eq!(
        files_holding(gig.state_root.path(), &pw),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn a_clear_state_is_encrypted_by_rekey_or_by_the_first_write_and_rekey_scrubs_the_clear_bytes() {
    let key = with_key(PASSPHRASE);
    for first_write in ["state rekey", "apply"] {
        let (dir, gig) = setup();
        run(&gig, dir.path(), &["apply", ".", "--auto-approve"], &[]).expect_code(0);
        let pw = password(&gig, dir.path(), &[]);
        // Reading with a key leaves a clear state clear.
        assert_eq!(password(&gig, dir.path(), &key), pw);
        assert_eq!(password(&gig, dir.path(), &[]), pw);
        if first_write == "apply" {
            std::fs::write(dir.path().join("main.gig"), STACK_GROWN).unwrap();
            run(&gig, dir.path(), &["apply", ".", "--auto-approve"], &key).expect_code(0);
        } else {
            run(&gig, dir.path(), &["state", "rekey", "."], &key).expect_code(0);
        }
        let out = run(&gig, dir.path(), &["plan", "."], &[]).expect_code(1);
        assert!(
            out.all().contains("gig::E0530"),
            "{first_write}: {}",
            out.all()
        );
        assert_eq!(password(&gig, dir.path(), &key), pw);
        // `state rekey` rebuilds the database, so no clear copy is left on disk.
        run(&gig, dir.path(), &["state", "rekey", "."], &key).expect_code(0);
        assert_eq!(
            files_holding(gig.state_root.path(), &pw),
            Vec::<PathBuf>::new(),
            "{first_write}"
        );
        assert_eq!(password(&gig, dir.path(), &key), pw);
    }
}

#[test]
fn rekey_without_a_key_is_e0534() {
    let (dir, gig) = setup();
    run(&gig, dir.path(), &["apply", ".", "--auto-approve"], &[]).expect_code(0);
    let out = run(&gig, dir.path(), &["state", "rekey", "."], &[]).expect_code(1);
    assert!(out.all().contains("gig::E0534"), "{}", out.all());
}

#[test]
fn an_encrypted_saved_plan_shows_and_applies_with_the_key_only() {
    let (dir, gig) = setup();
    let key = with_key(PASSPHRASE);
    let plan = dir.path().join("p.plan");
    let plan_arg = plan.to_str().unwrap();
    run(&gig, dir.path(), &["plan", ".", "--out", plan_arg], &key).expect_code(0);
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(text.contains("\"gig_encrypted\""), "{text}");
    assert!(
        !text.contains("random.password.db"),
        "the plan is in clear: {text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&plan).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let shown = run(&gig, dir.path(), &["show", plan_arg], &key).expect_code(0);
    assert!(
        shown.stdout.contains("random.password.db"),
        "{}",
        shown.stdout
    );
    for (env, code) in [
        (vec![], "gig::E0530"),
        (with_key(OTHER_PASSPHRASE), "gig::E0531"),
    ] {
        for args in [&["show", plan_arg][..], &["apply", plan_arg]] {
            let out = run(&gig, dir.path(), args, &env).expect_code(1);
            assert!(out.all().contains(code), "{args:?}: {}", out.all());
            assert!(out.all().contains("p.plan"), "{}", out.all());
        }
    }
    // The fallback opens it too, during a rotation.
    run(
        &gig,
        dir.path(),
        &["show", plan_arg],
        &rotating(OTHER_PASSPHRASE, PASSPHRASE),
    )
    .expect_code(0);
    run(&gig, dir.path(), &["apply", plan_arg], &key).expect_code(0);
    let pw = password(&gig, dir.path(), &key);
    assert_eq!(files_holding(dir.path(), &pw), Vec::<PathBuf>::new());
}
