//! Create intents end to end on the in-process test provider: a create whose result
//! never reached state — its answer lost (and the lookup apply makes within the run
//! failed too), or gig stopped while the object became ready —
//! is adopted by the next run instead of being made a second time, with or without an id
//! reported early; a create the cloud refused leaves nothing behind.

mod world;

use std::time::Duration;

use gig_engine::model::Action;
use gig_engine::recover::Resolution;
use gig_provider::ErrorClass;
use gig_provider_test::{FailRule, Operation, TestOptions};
use world::{thing as addr, world};

const STACK: &str = r#"
resource test.thing a {
  name = "a"
}

resource test.thing b {
  name = "b"
  ref  = test.thing.a.id
}

resource test.thing c {
  name = "c"
  ref  = test.thing.b.id
}
"#;

fn lost_answer(address: &str) -> FailRule {
    FailRule::transient(Operation::Create, address, ErrorClass::Retryable, 1)
}

/// The lookup apply makes within the run after a lost answer fails once, so the create
/// is left to the next run to resolve.
fn lookup_fails_once(address: &str) -> FailRule {
    FailRule::transient(Operation::Read, address, ErrorClass::Permanent, 1)
}

async fn adopts_after_a_lost_answer(options: TestOptions) {
    let w = world(options);
    let (_, first) = w.apply(STACK).await;
    assert_eq!(first.failed.len(), 1, "{first:#?}");
    assert_eq!(first.failed[0].0, addr("b"));
    let snap = w.store.snapshot().unwrap();
    assert!(snap.resources.contains_key(&addr("a")));
    assert!(!snap.resources.contains_key(&addr("b")));
    assert!(snap.intents.contains_key(&addr("b")), "{snap:#?}");
    assert_eq!(w.ids("b").len(), 1, "the lost create made its object");

    let (plan, second) = w.apply(STACK).await;
    let b = plan.changes.iter().find(|c| c.addr == addr("b")).unwrap();
    assert_eq!(b.action, Action::NoOp, "b is adopted, not created again");
    let id = b.id.clone().expect("the adopted id");
    assert_eq!(
        plan.recovered.get(&addr("b")),
        Some(&Resolution::Adopted(id.clone()))
    );
    let text = gig_engine::render::text(&plan).plain().to_string();
    assert!(
        text.contains(&format!("test.thing.b: its object {id} exists")),
        "{text}"
    );
    assert!(second.is_success(), "{second:#?}");
    assert_eq!(
        (w.ids("a").len(), w.ids("b").len(), w.ids("c").len()),
        (1, 1, 1)
    );
    let snap = w.store.snapshot().unwrap();
    assert_eq!(snap.resources[&addr("b")].id, id);
    assert!(snap.intents.is_empty(), "{:?}", snap.intents.keys());
    // c was created against the adopted b.
    let c = &snap.resources[&addr("c")].value;
    assert_eq!(c.get("ref").and_then(|v| v.as_str()), Some(id.as_str()));

    let (plan, _) = w.plan(STACK).await;
    assert!(!plan.has_changes(), "{:#?}", plan.changes);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_adopted_by_its_reported_id() {
    adopts_after_a_lost_answer(TestOptions {
        after_create: vec![lost_answer("test.thing.b")],
        fail: vec![lookup_fails_once("test.thing.b")],
        ..TestOptions::default()
    })
    .await;
}

#[tokio::test]
async fn without_a_reported_id_the_object_is_found_by_its_marks() {
    adopts_after_a_lost_answer(TestOptions {
        after_create: vec![lost_answer("test.thing.b")],
        fail: vec![lookup_fails_once("test.thing.b")],
        silent_ids: true,
        ..TestOptions::default()
    })
    .await;
}

#[tokio::test]
async fn a_create_the_cloud_refused_leaves_no_intent() {
    let w = world(TestOptions {
        fail: vec![FailRule::always(Operation::Create, "test.thing.b")],
        ..TestOptions::default()
    });
    let (_, report) = w.apply(STACK).await;
    assert_eq!(report.failed.len(), 1);
    let snap = w.store.snapshot().unwrap();
    assert!(snap.intents.is_empty(), "{:?}", snap.intents.keys());
    assert_eq!(w.ids("b").len(), 0);
}

/// gig stopped (the apply future dropped, as by a kill) while an object it had made was
/// becoming ready: the id reported before the wait is on record, and the next run adopts.
#[tokio::test]
async fn an_apply_stopped_during_the_wait_keeps_the_reported_id() {
    let w = world(TestOptions {
        settle: Duration::from_secs(30),
        ..TestOptions::default()
    });
    let (plan, providers) = w.plan(STACK).await;
    let stopped = tokio::time::timeout(Duration::from_millis(500), w.run(&plan, &providers)).await;
    assert!(stopped.is_err(), "the apply was still waiting");
    let snap = w.store.snapshot().unwrap();
    assert!(snap.resources.is_empty());
    let intent = &snap.intents[&addr("a")];
    assert!(intent.id.is_some(), "{intent:#?}");
    assert_eq!(w.ids("a").len(), 1);

    let (plan, _) = w.plan(STACK).await;
    assert_eq!(
        plan.recovered.get(&addr("a")),
        Some(&Resolution::Adopted(intent.id.clone().unwrap()))
    );
    let a = plan.changes.iter().find(|c| c.addr == addr("a")).unwrap();
    assert_eq!(a.action, Action::NoOp);
}
