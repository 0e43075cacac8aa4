//! Encryption at rest of the sled store: what reaches the disk, keys that are wrong or
//! missing, rotation with a fallback, rekey, encrypting a clear state, and clear or
//! moved values in an encrypted state.

mod common;

use std::path::Path;

use common::{build_history, record, subnet, Scratch};
use gig_state::crypt::{CryptError, Keys};
use gig_state::{LockInfo, Snapshot, StateError, Store};

fn keys(current: &str, fallback: Option<&str>) -> Keys {
    Keys::from_passphrases(Some(current.to_string()), fallback.map(str::to_string))
}

fn open_with(dir: &Path, keys: &Keys) -> Result<Store, StateError> {
    Store::open_with(dir, LockInfo::current("gig-state crypt test"), keys)
}

/// Every file under `dir`, read whole, searched for `needle`.
fn files_contain(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .expect("readable file")
                .windows(needle.len())
                .any(|w| w == needle)
            {
                return true;
            }
        }
    }
    false
}

/// Every version of the state, as `snapshot_at` rebuilds them.
fn versions(store: &Store) -> Vec<Snapshot> {
    let serial = store.serial().unwrap();
    (0..=serial)
        .map(|s| store.snapshot_at(s).unwrap())
        .collect()
}

fn crypt_source(err: StateError) -> CryptError {
    match err {
        StateError::Crypt { source, .. } => source,
        other => panic!("expected a crypt error, got {other:?}"),
    }
}

#[test]
fn an_encrypted_state_keeps_secrets_and_history_off_the_disk_and_reads_back_exactly() {
    for (passphrase, on_disk) in [(Some("correct horse"), false), (None, true)] {
        let scratch = Scratch::new("crypt-disk");
        let keys = Keys::from_passphrases(passphrase.map(str::to_string), None);
        let (expected, all) = {
            let store = open_with(&scratch.state(), &keys).unwrap();
            build_history(&store);
            (store.snapshot().unwrap(), versions(&store))
        };
        // `record` gives every resource the secret `pw-<id>`; ids are `a-1`, `b-1`, ….
        assert_eq!(
            files_contain(&scratch.state(), b"pw-a-1"),
            on_disk,
            "passphrase {passphrase:?}"
        );
        assert_eq!(
            files_contain(&scratch.state(), b"10.0.1.0/24"),
            on_disk,
            "plain attributes are record content too: {passphrase:?}"
        );
        let store = open_with(&scratch.state(), &keys).unwrap();
        assert_eq!(store.is_encrypted(), passphrase.is_some());
        assert_eq!(store.snapshot().unwrap(), expected);
        assert_eq!(versions(&store), all);
        assert!(store.history().unwrap().len() >= 3);
    }
}

#[test]
fn a_wrong_or_missing_key_is_refused_and_the_right_key_still_reads_everything() {
    let scratch = Scratch::new("crypt-wrong");
    let right = keys("right passphrase", None);
    let (expected, all) = {
        let store = open_with(&scratch.state(), &right).unwrap();
        build_history(&store);
        (store.snapshot().unwrap(), versions(&store))
    };
    let wrong = crypt_source(
        open_with(&scratch.state(), &keys("wrong passphrase", None))
            .err()
            .unwrap(),
    );
    assert!(matches!(wrong, CryptError::WrongKey { .. }), "{wrong:?}");
    let shown = format!("{wrong} {:?}", wrong.diagnostic("the state"));
    assert!(!shown.contains("passphrase\""), "{shown}");
    assert!(!shown.contains("wrong passphrase") && !shown.contains("right passphrase"));
    let missing = crypt_source(open_with(&scratch.state(), &Keys::none()).err().unwrap());
    assert_eq!(missing, CryptError::KeyRequired);
    assert!(matches!(
        Store::open(&scratch.state(), LockInfo::current("plain open")),
        Err(StateError::Crypt { .. })
    ));
    let store = open_with(&scratch.state(), &right).unwrap();
    assert_eq!(store.snapshot().unwrap(), expected);
    assert_eq!(versions(&store), all);
}

#[test]
fn rotation_writes_under_the_new_key_and_rekey_leaves_only_it() {
    let scratch = Scratch::new("crypt-rotate");
    {
        let store = open_with(&scratch.state(), &keys("old", None)).unwrap();
        store.begin("apply").unwrap();
        store.put(&record(&subnet("a"), "a-1")).unwrap();
    }
    let rotating = keys("new", Some("old"));
    {
        let store = open_with(&scratch.state(), &rotating).unwrap();
        store.begin("apply").unwrap();
        store.put(&record(&subnet("b"), "b-1")).unwrap();
    }
    {
        // The new key alone opens the state and reads what it wrote, but not the record
        // and history still under the old key.
        let store = open_with(&scratch.state(), &keys("new", None)).unwrap();
        assert!(store.get(&subnet("b")).unwrap().is_some());
        let err = crypt_source(store.get(&subnet("a")).unwrap_err());
        assert!(matches!(err, CryptError::KeyNotSet { .. }), "{err:?}");
        assert!(matches!(
            crypt_source(store.rekey().unwrap_err()),
            CryptError::KeyNotSet { .. }
        ));
    }
    let expected = {
        let store = open_with(&scratch.state(), &rotating).unwrap();
        let before = versions(&store);
        assert!(store.rekey().unwrap() >= 5);
        assert_eq!(versions(&store), before, "rekey changes no content");
        store.snapshot().unwrap()
    };
    let store = open_with(&scratch.state(), &keys("new", None)).unwrap();
    assert_eq!(store.snapshot().unwrap(), expected);
    assert_eq!(store.history().unwrap().len(), 2);
    drop(store);
    let old = crypt_source(
        open_with(&scratch.state(), &keys("old", None))
            .err()
            .unwrap(),
    );
    assert!(matches!(old, CryptError::WrongKey { .. }), "{old:?}");
}

#[test]
fn a_clear_state_is_encrypted_whole_by_its_first_write_session_with_a_key() {
    let scratch = Scratch::new("crypt-migrate");
    let (clear_all, clear_history) = {
        let store = common::open(&scratch.state());
        build_history(&store);
        (versions(&store), store.history().unwrap())
    };
    let key = keys("now encrypted", None);
    {
        // Reading with a key changes nothing.
        let store = open_with(&scratch.state(), &key).unwrap();
        assert!(!store.is_encrypted());
        assert_eq!(versions(&store), clear_all);
    }
    common::open(&scratch.state());
    {
        let store = open_with(&scratch.state(), &key).unwrap();
        store.begin("apply").unwrap();
        assert!(store.is_encrypted());
        store.put(&record(&subnet("z"), "z-1")).unwrap();
    }
    let store = open_with(&scratch.state(), &key).unwrap();
    let now = versions(&store);
    assert_eq!(
        &now[..clear_all.len()],
        &clear_all[..],
        "history kept exactly"
    );
    assert_eq!(
        store.history().unwrap()[..clear_history.len()],
        clear_history[..]
    );
    drop(store);
    assert_eq!(
        crypt_source(open_with(&scratch.state(), &Keys::none()).err().unwrap()),
        CryptError::KeyRequired
    );
}

#[test]
fn rekey_then_compact_leaves_no_clear_byte_on_disk_and_changes_no_content() {
    let scratch = Scratch::new("crypt-compact");
    let all = {
        let store = common::open(&scratch.state());
        build_history(&store);
        versions(&store)
    };
    assert!(files_contain(&scratch.state(), b"pw-a-1"));
    let key = keys("compact test", None);
    {
        let store = open_with(&scratch.state(), &key).unwrap();
        store.rekey().unwrap();
        // Rewritten in place, the old clear bytes are still in sled's log.
        assert!(files_contain(&scratch.state(), b"pw-a-1"));
        store.compact().unwrap();
    }
    assert!(!files_contain(&scratch.state(), b"pw-a-1"));
    assert!(!scratch.state().join("sled.compact").exists());
    let store = open_with(&scratch.state(), &key).unwrap();
    assert!(store.is_encrypted());
    assert_eq!(versions(&store), all);
    store.begin("apply").unwrap();
    store.put(&record(&subnet("after"), "after-1")).unwrap();
    drop(store);
    let store = open_with(&scratch.state(), &key).unwrap();
    assert!(store.get(&subnet("after")).unwrap().is_some());
}

#[test]
fn rekey_without_a_key_is_refused() {
    let scratch = Scratch::new("crypt-nokey");
    let store = common::open(&scratch.state());
    assert_eq!(
        crypt_source(store.rekey().unwrap_err()),
        CryptError::NoKeyToEncrypt
    );
}

#[test]
fn a_clear_or_moved_value_in_an_encrypted_state_fails_its_integrity_check() {
    let scratch = Scratch::new("crypt-tamper");
    let key = keys("tamper test", None);
    {
        let store = open_with(&scratch.state(), &key).unwrap();
        store.begin("apply").unwrap();
        store.put(&record(&subnet("a"), "a-1")).unwrap();
        store.put(&record(&subnet("b"), "b-1")).unwrap();
    }
    let a = subnet("a").to_string();
    let b = subnet("b").to_string();
    // A sealed value copied to another record.
    common::with_raw_db(&scratch.state(), |db| {
        let tree = db.open_tree("resources").unwrap();
        let sealed_b = tree.get(b.as_bytes()).unwrap().unwrap();
        tree.insert(a.as_bytes(), sealed_b).unwrap();
    });
    {
        let store = open_with(&scratch.state(), &key).unwrap();
        assert!(store.get(&subnet("b")).unwrap().is_some());
        let err = store.get(&subnet("a")).unwrap_err();
        assert!(err.to_string().contains(&a), "{err}");
        assert!(matches!(crypt_source(err), CryptError::Integrity { .. }));
    }
    // A record written in the clear, as a gig without the key would have written it.
    common::with_raw_db(&scratch.state(), |db| {
        let tree = db.open_tree("resources").unwrap();
        let clear = serde_json::to_vec(&record(&subnet("a"), "a-9")).unwrap();
        tree.insert(a.as_bytes(), clear).unwrap();
    });
    let store = open_with(&scratch.state(), &key).unwrap();
    let err = store.snapshot().unwrap_err();
    assert!(!err.to_string().contains("pw-a-9"), "{err}");
    assert!(matches!(crypt_source(err), CryptError::Integrity { .. }));
}
