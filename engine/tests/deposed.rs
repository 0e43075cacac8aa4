//! Deposed objects end to end on the in-process test provider: the old object of a
//! create-before-destroy replacement stays on record until its delete succeeds — when
//! the delete fails, or gig is stopped between the create and the delete — and the next
//! apply deletes it.

mod world;

use std::time::Duration;

use gig_engine::apply::apply;
use gig_engine::events::{ApplyEvent, Step};
use gig_engine::model::Action;
use gig_provider::ErrorClass;
use gig_provider_test::{FailRule, Operation, TestOptions};
use tokio::sync::watch;
use world::{options, thing as addr, world, World};

/// `a` is replaced (its zone forces a new object) with create_before_destroy; `b`
/// refers to it and moves to the new object.
fn stack(zone: &str) -> String {
    format!(
        r#"
resource test.thing a {{
  name = "a"
  zone = "{zone}"
  lifecycle {{
    create_before_destroy = true
  }}
}}

resource test.thing b {{
  name = "b"
  ref  = test.thing.a.id
}}
"#
    )
}

/// The id recorded at `test.thing.NAME`.
fn recorded_id(w: &World, name: &str) -> String {
    w.store.snapshot().unwrap().resources[&addr(name)]
        .id
        .clone()
}

/// The deposed object left at `a` is planned for deletion, shown, and deleted by the
/// next apply, after which nothing is left to do.
async fn next_apply_deletes(w: &World, old: &str, new: &str) {
    let (plan, _) = w.plan(&stack("z2")).await;
    assert!(plan.has_changes());
    assert_eq!(plan.deposed.len(), 1, "{:#?}", plan.deposed);
    assert_eq!(plan.deposed[0].id, old);
    let text = gig_engine::render::text(&plan).plain().to_string();
    assert!(
        text.contains(&format!(
            "test.thing.a: deposed object {old} will be destroyed"
        )),
        "{text}"
    );
    let json = gig_engine::render::json(&plan);
    assert_eq!(json["deposed"][0]["id"], old);
    let markdown = gig_engine::render::markdown(&plan, &Default::default());
    assert!(
        markdown.contains(&format!("deposed object `{old}` will be destroyed")),
        "{markdown}"
    );

    let (_, report) = w.apply(&stack("z2")).await;
    assert!(report.is_success(), "{report:#?}");
    assert_eq!(w.ids("a"), vec![new.to_string()]);
    let snap = w.store.snapshot().unwrap();
    assert!(snap.deposed.is_empty(), "{:#?}", snap.deposed);
    assert_eq!(snap.resources[&addr("a")].id, new);
    let (plan, _) = w.plan(&stack("z2")).await;
    assert!(!plan.has_changes(), "{:#?}", plan.deposed);
}

#[tokio::test]
async fn a_failed_delete_leaves_the_old_object_deposed_and_the_next_apply_deletes_it() {
    let w = world(TestOptions {
        fail: vec![FailRule::transient(
            Operation::Delete,
            "test.thing.a",
            ErrorClass::Permanent,
            1,
        )],
        ..TestOptions::default()
    });
    let (_, first) = w.apply(&stack("z1")).await;
    assert!(first.is_success(), "{first:#?}");
    let old = recorded_id(&w, "a");

    let (plan, second) = w.apply(&stack("z2")).await;
    let a = plan.changes.iter().find(|c| c.addr == addr("a")).unwrap();
    assert_eq!(a.action, Action::Replace);
    assert_eq!(second.failed.len(), 1, "{second:#?}");
    let (failed, error, _) = &second.failed[0];
    assert_eq!(*failed, addr("a"));
    assert!(
        error.message.contains(&format!(
            "the replaced object {old} stays on record as deposed"
        )),
        "{}",
        error.message
    );
    let new = recorded_id(&w, "a");
    assert_ne!(new, old);
    assert_eq!(w.ids("a").len(), 2, "both objects exist");
    let snap = w.store.snapshot().unwrap();
    let deposed: Vec<&str> = snap.deposed.values().map(|d| d.id.as_str()).collect();
    assert_eq!(deposed, vec![old.as_str()]);
    assert_eq!(
        snap.resources[&addr("b")]
            .value
            .get("ref")
            .and_then(|v| v.as_str()),
        Some(new.as_str()),
        "b moved to the new object before the old one's delete"
    );

    let (plan, _) = w.plan(&stack("z2")).await;
    assert!(!plan.summary.has_changes(), "{:#?}", plan.changes);
    next_apply_deletes(&w, &old, &new).await;
}

/// gig stopped (the apply future dropped, as by a kill) after the new object was
/// recorded and before the old one was deleted: the old one is on record as deposed.
#[tokio::test]
async fn an_apply_stopped_between_create_and_delete_leaves_the_old_object_deposed() {
    let w = world(TestOptions {
        latency: Duration::from_millis(100),
        ..TestOptions::default()
    });
    let (_, first) = w.apply(&stack("z1")).await;
    assert!(first.is_success(), "{first:#?}");
    let old = recorded_id(&w, "a");

    let (plan, providers) = w.plan(&stack("z2")).await;
    let (created_tx, mut created_rx) = watch::channel(false);
    let events = move |e: ApplyEvent| {
        if let ApplyEvent::Finished {
            addr: a,
            step: Step::Create,
            ..
        } = e
        {
            if a == addr("a") {
                let _ = created_tx.send(true);
            }
        }
    };
    let opts = options(&plan);
    tokio::select! {
        report = apply(&plan, &providers, &w.store, &opts, watch::channel(false).1, &events) => {
            panic!("the apply ran to the end: {report:#?}");
        }
        _ = created_rx.wait_for(|c| *c) => {}
    }
    let new = recorded_id(&w, "a");
    assert_ne!(new, old);
    assert_eq!(w.ids("a").len(), 2);
    let snap = w.store.snapshot().unwrap();
    assert_eq!(snap.deposed.len(), 1, "{:#?}", snap.deposed);

    next_apply_deletes(&w, &old, &new).await;
}
