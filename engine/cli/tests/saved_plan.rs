//! Saved plans: `gig plan --out FILE` then `gig apply FILE` applies exactly that plan, and
//! refuses (gig::E0350) once the state or the configuration moved on.

mod common;

use common::{stack, Gig, Run};

const STACK: &str = r#"param size: number = 8

resource random.id a {
  byte_length = size
}

resource random.id b {
  byte_length = 4
  keepers     = { a = random.id.a.hex }
}

output a = random.id.a.hex
"#;

/// The test stack in a new directory, planned with `--out p.plan`.
fn saved_plan() -> (tempfile::TempDir, Gig, std::path::PathBuf) {
    saved_plan_with(&[]).0
}

/// [`saved_plan`] with `extra` plan flags; also returns what `gig plan` printed.
fn saved_plan_with(extra: &[&str]) -> ((tempfile::TempDir, Gig, std::path::PathBuf), Run) {
    let dir = stack(&[("main.gig", STACK)]);
    let gig = Gig::new();
    let plan = dir.path().join("p.plan");
    let mut args = vec!["plan", ".", "--out", plan.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = gig.run_in(dir.path(), &args).expect_code(0);
    ((dir, gig, plan), run)
}

/// Rendered diagnostics as one line: the frame's bars and line breaks removed.
fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn state(gig: &Gig, dir: &std::path::Path) -> serde_json::Value {
    let run = gig.run_in(dir, &["state", "export", "."]).expect_code(0);
    serde_json::from_str(&run.stdout).expect("state JSON")
}

#[test]
fn saved_plan_applied_on_unchanged_state_matches_the_plan() {
    let dir = stack(&[("main.gig", STACK)]);
    let gig = Gig::new();
    let plan = dir.path().join("p.plan");
    let plan_arg = plan.to_str().unwrap();
    let shown = gig
        .run_in(
            dir.path(),
            &["plan", ".", "--out", plan_arg, "--format", "json"],
        )
        .expect_code(0);
    let planned: serde_json::Value = serde_json::from_str(&shown.stdout).expect("plan JSON");
    let show = gig
        .run_in(dir.path(), &["show", plan_arg, "--format", "json"])
        .expect_code(0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&show.stdout).unwrap(),
        planned,
        "show renders the saved plan"
    );

    gig.run_in(dir.path(), &["apply", plan_arg]).expect_code(0);
    let after = state(&gig, dir.path());
    let mut addresses: Vec<String> = after["resources"]
        .as_object()
        .expect("resources")
        .keys()
        .cloned()
        .collect();
    addresses.sort();
    let mut planned_addresses: Vec<String> = planned["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .filter(|c| c["action"] == "create")
        .map(|c| c["address"].as_str().unwrap().to_string())
        .collect();
    planned_addresses.sort();
    assert_eq!(addresses, planned_addresses);
    gig.run_in(dir.path(), &["plan", ".", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn saved_plan_is_refused_after_the_state_changed() {
    let (dir, gig, plan) = saved_plan();
    let plan_arg = plan.to_str().unwrap();
    // Another apply lands first.
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let before = state(&gig, dir.path());
    let run = gig.run_in(dir.path(), &["apply", plan_arg]).expect_code(1);
    assert!(run.stderr.contains("gig::E0350"), "{}", run.stderr);
    assert!(run.stderr.contains("serial"), "{}", run.stderr);
    assert_eq!(
        state(&gig, dir.path()),
        before,
        "a refused plan changes nothing"
    );
}

#[test]
fn saved_plan_is_refused_after_the_configuration_changed() {
    let (dir, gig, plan) = saved_plan();
    let plan_arg = plan.to_str().unwrap();
    std::fs::write(
        dir.path().join("main.gig"),
        STACK.replace("size: number = 8", "size: number = 16"),
    )
    .unwrap();
    std::fs::write(dir.path().join("extra.gig"), "let unused = 1\n").unwrap();
    let run = gig.run_in(dir.path(), &["apply", plan_arg]).expect_code(1);
    assert!(
        run.stderr.contains("gig::E0350") && run.stderr.contains("configuration"),
        "{}",
        run.stderr
    );
    let said = flat(&run.stderr);
    assert!(
        said.contains("main.gig was edited")
            && said.contains("extra.gig was added")
            && said.contains("param size is 16, the plan used 8"),
        "names what changed: {said}"
    );
}

/// A `GIG_PARAM_*` variable at apply time that contradicts the value the plan used is
/// refused naming the variable and both values.
#[test]
fn saved_plan_is_refused_when_a_param_changed() {
    let (dir, gig, plan) = saved_plan();
    let plan_arg = plan.to_str().unwrap();
    let gig = gig.env("GIG_PARAM_size", "12");
    let run = gig.run_in(dir.path(), &["apply", plan_arg]).expect_code(1);
    assert!(run.stderr.contains("gig::E0353"), "{}", run.stderr);
    assert!(
        run.stderr.contains("GIG_PARAM_size=12") && run.stderr.contains("size = 8"),
        "{}",
        run.stderr
    );
}

/// Regression: a plan made with `--param k=v` was refused as stale (E0350) when applied
/// as gig's own hint says (`gig apply FILE`), without naming what changed. The file
/// records the params it was made with and apply re-uses them.
#[test]
fn a_plan_made_with_a_param_applies_as_the_hint_says() {
    let ((dir, gig, plan), run) = saved_plan_with(&["--param", "size=12"]);
    let plan_arg = plan.to_str().unwrap();
    assert!(
        run.stderr.contains(&format!("gig apply {plan_arg}")),
        "{}",
        run.stderr
    );
    gig.run_in(dir.path(), &["apply", plan_arg]).expect_code(0);
    let after = state(&gig, dir.path());
    assert_eq!(
        after["resources"]["random.id.a"]["value"]["byte_length"],
        serde_json::json!(12)
    );
}

/// A `--param` that contradicts the plan's is refused naming the flag and both values;
/// giving the same value again is fine.
#[test]
fn a_param_flag_that_contradicts_the_plan_is_refused_naming_both_values() {
    let ((dir, gig, plan), _) = saved_plan_with(&["--param", "size=12"]);
    let plan_arg = plan.to_str().unwrap();
    let run = gig
        .run_in(dir.path(), &["apply", plan_arg, "--param", "size=16"])
        .expect_code(1);
    assert!(run.stderr.contains("gig::E0353"), "{}", run.stderr);
    assert!(
        run.stderr.contains("--param size=16") && run.stderr.contains("size=12"),
        "{}",
        run.stderr
    );
    let run = gig
        .run_in(dir.path(), &["apply", plan_arg, "--stack-name", "other"])
        .expect_code(1);
    assert!(
        run.stderr.contains("gig::E0353") && run.stderr.contains("--stack-name other"),
        "{}",
        run.stderr
    );
    gig.run_in(dir.path(), &["apply", plan_arg, "--param", "size=12"])
        .expect_code(0);
}

/// A secret param is kept in the file only as a digest: apply needs it again, names it
/// when it is missing or different, and never prints it.
#[test]
fn a_secret_param_is_verified_not_stored() {
    let secret = "hunter2-plan-secret";
    let text =
        format!("{STACK}\nparam token: string {{\n  secret = true\n}}\n\nprovider random {{\n}}\n");
    let dir = stack(&[("main.gig", &text)]);
    let gig = Gig::new();
    let plan = dir.path().join("p.plan");
    let plan_arg = plan.to_str().unwrap();
    gig.run_in_with(
        dir.path(),
        &["plan", ".", "--out", plan_arg],
        &[("GIG_PARAM_token", secret)],
    )
    .expect_code(0);
    let file = std::fs::read_to_string(&plan).unwrap();
    assert!(!file.contains(secret), "the secret is not in the file");
    let run = gig
        .run_in_with(
            dir.path(),
            &["apply", plan_arg],
            &[("GIG_PARAM_token", "zz-other-secret")],
        )
        .expect_code(1);
    assert!(
        run.stderr.contains("gig::E0350") && run.stderr.contains("secret param token"),
        "{}",
        run.stderr
    );
    assert!(!run.all().contains(secret) && !run.all().contains("zz-other-secret"));
    let run = gig
        .run_in_with(
            dir.path(),
            &["apply", plan_arg],
            &[("GIG_PARAM_token", secret)],
        )
        .expect_code(0);
    assert!(!run.all().contains(secret));
}

/// Regression: a planned value edited in the file (14 → 3) was displayed as planned by
/// `gig show` while `gig apply` set 3. Both now refuse the edited file.
#[test]
fn an_edited_plan_file_is_neither_shown_nor_applied() {
    let ((dir, gig, plan), _) = saved_plan_with(&["--param", "size=14"]);
    let plan_arg = plan.to_str().unwrap();
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan).unwrap()).expect("plan file is JSON");
    let change = file["plan"]["changes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["address"] == "random.id.a")
        .expect("random.id.a");
    assert_eq!(change["planned"]["byte_length"], serde_json::json!(14));
    change["planned"]["byte_length"] = serde_json::json!(3);
    std::fs::write(&plan, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    for command in ["show", "apply"] {
        let run = gig.run_in(dir.path(), &[command, plan_arg]).expect_code(1);
        assert!(
            run.stderr.contains("gig::E0354"),
            "{command}: {}",
            run.stderr
        );
        assert!(
            run.stdout.is_empty(),
            "{command} shows nothing: {}",
            run.stdout
        );
    }
    let run = gig
        .run_in(dir.path(), &["state", "list", "."])
        .expect_code(1);
    assert!(
        run.stderr.contains("gig::E0361"),
        "nothing was applied: {}",
        run.stderr
    );
}

/// A plan file of another format version is refused with E0351 naming both versions,
/// by `show` and `apply` alike; nothing is applied.
#[test]
fn a_plan_file_of_another_format_version_is_refused_naming_both_versions() {
    let (dir, gig, plan) = saved_plan();
    let plan_arg = plan.to_str().unwrap();
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan).unwrap()).expect("plan file is JSON");
    let current = file["format_version"].as_u64().expect("format_version");
    file["format_version"] = serde_json::json!(current + 1);
    file["gig_version"] = serde_json::json!("9.9.9");
    std::fs::write(&plan, serde_json::to_vec(&file).unwrap()).unwrap();
    for command in ["show", "apply"] {
        let run = gig.run_in(dir.path(), &[command, plan_arg]).expect_code(1);
        assert!(
            run.stderr.contains("gig::E0351"),
            "{command}: {}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains(&format!("format version {}", current + 1))
                && run.stderr.contains(&format!("format version {current}."))
                && run.stderr.contains("gig 9.9.9"),
            "{command} names both versions: {}",
            run.stderr
        );
    }
    let run = gig
        .run_in(dir.path(), &["state", "list", "."])
        .expect_code(1);
    assert!(
        run.stderr.contains("gig::E0361"),
        "nothing was applied, so there is no state: {}",
        run.stderr
    );
}

/// A damaged plan file is refused with E0352, not a JSON parser dump.
#[test]
fn a_damaged_plan_file_is_refused_with_a_code() {
    let (dir, gig, plan) = saved_plan();
    let plan_arg = plan.to_str().unwrap();
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan).unwrap()).expect("plan file is JSON");
    file["plan"]["changes"][0]["action"] = serde_json::json!("obliterate");
    std::fs::write(&plan, serde_json::to_vec(&file).unwrap()).unwrap();
    let run = gig.run_in(dir.path(), &["apply", plan_arg]).expect_code(1);
    assert!(run.stderr.contains("gig::E0352"), "{}", run.stderr);
    std::fs::write(&plan, "not a plan").unwrap();
    let run = gig.run_in(dir.path(), &["show", plan_arg]).expect_code(1);
    assert!(run.stderr.contains("gig::E0352"), "{}", run.stderr);
}

/// Plan files hold secret values in clear (apply needs them): only their owner may read
/// them, whatever the umask.
#[cfg(unix)]
#[test]
fn plan_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let (_dir, _gig, plan) = saved_plan();
    let mode = std::fs::metadata(&plan)
        .expect("plan file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
}

/// Regression: `--env` and `--state-dir` were silently ignored with a plan file, so a
/// staging plan was applied while the command line asked for production.
#[test]
fn flags_that_contradict_the_plan_file_are_refused() {
    let dir = stack(&[
        (
            "main.gig",
            "param size: number = 4\n\nresource random.id a {\n  byte_length = size\n}\n",
        ),
        ("env/staging.gigvars", "size = 4\n"),
        ("env/production.gigvars", "size = 8\n"),
    ]);
    let gig = Gig::new();
    let plan = dir.path().join("staging.plan");
    let plan_arg = plan.to_str().unwrap();
    gig.run_in(
        dir.path(),
        &["plan", ".", "--env", "staging", "--out", plan_arg],
    )
    .expect_code(0);
    let refused = gig
        .run_in(dir.path(), &["apply", plan_arg, "--env", "production"])
        .expect_code(1);
    assert!(refused.stderr.contains("gig::E0353"), "{}", refused.stderr);
    assert!(refused.stderr.contains("production"), "{}", refused.stderr);
    let elsewhere = dir.path().join("other-state");
    let refused = gig
        .run_in(
            dir.path(),
            &[
                "apply",
                plan_arg,
                "--state-dir",
                elsewhere.to_str().unwrap(),
            ],
        )
        .expect_code(1);
    assert!(refused.stderr.contains("gig::E0353"), "{}", refused.stderr);
    assert!(!elsewhere.exists(), "nothing was written there");
    gig.run_in(dir.path(), &["apply", plan_arg, "--env", "staging"])
        .expect_code(0);
}

/// Regression: paths in a plan file were relative to where the plan ran, so applying it
/// from another directory failed.
#[test]
fn a_plan_file_applies_from_any_directory() {
    let (dir, gig, plan) = saved_plan();
    let elsewhere = tempfile::tempdir().expect("temp dir");
    gig.run_in(elsewhere.path(), &["apply", plan.to_str().unwrap()])
        .expect_code(0);
    assert_eq!(
        state(&gig, dir.path())["resources"]
            .as_object()
            .map(serde_json::Map::len),
        Some(2),
        "applied to the stack's own state"
    );
}
