//! Behaviour of one process's state store: round trips, serial and lineage, history,
//! snapshots of the past, restore, rm/mv, JSON export, in-process locking and corrupt
//! records.

mod common;

use common::{build_history, open, outputs, record, subnet, Scratch};
use gig_core::addr::ResourceAddr;
use gig_core::value::Value;
use gig_state::{LockInfo, Snapshot, StateBackend, StateError, Store, Write};

#[test]
fn records_and_outputs_round_trip_through_reopen() {
    let scratch = Scratch::new("roundtrip");
    let a = record(&subnet("a"), "subnet-a");
    let b = record(
        &ResourceAddr::managed("aws.vpc", "main").with_key(gig_core::addr::InstanceKey::Index(3)),
        "vpc-1",
    );
    let outs = outputs(&[("vpc_id", "vpc-1")]);
    let before = {
        let store = open(&scratch.state());
        store.begin("apply").unwrap();
        store.put(&a).unwrap();
        store.put(&b).unwrap();
        store.set_outputs(&outs).unwrap();
        store.snapshot().unwrap()
    };
    let store = open(&scratch.state());
    let after = store.snapshot().unwrap();
    assert_eq!(before, after);
    assert_eq!(after.resources.len(), 2);
    assert_eq!(after.resources.get(&a.addr), Some(&a));
    assert_eq!(after.outputs, outs);
    assert_eq!(store.get(&b.addr).unwrap(), Some(b));
    assert_eq!(store.get(&subnet("zzz")).unwrap(), None);
    // The secret is still a secret after the round trip.
    let password = a.value.get("password").unwrap();
    assert_eq!(
        after.resources[&a.addr].value.get("password"),
        Some(password)
    );
    assert!(password.is_secret());
}

#[test]
fn lineage_is_fixed_at_creation_and_serial_counts_sessions() {
    let scratch = Scratch::new("serial");
    let lineage = {
        let store = open(&scratch.state());
        assert_eq!(store.serial().unwrap(), 0);
        assert_eq!(store.lineage().len(), 32);
        assert!(store.lineage().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(store.begin("apply").unwrap(), 1);
        store.put(&record(&subnet("a"), "s-1")).unwrap();
        store.put(&record(&subnet("b"), "s-2")).unwrap();
        assert_eq!(store.serial().unwrap(), 1, "puts do not bump the serial");
        assert_eq!(store.begin("destroy").unwrap(), 2);
        store.lineage().to_string()
    };
    let store = open(&scratch.state());
    assert_eq!(store.lineage(), lineage);
    assert_eq!(store.serial().unwrap(), 2);
    assert_eq!(store.snapshot().unwrap().serial, 2);
    assert_eq!(store.begin("apply").unwrap(), 3);

    let other = Scratch::new("serial-other");
    assert_ne!(open(&other.state()).lineage(), lineage);
}

/// The stack identity is absent until recorded, survives reopening, and is kept when an
/// earlier version is restored (it names the state, not a version of it).
#[test]
fn the_stack_identity_is_recorded_once_and_kept_across_restore() {
    let scratch = Scratch::new("identity");
    {
        let store = open(&scratch.state());
        assert_eq!(store.stack_identity().unwrap(), None);
        store.set_stack_identity("shop-dev").unwrap();
        store.begin("apply").unwrap();
        store.put(&record(&subnet("a"), "s-1")).unwrap();
        store.begin("apply").unwrap();
        store.put(&record(&subnet("b"), "s-2")).unwrap();
    }
    let store = open(&scratch.state());
    assert_eq!(store.stack_identity().unwrap().as_deref(), Some("shop-dev"));
    store.restore(1).unwrap();
    assert_eq!(store.stack_identity().unwrap().as_deref(), Some("shop-dev"));
}

#[test]
fn writes_outside_a_session_are_refused() {
    let scratch = Scratch::new("nosession");
    let store = open(&scratch.state());
    let r = record(&subnet("a"), "s-1");
    assert!(matches!(store.put(&r), Err(StateError::NoSession(_))));
    assert!(matches!(
        store.set_outputs(&outputs(&[])),
        Err(StateError::NoSession(_))
    ));
    assert!(matches!(
        store.remove(&r.addr),
        Err(StateError::NoSession(_))
    ));
    assert_eq!(store.snapshot().unwrap().resources.len(), 0);
    // A session from a previous process does not carry over.
    store.begin("apply").unwrap();
    store.put(&r).unwrap();
    drop(store);
    let store = open(&scratch.state());
    assert!(matches!(store.put(&r), Err(StateError::NoSession(_))));
}

#[test]
fn removing_a_missing_resource_is_an_error() {
    let scratch = Scratch::new("remove-missing");
    let store = open(&scratch.state());
    store.begin("destroy").unwrap();
    match store.remove(&subnet("ghost")) {
        Err(StateError::NoSuchResource(addr)) => assert_eq!(addr, subnet("ghost")),
        other => panic!("expected NoSuchResource, got {other:?}"),
    }
    assert!(store.history().unwrap()[0].changed.is_empty());
}

/// Runs a fixed series of sessions, returning the snapshot expected after each serial
/// (index = serial).
#[test]
fn history_lists_sessions_oldest_first_with_their_changes() {
    let scratch = Scratch::new("history");
    let store = open(&scratch.state());
    build_history(&store);
    let history = store.history().unwrap();
    let summary: Vec<(u64, &str, Vec<String>)> = history
        .iter()
        .map(|h| {
            (
                h.serial,
                h.operation.as_str(),
                h.changed.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    let s = |n: &str| format!("aws.subnet.private[{n:?}]");
    assert_eq!(
        summary,
        vec![
            (1, "apply", vec![s("a"), s("b")]),
            (2, "apply", vec![s("a"), s("b"), s("c")]),
            (3, "import", vec![s("b"), s("d")]),
            (4, "state rm", vec![s("a")]),
        ]
    );
    for h in &history {
        // RFC 3339 UTC, whole seconds: 2024-02-29T12:34:56Z.
        assert_eq!(h.started.len(), 20, "{}", h.started);
        assert!(h.started.ends_with('Z') && h.started.as_bytes()[10] == b'T');
    }
}

#[test]
fn snapshot_at_rebuilds_every_version_exactly() {
    let scratch = Scratch::new("snapshot-at");
    let store = open(&scratch.state());
    let expected = build_history(&store);
    for (serial, want) in expected.iter().enumerate() {
        let got = store.snapshot_at(serial as u64).unwrap();
        assert_eq!(&got, want, "version {serial}");
    }
    // And after a reopen, from disk alone.
    drop(store);
    let store = open(&scratch.state());
    for (serial, want) in expected.iter().enumerate() {
        assert_eq!(
            &store.snapshot_at(serial as u64).unwrap(),
            want,
            "version {serial}"
        );
    }
    assert!(matches!(
        store.snapshot_at(5),
        Err(StateError::NoSuchSerial(5))
    ));
}

#[test]
fn restore_writes_an_old_version_back_as_a_new_session() {
    let scratch = Scratch::new("restore");
    let store = open(&scratch.state());
    let expected = build_history(&store);

    let serial = store.restore(1).unwrap();
    assert_eq!(serial, 5);
    let now = store.snapshot().unwrap();
    assert_eq!(now.serial, 5);
    assert_eq!(now.resources, expected[1].resources);
    assert_eq!(now.outputs, expected[1].outputs);
    assert_eq!(now.lineage, expected[1].lineage);

    let history = store.history().unwrap();
    assert_eq!(history.len(), 5, "earlier history is kept");
    let last = &history[4];
    assert_eq!(last.operation, "restore");
    // Version 4 held b and c; version 1 holds a and b (b with another id).
    let changed: Vec<String> = last.changed.iter().map(ToString::to_string).collect();
    assert_eq!(
        changed,
        vec![
            "aws.subnet.private[\"a\"]".to_string(),
            "aws.subnet.private[\"b\"]".to_string(),
            "aws.subnet.private[\"c\"]".to_string()
        ]
    );
    // Versions before the restore are still readable, and a restore can be undone.
    assert_eq!(store.snapshot_at(4).unwrap(), expected[4]);
    store.restore(4).unwrap();
    let undone = store.snapshot().unwrap();
    assert_eq!(undone.resources, expected[4].resources);
    assert_eq!(undone.outputs, expected[4].outputs);
    // Restore leaves no session open.
    assert!(matches!(
        store.put(&record(&subnet("z"), "z")),
        Err(StateError::NoSession(_))
    ));
    assert!(matches!(
        store.restore(99),
        Err(StateError::NoSuchSerial(99))
    ));
    assert_eq!(store.serial().unwrap(), 6);
}

#[test]
fn rm_and_mv_are_sessions_of_their_own_and_refuse_bad_addresses() {
    let scratch = Scratch::new("rm-mv");
    let store = open(&scratch.state());
    store.begin("apply").unwrap();
    store.put(&record(&subnet("a"), "a-1")).unwrap();
    store.put(&record(&subnet("b"), "b-1")).unwrap();

    assert!(matches!(
        store.rm(&subnet("ghost")),
        Err(StateError::NoSuchResource(_))
    ));
    assert!(matches!(
        store.mv(&subnet("ghost"), &subnet("new")),
        Err(StateError::NoSuchResource(_))
    ));
    match store.mv(&subnet("a"), &subnet("b")) {
        Err(StateError::AddressExists(addr)) => assert_eq!(addr, subnet("b")),
        other => panic!("expected AddressExists, got {other:?}"),
    }
    let vpc = ResourceAddr::managed("aws.vpc", "main");
    assert!(matches!(
        store.mv(&subnet("a"), &vpc),
        Err(StateError::TypeMismatch { .. })
    ));
    assert_eq!(
        store.serial().unwrap(),
        1,
        "refused operations start no session"
    );
    assert_eq!(store.history().unwrap().len(), 1);

    assert_eq!(store.mv(&subnet("a"), &subnet("z")).unwrap(), 2);
    assert_eq!(store.get(&subnet("a")).unwrap(), None);
    let moved = store.get(&subnet("z")).unwrap().unwrap();
    assert_eq!(moved.addr, subnet("z"));
    assert_eq!(moved.id, "a-1");

    assert_eq!(store.rm(&subnet("b")).unwrap(), 3);
    assert_eq!(store.get(&subnet("b")).unwrap(), None);

    let history = store.history().unwrap();
    let ops: Vec<&str> = history.iter().map(|h| h.operation.as_str()).collect();
    assert_eq!(ops, vec!["apply", "state mv", "state rm"]);
    assert_eq!(history[1].changed, vec![subnet("a"), subnet("z")]);
    assert!(matches!(
        store.put(&record(&subnet("y"), "y")),
        Err(StateError::NoSession(_))
    ));
    // Both are undone exactly by a restore.
    store.restore(1).unwrap();
    assert_eq!(
        store.snapshot().unwrap().resources,
        store.snapshot_at(1).unwrap().resources
    );
}

#[test]
fn export_redacts_secrets_and_raw_export_keeps_them() {
    let scratch = Scratch::new("export");
    let store = open(&scratch.state());
    store.begin("apply").unwrap();
    store.put(&record(&subnet("b"), "b-1")).unwrap();
    store.put(&record(&subnet("a"), "a-1")).unwrap();
    let mut outs = outputs(&[("vpc", "vpc-1")]);
    outs.insert(
        "db_password".to_string(),
        Value::str("out-secret").into_secret(),
    );
    store.set_outputs(&outs).unwrap();

    let redacted = store.export_json().unwrap();
    let text = redacted.to_string();
    assert!(
        !text.contains("pw-") && !text.contains("out-secret"),
        "{text}"
    );
    assert_eq!(
        redacted["resources"]["aws.subnet.private[\"a\"]"]["value"]["password"],
        "(secret)"
    );
    assert_eq!(redacted["outputs"]["db_password"], "(secret)");
    assert_eq!(redacted["lineage"], store.lineage());
    assert_eq!(redacted["serial"], 1);
    assert_eq!(redacted["format_version"], 1);
    let names: Vec<&String> = redacted["resources"].as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        vec!["aws.subnet.private[\"a\"]", "aws.subnet.private[\"b\"]"]
    );
    let a = &redacted["resources"]["aws.subnet.private[\"a\"]"];
    assert_eq!(a["id"], "a-1");
    assert_eq!(a["provider"], "aws");
    assert_eq!(a["schema_version"], 1);
    assert_eq!(a["dependencies"], serde_json::json!(["aws.vpc.main"]));

    let raw = store.export_json_raw().unwrap();
    assert_eq!(
        raw["resources"]["aws.subnet.private[\"a\"]"]["value"]["password"],
        serde_json::json!({"$secret": "pw-a-1"})
    );
    assert_eq!(
        raw["outputs"]["db_password"],
        serde_json::json!({"$secret": "out-secret"})
    );
}

#[test]
fn a_second_open_is_refused_with_the_holder_named() {
    let scratch = Scratch::new("lock-inproc");
    let first = Store::open(&scratch.state(), LockInfo::current("gig apply stacks/x")).unwrap();
    match Store::open(&scratch.state(), LockInfo::current("gig plan")) {
        Err(StateError::Locked { path, holder, .. }) => {
            assert_eq!(path, scratch.state());
            assert_eq!(holder.pid, std::process::id());
            assert_eq!(holder.command, "gig apply stacks/x");
        }
        other => panic!("expected Locked, got {:?}", other.err()),
    }
    // Without a readable record the lock still holds, and says the holder is unknown.
    std::fs::write(scratch.state().join("lock.json"), b"{not json").unwrap();
    match Store::open(&scratch.state(), LockInfo::current("gig plan")) {
        Err(err @ StateError::Locked { .. }) => {
            let StateError::Locked { holder, .. } = &err else {
                unreachable!()
            };
            assert!(holder.is_unknown());
            assert!(err.to_string().contains("missing or unreadable"), "{err}");
        }
        other => panic!("expected Locked, got {:?}", other.err()),
    }
    drop(first);
    assert!(
        !scratch.state().join("lock.json").exists(),
        "the holder removes its record"
    );
    let second = open(&scratch.state());
    drop(second);
}

#[test]
fn a_stale_lock_record_does_not_block() {
    let scratch = Scratch::new("lock-stale");
    drop(open(&scratch.state()));
    let stale = LockInfo {
        pid: 999_999,
        host: "elsewhere".into(),
        command: "gig apply".into(),
        since: "2020-01-01T00:00:00Z".into(),
    };
    std::fs::write(
        scratch.state().join("lock.json"),
        serde_json::to_vec(&stale).unwrap(),
    )
    .unwrap();
    let store = Store::open(&scratch.state(), LockInfo::current("gig plan")).unwrap();
    let record: LockInfo =
        serde_json::from_slice(&std::fs::read(scratch.state().join("lock.json")).unwrap()).unwrap();
    assert_eq!(record.pid, std::process::id());
    assert_eq!(record.command, "gig plan");
    drop(store);
}

#[test]
fn a_corrupt_record_is_reported_with_its_key_and_without_its_bytes() {
    let scratch = Scratch::new("corrupt");
    {
        let store = open(&scratch.state());
        store.begin("apply").unwrap();
        store.put(&record(&subnet("a"), "a-1")).unwrap();
    }
    common::with_raw_db(&scratch.state(), |db| {
        let tree = db.open_tree("resources").unwrap();
        tree.insert(
            subnet("a").to_string().as_bytes(),
            &b"{\"hunter2\": tru"[..],
        )
        .unwrap();
    });
    let store = open(&scratch.state());
    for err in [
        store.snapshot().unwrap_err(),
        store.get(&subnet("a")).unwrap_err(),
    ] {
        match &err {
            StateError::Corrupt { path, key, .. } => {
                assert_eq!(path, &scratch.state());
                assert_eq!(key, "resources/aws.subnet.private[\"a\"]");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    // Writing over the bad record is refused too, rather than losing its history.
    store.begin("apply").unwrap();
    assert!(matches!(
        store.put(&record(&subnet("a"), "a-2")),
        Err(StateError::Corrupt { .. })
    ));
}

#[test]
fn puts_from_many_threads_all_land() {
    let scratch = Scratch::new("threads");
    let store = open(&scratch.state());
    store.begin("apply").unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = &store;
            s.spawn(move || {
                for i in 0..25 {
                    store
                        .put(&record(&subnet(&format!("{t}-{i}")), "x"))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(store.snapshot().unwrap().resources.len(), 100);
    assert_eq!(store.history().unwrap()[0].changed.len(), 100);
}

#[test]
fn the_store_is_usable_through_the_backend_trait() {
    let scratch = Scratch::new("trait");
    let store = open(&scratch.state());
    let backend: &dyn StateBackend = &store;
    backend.begin("apply").unwrap();
    backend.put(&record(&subnet("a"), "a-1")).unwrap();
    assert_eq!(backend.snapshot().unwrap().resources.len(), 1);
    assert_eq!(backend.rm(&subnet("a")).unwrap(), 2);
}

#[test]
fn a_raw_export_loads_back_as_a_backup() {
    let source = Scratch::new("backup-source");
    let store = open(&source.state());
    store.begin("apply").unwrap();
    store.put(&record(&subnet("a"), "a-1")).unwrap();
    store
        .put(&record(
            &ResourceAddr::managed("aws.instance", "web")
                .with_key(gig_core::addr::InstanceKey::Index(2)),
            "i-2",
        ))
        .unwrap();
    let mut outs = outputs(&[("vpc", "vpc-1")]);
    outs.insert(
        "db_password".to_string(),
        Value::str("out-secret").into_secret(),
    );
    store.set_outputs(&outs).unwrap();
    let raw = serde_json::to_string(&store.export_json_raw().unwrap()).unwrap();
    let original = store.snapshot().unwrap();

    // Into a lost (new) state directory: the backup's lineage is adopted.
    let target = Scratch::new("backup-target");
    let fresh = open(&target.state());
    let backup = Snapshot::from_json_raw(&serde_json::from_str(&raw).unwrap()).unwrap();
    assert_eq!(backup.resources, original.resources);
    assert_eq!(backup.outputs, original.outputs);
    assert_eq!(fresh.load_backup(&backup).unwrap(), 1);
    let loaded = fresh.snapshot().unwrap();
    assert_eq!(loaded.lineage, original.lineage);
    assert_eq!(loaded.resources, original.resources);
    assert_eq!(loaded.outputs, original.outputs);
    assert_eq!(fresh.history().unwrap()[0].operation, "restore backup");
    drop(fresh);
    assert_eq!(
        open(&target.state()).lineage(),
        original.lineage,
        "adoption is durable"
    );

    // Into the same state after later changes: only the differences are written.
    store.begin("apply").unwrap();
    store.remove(&subnet("a")).unwrap();
    assert_eq!(store.load_backup(&backup).unwrap(), 3);
    assert_eq!(store.history().unwrap()[2].changed, vec![subnet("a")]);
    assert_eq!(store.snapshot().unwrap().resources, original.resources);

    // Into another, already written state: refused.
    let other = Scratch::new("backup-other");
    let other = open(&other.state());
    other.begin("apply").unwrap();
    assert!(matches!(
        other.load_backup(&backup),
        Err(StateError::LineageMismatch { .. })
    ));

    // A redacted export has lost its secrets and is refused.
    let redacted = store.export_json().unwrap();
    match Snapshot::from_json_raw(&redacted) {
        Err(err @ StateError::BadBackup { .. }) => {
            assert!(err.to_string().contains("redacted"), "{err}");
        }
        other => panic!("expected BadBackup, got {other:?}"),
    }
    let mut broken: serde_json::Value = serde_json::from_str(&raw).unwrap();
    broken["resources"]["aws.subnet.private[\"a\"]"]["schema_version"] = serde_json::json!("one");
    assert!(matches!(
        Snapshot::from_json_raw(&broken),
        Err(StateError::BadBackup { .. })
    ));
}

#[test]
fn a_corrupt_serial_or_history_entry_is_reported_not_panicked() {
    let scratch = Scratch::new("corrupt-meta");
    {
        let store = open(&scratch.state());
        store.begin("apply").unwrap();
        store.put(&record(&subnet("a"), "a-1")).unwrap();
    }
    common::with_raw_db(&scratch.state(), |db| {
        let history = db.open_tree("history").unwrap();
        let (key, _) = history.iter().nth(1).unwrap().unwrap(); // the delta of session 1
        history.insert(key, &b"[1,"[..]).unwrap();
    });
    {
        let store = open(&scratch.state());
        match store.history() {
            Err(StateError::Corrupt { key, .. }) => {
                assert_eq!(key, "history/1/aws.subnet.private[\"a\"]")
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(matches!(
            store.snapshot_at(0),
            Err(StateError::Corrupt { .. })
        ));
        // The current state does not depend on history and still reads.
        assert_eq!(store.snapshot().unwrap().resources.len(), 1);
    }
    common::with_raw_db(&scratch.state(), |db| {
        db.open_tree("meta")
            .unwrap()
            .insert("serial", &b"xyz"[..])
            .unwrap();
    });
    match Store::open(&scratch.state(), LockInfo::current("gig plan")) {
        Err(StateError::Corrupt { key, .. }) => assert_eq!(key, "meta/serial"),
        other => panic!("expected Corrupt, got {:?}", other.err()),
    }
}

/// Regression: sled closes its file a moment after a drop, so a reopen in the same
/// process could find the state locked by itself.
#[test]
fn reopening_right_after_a_drop_is_not_refused() {
    let scratch = Scratch::new("reopen");
    for i in 0..30 {
        let store = open(&scratch.state());
        store.begin("apply").unwrap();
        store.put(&record(&subnet(&format!("{i}")), "x")).unwrap();
    }
    assert_eq!(open(&scratch.state()).serial().unwrap(), 30);
}

/// The same sessions as [`build_history`], each group of writes as one batch.
fn build_history_in_batches(store: &Store) -> Vec<Snapshot> {
    let put = |name: &str, id: &str| Write::Put(record(&subnet(name), id));
    let remove = |name: &str| Write::Remove(subnet(name));
    let mut expected = vec![store.snapshot().unwrap()];
    store.begin("apply").unwrap();
    store.commit(&[put("a", "a-1"), put("b", "b-1")]).unwrap();
    store.set_outputs(&outputs(&[("first", "1")])).unwrap();
    expected.push(store.snapshot().unwrap());

    store.begin("apply").unwrap();
    // A second write to one address in one batch, a remove, and a remove of an
    // address that is not there (nothing happens).
    store
        .commit(&[
            put("a", "a-2"),
            put("a", "a-3"),
            remove("b"),
            remove("ghost"),
        ])
        .unwrap();
    store.commit(&[put("c", "c-1"), put("a", "a-4")]).unwrap();
    expected.push(store.snapshot().unwrap());

    store.begin("import").unwrap();
    // Created and removed within one batch; recreated across batches.
    store
        .commit(&[put("b", "b-2"), put("d", "d-1"), remove("d")])
        .unwrap();
    store.commit(&[]).unwrap();
    expected.push(store.snapshot().unwrap());
    expected
}

#[test]
fn batches_keep_history_exact_and_apply_writes_in_order() {
    let scratch = Scratch::new("batch-history");
    let store = open(&scratch.state());
    let expected = build_history_in_batches(&store);
    let ids = |s: &Snapshot| -> Vec<(String, String)> {
        s.resources
            .values()
            .map(|r| (r.addr.to_string(), r.id.clone()))
            .collect()
    };
    let s = |n: &str| format!("aws.subnet.private[{n:?}]");
    assert_eq!(
        ids(&expected[2]),
        vec![(s("a"), "a-4".to_string()), (s("c"), "c-1".to_string())]
    );
    assert_eq!(
        ids(&expected[3]),
        vec![
            (s("a"), "a-4".to_string()),
            (s("b"), "b-2".to_string()),
            (s("c"), "c-1".to_string())
        ]
    );
    let changed: Vec<Vec<String>> = store
        .history()
        .unwrap()
        .iter()
        .map(|h| h.changed.iter().map(ToString::to_string).collect())
        .collect();
    assert_eq!(
        changed,
        vec![
            vec![s("a"), s("b")],
            vec![s("a"), s("b"), s("c")],
            vec![s("b"), s("d")]
        ]
    );
    drop(store);
    let store = open(&scratch.state());
    for (serial, want) in expected.iter().enumerate() {
        assert_eq!(
            &store.snapshot_at(serial as u64).unwrap(),
            want,
            "version {serial}"
        );
    }
    // Restoring through the batch-written history gives the old version back.
    store.restore(1).unwrap();
    assert_eq!(
        store.snapshot().unwrap().resources,
        expected[1].resources,
        "restored to serial 1"
    );
}

#[test]
fn a_batch_is_all_or_nothing_and_needs_a_session() {
    let scratch = Scratch::new("batch-atomic");
    let store = open(&scratch.state());
    let batch = [Write::Put(record(&subnet("a"), "a-1"))];
    assert!(matches!(
        store.commit(&batch),
        Err(StateError::NoSession(_))
    ));
    store.begin("apply").unwrap();
    store.commit(&batch).unwrap();
    // Damage the stored record of `a`: a batch that must read it (to record its delta)
    // fails whole, so `b`, written before it in the batch, is not there either.
    drop(store);
    common::with_raw_db(&scratch.state(), |db| {
        db.open_tree("resources")
            .unwrap()
            .insert(subnet("a").to_string().as_bytes(), &b"{not json"[..])
            .unwrap();
    });
    let store = open(&scratch.state());
    store.begin("apply").unwrap();
    let err = store
        .commit(&[
            Write::Put(record(&subnet("b"), "b-1")),
            Write::Put(record(&subnet("a"), "a-2")),
        ])
        .unwrap_err();
    assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    assert!(store.get(&subnet("b")).unwrap().is_none());
    assert_eq!(
        store.history().unwrap()[1].changed,
        Vec::<ResourceAddr>::new()
    );
}

#[test]
fn the_backend_trait_commits_batches() {
    let scratch = Scratch::new("trait-batch");
    let store = open(&scratch.state());
    let backend: &dyn StateBackend = &store;
    backend.begin("apply").unwrap();
    backend
        .commit(&[
            Write::Put(record(&subnet("a"), "a-1")),
            Write::Remove(subnet("ghost")),
        ])
        .unwrap();
    assert_eq!(backend.snapshot().unwrap().resources.len(), 1);
}

fn intent(addr: &ResourceAddr, id: Option<&str>) -> gig_state::Intent {
    gig_state::Intent {
        addr: addr.clone(),
        provider: "aws".to_string(),
        token: "tok-1".to_string(),
        started: "2026-01-01T00:00:00Z".to_string(),
        id: id.map(str::to_string),
        planned: Value::from_json(&serde_json::json!({
            "cidr_block": "10.0.1.0/24",
            "password": {"$secret": "hunter2"}
        })),
        dependencies: vec![subnet("dep")],
        schema_version: 0,
    }
}

#[test]
fn intents_are_durable_outside_history_and_a_record_drops_its_intent() {
    let scratch = Scratch::new("intents");
    let (a, b, c) = (subnet("a"), subnet("b"), subnet("c"));
    let serial = {
        let store = open(&scratch.state());
        store.begin("apply").unwrap();
        store
            .commit(&[
                Write::Intent(intent(&a, None)),
                Write::Intent(intent(&b, None)),
                Write::Intent(intent(&c, None)),
            ])
            .unwrap();
        // The id arrives: the intent is replaced with one that carries it.
        store
            .commit(&[Write::Intent(intent(&a, Some("subnet-a")))])
            .unwrap();
        store.serial().unwrap()
    };
    // Reopened as after a crash: every intent is there, with its id and secret intact.
    let store = open(&scratch.state());
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.intents.len(), 3);
    assert_eq!(snap.intents[&a], intent(&a, Some("subnet-a")));
    assert!(snap.intents[&a]
        .planned
        .get("password")
        .unwrap()
        .is_secret());
    assert!(snap.resources.is_empty());
    // Intents are not versions of the state: no history delta, and past versions have none.
    assert!(store
        .history()
        .unwrap()
        .iter()
        .all(|h| h.changed.is_empty()));
    assert!(store.snapshot_at(serial).unwrap().intents.is_empty());

    // Recording the resource drops its intent in the same write; so does a remove, and
    // an explicit drop.
    store.begin("apply").unwrap();
    store
        .commit(&[
            Write::Put(record(&a, "subnet-a")),
            Write::Remove(b.clone()),
            Write::DropIntent(c.clone()),
        ])
        .unwrap();
    let snap = store.snapshot().unwrap();
    assert!(snap.intents.is_empty(), "{:?}", snap.intents.keys());
    assert_eq!(snap.resources.len(), 1);
    // The export never carries intents.
    assert!(snap.to_json_raw().get("intents").is_none());
}

#[test]
fn deposed_objects_are_durable_outside_history_until_dropped() {
    let scratch = Scratch::new("deposed");
    let a = subnet("a");
    let old = gig_state::Deposed::of(&record(&a, "a-old"));
    let serial = {
        let store = open(&scratch.state());
        store.begin("apply").unwrap();
        store.commit(&[Write::Put(record(&a, "a-old"))]).unwrap();
        store.begin("apply").unwrap();
        // The successor is recorded and the old object deposed in one write.
        store
            .commit(&[Write::Put(record(&a, "a-new")), Write::Depose(old.clone())])
            .unwrap();
        store.serial().unwrap()
    };
    // Reopened as after a crash: the old object is still on record beside the new one.
    let store = open(&scratch.state());
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.resources[&a].id, "a-new");
    assert_eq!(snap.deposed.len(), 1);
    assert_eq!(snap.deposed[&old.key()], old);
    // Not a version of the state: past versions and exports carry none.
    assert!(store.snapshot_at(serial).unwrap().deposed.is_empty());
    assert!(snap.to_json_raw().get("deposed").is_none());

    // Its delete succeeded: dropping it leaves the record of the successor alone.
    store.begin("apply").unwrap();
    store.commit(&[Write::DropDeposed(old.key())]).unwrap();
    let snap = store.snapshot().unwrap();
    assert!(snap.deposed.is_empty());
    assert_eq!(snap.resources[&a].id, "a-new");
}
