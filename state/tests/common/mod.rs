//! Helpers shared by the state crate's integration tests: scratch directories and records.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use gig_core::addr::{InstanceKey, ResourceAddr};
use gig_core::value::Value;
use std::collections::BTreeMap;

use gig_state::{LockInfo, ResourceRecord, Snapshot, Store};

/// A directory under the system temp dir, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A fresh, not yet existing path unique to this process and call.
    pub fn new(tag: &str) -> Scratch {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "gig-state-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        Scratch(dir)
    }

    /// The state directory inside the scratch directory.
    pub fn state(&self) -> PathBuf {
        self.0.join("state")
    }

    /// The scratch directory itself.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Opens the store at `dir` as a test holder.
pub fn open(dir: &Path) -> Store {
    match Store::open(dir, LockInfo::current("gig-state test")) {
        Ok(store) => store,
        Err(e) => panic!("opening {}: {e}", dir.display()),
    }
}

/// `aws.subnet.private["<name>"]`.
pub fn subnet(name: &str) -> ResourceAddr {
    ResourceAddr::managed("aws.subnet", "private").with_key(InstanceKey::Name(name.to_string()))
}

/// A record for `addr` with cloud id `id`, a plain attribute and a secret one.
pub fn record(addr: &ResourceAddr, id: &str) -> ResourceRecord {
    let mut value = std::collections::BTreeMap::new();
    value.insert("id".to_string(), Value::str(id));
    value.insert("cidr_block".to_string(), Value::str("10.0.1.0/24"));
    value.insert(
        "password".to_string(),
        Value::str(format!("pw-{id}")).into_secret(),
    );
    ResourceRecord {
        addr: addr.clone(),
        provider: "aws".to_string(),
        id: id.to_string(),
        value: Value::Map(value),
        dependencies: vec![ResourceAddr::managed("aws.vpc", "main")],
        schema_version: 1,
    }
}

/// Opens the state's sled database directly (to damage it on purpose), runs `edit`, and
/// returns once sled has really let go of its file lock.
pub fn with_raw_db(state: &Path, edit: impl FnOnce(&sled::Db)) {
    let db_dir = state.join("sled");
    {
        let db = sled::open(&db_dir).unwrap();
        edit(&db);
        db.flush().unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let file = std::fs::File::open(db_dir.join("db")).unwrap();
        if fs2::FileExt::try_lock_exclusive(&file).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    panic!(
        "sled kept its lock on {} after being dropped",
        db_dir.display()
    );
}

/// Outputs from (name, string value) pairs.
pub fn outputs(pairs: &[(&str, &str)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::str(*v)))
        .collect()
}

/// Writes four sessions (apply, apply, import, state rm) covering puts, second writes to
/// one address, removes, recreation and outputs; returns the snapshot before and after each.
pub fn build_history(store: &Store) -> Vec<Snapshot> {
    let mut expected = vec![store.snapshot().unwrap()];
    store.begin("apply").unwrap();
    store.put(&record(&subnet("a"), "a-1")).unwrap();
    store.put(&record(&subnet("b"), "b-1")).unwrap();
    store.set_outputs(&outputs(&[("first", "1")])).unwrap();
    expected.push(store.snapshot().unwrap());

    store.begin("apply").unwrap();
    store.put(&record(&subnet("a"), "a-2")).unwrap();
    store.put(&record(&subnet("a"), "a-3")).unwrap(); // second write to one address
    store.remove(&subnet("b")).unwrap();
    store.put(&record(&subnet("c"), "c-1")).unwrap();
    store.set_outputs(&outputs(&[("first", "2")])).unwrap();
    store.set_outputs(&outputs(&[("second", "x")])).unwrap();
    expected.push(store.snapshot().unwrap());

    store.begin("import").unwrap();
    store.put(&record(&subnet("b"), "b-2")).unwrap(); // recreated
    store.put(&record(&subnet("d"), "d-1")).unwrap();
    store.remove(&subnet("d")).unwrap(); // created and removed in one session
    expected.push(store.snapshot().unwrap());

    store.rm(&subnet("a")).unwrap();
    expected.push(store.snapshot().unwrap());
    expected
}
