//! The plan file is a designed contract: its schema is held by a golden file, and
//! writing what was read gives back the same bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gig_dsl::load::LoadOptions;
use gig_engine::pipeline::{self, PlanOptions, Stack};
use gig_engine::planfile::{PlanFile, FORMAT_VERSION};
use gig_provider::Registry;
use gig_state::Snapshot;

/// A stack whose plan holds residual expressions of most kinds: references, templates,
/// calls, operators, conditionals, for-expressions, and a secret.
const STACK: &str = r#"param prefix: string = "web"
param token: string = "s3cr3t-token-value" {
  secret = true
}

resource random.id a {
  byte_length = 8
}

resource random.password pw {
  length = 20
}

resource test.thing t {
  name  = "${prefix}-${random.id.a.hex}"
  value = {
    upper  = upper(random.id.a.hex)
    long   = length(random.id.a.hex) > 4 ? "long" : "short"
    parts  = [for p in split("-", random.id.a.hex) : p]
    pw     = random.password.pw.result
    token  = token
    sum    = random.id.a.byte_length + 1
    negate = !(random.id.a.byte_length == 8)
  }
}

output name = test.thing.t.name
"#;

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(Arc::new(gig_provider_random::RandomFactory::new()));
    r.register(Arc::new(gig_provider_test::TestFactory::new(
        gig_provider_test::TestOptions::default(),
    )));
    r
}

fn saved_plan() -> PlanFile {
    let registry = registry();
    // One param given as on the command line, so the file records its input.
    let load = LoadOptions {
        params: vec![("prefix".into(), "api".into())],
        ..LoadOptions::default()
    };
    let loaded = pipeline::load_str("main.gig", STACK, &load, &registry);
    let stack = Stack::from_loaded(loaded)
        .unwrap_or_else(|(_, diagnostics)| panic!("the stack loads: {diagnostics:#?}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let outcome = runtime
        .block_on(pipeline::plan_stack(
            &stack,
            &Snapshot::default(),
            &registry,
            &PlanOptions::default(),
        ))
        .expect("providers configure");
    let plan = outcome.plan.expect("a plan");
    PlanFile {
        format_version: FORMAT_VERSION,
        gig_version: "0.0.0-test".into(),
        stack_dir: PathBuf::from("stacks/example"),
        state_dir: PathBuf::from("stacks/example/.gig/state/default"),
        env: "default".into(),
        lineage: "lineage-1".into(),
        serial: 3,
        config_digest: stack.config_digest(Path::new(".")),
        stack_name_flag: false,
        sources: stack.source_digests(Path::new(".")),
        params: gig_engine::planfile::param_records(&stack.config, &load),
        plan,
    }
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/planfile/plan.json")
}

/// Any change to what a plan file holds shows here; a change that is not a new
/// `FORMAT_VERSION` with docs/plan-file.md updated is a bug.
/// `UPDATE_EXPECT=1 cargo test -p gig-engine --test planfile` rewrites the golden.
#[test]
fn the_plan_file_schema_is_held_by_a_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.plan");
    saved_plan().write(&path).expect("written");
    let text = std::fs::read_to_string(&path).unwrap();
    expect_test::expect_file![golden()].assert_eq(&text);
}

#[test]
fn reading_and_writing_again_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.plan");
    let second = dir.path().join("second.plan");
    saved_plan().write(&first).expect("written");
    PlanFile::read(&first)
        .expect("read back")
        .write(&second)
        .expect("written again");
    assert_eq!(
        std::fs::read_to_string(&first).unwrap(),
        std::fs::read_to_string(&second).unwrap()
    );
}

/// Regression: a planned value edited in the file (14 → 3) was shown as planned by
/// `gig show` while `gig apply` set the edited value. Any edit of the content is now
/// refused; reformatting the JSON is not an edit.
#[test]
fn an_edited_plan_file_is_refused_and_a_reformatted_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.plan");
    saved_plan().write(&path).expect("written");
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    PlanFile::read(&path).expect("compact JSON of the same content reads");

    file["plan"]["changes"][0]["planned"]["byte_length"] = serde_json::json!(3);
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    let err = PlanFile::read(&path).expect_err("an edited value is refused");
    assert!(
        matches!(err, gig_engine::planfile::PlanFileError::Edited { .. }),
        "{err}"
    );
    assert_eq!(err.diagnostic().code, gig_core::diag::Code::E0354);
}
