//! Rollback of a failed apply on the in-process test provider: the tenth change fails
//! permanently, and the rollback deletes what the apply created and restores what it
//! updated, in reverse dependency order, so that the old configuration plans no change.

mod world;

use std::time::Duration;

use gig_engine::model::Action;
use gig_engine::rollback::rollback;
use gig_provider_test::{FailRule, Operation, TestOptions};
use tokio::sync::watch;
use world::{options, thing as addr, world};

/// Two resources; every later version must roll back to exactly this.
const OLD: &str = r#"
resource test.thing a {
  name  = "a"
  value = 1
}

resource test.thing b {
  name  = "b"
  value = 1
  ref   = test.thing.a.id
}
"#;

/// `a` and `b` updated (`b` now refers to the new `n9`), and a chain `n3` … `n10` of new
/// resources, the tenth change of the apply, `n10`, failing.
fn new_config() -> String {
    let mut text = r#"
resource test.thing a {
  name  = "a"
  value = 2
}

resource test.thing b {
  name  = "b"
  value = 2
  ref   = test.thing.n9.id
}

resource test.thing n3 {
  name = "n3"
  ref  = test.thing.a.id
}
"#
    .to_string();
    for i in 4..=10 {
        text.push_str(&format!(
            "\nresource test.thing n{i} {{\n  name = \"n{i}\"\n  ref  = test.thing.n{}.id\n}}\n",
            i - 1
        ));
    }
    text
}

#[tokio::test]
async fn a_failed_apply_rolls_back_to_a_state_the_old_config_plans_no_change_for() {
    let w = world(TestOptions {
        fail: vec![FailRule::always(Operation::Create, "test.thing.n10")],
        latency: Duration::from_millis(20),
        ..TestOptions::default()
    });
    let (_, first) = w.apply(OLD).await;
    assert!(first.is_success(), "{first:#?}");
    let before = w.store.snapshot().unwrap();
    let objects_before = w.objects.all();

    let (plan, providers) = w.plan(&new_config()).await;
    assert_eq!((plan.summary.add, plan.summary.change), (8, 2));
    let report = w.run(&plan, &providers).await;
    assert_eq!(report.succeeded.len(), 9, "{report:#?}");
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, addr("n10"));

    w.factory.log().clear();
    let rolled = rollback(
        &plan,
        &report,
        &providers,
        &w.store,
        &options(&plan),
        watch::channel(false).1,
        &|_| {},
    )
    .await
    .expect("the state is readable");
    assert!(rolled.run.is_success(), "{:#?}", rolled.run);
    let mut undone: Vec<(String, Action)> = rolled
        .undone
        .iter()
        .map(|(a, act)| (a.name.clone(), *act))
        .collect();
    undone.sort();
    let mut expected = vec![
        ("a".to_string(), Action::Update),
        ("b".to_string(), Action::Update),
    ];
    expected.extend((3..=9).map(|i| (format!("n{i}"), Action::Create)));
    expected.sort();
    assert_eq!(undone, expected);
    // The refused create made nothing, so nothing is left that was not undone.
    assert!(rolled.is_complete(), "{:#?}", rolled.not_undone);

    // Reverse dependency order: b let go of n9 before n9 went, n9 went before n8, and
    // n4 before n3.
    let calls = w.factory.log().calls();
    let call = |op: Operation, name: &str| {
        calls
            .iter()
            .find(|c| c.operation == op && c.address == format!("test.thing.{name}"))
            .unwrap_or_else(|| panic!("no {op:?} of {name}: {calls:#?}"))
    };
    let before_ = |(op1, a): (Operation, &str), (op2, b): (Operation, &str)| {
        assert!(
            call(op1, a).end <= call(op2, b).start,
            "{op1:?} of {a} did not end before {op2:?} of {b} began"
        );
    };
    before_((Operation::Update, "b"), (Operation::Delete, "n9"));
    before_((Operation::Delete, "n9"), (Operation::Delete, "n8"));
    before_((Operation::Delete, "n4"), (Operation::Delete, "n3"));

    // The cloud and the state are back where they were, and the old config agrees.
    let values = |s: &gig_state::Snapshot| -> Vec<(String, String)> {
        s.resources
            .values()
            .map(|r| (r.addr.to_string(), r.id.clone()))
            .collect()
    };
    let after = w.store.snapshot().unwrap();
    assert_eq!(values(&after), values(&before));
    assert_eq!(w.objects.all(), objects_before);
    let (plan, _) = w.plan(OLD).await;
    assert!(!plan.has_changes(), "{:#?}", plan.changes);

    // The history holds the apply and its rollback.
    let history = w.store.history().unwrap();
    let ops: Vec<&str> = history.iter().map(|h| h.operation.as_str()).collect();
    assert_eq!(ops[ops.len() - 2..], ["apply", "rollback"]);
}
