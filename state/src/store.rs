//! The sled-backed [`Store`]: layout, write sessions, history replay and locking.
//!
//! # Layout
//!
//! The state directory holds `lock.json` (the holder's description, see `lock.rs`) and
//! `sled/`, a sled database with three trees:
//!
//! - `resources`: key = the address's display form, value = the JSON of a
//!   [`ResourceRecord`] (secrets in stored form, `{"$secret": …}`).
//! - `meta`: `format` (decimal text), `lineage` (text), `serial` (8 bytes, big endian),
//!   `outputs` (JSON object of stored-form values), `stack` (text, never sealed: the
//!   stack identity the state belongs to; absent in states written before gig recorded
//!   it), and `intent/<address>` → the JSON of
//!   an [`Intent`] for every create started and not yet recorded (no history: a record
//!   written for the address drops its intent in the same transaction), and
//!   `deposed/<address>\0<id>` → the JSON of a [`crate::Deposed`] object (no history).
//! - `history`, keyed so that one session's entries are contiguous and sessions sort by
//!   serial:
//!   - `serial` (8 bytes BE) → session header `{operation, started}`;
//!   - `serial ++ 0x00` → outputs delta `{before, after}`;
//!   - `serial ++ 0x01 ++ address` → resource delta `{addr, before, after}`.
//!
//! In an encrypted state (layout version 2, see [`crate::crypt`]) every value of
//! `resources` and `history` and `meta/outputs` is sealed with the key of the tree and
//! record it is stored at; `meta` also holds `crypt`, the clear key metadata. Keys of
//! the trees, `format`, `lineage`, `serial` and `crypt` stay clear.
//!
//! A delta holds the record as it was before the session and as it is after it (`null`
//! for absent). A second write to the same address in one session keeps the first
//! `before`, so each delta is the session's net change.
//!
//! # Writes
//!
//! Every write is one sled transaction across the three trees followed by sled's
//! `flush()` and an `fdatasync` of sled's log file (sled itself only issues
//! `sync_file_range` on Linux, which survives a killed process but not necessarily a
//! power cut). So a write is durable before it returns, and a crash leaves it either
//! whole or absent. A `put` writes the record and its delta: bytes in proportion to the record,
//! independent of how many other records the state holds.
//!
//! # Reading the past
//!
//! [`Store::snapshot_at`] starts from the current state and walks the history backwards,
//! undoing each later session by putting back every delta's `before`. That is exact
//! because every change to `resources` and `outputs` goes through a delta.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use gig_core::addr::ResourceAddr;
use gig_core::value::Value;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::Transactional;

use crate::crypt::{CryptError, KeyMeta, Keys, Sealer};
use crate::{
    lock, time, Deposed, DeposedKey, HistoryEntry, Intent, LockInfo, ResourceRecord, Snapshot,
    StateBackend, StateError, Write, FORMAT_VERSION,
};

const META_FORMAT: &[u8] = b"format";
const META_LINEAGE: &[u8] = b"lineage";
const META_SERIAL: &[u8] = b"serial";
const META_OUTPUTS: &[u8] = b"outputs";
/// Prefix of a create intent's key in `meta`, followed by the address.
const INTENT_PREFIX: &[u8] = b"intent/";
/// Prefix of a deposed object's key in `meta`, followed by the address, a zero byte and
/// the id.
const DEPOSED_PREFIX: &[u8] = b"deposed/";
const META_CRYPT: &[u8] = b"crypt";

/// The layout version of an encrypted state: [`FORMAT_VERSION`]'s layout with every value
/// sealed. A gig that predates encryption refuses it as an unsupported format, so it can
/// neither misread it nor write clear values into it.
const ENCRYPTED_FORMAT: u64 = 2;

/// Tree names, also bound into every sealed value.
const RESOURCES: &str = "resources";
const META: &str = "meta";
const HISTORY: &str = "history";
const META_STACK: &[u8] = b"stack";
/// Set by `gig state migrate`: the location the state moved to (text).
const META_MOVED_TO: &[u8] = b"moved_to";

/// Second part of a history key for an outputs delta.
const TAG_OUTPUTS: u8 = 0;
/// Second part of a history key for a resource delta.
const TAG_RESOURCE: u8 = 1;

/// An open, locked state store for one stack and env.
///
/// The store is `Send + Sync`: the engine may `put` from many tasks at once. Dropping
/// it removes the lock record and releases the lock.
pub struct Store {
    dir: PathBuf,
    /// Fixed at creation; changes only when a never-written state loads a backup.
    lineage: Mutex<String>,
    db: sled::Db,
    resources: sled::Tree,
    meta: sled::Tree,
    history: sled::Tree,
    /// The serial of the open write session, if any.
    session: Mutex<Option<u64>>,
    /// The keys that decrypt and encrypt this state's values.
    sealer: Sealer,
    /// Key metadata to write before the next write session: a clear state to encrypt, or
    /// a new current key to record.
    pending: Mutex<Option<KeyMeta>>,
    /// Key and value bytes handed to sled by committed writes, for the test that write
    /// volume per `put` does not grow with the size of the state.
    written: AtomicU64,
    /// sled's log file, opened again to `fdatasync` it after each commit.
    log_file: std::fs::File,
    /// Declared last so that it drops after every sled handle above: waits until sled's
    /// lock is really released.
    _release: lock::Release,
}

/// The header of one write session in the history tree.
#[derive(Serialize, Deserialize)]
struct SessionHeader {
    operation: String,
    started: String,
}

/// One resource's net change in one session.
#[derive(Serialize, Deserialize)]
struct ResourceDelta {
    addr: ResourceAddr,
    before: Option<ResourceRecord>,
    after: Option<ResourceRecord>,
}

/// The address of a [`ResourceDelta`], read without its records.
#[derive(Deserialize)]
struct DeltaAddr {
    addr: ResourceAddr,
}

/// The outputs' net change in one session.
#[derive(Serialize, Deserialize)]
struct OutputsDelta {
    before: BTreeMap<String, Value>,
    after: BTreeMap<String, Value>,
}

/// The `meta` key of the create intent of `addr`.
fn intent_key(addr: &ResourceAddr) -> Vec<u8> {
    [INTENT_PREFIX, addr.to_string().as_bytes()].concat()
}

/// The `meta` key of a deposed object.
fn deposed_key(key: &DeposedKey) -> Vec<u8> {
    [
        DEPOSED_PREFIX,
        key.addr.to_string().as_bytes(),
        b"\0",
        key.id.as_bytes(),
    ]
    .concat()
}

type TxResult<T> = ConflictableTransactionResult<T, StateError>;

impl Store {
    /// Opens (creating if needed) the state in `dir`, taking the lock for `holder`.
    /// Fails at once with [`StateError::Locked`] naming the holder when another process has it.
    ///
    /// A new directory is created with mode 0700 on Unix, since state holds secrets in
    /// clear. A lock record left by a holder that was killed does not block: the lock
    /// itself is the kernel's `flock`, released when its process dies. The holder's
    /// `--param NAME=VALUE` values are redacted before its record is written.
    pub fn open(dir: &Path, holder: LockInfo) -> Result<Store, StateError> {
        Store::open_with(dir, holder, &Keys::none())
    }

    /// Opens the state as [`Store::open`] does, with `keys` to decrypt and encrypt it.
    ///
    /// A new state is created encrypted when a current key is configured. An encrypted
    /// state is refused without a key ([`crate::crypt::CryptError::KeyRequired`]) and
    /// with keys none of which it is encrypted with (`WrongKey`), before anything is
    /// read. A clear state opened with a key is encrypted, all history included, at the
    /// start of its next write session; see docs/state.md.
    pub fn open_with(dir: &Path, holder: LockInfo, keys: &Keys) -> Result<Store, StateError> {
        let storage = |message: String| StateError::Storage {
            path: dir.to_path_buf(),
            message,
        };
        create_private_dir(dir)
            .map_err(|e| storage(format!("cannot create the state directory: {e}")))?;
        let db = match sled::Config::new().path(dir.join("sled")).open() {
            Ok(db) => db,
            Err(e) if lock::is_lock_error(&e) => {
                return Err(StateError::Locked {
                    path: dir.to_path_buf(),
                    holder: Box::new(lock::read_holder(dir)),
                    lock_id: None,
                })
            }
            // Damaged database files: said without sled's internals (offsets, backtraces).
            Err(sled::Error::Corruption { .. } | sled::Error::Unsupported(_)) => {
                return Err(StateError::Corrupt {
                    path: dir.to_path_buf(),
                    key: "sled".to_string(),
                    message: "its database files are damaged (a checksum does not match)"
                        .to_string(),
                })
            }
            Err(e) => return Err(storage(format!("cannot open the database: {e}"))),
        };
        let holder = crate::redact_holder(holder);
        lock::write_holder(dir, &holder)
            .map_err(|e| storage(format!("cannot write the lock record: {e}")))?;
        let open_tree = |name: &str| {
            db.open_tree(name)
                .map_err(|e| storage(format!("cannot open tree {name}: {e}")))
        };
        let resources = open_tree("resources")?;
        let meta = open_tree("meta")?;
        let history = open_tree("history")?;
        let log_file = std::fs::File::open(dir.join("sled").join("db"))
            .map_err(|e| storage(format!("cannot open the database log: {e}")))?;
        // Make the directory entries of a new state durable too.
        for d in [dir.join("sled"), dir.to_path_buf()] {
            std::fs::File::open(&d)
                .and_then(|f| f.sync_all())
                .map_err(|e| storage(format!("cannot sync {}: {e}", d.display())))?;
        }
        if let Some(to) = meta_moved_to(&db).map_err(storage)? {
            let _ = std::fs::remove_file(dir.join(lock::LOCK_FILE));
            return Err(StateError::Moved {
                path: dir.to_path_buf(),
                to,
            });
        }
        let mut store = Store {
            dir: dir.to_path_buf(),
            lineage: Mutex::new(String::new()),
            db,
            resources,
            meta,
            history,
            session: Mutex::new(None),
            sealer: Sealer::clear(),
            pending: Mutex::new(None),
            written: AtomicU64::new(0),
            log_file,
            _release: lock::Release::new(dir.join("sled").join("db")),
        };
        let (lineage, sealer, pending) = store.init_meta(keys)?;
        store.lineage = Mutex::new(lineage);
        store.sealer = sealer;
        store.pending = Mutex::new(pending);
        Ok(store)
    }

    /// Marks this state as moved to `to` (durably): every later [`Store::open`] fails
    /// with [`StateError::Moved`] naming it, so nobody keeps writing here.
    pub fn mark_moved(&self, to: &str) -> Result<(), StateError> {
        self.transact(|_, meta, _| {
            meta.insert(META_MOVED_TO, to.as_bytes())?;
            Ok(((), 0))
        })
    }

    /// The state directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The lineage: a random id fixed when this state was created.
    pub fn lineage(&self) -> String {
        self.lineage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The stack identity this state belongs to, when recorded. States written before
    /// gig recorded identities have none; the engine reads that as the directory's name
    /// (`gig_engine::identity`).
    pub fn stack_identity(&self) -> Result<Option<String>, StateError> {
        let raw = self.meta.get(META_STACK).map_err(|e| self.storage(e))?;
        raw.map(|bytes| {
            String::from_utf8(bytes.to_vec()).map_err(|_| self.corrupt("meta/stack", "not UTF-8"))
        })
        .transpose()
    }

    /// Records the stack identity, durably. It is not part of a write session: the
    /// identity names the state rather than describing resources, so restoring an
    /// earlier version keeps it.
    pub fn set_stack_identity(&self, name: &str) -> Result<(), StateError> {
        self.transact(|_, meta, _| {
            meta.insert(META_STACK, name.as_bytes())?;
            Ok(((), name.len() as u64))
        })
    }

    /// The current serial (0 for a state never written).
    pub fn serial(&self) -> Result<u64, StateError> {
        let raw = self.meta.get(META_SERIAL).map_err(|e| self.storage(e))?;
        match raw {
            Some(bytes) => self.decode_serial(&bytes),
            None => Err(self.corrupt("meta/serial", "missing")),
        }
    }

    /// One resource's record, if present.
    pub fn get(&self, addr: &ResourceAddr) -> Result<Option<ResourceRecord>, StateError> {
        let key = addr.to_string();
        match self
            .resources
            .get(key.as_bytes())
            .map_err(|e| self.storage(e))?
        {
            Some(bytes) => decode_record(&self.dir, &self.sealer, &key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The current state.
    pub fn snapshot(&self) -> Result<Snapshot, StateError> {
        let serial = self.serial()?;
        let resources = self.current_resources()?;
        let outputs = self.current_outputs()?;
        let intents = self.current_intents()?;
        let deposed = self.current_deposed()?;
        Ok(Snapshot {
            lineage: self.lineage(),
            serial,
            resources: resources
                .into_values()
                .map(|r| (r.addr.clone(), r))
                .collect(),
            outputs,
            intents,
            deposed,
        })
    }

    /// Starts a write session: bumps the serial and opens a history entry.
    ///
    /// Later `put`, `remove` and `set_outputs` calls on this store are recorded under the
    /// returned serial until the next `begin` (or `rm`, `mv`, `restore`, which run
    /// sessions of their own and leave none open).
    pub fn begin(&self, operation: &str) -> Result<u64, StateError> {
        let serial = self.new_session(operation, |_| Ok(()))?;
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(serial);
        Ok(serial)
    }

    /// Durably records one resource (flushed before returning).
    ///
    /// Fails with [`StateError::NoSession`] when no session is open.
    pub fn put(&self, record: &ResourceRecord) -> Result<(), StateError> {
        let serial = self.open_session()?;
        self.in_session(serial, |tx| tx.put(record))
    }

    /// Durably removes one resource.
    ///
    /// Fails with [`StateError::NoSuchResource`] when it is not in state, and with
    /// [`StateError::NoSession`] when no session is open.
    pub fn remove(&self, addr: &ResourceAddr) -> Result<(), StateError> {
        let serial = self.open_session()?;
        self.in_session(serial, |tx| tx.remove(addr).map(drop))
    }

    /// Durably applies a group of writes in the open session, in order, as one
    /// transaction followed by one flush and one `fdatasync`: after it returns every
    /// write is on disk, and a crash leaves either all of them or none.
    ///
    /// Each write records its history delta exactly as a single [`Store::put`] or
    /// [`Store::remove`] would (a second write to one address in the session keeps the
    /// first `before`), so the bytes written per record do not depend on the batch or
    /// on the size of the state. A [`Write::Remove`] of an address not in state does
    /// nothing. An empty batch writes nothing. Fails with [`StateError::NoSession`]
    /// when no session is open.
    pub fn commit(&self, writes: &[Write]) -> Result<(), StateError> {
        let serial = self.open_session()?;
        if writes.is_empty() {
            return Ok(());
        }
        self.in_session(serial, |tx| {
            for w in writes {
                match w {
                    Write::Put(record) => tx.put(record)?,
                    Write::Remove(addr) => tx.remove_if_present(addr)?,
                    Write::Intent(intent) => tx.put_intent(intent)?,
                    Write::DropIntent(addr) => tx.drop_intent(addr)?,
                    Write::Depose(d) => tx.insert(META, &deposed_key(&d.key()), &encode(d))?,
                    Write::DropDeposed(key) => {
                        tx.meta.remove(deposed_key(key))?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Replaces the stored outputs (durably, in the open session).
    pub fn set_outputs(&self, outputs: &BTreeMap<String, Value>) -> Result<(), StateError> {
        let serial = self.open_session()?;
        self.in_session(serial, |tx| tx.set_outputs(outputs))
    }

    /// Write sessions, oldest first.
    pub fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        let mut entries: Vec<HistoryEntry> = Vec::new();
        for item in self.history.iter() {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            match parse_history_key(&key) {
                Some((serial, HistoryKey::Header)) => {
                    let header: SessionHeader =
                        self.read(HISTORY, &key, &format!("history/{serial}"), &value)?;
                    entries.push(HistoryEntry {
                        serial,
                        operation: header.operation,
                        started: header.started,
                        changed: Vec::new(),
                    });
                }
                Some((serial, HistoryKey::Resource(name))) => {
                    // Only the address is needed; serde skips the records unparsed.
                    let delta: DeltaAddr =
                        self.read(HISTORY, &key, &format!("history/{serial}/{name}"), &value)?;
                    match entries.last_mut() {
                        Some(entry) if entry.serial == serial => entry.changed.push(delta.addr),
                        _ => {
                            return Err(self.corrupt(
                                &format!("history/{serial}/{name}"),
                                "delta without a session header",
                            ))
                        }
                    }
                }
                Some((_, HistoryKey::Outputs)) => {}
                None => return Err(self.corrupt("history", "malformed key")),
            }
        }
        Ok(entries)
    }

    /// The state as it was after the session with `serial` (0: the empty state before
    /// any session). Fails with [`StateError::NoSuchSerial`] past the current serial.
    pub fn snapshot_at(&self, serial: u64) -> Result<Snapshot, StateError> {
        let current = self.serial()?;
        if serial > current {
            return Err(StateError::NoSuchSerial(serial));
        }
        let mut resources = self.current_resources()?;
        let mut outputs = self.current_outputs()?;
        let later = self.history.range((serial + 1).to_be_bytes()..);
        for item in later.rev() {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            match parse_history_key(&key) {
                Some((_, HistoryKey::Header)) => {}
                Some((s, HistoryKey::Outputs)) => {
                    let delta: OutputsDelta =
                        self.read(HISTORY, &key, &format!("history/{s}/outputs"), &value)?;
                    outputs = delta.before;
                }
                Some((s, HistoryKey::Resource(name))) => {
                    let delta: ResourceDelta =
                        self.read(HISTORY, &key, &format!("history/{s}/{name}"), &value)?;
                    match delta.before {
                        Some(record) => resources.insert(name, record),
                        None => resources.remove(&name),
                    };
                }
                None => return Err(self.corrupt("history", "malformed key")),
            }
        }
        Ok(Snapshot {
            lineage: self.lineage(),
            serial,
            resources: resources
                .into_values()
                .map(|r| (r.addr.clone(), r))
                .collect(),
            outputs,
            intents: BTreeMap::new(),
            deposed: BTreeMap::new(),
        })
    }

    /// Writes the state as it was after `serial` back, as a new session `restore` that
    /// changes only what differs; returns the new serial. The history before it is kept,
    /// so a restore can itself be undone by restoring the serial before it.
    pub fn restore(&self, serial: u64) -> Result<u64, StateError> {
        let target = self.snapshot_at(serial)?;
        self.write_back("restore", &target, false)
    }

    /// Loads a backup (a raw export read back with [`Snapshot::from_json_raw`]) as a new
    /// session `restore backup` that writes only what differs; returns its serial.
    ///
    /// The backup must have this state's lineage, except that a state never written
    /// (serial 0) takes the backup's lineage, so a lost state directory can be rebuilt
    /// from a backup. Otherwise fails with [`StateError::LineageMismatch`]. The serial
    /// continues from this state's, not the backup's.
    pub fn load_backup(&self, backup: &Snapshot) -> Result<u64, StateError> {
        let current_lineage = self.lineage();
        let adopt = backup.lineage != current_lineage;
        if adopt && (self.serial()? != 0 || backup.lineage.is_empty()) {
            return Err(StateError::LineageMismatch {
                path: self.dir.clone(),
                state: current_lineage,
                backup: backup.lineage.clone(),
            });
        }
        self.write_back("restore backup", backup, adopt)
    }

    /// Makes the resources and outputs those of `target` in a new session `operation`
    /// that changes only what differs, optionally taking `target`'s lineage (only ever
    /// for a state at serial 0, checked again inside the transaction).
    fn write_back(
        &self,
        operation: &str,
        target: &Snapshot,
        adopt_lineage: bool,
    ) -> Result<u64, StateError> {
        let current = self.snapshot()?;
        let mut changes: Vec<(&ResourceAddr, Option<&ResourceRecord>)> = Vec::new();
        for (addr, record) in &current.resources {
            match target.resources.get(addr) {
                None => changes.push((addr, None)),
                Some(wanted) if wanted != record => changes.push((addr, Some(wanted))),
                Some(_) => {}
            }
        }
        for (addr, record) in &target.resources {
            if !current.resources.contains_key(addr) {
                changes.push((addr, Some(record)));
            }
        }
        let outputs_differ = target.outputs != current.outputs;
        let written = self.new_session(operation, |tx| {
            if adopt_lineage {
                if tx.serial != 1 {
                    return Err(ConflictableTransactionError::Abort(
                        StateError::LineageMismatch {
                            path: self.dir.clone(),
                            state: current.lineage.clone(),
                            backup: target.lineage.clone(),
                        },
                    ));
                }
                tx.insert_clear(tx.meta, META_LINEAGE, target.lineage.as_bytes())?;
            }
            for (addr, record) in &changes {
                match record {
                    Some(record) => tx.put(record)?,
                    None => drop(tx.remove(addr)?),
                }
            }
            if outputs_differ {
                tx.set_outputs(&target.outputs)?;
            }
            Ok(())
        })?;
        if adopt_lineage {
            *self.lineage.lock().unwrap_or_else(|e| e.into_inner()) = target.lineage.clone();
        }
        self.close_session();
        Ok(written)
    }

    /// Copies `source` into this state, which must never have been written: its lineage,
    /// serial, records, outputs, create intents, stack identity and every session of its
    /// history (serial, operation, start time, changes), so that `history`,
    /// `snapshot_at` and `restore` answer as the source did. One transaction per
    /// session, each durable; returns the serial.
    pub fn import_history(&self, source: &dyn StateBackend) -> Result<u64, StateError> {
        if self.serial()? != 0 || self.history.iter().next().is_some() {
            return Err(StateError::Storage {
                path: self.dir.clone(),
                message: "cannot import into a state that was already written".to_string(),
            });
        }
        self.write_pending_keys()?;
        let current = source.snapshot()?;
        let history = source.history()?;
        let last = history.last().map(|e| e.serial);
        let mut prev = Snapshot::default();
        for entry in &history {
            let snap = source.snapshot_at(entry.serial)?;
            let header = encode(&SessionHeader {
                operation: entry.operation.clone(),
                started: entry.started.clone(),
            });
            let first = prev.serial == 0 && prev.resources.is_empty();
            let intents = if Some(entry.serial) == last {
                current.intents.values().cloned().collect()
            } else {
                Vec::new()
            };
            self.transact(|resources, meta, history| {
                let tx = SessionTx::new(
                    &self.dir,
                    &self.sealer,
                    entry.serial,
                    resources,
                    meta,
                    history,
                );
                if first {
                    tx.insert_clear(meta, META_LINEAGE, current.lineage.as_bytes())?;
                }
                tx.insert_clear(meta, META_SERIAL, &entry.serial.to_be_bytes())?;
                tx.insert(HISTORY, &entry.serial.to_be_bytes(), &header)?;
                for addr in prev.resources.keys() {
                    if !snap.resources.contains_key(addr) {
                        tx.remove(addr)?;
                    }
                }
                for (addr, record) in &snap.resources {
                    if prev.resources.get(addr) != Some(record) {
                        tx.put(record)?;
                    }
                }
                if snap.outputs != prev.outputs {
                    tx.set_outputs(&snap.outputs)?;
                }
                for intent in &intents {
                    tx.put_intent(intent)?;
                }
                Ok(((), tx.written.get()))
            })?;
            prev = snap;
            prev.serial = entry.serial;
        }
        if current.serial != prev.serial {
            self.transact(|_, meta, _| {
                meta.insert(META_SERIAL, &current.serial.to_be_bytes())?;
                Ok(((), 8))
            })?;
        }
        *self.lineage.lock().unwrap_or_else(|e| e.into_inner()) = current.lineage.clone();
        if let Some(name) = source.stack_identity()? {
            self.set_stack_identity(&name)?;
        }
        self.serial()
    }

    /// Forgets one resource (the cloud object is left alone) in a session of its own,
    /// `state rm`; returns its serial. Fails with [`StateError::NoSuchResource`] when the
    /// address is not in state, without starting a session.
    pub fn rm(&self, addr: &ResourceAddr) -> Result<u64, StateError> {
        let serial = self.new_session("state rm", |tx| {
            // An address with only a create intent (an interrupted create that gig
            // could not look up, E0411) is forgotten too: the next apply creates it.
            if tx.get(&addr.to_string())?.is_none() && tx.has_intent(addr)? {
                return tx.drop_intent(addr);
            }
            tx.drop_intent(addr)?;
            tx.remove(addr).map(drop)
        })?;
        self.close_session();
        Ok(serial)
    }

    /// Moves one resource to a new address in a session of its own, `state mv`; returns
    /// its serial. Fails without starting a session when `from` is missing
    /// ([`StateError::NoSuchResource`]), `to` is taken ([`StateError::AddressExists`]) or
    /// the two are of different types ([`StateError::TypeMismatch`]).
    pub fn mv(&self, from: &ResourceAddr, to: &ResourceAddr) -> Result<u64, StateError> {
        if from.rtype != to.rtype || from.mode != to.mode {
            return Err(StateError::TypeMismatch {
                from: Box::new(from.clone()),
                to: Box::new(to.clone()),
            });
        }
        let serial = self.new_session("state mv", |tx| {
            if tx.get(&to.to_string())?.is_some() {
                return Err(ConflictableTransactionError::Abort(
                    StateError::AddressExists(to.clone()),
                ));
            }
            let mut record = tx.remove(from)?;
            record.addr = to.clone();
            tx.put(&record)
        })?;
        self.close_session();
        Ok(serial)
    }

    /// The current state as JSON with secrets redacted (see [`Snapshot::to_json_raw`]
    /// for the layout).
    pub fn export_json(&self) -> Result<serde_json::Value, StateError> {
        Ok(self.snapshot()?.to_json_redacted())
    }

    /// The current state as JSON with secrets in stored form, for backups. The result
    /// holds secrets in clear: protect it as you protect the state directory.
    pub fn export_json_raw(&self) -> Result<serde_json::Value, StateError> {
        Ok(self.snapshot()?.to_json_raw())
    }

    /// Key and value bytes committed to sled by this handle so far.
    #[cfg(test)]
    pub(crate) fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Sets up `meta` for a new state, or checks it for an existing one; returns the
    /// lineage.
    /// Sets up `meta` for a new state, or checks it for an existing one; returns the
    /// lineage, the resolved keys and the key metadata to write at the next session.
    fn init_meta(&self, keys: &Keys) -> Result<(String, Sealer, Option<KeyMeta>), StateError> {
        if let Some(format) = self.meta.get(META_FORMAT).map_err(|e| self.storage(e))? {
            let version = std::str::from_utf8(&format)
                .ok()
                .and_then(|s| s.parse::<u64>().ok());
            let key_meta = match version {
                Some(FORMAT_VERSION) => None,
                Some(ENCRYPTED_FORMAT) => Some(self.key_meta()?),
                _ => {
                    return Err(self.corrupt(
                        "meta/format",
                        &format!(
                            "unsupported state format (this gig reads formats {FORMAT_VERSION} and {ENCRYPTED_FORMAT})"
                        ),
                    ))
                }
            };
            let resolved = Sealer::resolve(keys, key_meta.as_ref())
                .map_err(|e| crypt_error(&self.dir, None, e))?;
            let lineage = self
                .meta
                .get(META_LINEAGE)
                .map_err(|e| self.storage(e))?
                .ok_or_else(|| self.corrupt("meta/lineage", "missing"))?;
            self.serial()?;
            let lineage = String::from_utf8(lineage.to_vec())
                .map_err(|_| self.corrupt("meta/lineage", "not UTF-8"))?;
            return Ok((lineage, resolved.sealer, resolved.pending));
        }
        let (sealer, key_meta) =
            Sealer::for_new_state(keys).map_err(|e| crypt_error(&self.dir, None, e))?;
        let lineage = format!("{:032x}", rand::random::<u128>());
        let outputs = sealer.seal(
            META,
            META_OUTPUTS,
            &encode(&BTreeMap::<String, Value>::new()),
        );
        let (format, key_meta) = match &key_meta {
            Some(m) => (ENCRYPTED_FORMAT, Some(encode(m))),
            None => (FORMAT_VERSION, None),
        };
        self.transact(|_, meta, _| {
            meta.insert(META_LINEAGE, lineage.as_bytes())?;
            meta.insert(META_SERIAL, &0u64.to_be_bytes())?;
            meta.insert(META_OUTPUTS, outputs.as_slice())?;
            if let Some(key_meta) = &key_meta {
                meta.insert(META_CRYPT, key_meta.as_slice())?;
            }
            meta.insert(META_FORMAT, format.to_string().as_bytes())?;
            Ok(((), 0))
        })?;
        Ok((lineage, sealer, None))
    }

    /// The key metadata of an encrypted state.
    fn key_meta(&self) -> Result<KeyMeta, StateError> {
        let raw = self
            .meta
            .get(META_CRYPT)
            .map_err(|e| self.storage(e))?
            .ok_or_else(|| self.corrupt("meta/crypt", "missing in an encrypted state"))?;
        decode(&self.dir, "meta/crypt", &raw)
    }

    /// Whether this state is encrypted at rest.
    pub fn is_encrypted(&self) -> bool {
        self.sealer.is_required()
    }

    /// Re-encrypts every stored value (records, outputs and all history) under the
    /// current key in one durable transaction, and records that key as the state's only
    /// key; returns how many values were rewritten. A clear state gets encrypted. The
    /// serial and history do not change: the content is the same.
    ///
    /// Fails with [`CryptError::NoKeyToEncrypt`] when no current key is configured.
    pub fn rekey(&self) -> Result<usize, StateError> {
        let Some(entry) = self.sealer.write_entry() else {
            return Err(crypt_error(&self.dir, None, CryptError::NoKeyToEncrypt));
        };
        let meta = KeyMeta {
            keys: vec![entry.clone()],
        };
        let count = self.reseal_all(&meta)?;
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(count)
    }

    /// Rebuilds the database in a fresh directory holding exactly the current stored
    /// bytes, swaps it in and deletes the old one. Afterwards no earlier bytes remain in
    /// the state directory: sled's log keeps old versions of rewritten values (clear
    /// values before encryption, values under a rotated key) until it reuses the space,
    /// and this drops them. `gig state rekey` runs it after [`Store::rekey`].
    ///
    /// Consumes the store, whose handles stay on the old database. The lock is held
    /// throughout: the new database is built beside the live one, and one atomic
    /// exchange of the two directories (`renameat2` with `RENAME_EXCHANGE` on Linux,
    /// `renamex_np` on Apple systems) puts it in place, so `sled/` always holds a
    /// complete database. Elsewhere two renames do it, with a moment in between where
    /// `sled/` is missing. A crash before the exchange leaves the old database in
    /// place; after it, the new one. Either way a leftover `sled.compact/` is deleted by
    /// the next compaction.
    pub fn compact(self) -> Result<(), StateError> {
        let live = self.dir.join("sled");
        let fresh = self.dir.join("sled.compact");
        let dir = self.dir.clone();
        let storage = |what: &str, e: &dyn std::fmt::Display| StateError::Storage {
            path: dir.clone(),
            message: format!("compacting the database: {what}: {e}"),
        };
        match std::fs::remove_dir_all(&fresh) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(storage("removing a leftover sled.compact", &e)),
        }
        {
            let _release = lock::Release::new(fresh.join("db"));
            let db = sled::Config::new()
                .path(&fresh)
                .open()
                .map_err(|e| storage("creating the new database", &e))?;
            for name in self.db.tree_names() {
                let from = self
                    .db
                    .open_tree(&name)
                    .map_err(|e| storage("reading", &e))?;
                let to = db.open_tree(&name).map_err(|e| storage("writing", &e))?;
                for item in from.iter() {
                    let (key, value) = item.map_err(|e| storage("reading", &e))?;
                    to.insert(key, value).map_err(|e| storage("writing", &e))?;
                }
            }
            db.flush().map_err(|e| storage("flushing", &e))?;
            for file in [fresh.join("db"), fresh.clone()] {
                std::fs::File::open(&file)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| storage("syncing", &e))?;
            }
        }
        exchange_dirs(&live, &fresh).map_err(|e| storage("swapping directories", &e))?;
        std::fs::File::open(&dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| storage("syncing", &e))?;
        drop(self);
        std::fs::remove_dir_all(&fresh).map_err(|e| storage("removing the old database", &e))
    }

    /// Writes the pending key metadata, if any, before a write session: encrypts a clear
    /// state whole, or records the new current key of a state being rotated.
    fn write_pending_keys(&self) -> Result<(), StateError> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let Some(meta) = pending.clone() else {
            return Ok(());
        };
        if self.sealer.is_required() {
            let bytes = encode(&meta);
            self.transact(|_, tx_meta, _| {
                tx_meta.insert(META_CRYPT, bytes.as_slice())?;
                Ok(((), bytes.len() as u64))
            })?;
        } else {
            self.reseal_all(&meta)?;
        }
        *pending = None;
        Ok(())
    }

    /// Rewrites every stored value sealed under the current key and stores `key_meta`,
    /// in one transaction; returns how many values were rewritten.
    ///
    /// The keys are listed before the transaction (sled transactions cannot iterate);
    /// that is exact because this process holds the lock and no write session is
    /// running while this is called.
    fn reseal_all(&self, key_meta: &KeyMeta) -> Result<usize, StateError> {
        let keys = |tree: &sled::Tree| -> Result<Vec<sled::IVec>, StateError> {
            tree.iter()
                .keys()
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.storage(e))
        };
        let resource_keys = keys(&self.resources)?;
        let history_keys = keys(&self.history)?;
        // Outputs, create intents and deposed objects are the sealed values of `meta`.
        let mut meta_keys = vec![sled::IVec::from(META_OUTPUTS)];
        for prefix in [INTENT_PREFIX, DEPOSED_PREFIX] {
            for key in self.meta.scan_prefix(prefix).keys() {
                meta_keys.push(key.map_err(|e| self.storage(e))?);
            }
        }
        let key_meta = encode(key_meta);
        let count = self.transact(|resources, meta, history| {
            let tx = SessionTx::new(&self.dir, &self.sealer, 0, resources, meta, history);
            let mut count = 0;
            for (name, tree, keys) in [
                (RESOURCES, resources, &resource_keys),
                (HISTORY, history, &history_keys),
                (META, meta, &meta_keys),
            ] {
                for key in keys {
                    let Some(stored) = tree.get(key)? else {
                        continue;
                    };
                    let clear = self.sealer.open(name, key, &stored).map_err(|e| {
                        ConflictableTransactionError::Abort(crypt_error(
                            &self.dir,
                            Some(format!("{name}/{}", String::from_utf8_lossy(key))),
                            e,
                        ))
                    })?;
                    tx.insert(name, key, &clear)?;
                    count += 1;
                }
            }
            tx.insert_clear(meta, META_CRYPT, &key_meta)?;
            tx.insert_clear(meta, META_FORMAT, ENCRYPTED_FORMAT.to_string().as_bytes())?;
            Ok((count, tx.written.get()))
        })?;
        self.sealer.set_required();
        Ok(count)
    }

    /// Reads a stored value back: opened with the state's keys, then decoded.
    fn read<T: DeserializeOwned>(
        &self,
        tree: &str,
        key: &[u8],
        name: &str,
        bytes: &[u8],
    ) -> Result<T, StateError> {
        unseal_decode(&self.dir, &self.sealer, tree, key, name, bytes)
    }

    /// Runs `body` inside a new session `operation` in one durable transaction; returns
    /// the new serial. An error from `body` aborts everything, serial bump included.
    fn new_session<F>(&self, operation: &str, body: F) -> Result<u64, StateError>
    where
        F: Fn(&SessionTx<'_>) -> TxResult<()>,
    {
        self.write_pending_keys()?;
        let header = encode(&SessionHeader {
            operation: operation.to_string(),
            started: time::now(),
        });
        self.transact(|resources, meta, history| {
            let raw = meta.get(META_SERIAL)?.ok_or_else(|| {
                ConflictableTransactionError::Abort(self.corrupt("meta/serial", "missing"))
            })?;
            let serial = self
                .decode_serial(&raw)
                .map_err(ConflictableTransactionError::Abort)?
                + 1;
            let tx = SessionTx::new(&self.dir, &self.sealer, serial, resources, meta, history);
            tx.insert_clear(meta, META_SERIAL, &serial.to_be_bytes())?;
            tx.insert(HISTORY, &serial.to_be_bytes(), &header)?;
            body(&tx)?;
            Ok((serial, tx.written.get()))
        })
    }

    /// Runs `body` in the already open session `serial`, in one durable transaction.
    fn in_session<F>(&self, serial: u64, body: F) -> Result<(), StateError>
    where
        F: Fn(&SessionTx<'_>) -> TxResult<()>,
    {
        self.transact(|resources, meta, history| {
            let tx = SessionTx::new(&self.dir, &self.sealer, serial, resources, meta, history);
            body(&tx)?;
            Ok(((), tx.written.get()))
        })
    }

    /// One transaction across the three trees, then a flush and an `fdatasync`. `body` returns its result
    /// and the number of bytes it wrote.
    fn transact<T, F>(&self, body: F) -> Result<T, StateError>
    where
        F: Fn(&TransactionalTree, &TransactionalTree, &TransactionalTree) -> TxResult<(T, u64)>,
    {
        let outcome = (&self.resources, &self.meta, &self.history)
            .transaction(|(resources, meta, history)| body(resources, meta, history));
        let (value, written) = match outcome {
            Ok(done) => done,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(self.storage(e)),
        };
        self.db.flush().map_err(|e| self.storage(e))?;
        // sled 0.34 makes its log stable with `sync_file_range` on Linux, which neither
        // flushes the device's write cache nor the file's size; `fdatasync` does both.
        self.log_file.sync_data().map_err(|e| self.storage(e))?;
        self.written.fetch_add(written, Ordering::Relaxed);
        Ok(value)
    }

    fn open_session(&self) -> Result<u64, StateError> {
        self.session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ok_or_else(|| StateError::NoSession(self.dir.clone()))
    }

    fn close_session(&self) {
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Current records by address display form.
    fn current_resources(&self) -> Result<BTreeMap<String, ResourceRecord>, StateError> {
        let mut out = BTreeMap::new();
        for item in self.resources.iter() {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            let name = String::from_utf8(key.to_vec())
                .map_err(|_| self.corrupt("resources", "address key is not UTF-8"))?;
            let record = decode_record(&self.dir, &self.sealer, &name, &value)?;
            if record.addr.to_string() != name {
                return Err(self.corrupt(
                    &format!("resources/{name}"),
                    "record's address differs from its key",
                ));
            }
            out.insert(name, record);
        }
        Ok(out)
    }

    /// Create intents by address.
    fn current_intents(&self) -> Result<BTreeMap<ResourceAddr, Intent>, StateError> {
        let mut out = BTreeMap::new();
        for item in self.meta.scan_prefix(INTENT_PREFIX) {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            let name = String::from_utf8_lossy(&key).into_owned();
            let intent: Intent = self.read(META, &key, &format!("meta/{name}"), &value)?;
            out.insert(intent.addr.clone(), intent);
        }
        Ok(out)
    }

    /// Deposed objects by address and id.
    fn current_deposed(&self) -> Result<BTreeMap<DeposedKey, Deposed>, StateError> {
        let mut out = BTreeMap::new();
        for item in self.meta.scan_prefix(DEPOSED_PREFIX) {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            let name = String::from_utf8_lossy(&key).into_owned();
            let deposed: Deposed = self.read(META, &key, &format!("meta/{name}"), &value)?;
            out.insert(deposed.key(), deposed);
        }
        Ok(out)
    }

    fn current_outputs(&self) -> Result<BTreeMap<String, Value>, StateError> {
        match self.meta.get(META_OUTPUTS).map_err(|e| self.storage(e))? {
            Some(bytes) => self.read(META, META_OUTPUTS, "meta/outputs", &bytes),
            None => Err(self.corrupt("meta/outputs", "missing")),
        }
    }

    fn decode_serial(&self, bytes: &[u8]) -> Result<u64, StateError> {
        <[u8; 8]>::try_from(bytes)
            .map(u64::from_be_bytes)
            .map_err(|_| self.corrupt("meta/serial", "not an 8-byte serial"))
    }

    fn storage(&self, e: impl std::fmt::Display) -> StateError {
        StateError::Storage {
            path: self.dir.clone(),
            message: e.to_string(),
        }
    }

    fn corrupt(&self, key: &str, message: &str) -> StateError {
        StateError::Corrupt {
            path: self.dir.clone(),
            key: key.to_string(),
            message: message.to_string(),
        }
    }
}

impl Drop for Store {
    /// Removes the lock record while the lock is still held; the database (and with it
    /// the lock) is closed right after, when the fields drop, and the last field waits
    /// for the lock to be released.
    fn drop(&mut self) {
        let _ = self.db.flush();
        let _ = std::fs::remove_file(self.dir.join(lock::LOCK_FILE));
    }
}

impl StateBackend for Store {
    fn snapshot(&self) -> Result<Snapshot, StateError> {
        Store::snapshot(self)
    }
    fn stack_identity(&self) -> Result<Option<String>, StateError> {
        Store::stack_identity(self)
    }
    fn set_stack_identity(&self, name: &str) -> Result<(), StateError> {
        Store::set_stack_identity(self, name)
    }
    fn get(&self, addr: &ResourceAddr) -> Result<Option<ResourceRecord>, StateError> {
        Store::get(self, addr)
    }
    fn begin(&self, operation: &str) -> Result<u64, StateError> {
        Store::begin(self, operation)
    }
    fn put(&self, record: &ResourceRecord) -> Result<(), StateError> {
        Store::put(self, record)
    }
    fn remove(&self, addr: &ResourceAddr) -> Result<(), StateError> {
        Store::remove(self, addr)
    }
    fn commit(&self, writes: &[Write]) -> Result<(), StateError> {
        Store::commit(self, writes)
    }
    fn set_outputs(&self, outputs: &BTreeMap<String, Value>) -> Result<(), StateError> {
        Store::set_outputs(self, outputs)
    }
    fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        Store::history(self)
    }
    fn snapshot_at(&self, serial: u64) -> Result<Snapshot, StateError> {
        Store::snapshot_at(self, serial)
    }
    fn restore(&self, serial: u64) -> Result<u64, StateError> {
        Store::restore(self, serial)
    }
    fn load_backup(&self, backup: &Snapshot) -> Result<u64, StateError> {
        Store::load_backup(self, backup)
    }
    fn import_history(&self, source: &dyn StateBackend) -> Result<u64, StateError> {
        Store::import_history(self, source)
    }
    fn rm(&self, addr: &ResourceAddr) -> Result<u64, StateError> {
        Store::rm(self, addr)
    }
    fn mv(&self, from: &ResourceAddr, to: &ResourceAddr) -> Result<u64, StateError> {
        Store::mv(self, from, to)
    }
    fn mark_moved(&self, to: &str) -> Result<(), StateError> {
        Store::mark_moved(self, to)
    }
}

/// The location recorded by [`Store::mark_moved`], if any.
fn meta_moved_to(db: &sled::Db) -> Result<Option<String>, String> {
    let meta = db
        .open_tree("meta")
        .map_err(|e| format!("cannot open tree meta: {e}"))?;
    let raw = meta
        .get(META_MOVED_TO)
        .map_err(|e| format!("cannot read meta/moved_to: {e}"))?;
    Ok(raw.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// The trees of one transaction, seen as writes in session `serial`: every change to a
/// resource or the outputs also writes its delta.
struct SessionTx<'a> {
    dir: &'a Path,
    sealer: &'a Sealer,
    serial: u64,
    resources: &'a TransactionalTree,
    meta: &'a TransactionalTree,
    history: &'a TransactionalTree,
    /// Key and value bytes inserted so far.
    written: Cell<u64>,
}

impl<'a> SessionTx<'a> {
    fn new(
        dir: &'a Path,
        sealer: &'a Sealer,
        serial: u64,
        resources: &'a TransactionalTree,
        meta: &'a TransactionalTree,
        history: &'a TransactionalTree,
    ) -> SessionTx<'a> {
        SessionTx {
            dir,
            sealer,
            serial,
            resources,
            meta,
            history,
            written: Cell::new(0),
        }
    }

    /// The record at address display form `key`, if present.
    fn get(&self, key: &str) -> TxResult<Option<ResourceRecord>> {
        match self.resources.get(key.as_bytes())? {
            Some(bytes) => decode_record(self.dir, self.sealer, key, &bytes)
                .map(Some)
                .map_err(ConflictableTransactionError::Abort),
            None => Ok(None),
        }
    }

    /// Writes `record` and its delta.
    fn put(&self, record: &ResourceRecord) -> TxResult<()> {
        let key = record.addr.to_string();
        let before = self.before(&key)?;
        let after = encode(record);
        let delta = encode_delta(&record.addr, before.as_ref(), &after);
        self.insert(RESOURCES, key.as_bytes(), &after)?;
        self.drop_intent(&record.addr)?;
        self.insert(HISTORY, &self.delta_key(TAG_RESOURCE, &key), &delta)
    }

    /// Records a create intent (not part of the history).
    fn put_intent(&self, intent: &Intent) -> TxResult<()> {
        self.insert(META, &intent_key(&intent.addr), &encode(intent))
    }

    /// Whether `addr` has a create intent.
    fn has_intent(&self, addr: &ResourceAddr) -> TxResult<bool> {
        Ok(self.meta.get(intent_key(addr))?.is_some())
    }

    /// Drops the create intent of `addr`, if any.
    fn drop_intent(&self, addr: &ResourceAddr) -> TxResult<()> {
        self.meta.remove(intent_key(addr))?;
        Ok(())
    }

    /// Removes the record at `addr` and writes its delta when it is present; does
    /// nothing otherwise.
    fn remove_if_present(&self, addr: &ResourceAddr) -> TxResult<()> {
        self.drop_intent(addr)?;
        match self.remove(addr) {
            Ok(_) | Err(ConflictableTransactionError::Abort(StateError::NoSuchResource(_))) => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Removes the record at `addr` and writes its delta; returns the removed record.
    fn remove(&self, addr: &ResourceAddr) -> TxResult<ResourceRecord> {
        let key = addr.to_string();
        let Some(current) = self.get(&key)? else {
            return Err(ConflictableTransactionError::Abort(
                StateError::NoSuchResource(addr.clone()),
            ));
        };
        let before = match self.earlier_delta::<ResourceDelta>(TAG_RESOURCE, &key)? {
            Some(delta) => delta.before,
            None => Some(current.clone()),
        };
        let delta = ResourceDelta {
            addr: addr.clone(),
            before,
            after: None,
        };
        self.resources.remove(key.as_bytes())?;
        self.insert(
            HISTORY,
            &self.delta_key(TAG_RESOURCE, &key),
            &encode(&delta),
        )?;
        Ok(current)
    }

    /// Replaces the outputs and writes their delta.
    fn set_outputs(&self, outputs: &BTreeMap<String, Value>) -> TxResult<()> {
        let before = match self.earlier_delta::<OutputsDelta>(TAG_OUTPUTS, "")? {
            Some(delta) => delta.before,
            None => match self.meta.get(META_OUTPUTS)? {
                Some(bytes) => self.read(META, META_OUTPUTS, "meta/outputs", &bytes)?,
                None => BTreeMap::new(),
            },
        };
        let delta = OutputsDelta {
            before,
            after: outputs.clone(),
        };
        self.insert(META, META_OUTPUTS, &encode(outputs))?;
        self.insert(HISTORY, &self.delta_key(TAG_OUTPUTS, ""), &encode(&delta))
    }

    /// What the record at `key` was before this session: the `before` of an earlier
    /// delta in the session, else the current record.
    fn before(&self, key: &str) -> TxResult<Option<ResourceRecord>> {
        match self.earlier_delta::<ResourceDelta>(TAG_RESOURCE, key)? {
            Some(delta) => Ok(delta.before),
            None => self.get(key),
        }
    }

    fn earlier_delta<D: DeserializeOwned>(&self, tag: u8, key: &str) -> TxResult<Option<D>> {
        let delta_key = self.delta_key(tag, key);
        match self.history.get(&delta_key)? {
            Some(bytes) => {
                let name = if tag == TAG_OUTPUTS { "outputs" } else { key };
                self.read(
                    HISTORY,
                    &delta_key,
                    &format!("history/{}/{name}", self.serial),
                    &bytes,
                )
                .map(Some)
            }
            None => Ok(None),
        }
    }

    fn delta_key(&self, tag: u8, key: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + key.len());
        out.extend_from_slice(&self.serial.to_be_bytes());
        out.push(tag);
        out.extend_from_slice(key.as_bytes());
        out
    }

    /// Inserts `value` at `key` in `tree`, sealed when the state is encrypted.
    fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> TxResult<()> {
        let stored = self.sealer.seal(tree, key, value);
        self.insert_clear(self.tree(tree), key, &stored)
    }

    /// Inserts `value` as is: for what must stay readable without a key (serial, lineage,
    /// format and key metadata) and for values already sealed.
    fn insert_clear(&self, tree: &TransactionalTree, key: &[u8], value: &[u8]) -> TxResult<()> {
        tree.insert(key, value)?;
        self.written
            .set(self.written.get() + (key.len() + value.len()) as u64);
        Ok(())
    }

    fn tree(&self, name: &str) -> &TransactionalTree {
        match name {
            RESOURCES => self.resources,
            HISTORY => self.history,
            _ => self.meta,
        }
    }

    /// Reads a stored value of this transaction back (see [`Store::read`]).
    fn read<T: DeserializeOwned>(
        &self,
        tree: &str,
        key: &[u8],
        name: &str,
        bytes: &[u8],
    ) -> TxResult<T> {
        unseal_decode(self.dir, self.sealer, tree, key, name, bytes)
            .map_err(ConflictableTransactionError::Abort)
    }
}

/// What a history key names.
enum HistoryKey {
    /// A session header.
    Header,
    /// The outputs delta of a session.
    Outputs,
    /// A resource delta, with the address display form.
    Resource(String),
}

fn parse_history_key(key: &[u8]) -> Option<(u64, HistoryKey)> {
    let serial = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let kind = match key.get(8) {
        None => HistoryKey::Header,
        Some(&TAG_OUTPUTS) if key.len() == 9 => HistoryKey::Outputs,
        Some(&TAG_RESOURCE) => HistoryKey::Resource(String::from_utf8(key[9..].to_vec()).ok()?),
        Some(_) => return None,
    };
    Some((serial, kind))
}

/// Serialises a stored value. Our types always serialise (numbers that JSON cannot hold
/// become `null` in [`Value::to_json`]), so the empty fallback is unreachable in practice.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// The stored form of a [`ResourceDelta`] whose `after` record is already encoded as
/// `after`: the bytes `encode` gives for the whole delta, without encoding the record
/// a second time.
fn encode_delta(addr: &ResourceAddr, before: Option<&ResourceRecord>, after: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * after.len() + 64);
    out.extend_from_slice(b"{\"addr\":");
    out.extend_from_slice(&encode(addr));
    out.extend_from_slice(b",\"before\":");
    out.extend_from_slice(&encode(&before));
    out.extend_from_slice(b",\"after\":");
    out.extend_from_slice(after);
    out.push(b'}');
    out
}

/// Opens a stored value with `sealer` and decodes it; a value that cannot be opened is a
/// [`StateError::Crypt`] naming the record.
fn unseal_decode<T: DeserializeOwned>(
    dir: &Path,
    sealer: &Sealer,
    tree: &str,
    key: &[u8],
    name: &str,
    bytes: &[u8],
) -> Result<T, StateError> {
    let clear = sealer
        .open(tree, key, bytes)
        .map_err(|e| crypt_error(dir, Some(name.to_string()), e))?;
    decode(dir, name, &clear)
}

/// Reads the record stored at address display form `key` in `resources`.
fn decode_record(
    dir: &Path,
    sealer: &Sealer,
    key: &str,
    bytes: &[u8],
) -> Result<ResourceRecord, StateError> {
    let name = format!("resources/{key}");
    unseal_decode(dir, sealer, RESOURCES, key.as_bytes(), &name, bytes)
}

fn crypt_error(dir: &Path, record: Option<String>, source: CryptError) -> StateError {
    StateError::Crypt {
        path: dir.to_path_buf(),
        record,
        source,
    }
}

/// Reads a stored value back, reporting a failure as [`StateError::Corrupt`]. The message
/// keeps serde's category and position but never the stored bytes, which may be secret.
pub(crate) fn decode<T: DeserializeOwned>(
    dir: &Path,
    key: &str,
    bytes: &[u8],
) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
        path: dir.to_path_buf(),
        key: key.to_string(),
        message: format!(
            "unreadable JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

/// Swaps the directories `a` and `b` in one atomic step.
#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
fn exchange_dirs(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

/// Swaps the directories `a` and `b` with three renames (no atomic exchange here).
#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn exchange_dirs(a: &Path, b: &Path) -> std::io::Result<()> {
    let aside = a.with_extension("swap");
    std::fs::rename(a, &aside)?;
    std::fs::rename(b, a)?;
    std::fs::rename(&aside, b)
}

/// Creates `dir` and its parents; on Unix a newly created directory gets mode 0700.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn record(name: &str, id: &str) -> ResourceRecord {
        let addr = ResourceAddr::managed("aws.subnet", "private")
            .with_key(gig_core::addr::InstanceKey::Name(name.to_string()));
        let mut value = BTreeMap::new();
        value.insert("id".to_string(), Value::str(id));
        value.insert("cidr_block".to_string(), Value::str("10.0.1.0/24"));
        ResourceRecord {
            addr,
            provider: "aws".to_string(),
            id: id.to_string(),
            value: Value::Map(value),
            dependencies: Vec::new(),
            schema_version: 0,
        }
    }

    /// Bytes committed by one `put` of a new record and by one `put` updating a record,
    /// in a state that already holds `existing` records.
    fn bytes_per_put(existing: usize) -> (u64, u64) {
        let scratch = Scratch(
            std::env::temp_dir().join(format!("gig-state-bytes-{}-{existing}", std::process::id())),
        );
        let store = Store::open(&scratch.0, LockInfo::current("bytes test")).unwrap();
        let serial = store.begin("apply").unwrap();
        let records: Vec<ResourceRecord> = (0..existing)
            .map(|i| record(&format!("{i:06}"), &format!("subnet-{i:06}")))
            .collect();
        // Filled in one transaction to keep the test fast; the measured puts are ordinary.
        store
            .in_session(serial, |tx| {
                for r in &records {
                    tx.put(r)?;
                }
                Ok(())
            })
            .unwrap();
        store.begin("apply").unwrap();
        let start = store.bytes_written();
        store.put(&record("999999", "subnet-999999")).unwrap();
        let new = store.bytes_written() - start;
        let start = store.bytes_written();
        store.put(&record("000050", "subnet-updated")).unwrap();
        let update = store.bytes_written() - start;
        (new, update)
    }

    /// Bytes committed by one batch of 20 new records and 20 updates, in a state that
    /// already holds `existing` records.
    fn bytes_per_batch(existing: usize) -> u64 {
        let scratch = Scratch(
            std::env::temp_dir().join(format!("gig-state-batch-{}-{existing}", std::process::id())),
        );
        let store = Store::open(&scratch.0, LockInfo::current("bytes test")).unwrap();
        store.begin("apply").unwrap();
        let records: Vec<Write> = (0..existing)
            .map(|i| Write::Put(record(&format!("{i:06}"), &format!("subnet-{i:06}"))))
            .collect();
        store.commit(&records).unwrap();
        store.begin("apply").unwrap();
        let batch: Vec<Write> = (0..20)
            .map(|i| Write::Put(record(&format!("9{i:05}"), &format!("subnet-9{i:05}"))))
            .chain((0..20).map(|i| {
                Write::Put(record(
                    &format!("{:06}", i + 50),
                    &format!("subnet-u{i:06}"),
                ))
            }))
            .collect();
        let start = store.bytes_written();
        store.commit(&batch).unwrap();
        store.bytes_written() - start
    }

    #[test]
    fn bytes_written_per_batch_are_those_of_its_puts_and_do_not_grow_with_the_state() {
        let small = bytes_per_batch(100);
        let large = bytes_per_batch(10_000);
        assert_eq!(small, large, "bytes per batch at 100 vs 10,000 records");
        let (new, update) = bytes_per_put(100);
        assert_eq!(
            small,
            20 * new + 20 * update,
            "a batch writes what its puts would"
        );
    }

    #[test]
    fn a_delta_encoded_around_its_record_is_the_encoded_delta() {
        let before = record("a", "subnet-1");
        let mut after = record("a", "subnet-2");
        after.value = Value::List(vec![Value::Unknown, Value::str("pw").into_secret()]);
        for b in [None, Some(before)] {
            let whole = ResourceDelta {
                addr: after.addr.clone(),
                before: b.clone(),
                after: Some(after.clone()),
            };
            assert_eq!(
                encode_delta(&after.addr, b.as_ref(), &encode(&after)),
                encode(&whole)
            );
        }
    }

    #[test]
    fn bytes_written_per_put_do_not_grow_with_the_state() {
        let small = bytes_per_put(100);
        let large = bytes_per_put(10_000);
        assert_eq!(small, large, "bytes per put at 100 vs 10,000 records");
        // A record here is ~250 bytes of JSON; a put writes it and its delta.
        assert!(small.0 < 1_000 && small.1 < 1_500, "{small:?}");
    }
}
