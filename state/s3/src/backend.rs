//! [`S3Backend`]: opening (lease and recovery), write sessions on the journal,
//! compaction, history and release.
//!
//! The backend keeps the current state in memory: it is read once when the backend is
//! opened (the lock guarantees nobody else changes it while it is held), and every write
//! goes to S3 first and to memory after S3 acknowledged it. Reads (`snapshot`, `get`,
//! `history`) therefore make no request; `snapshot_at` reads the history objects of the
//! sessions after the one asked for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gig_core::addr::ResourceAddr;
use gig_core::value::Value;
use gig_state::crypt::{CryptError, KeyMeta, Sealer};
use gig_state::{
    decode_stored, encode_stored, now_rfc3339, redact_holder, Deposed, DeposedKey, HistoryEntry,
    Intent, LockInfo, ResourceRecord, Snapshot, StateBackend, StateError, Write,
};

use crate::cache::Cache;
use crate::client::{CallError, Calls, Client, Guard, Object, Outcome};
use crate::layout::{
    history_key, journal_key, parse_journal_key, Delta, DeposedChange, IntentChange, JournalEntry,
    LeaseRecord, OutputsDelta, SessionIndex, SessionObject, StateObject, CRYPT, JOURNAL,
    LAYOUT_VERSION, LOCK, SEALED_TREE, STATE,
};
use crate::{S3Location, S3Options, COMPACT_EVERY};

/// An open, locked state on S3 for one stack and env. Dropping it ends the open session
/// (compaction) and releases the lease.
pub struct S3Backend {
    location: S3Location,
    path: PathBuf,
    client: Client,
    lease: Arc<Lease>,
    renewal: Option<tokio::task::JoinHandle<()>>,
    inner: Mutex<Inner>,
    /// The keys of this state's objects.
    sealer: Sealer,
    /// What encryption still has to write before the next write (see [`Keying`]).
    keying: Mutex<Keying>,
    /// The local copy of `state.json`, when one is kept.
    cache: Option<Cache>,
}

/// Encryption work left for the first write: key metadata to store, and whether the
/// state is still clear and must be sealed whole first.
#[derive(Clone, Default)]
struct Keying {
    /// `crypt.json` to write.
    meta: Option<KeyMeta>,
    /// The state's objects are clear and a key is configured: seal them all.
    seal_all: bool,
}

/// The lease as the holder knows it, shared with the renewal task.
struct Lease {
    /// The lease record as last written, and its ETag.
    record: Mutex<(LeaseRecord, String)>,
    /// Local instant until which writing is safe: a successful renewal started at `t`
    /// makes it `t + lease - lease/4`, a margin for clocks and requests in flight.
    safe_until: Mutex<Instant>,
    /// Why the lease was lost, once it was.
    lost: Mutex<Option<String>>,
    /// Set to stop the renewal task.
    stop: AtomicBool,
    wake: tokio::sync::Notify,
    duration: Duration,
}

/// The state as this holder knows it.
struct Inner {
    lineage: String,
    /// The current serial (the open session's, when one is open).
    serial: u64,
    resources: BTreeMap<ResourceAddr, ResourceRecord>,
    outputs: BTreeMap<String, Value>,
    intents: BTreeMap<ResourceAddr, Intent>,
    deposed: BTreeMap<DeposedKey, Deposed>,
    /// Sessions written to history objects, oldest first.
    sessions: Vec<SessionIndex>,
    fence: u64,
    /// The highest journal sequence number of session `serial` in `state.json`.
    compacted_seq: u64,
    /// Set once the state was migrated elsewhere.
    moved_to: Option<String>,
    /// The stack identity, once recorded (not part of any version).
    stack: Option<String>,
    /// `state.json`'s ETag, `None` before it exists.
    state_etag: Option<String>,
    open: Option<OpenSession>,
}

struct OpenSession {
    serial: u64,
    operation: String,
    started: String,
    next_seq: u64,
    /// Net change per address over the whole session.
    net: BTreeMap<ResourceAddr, Delta>,
    outputs: Option<OutputsDelta>,
    /// Journal objects written since the last compaction.
    journal: Vec<String>,
}

/// What one commit round writes.
struct Round {
    deltas: Vec<Delta>,
    outputs: Option<OutputsDelta>,
    intents: Vec<IntentChange>,
    deposed: Vec<DeposedChange>,
}

/// What `gig state unlock` found.
#[derive(Debug)]
pub enum Unlock {
    /// The lease was broken; it named this holder.
    Broken(LockInfo),
    /// Nobody holds the state.
    NotLocked,
    /// The state is locked under another id.
    OtherId {
        /// Who holds it.
        holder: LockInfo,
        /// Its lock id.
        lock_id: String,
    },
}

/// Allowance for clock differences between machines before an expired lease is taken.
const SKEW: Duration = Duration::from_secs(1);

impl S3Backend {
    /// Opens the state at `location`, taking the lease for `holder`. Fails at once with
    /// [`StateError::Locked`] naming the holder and lock id when another process holds
    /// a lease that has not expired. When the previous holder's lease expired (it died or
    /// hung), takes it over, folds the journal it left into `state.json` and fences its
    /// generation out. `holder`'s `--param` values are redacted first.
    pub fn open(
        location: &S3Location,
        holder: LockInfo,
        options: &S3Options,
    ) -> Result<S3Backend, StateError> {
        let (path, client) = connect(location, options)?;
        let storage = |e: CallError| StateError::Storage {
            path: path.clone(),
            message: e.0,
        };
        let calls = client.handle();
        let (lock_key, state_key, crypt_key) =
            (location.key(LOCK), location.key(STATE), location.key(CRYPT));
        let cache = options
            .cache_dir
            .as_ref()
            .map(|root| Cache::new(root, location));
        let cached = cache.as_ref().and_then(|c| c.read(STATE));
        let cached_etag = cached.as_ref().map(|o| o.etag.clone());
        let (lock, state, crypt) = client
            .run({
                let calls = calls.clone();
                async move {
                    let (lock, state, crypt) = tokio::join!(
                        calls.get(&lock_key, None),
                        calls.get(&state_key, cached_etag.as_deref()),
                        calls.get(&crypt_key, None)
                    );
                    Ok((lock?, state?, crypt?))
                }
            })
            .map_err(storage)?;
        let lock = object(lock);
        let state = match (state, cached) {
            // 304: the copy is current.
            (Outcome::Done(None), Some(copy)) => Some(copy),
            (found, _) => {
                let found = object(found);
                if let Some(c) = &cache {
                    match &found {
                        Some(o) => c.write(STATE, &o.bytes, &o.etag),
                        None => c.forget(STATE),
                    }
                }
                found
            }
        };
        let meta: Option<KeyMeta> = match object(crypt) {
            Some(o) => Some(decode_stored(&path, CRYPT, &o.bytes)?),
            None => None,
        };
        let (sealer, keying) = resolve_keys(&path, &options.keys, meta, state.as_ref())?;
        let state = match state {
            Some(o) => {
                let s: StateObject = open_stored(&sealer, &path, STATE, &o.bytes)?;
                if s.layout != LAYOUT_VERSION {
                    return Err(StateError::Corrupt {
                        path,
                        key: STATE.to_string(),
                        message: format!(
                            "unsupported layout {} (this gig reads layout {LAYOUT_VERSION})",
                            s.layout
                        ),
                    });
                }
                if let Some(to) = s.moved_to {
                    return Err(StateError::Moved { path, to });
                }
                Some((s, o.etag))
            }
            None => None,
        };
        let now = unix_ms(SystemTime::now());
        let (guard, previous, takeover) = match &lock {
            None => (Guard::Absent, 0, false),
            Some(o) => {
                let record: LeaseRecord = decode_stored(&path, LOCK, &o.bytes)?;
                let expired = record.expires_ms + (SKEW.as_millis() as u64) < now;
                if !record.released && !expired {
                    return Err(StateError::Locked {
                        path,
                        holder: Box::new(record.holder),
                        lock_id: Some(record.lock_id),
                    });
                }
                (
                    Guard::Etag(o.etag.clone()),
                    record.generation,
                    !record.released,
                )
            }
        };
        let fence = state.as_ref().map_or(0, |(s, _)| s.fence);
        let generation = previous.max(fence) + 1;
        let record = LeaseRecord {
            holder: redact_holder(holder),
            lock_id: format!("{:016x}", rand::random::<u64>()),
            generation,
            expires_ms: now + options.lease.as_millis() as u64,
            released: false,
        };
        let started = Instant::now();
        let taken = client
            .run({
                let calls = calls.clone();
                let key = location.key(LOCK);
                let bytes = encode_stored(&record);
                async move { calls.put(&key, bytes, guard).await }
            })
            .map_err(storage)?;
        let lock_etag = match taken {
            Outcome::Done(etag) => etag,
            // Another process took it between our read and our write.
            Outcome::Conflict | Outcome::Missing => {
                return Err(locked_now(&client, location, &path));
            }
        };
        let lease = Arc::new(Lease {
            record: Mutex::new((record, lock_etag)),
            safe_until: Mutex::new(started + safe_span(options.lease)),
            lost: Mutex::new(None),
            stop: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
            duration: options.lease,
        });
        let (state, state_etag) = match state {
            Some((s, etag)) => (s, Some(etag)),
            None => (
                StateObject {
                    layout: LAYOUT_VERSION,
                    lineage: format!("{:032x}", rand::random::<u128>()),
                    ..StateObject::default()
                },
                None,
            ),
        };
        let mut backend = S3Backend {
            location: location.clone(),
            path,
            client,
            lease,
            renewal: None,
            sealer,
            keying: Mutex::new(keying),
            cache,
            inner: Mutex::new(Inner {
                lineage: state.lineage.clone(),
                serial: state.serial,
                resources: state
                    .resources
                    .iter()
                    .map(|r| (r.addr.clone(), r.clone()))
                    .collect(),
                outputs: state.outputs.clone(),
                intents: state
                    .intents
                    .iter()
                    .map(|i| (i.addr.clone(), i.clone()))
                    .collect(),
                deposed: state.deposed.iter().map(|d| (d.key(), d.clone())).collect(),
                sessions: state.sessions.clone(),
                fence: state.fence,
                compacted_seq: state.compacted_seq,
                moved_to: None,
                stack: state.stack.clone(),
                state_etag,
                open: None,
            }),
        };
        backend.recover(&state, generation, takeover)?;
        backend.renewal = backend.client.spawn(renew(
            calls,
            backend.location.key(LOCK),
            backend.lease.clone(),
        ));
        Ok(backend)
    }

    /// The location this backend reads and writes.
    pub fn location(&self) -> &S3Location {
        &self.location
    }

    /// S3 requests made by this backend so far.
    pub fn requests(&self) -> u64 {
        self.client.requests()
    }

    /// Object bytes this backend sent to and received from S3 so far.
    pub fn bytes(&self) -> u64 {
        self.client.bytes()
    }

    /// This holder's lock id (what `gig state unlock` takes).
    pub fn lock_id(&self) -> String {
        lock(&self.lease.record).0.lock_id.clone()
    }

    /// The lease generation this holder writes under.
    pub fn generation(&self) -> u64 {
        lock(&self.lease.record).0.generation
    }

    /// Stops renewing the lease, as a hung process would: for tests of fencing.
    #[doc(hidden)]
    pub fn stop_renewing(&self) {
        self.lease.stop.store(true, Ordering::SeqCst);
        self.lease.wake.notify_one();
    }

    /// Pretends the lease is still safe to write under, as a holder whose clock or
    /// scheduler misled it would: for tests that a late write is fenced out.
    #[doc(hidden)]
    pub fn assume_lease_valid(&self) {
        *lock(&self.lease.lost) = None;
        *lock(&self.lease.safe_until) = Instant::now() + Duration::from_secs(3600);
    }

    /// Copies `source` into this state, which must never have been written: its lineage,
    /// serial, records, outputs and every session of its history (operation, start time,
    /// changes), so that `history`, `snapshot_at` and `restore` answer as the source
    /// did. One history object per session, then `state.json`. Returns the serial.
    fn import_history_into(&self, source: &dyn StateBackend) -> Result<u64, StateError> {
        let mut inner = lock(&self.inner);
        if inner.serial != 0 || !inner.sessions.is_empty() || inner.open.is_some() {
            return Err(StateError::Storage {
                path: self.path.clone(),
                message: "cannot import into a state that was already written".to_string(),
            });
        }
        self.check_lease()?;
        self.settle_keys(&mut inner)?;
        let current = source.snapshot()?;
        let mut prev = Snapshot::default();
        let generation = self.generation();
        for entry in source.history()? {
            let snap = source.snapshot_at(entry.serial)?;
            let addrs: std::collections::BTreeSet<&ResourceAddr> =
                prev.resources.keys().chain(snap.resources.keys()).collect();
            let deltas = addrs
                .into_iter()
                .filter(|a| prev.resources.get(*a) != snap.resources.get(*a))
                .map(|a| Delta {
                    addr: a.clone(),
                    before: prev.resources.get(a).cloned(),
                    after: snap.resources.get(a).cloned(),
                })
                .collect();
            let outputs = (prev.outputs != snap.outputs).then(|| OutputsDelta {
                before: prev.outputs.clone(),
                after: snap.outputs.clone(),
            });
            let session = SessionObject {
                serial: entry.serial,
                operation: entry.operation.clone(),
                started: entry.started.clone(),
                deltas,
                outputs,
            };
            let object = history_key(entry.serial, generation);
            self.put(&object, self.sealed(&object, &session), Guard::None)?;
            inner.sessions.push(SessionIndex { entry, object });
            prev = snap;
        }
        inner.lineage = current.lineage;
        inner.serial = current.serial;
        inner.resources = current.resources;
        inner.outputs = current.outputs;
        inner.intents = current.intents;
        inner.deposed = current.deposed;
        inner.stack = source.stack_identity()?;
        inner.compacted_seq = 0;
        self.write_state(&mut inner)?;
        Ok(inner.serial)
    }

    /// Folds the journal left by earlier holders into `state.json` (and deletes it).
    /// After a takeover `state.json` is written even with nothing to fold, to raise the
    /// fence to this holder's generation.
    fn recover(
        &self,
        state: &StateObject,
        generation: u64,
        takeover: bool,
    ) -> Result<(), StateError> {
        let calls = self.client.handle();
        let prefix = self.location.key(JOURNAL);
        let keys = self
            .client
            .run({
                let calls = calls.clone();
                async move { calls.list(&prefix).await }
            })
            .map_err(|e| self.storage(e))?;
        let mut stale = Vec::new();
        let mut live: Vec<((u64, u64), String)> = Vec::new();
        let base = self.location.key("");
        for key in keys {
            let relative = key.strip_prefix(&base).unwrap_or(&key);
            match parse_journal_key(relative) {
                Some((g, serial, seq))
                    if g >= state.fence
                        && (serial > state.serial
                            || (serial == state.serial && seq > state.compacted_seq)) =>
                {
                    live.push(((serial, seq), key))
                }
                _ => stale.push(key),
            }
        }
        live.sort();
        if live.is_empty() && !takeover {
            return self.delete_quietly(stale);
        }
        let live_keys: Vec<String> = live.into_iter().map(|(_, k)| k).collect();
        let entries: Vec<Object> = self
            .client
            .run({
                let calls = calls.clone();
                let keys = live_keys.clone();
                async move {
                    let mut out = Vec::new();
                    for key in keys {
                        if let Outcome::Done(Some(o)) = calls.get(&key, None).await? {
                            out.push(o);
                        }
                    }
                    Ok(out)
                }
            })
            .map_err(|e| self.storage(e))?;
        let mut inner = lock(&self.inner);
        self.settle_keys(&mut inner)?;
        inner.fence = generation;
        let mut session: Option<SessionObject> = None;
        for (object, key) in entries.iter().zip(&live_keys) {
            let entry: JournalEntry =
                self.opened(key.strip_prefix(&base).unwrap_or(key), &object.bytes)?;
            if state.serial > 0 && entry.lineage != inner.lineage {
                stale.push(key.clone());
                continue;
            }
            if state.serial == 0 && inner.serial == 0 {
                inner.lineage = entry.lineage.clone();
            }
            if session.as_ref().is_none_or(|s| s.serial != entry.serial) {
                if let Some(done) = session.take() {
                    self.finish_recovered(&mut inner, done, generation)?;
                }
                session = Some(self.resumed_session(&inner, &entry)?);
            }
            if let Some(s) = session.as_mut() {
                for d in &entry.deltas {
                    apply_delta(&mut inner.resources, d);
                    match s.deltas.iter_mut().find(|e| e.addr == d.addr) {
                        Some(existing) => existing.after = d.after.clone(),
                        None => s.deltas.push(d.clone()),
                    }
                }
                if let Some(o) = &entry.outputs {
                    inner.outputs = o.after.clone();
                    merge_outputs(&mut s.outputs, o.clone());
                }
            }
            apply_intents(&mut inner.intents, &entry.intents);
            apply_deposed(&mut inner.deposed, &entry.deposed);
            inner.serial = entry.serial;
        }
        if let Some(done) = session.take() {
            self.finish_recovered(&mut inner, done, generation)?;
        }
        inner.compacted_seq = 0;
        self.write_state(&mut inner)?;
        stale.extend(live_keys);
        drop(inner);
        self.delete_quietly(stale)
    }

    /// The history object of session `entry.serial` as recovery resumes it: the partial
    /// one a mid-session compaction wrote, or a new one.
    fn resumed_session(
        &self,
        inner: &Inner,
        entry: &JournalEntry,
    ) -> Result<SessionObject, StateError> {
        match inner.sessions.last() {
            Some(index) if index.entry.serial == entry.serial => self.read_session(&index.object),
            _ => Ok(SessionObject {
                serial: entry.serial,
                operation: entry.operation.clone(),
                started: entry.started.clone(),
                ..SessionObject::default()
            }),
        }
    }

    /// Writes a recovered session's history object and indexes it.
    fn finish_recovered(
        &self,
        inner: &mut Inner,
        session: SessionObject,
        generation: u64,
    ) -> Result<(), StateError> {
        let object = history_key(session.serial, generation);
        self.put(&object, self.sealed(&object, &session), Guard::None)?;
        index_session(inner, &session, object);
        Ok(())
    }

    /// Writes `state.json` from `inner`, guarded by its last ETag; a refusal means
    /// another process wrote it, so the lease is lost.
    fn write_state(&self, inner: &mut Inner) -> Result<(), StateError> {
        let object = StateObject {
            layout: LAYOUT_VERSION,
            lineage: inner.lineage.clone(),
            serial: inner.serial,
            compacted_seq: inner.compacted_seq,
            fence: inner.fence,
            sessions: inner.sessions.clone(),
            resources: inner.resources.values().cloned().collect(),
            outputs: inner.outputs.clone(),
            moved_to: inner.moved_to.clone(),
            stack: inner.stack.clone(),
            intents: inner.intents.values().cloned().collect(),
            deposed: inner.deposed.values().cloned().collect(),
        };
        let guard = match &inner.state_etag {
            Some(etag) => Guard::Etag(etag.clone()),
            None => Guard::Absent,
        };
        let bytes = self.sealed(STATE, &object);
        let copy = self.cache.as_ref().map(|_| bytes.clone());
        match self.put_outcome(STATE, bytes, guard)? {
            Outcome::Done(etag) => {
                if let (Some(cache), Some(bytes)) = (&self.cache, copy) {
                    cache.write(STATE, &bytes, &etag);
                }
                inner.state_etag = Some(etag);
                Ok(())
            }
            Outcome::Conflict | Outcome::Missing => {
                Err(self.lose("state.json was written by another process"))
            }
        }
    }

    /// Compacts the open session: its history object, then `state.json`, then the
    /// journal objects it folds are deleted. `end` closes the session.
    fn compact(&self, inner: &mut Inner, end: bool) -> Result<(), StateError> {
        let Some(open) = inner.open.as_ref() else {
            return Ok(());
        };
        self.check_lease()?;
        let session = SessionObject {
            serial: open.serial,
            operation: open.operation.clone(),
            started: open.started.clone(),
            deltas: open.net.values().cloned().collect(),
            outputs: open.outputs.clone(),
        };
        let compacted_seq = open.next_seq - 1;
        let journal = open.journal.clone();
        let object = history_key(session.serial, self.generation());
        self.put(&object, self.sealed(&object, &session), Guard::None)?;
        index_session(inner, &session, object);
        inner.compacted_seq = compacted_seq;
        self.write_state(inner)?;
        if let Some(open) = inner.open.as_mut() {
            open.journal.clear();
        }
        if end {
            inner.open = None;
        }
        self.delete_quietly(journal)
    }

    /// Writes one commit round to the journal and, once acknowledged, to memory.
    fn round(&self, inner: &mut Inner, round: Round) -> Result<(), StateError> {
        let Round {
            deltas,
            outputs,
            intents,
            deposed,
        } = round;
        let generation = self.generation();
        let Some(open) = inner.open.as_ref() else {
            return Err(StateError::NoSession(self.path.clone()));
        };
        if deltas.is_empty() && outputs.is_none() && intents.is_empty() && deposed.is_empty() {
            return Ok(());
        }
        self.check_lease()?;
        let entry = JournalEntry {
            lineage: inner.lineage.clone(),
            generation,
            serial: open.serial,
            seq: open.next_seq,
            operation: open.operation.clone(),
            started: open.started.clone(),
            deltas,
            outputs,
            intents,
            deposed,
        };
        let key = journal_key(generation, entry.serial, entry.seq);
        match self.put_outcome(&key, self.sealed(&key, &entry), Guard::Absent)? {
            Outcome::Done(_) => {}
            Outcome::Conflict | Outcome::Missing => {
                return Err(self.lose("a journal object of this holder already exists"))
            }
        }
        for d in &entry.deltas {
            apply_delta(&mut inner.resources, d);
        }
        if let Some(o) = &entry.outputs {
            inner.outputs = o.after.clone();
        }
        apply_intents(&mut inner.intents, &entry.intents);
        apply_deposed(&mut inner.deposed, &entry.deposed);
        let full = {
            let Some(open) = inner.open.as_mut() else {
                return Err(StateError::NoSession(self.path.clone()));
            };
            for d in entry.deltas {
                merge_delta(&mut open.net, d);
            }
            if let Some(o) = entry.outputs {
                merge_outputs(&mut open.outputs, o);
            }
            open.next_seq += 1;
            open.journal.push(self.location.key(&key));
            open.journal.len() >= COMPACT_EVERY
        };
        if full {
            self.compact(inner, false)?;
        }
        Ok(())
    }

    /// The round that `writes` make, applied in order to the current records: deltas
    /// (a `Remove` of an absent address is dropped) and the final intent of every address
    /// whose intent a write sets or drops (recording a resource drops its intent).
    fn round_of(inner: &Inner, writes: &[Write]) -> Round {
        let mut view: BTreeMap<ResourceAddr, Option<ResourceRecord>> = BTreeMap::new();
        let mut intents: BTreeMap<ResourceAddr, Option<Intent>> = BTreeMap::new();
        let mut deltas = Vec::new();
        for w in writes {
            let addr = match w {
                Write::Put(r) => &r.addr,
                Write::Remove(a) | Write::DropIntent(a) => a,
                Write::Intent(i) => &i.addr,
                Write::Depose(_) | Write::DropDeposed(_) => continue,
            };
            let has_intent = intents
                .get(addr)
                .map_or_else(|| inner.intents.contains_key(addr), Option::is_some);
            match w {
                Write::Intent(i) => {
                    intents.insert(addr.clone(), Some(i.clone()));
                    continue;
                }
                Write::DropIntent(_) => {
                    if has_intent {
                        intents.insert(addr.clone(), None);
                    }
                    continue;
                }
                Write::Put(_) | Write::Remove(_) if has_intent => {
                    intents.insert(addr.clone(), None);
                }
                Write::Put(_) | Write::Remove(_) => {}
                Write::Depose(_) | Write::DropDeposed(_) => continue,
            }
            let before = view
                .get(addr)
                .cloned()
                .unwrap_or_else(|| inner.resources.get(addr).cloned());
            let after = match w {
                Write::Put(r) => Some(r.clone()),
                _ if before.is_none() => continue,
                _ => None,
            };
            view.insert(addr.clone(), after.clone());
            deltas.push(Delta {
                addr: addr.clone(),
                before,
                after,
            });
        }
        Round {
            deltas,
            outputs: None,
            intents: intents
                .into_iter()
                .map(|(addr, intent)| IntentChange { addr, intent })
                .collect(),
            deposed: deposed_changes(writes),
        }
    }

    fn begin_locked(&self, inner: &mut Inner, operation: &str) -> Result<u64, StateError> {
        self.check_lease()?;
        self.settle_keys(inner)?;
        self.compact(inner, true)?;
        inner.serial += 1;
        inner.open = Some(OpenSession {
            serial: inner.serial,
            operation: operation.to_string(),
            started: now_rfc3339(),
            next_seq: 1,
            net: BTreeMap::new(),
            outputs: None,
            journal: Vec::new(),
        });
        Ok(inner.serial)
    }

    /// Runs `writes` (and new outputs) as a session `operation` of their own.
    fn own_session(
        &self,
        operation: &str,
        writes: &[Write],
        outputs: Option<&BTreeMap<String, Value>>,
        lineage: Option<&str>,
    ) -> Result<u64, StateError> {
        let mut inner = lock(&self.inner);
        let serial = self.begin_locked(&mut inner, operation)?;
        if let Some(lineage) = lineage {
            inner.lineage = lineage.to_string();
        }
        let mut round = S3Backend::round_of(&inner, writes);
        round.outputs = outputs
            .filter(|o| **o != inner.outputs)
            .map(|o| OutputsDelta {
                before: inner.outputs.clone(),
                after: o.clone(),
            });
        self.round(&mut inner, round)?;
        self.compact(&mut inner, true)?;
        Ok(serial)
    }

    /// Makes the state that of `target` in a session that changes only what differs.
    fn write_back(
        &self,
        operation: &str,
        target: &Snapshot,
        lineage: Option<&str>,
    ) -> Result<u64, StateError> {
        let current = self.snapshot()?;
        let mut writes = Vec::new();
        for addr in current.resources.keys() {
            if !target.resources.contains_key(addr) {
                writes.push(Write::Remove(addr.clone()));
            }
        }
        for (addr, record) in &target.resources {
            if current.resources.get(addr) != Some(record) {
                writes.push(Write::Put(record.clone()));
            }
        }
        self.own_session(operation, &writes, Some(&target.outputs), lineage)
    }

    /// The stored bytes of `value` at `name` (relative to the prefix): sealed under the
    /// write key in an encrypted state, clear otherwise.
    fn sealed<T: serde::Serialize>(&self, name: &str, value: &T) -> Vec<u8> {
        self.sealer
            .seal(SEALED_TREE, name.as_bytes(), &encode_stored(value))
    }

    /// Reads the object `name` (relative to the prefix) back from its stored bytes.
    fn opened<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<T, StateError> {
        open_stored(&self.sealer, &self.path, name, bytes)
    }

    /// Writes what encryption still owes before the first write: the key metadata, and
    /// for a clear state opened with a key every history object and `state.json` sealed
    /// (`state.json` last: once it is sealed the state counts as encrypted). A crash
    /// part way leaves a clear `state.json` and `crypt.json`, so the next writer seals
    /// the rest again with the same keys.
    fn settle_keys(&self, inner: &mut Inner) -> Result<(), StateError> {
        let keying = lock(&self.keying).clone();
        if let Some(meta) = &keying.meta {
            self.put(CRYPT, encode_stored(meta), Guard::None)?;
        }
        if keying.seal_all {
            self.reseal(inner)?;
        }
        *lock(&self.keying) = Keying::default();
        Ok(())
    }

    /// Rewrites every history object and `state.json` sealed under the write key;
    /// returns how many objects were written.
    fn reseal(&self, inner: &mut Inner) -> Result<usize, StateError> {
        let objects: Vec<String> = inner.sessions.iter().map(|s| s.object.clone()).collect();
        for object in &objects {
            let session = self.read_session(object)?;
            self.put(object, self.sealed(object, &session), Guard::None)?;
        }
        self.write_state(inner)?;
        self.sealer.set_required();
        Ok(objects.len() + 1)
    }

    /// Re-encrypts every object of the state under the current key and records it as
    /// the state's only key (`gig state rekey`); returns how many objects were written.
    /// The serial and history do not change. A clear state gets encrypted.
    ///
    /// The key metadata lists the old and new keys while the objects are rewritten, so
    /// a crash part way leaves a state that both keys open; the old key is dropped from
    /// it last. Fails with `NoKeyToEncrypt` when no current key is configured.
    pub fn rekey(&self) -> Result<usize, StateError> {
        let Some(entry) = self.sealer.write_entry().cloned() else {
            return Err(StateError::Crypt {
                path: self.path.clone(),
                record: None,
                source: CryptError::NoKeyToEncrypt,
            });
        };
        let mut inner = lock(&self.inner);
        self.check_lease()?;
        self.compact(&mut inner, true)?;
        let pending = lock(&self.keying).meta.take();
        if let Some(meta) = pending {
            self.put(CRYPT, encode_stored(&meta), Guard::None)?;
        }
        let count = self.reseal(&mut inner)?;
        let meta = KeyMeta { keys: vec![entry] };
        self.put(CRYPT, encode_stored(&meta), Guard::None)?;
        *lock(&self.keying) = Keying::default();
        Ok(count)
    }

    /// Whether the state's objects are encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.sealer.is_required()
    }

    fn read_session(&self, object: &str) -> Result<SessionObject, StateError> {
        let calls = self.client.handle();
        let key = self.location.key(object);
        let found = self
            .client
            .run(async move { calls.get(&key, None).await })
            .map_err(|e| self.storage(e))?;
        match found {
            Outcome::Done(Some(o)) => self.opened(object, &o.bytes),
            _ => Err(StateError::Corrupt {
                path: self.path.clone(),
                key: object.to_string(),
                message: "the history object is missing".to_string(),
            }),
        }
    }

    fn put(&self, name: &str, bytes: Vec<u8>, guard: Guard) -> Result<String, StateError> {
        match self.put_outcome(name, bytes, guard)? {
            Outcome::Done(etag) => Ok(etag),
            Outcome::Conflict | Outcome::Missing => {
                Err(self.storage(CallError(format!("PUT {name}: the precondition failed"))))
            }
        }
    }

    fn put_outcome(
        &self,
        name: &str,
        bytes: Vec<u8>,
        guard: Guard,
    ) -> Result<Outcome<String>, StateError> {
        let calls = self.client.handle();
        let key = self.location.key(name);
        self.client
            .run(async move { calls.put(&key, bytes, guard).await })
            .map_err(|e| self.storage(e))
    }

    /// Deletes objects no reader needs any more; a failure only leaves garbage that the
    /// next opener ignores and deletes, so it is logged, not returned.
    fn delete_quietly(&self, keys: Vec<String>) -> Result<(), StateError> {
        if keys.is_empty() {
            return Ok(());
        }
        let calls = self.client.handle();
        if let Err(e) = self.client.run(async move { calls.delete(&keys).await }) {
            tracing::warn!(target: "gig_state_s3", error = %e.0, "deleting compacted journal objects failed");
        }
        Ok(())
    }

    /// Fails with [`StateError::LockLost`] unless the lease is known to be ours.
    fn check_lease(&self) -> Result<(), StateError> {
        if let Some(why) = lock(&self.lease.lost).clone() {
            return Err(StateError::LockLost {
                path: self.path.clone(),
                message: why,
            });
        }
        if Instant::now() >= *lock(&self.lease.safe_until) {
            return Err(self.lose("the lease could not be renewed in time"));
        }
        Ok(())
    }

    fn lose(&self, why: &str) -> StateError {
        let mut lost = lock(&self.lease.lost);
        let message = lost.get_or_insert_with(|| why.to_string()).clone();
        StateError::LockLost {
            path: self.path.clone(),
            message,
        }
    }

    fn storage(&self, e: CallError) -> StateError {
        StateError::Storage {
            path: self.path.clone(),
            message: e.0,
        }
    }

    /// Ends the open session and releases the lease; errors are logged (used by `Drop`).
    fn close(&mut self) {
        {
            let mut inner = lock(&self.inner);
            if inner.open.is_some() {
                if let Err(e) = self.compact(&mut inner, true) {
                    tracing::warn!(target: "gig_state_s3", error = %e, "compacting the last session failed; the next holder folds its journal");
                }
            }
        }
        self.lease.stop.store(true, Ordering::SeqCst);
        self.lease.wake.notify_one();
        if let Some(task) = self.renewal.take() {
            let _ = self.client.run(async move {
                let _ = task.await;
                Ok(())
            });
        }
        if lock(&self.lease.lost).is_none() {
            let (mut record, etag) = lock(&self.lease.record).clone();
            record.released = true;
            record.expires_ms = unix_ms(SystemTime::now());
            if let Err(e) = self.put_outcome(LOCK, encode_stored(&record), Guard::Etag(etag)) {
                tracing::warn!(target: "gig_state_s3", error = %e, "releasing the lock failed; it expires on its own");
            }
        }
        tracing::debug!(target: "gig_state_s3", requests = self.requests(), bytes = self.bytes(), location = %self.location, "state closed");
    }
}

impl Drop for S3Backend {
    fn drop(&mut self) {
        self.close();
    }
}

impl StateBackend for S3Backend {
    fn snapshot(&self) -> Result<Snapshot, StateError> {
        let inner = lock(&self.inner);
        Ok(Snapshot {
            lineage: inner.lineage.clone(),
            serial: inner.serial,
            resources: inner.resources.clone(),
            outputs: inner.outputs.clone(),
            intents: inner.intents.clone(),
            deposed: inner.deposed.clone(),
        })
    }

    fn get(&self, addr: &ResourceAddr) -> Result<Option<ResourceRecord>, StateError> {
        Ok(lock(&self.inner).resources.get(addr).cloned())
    }

    fn begin(&self, operation: &str) -> Result<u64, StateError> {
        let mut inner = lock(&self.inner);
        self.begin_locked(&mut inner, operation)
    }

    fn put(&self, record: &ResourceRecord) -> Result<(), StateError> {
        self.commit(std::slice::from_ref(&Write::Put(record.clone())))
    }

    fn remove(&self, addr: &ResourceAddr) -> Result<(), StateError> {
        let mut inner = lock(&self.inner);
        if inner.open.is_none() {
            return Err(StateError::NoSession(self.path.clone()));
        }
        if !inner.resources.contains_key(addr) {
            return Err(StateError::NoSuchResource(addr.clone()));
        }
        let round = S3Backend::round_of(&inner, &[Write::Remove(addr.clone())]);
        self.round(&mut inner, round)
    }

    fn commit(&self, writes: &[Write]) -> Result<(), StateError> {
        let mut inner = lock(&self.inner);
        if inner.open.is_none() {
            return Err(StateError::NoSession(self.path.clone()));
        }
        let round = S3Backend::round_of(&inner, writes);
        self.round(&mut inner, round)
    }

    fn set_outputs(&self, outputs: &BTreeMap<String, Value>) -> Result<(), StateError> {
        let mut inner = lock(&self.inner);
        let delta = OutputsDelta {
            before: inner.outputs.clone(),
            after: outputs.clone(),
        };
        let round = Round {
            deltas: Vec::new(),
            outputs: Some(delta),
            intents: Vec::new(),
            deposed: Vec::new(),
        };
        self.round(&mut inner, round)
    }

    fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        let inner = lock(&self.inner);
        let open_serial = inner.open.as_ref().map(|o| o.serial);
        let mut out: Vec<HistoryEntry> = inner
            .sessions
            .iter()
            .filter(|s| Some(s.entry.serial) != open_serial)
            .map(|s| s.entry.clone())
            .collect();
        if let Some(open) = &inner.open {
            out.push(HistoryEntry {
                serial: open.serial,
                operation: open.operation.clone(),
                started: open.started.clone(),
                changed: sorted_addrs(open.net.keys()),
            });
        }
        Ok(out)
    }

    fn snapshot_at(&self, serial: u64) -> Result<Snapshot, StateError> {
        let (mut snapshot, later, open_net) = {
            let inner = lock(&self.inner);
            if serial > inner.serial {
                return Err(StateError::NoSuchSerial(serial));
            }
            let open_serial = inner.open.as_ref().map(|o| o.serial);
            let later: Vec<String> = inner
                .sessions
                .iter()
                .filter(|s| s.entry.serial > serial && Some(s.entry.serial) != open_serial)
                .map(|s| s.object.clone())
                .collect();
            let open_net = inner.open.as_ref().filter(|o| o.serial > serial).map(|o| {
                (
                    o.net.values().cloned().collect::<Vec<_>>(),
                    o.outputs.clone(),
                )
            });
            drop(inner);
            (self.snapshot()?, later, open_net)
        };
        let undo = |snapshot: &mut Snapshot, deltas: &[Delta], outputs: &Option<OutputsDelta>| {
            for d in deltas {
                match &d.before {
                    Some(r) => snapshot.resources.insert(d.addr.clone(), r.clone()),
                    None => snapshot.resources.remove(&d.addr),
                };
            }
            if let Some(o) = outputs {
                snapshot.outputs = o.before.clone();
            }
        };
        if let Some((deltas, outputs)) = open_net {
            undo(&mut snapshot, &deltas, &outputs);
        }
        for object in later.iter().rev() {
            let session = self.read_session(object)?;
            undo(&mut snapshot, &session.deltas, &session.outputs);
        }
        snapshot.serial = serial;
        snapshot.intents.clear();
        snapshot.deposed.clear();
        Ok(snapshot)
    }

    fn restore(&self, serial: u64) -> Result<u64, StateError> {
        let target = self.snapshot_at(serial)?;
        self.write_back("restore", &target, None)
    }

    fn load_backup(&self, backup: &Snapshot) -> Result<u64, StateError> {
        let current = self.snapshot()?;
        let adopt = backup.lineage != current.lineage;
        if adopt && (current.serial != 0 || backup.lineage.is_empty()) {
            return Err(StateError::LineageMismatch {
                path: self.path.clone(),
                state: current.lineage,
                backup: backup.lineage.clone(),
            });
        }
        let lineage = adopt.then_some(backup.lineage.as_str());
        self.write_back("restore backup", backup, lineage)
    }

    fn rm(&self, addr: &ResourceAddr) -> Result<u64, StateError> {
        if self.get(addr)?.is_none() {
            return Err(StateError::NoSuchResource(addr.clone()));
        }
        self.own_session("state rm", &[Write::Remove(addr.clone())], None, None)
    }

    fn stack_identity(&self) -> Result<Option<String>, StateError> {
        Ok(lock(&self.inner).stack.clone())
    }

    fn set_stack_identity(&self, name: &str) -> Result<(), StateError> {
        let mut inner = lock(&self.inner);
        self.check_lease()?;
        self.settle_keys(&mut inner)?;
        inner.stack = Some(name.to_string());
        if inner.open.is_some() {
            // Compaction writes `state.json`, and with it the identity.
            self.compact(&mut inner, false)
        } else {
            self.write_state(&mut inner)
        }
    }

    fn mark_moved(&self, to: &str) -> Result<(), StateError> {
        let mut inner = lock(&self.inner);
        self.compact(&mut inner, true)?;
        self.check_lease()?;
        self.settle_keys(&mut inner)?;
        inner.moved_to = Some(to.to_string());
        self.write_state(&mut inner)
    }

    fn import_history(&self, source: &dyn StateBackend) -> Result<u64, StateError> {
        self.import_history_into(source)
    }

    fn mv(&self, from: &ResourceAddr, to: &ResourceAddr) -> Result<u64, StateError> {
        if from.rtype != to.rtype || from.mode != to.mode {
            return Err(StateError::TypeMismatch {
                from: Box::new(from.clone()),
                to: Box::new(to.clone()),
            });
        }
        let Some(mut record) = self.get(from)? else {
            return Err(StateError::NoSuchResource(from.clone()));
        };
        if self.get(to)?.is_some() {
            return Err(StateError::AddressExists(to.clone()));
        }
        record.addr = to.clone();
        self.own_session(
            "state mv",
            &[Write::Remove(from.clone()), Write::Put(record)],
            None,
            None,
        )
    }
}

/// Breaks the lease at `location` if its lock id is `lock_id`: the lease is marked
/// expired, so the next process takes it over and fences the old holder out (its
/// renewal and every later write fail with [`StateError::LockLost`]).
pub fn unlock(
    location: &S3Location,
    lock_id: &str,
    options: &S3Options,
) -> Result<Unlock, StateError> {
    let (path, client) = connect(location, options)?;
    let storage = |e: CallError| StateError::Storage {
        path: path.clone(),
        message: e.0,
    };
    let calls = client.handle();
    let key = location.key(LOCK);
    let found = client
        .run({
            let calls = calls.clone();
            let key = key.clone();
            async move { calls.get(&key, None).await }
        })
        .map_err(storage)?;
    let Some(o) = object(found) else {
        return Ok(Unlock::NotLocked);
    };
    let mut record: LeaseRecord = decode_stored(&path, LOCK, &o.bytes)?;
    if record.released {
        return Ok(Unlock::NotLocked);
    }
    if record.lock_id != lock_id {
        return Ok(Unlock::OtherId {
            holder: record.holder,
            lock_id: record.lock_id,
        });
    }
    let holder = record.holder.clone();
    record.expires_ms = 0;
    let bytes = encode_stored(&record);
    let written = client
        .run(async move { calls.put(&key, bytes, Guard::Etag(o.etag)).await })
        .map_err(storage)?;
    match written {
        Outcome::Done(_) => Ok(Unlock::Broken(holder)),
        // Renewed or taken in between: report whoever holds it now.
        Outcome::Conflict | Outcome::Missing => Err(locked_now(&client, location, &path)),
    }
}

/// The location as errors name it, and a client for its bucket.
fn connect(location: &S3Location, options: &S3Options) -> Result<(PathBuf, Client), StateError> {
    let path = PathBuf::from(location.to_string());
    match Client::new(&location.bucket, &options.aws) {
        Ok(client) => Ok((path, client)),
        Err(e) => Err(StateError::Storage { path, message: e.0 }),
    }
}

/// Renews the lease every third of its duration until told to stop or refused.
///
/// # Cancel safety
///
/// Cancelling between renewals loses nothing; cancelling during a renewal `PUT` may
/// leave the lease renewed without this holder knowing the new ETag, so `close` stops
/// the task with the `stop` flag and waits for it instead of aborting it.
async fn renew(calls: Calls, key: String, lease: Arc<Lease>) {
    let every = lease.duration / 3;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = lease.wake.notified() => {}
        }
        if lease.stop.load(Ordering::SeqCst) {
            return;
        }
        let started = Instant::now();
        let (mut record, etag) = lock(&lease.record).clone();
        record.expires_ms = unix_ms(SystemTime::now()) + lease.duration.as_millis() as u64;
        match calls
            .put(&key, encode_stored(&record), Guard::Etag(etag))
            .await
        {
            Ok(Outcome::Done(etag)) => {
                *lock(&lease.record) = (record, etag);
                *lock(&lease.safe_until) = started + safe_span(lease.duration);
            }
            Ok(Outcome::Conflict | Outcome::Missing) => {
                lock(&lease.lost).get_or_insert_with(|| {
                    "another process took the lock over or it was broken with `gig state unlock`"
                        .to_string()
                });
                return;
            }
            Err(e) => {
                tracing::warn!(target: "gig_state_s3", error = %e.0, "renewing the state lock failed; retrying");
            }
        }
    }
}

/// The error for a lock found held right after a conditional write lost a race.
fn locked_now(client: &Client, location: &S3Location, path: &Path) -> StateError {
    let calls = client.handle();
    let key = location.key(LOCK);
    let found = client.run(async move { calls.get(&key, None).await });
    let record = match found {
        Ok(found) => {
            object(found).and_then(|o| decode_stored::<LeaseRecord>(path, LOCK, &o.bytes).ok())
        }
        Err(_) => None,
    };
    match record {
        Some(r) => StateError::Locked {
            path: path.to_path_buf(),
            holder: Box::new(r.holder),
            lock_id: Some(r.lock_id),
        },
        None => StateError::Locked {
            path: path.to_path_buf(),
            holder: Box::new(LockInfo::unknown()),
            lock_id: None,
        },
    }
}

fn object(found: Outcome<Option<Object>>) -> Option<Object> {
    match found {
        Outcome::Done(o) => o,
        Outcome::Missing | Outcome::Conflict => None,
    }
}

fn index_session(inner: &mut Inner, session: &SessionObject, object: String) {
    let entry = HistoryEntry {
        serial: session.serial,
        operation: session.operation.clone(),
        started: session.started.clone(),
        changed: sorted_addrs(session.deltas.iter().map(|d| &d.addr)),
    };
    let index = SessionIndex { entry, object };
    match inner.sessions.last_mut() {
        Some(last) if last.entry.serial == session.serial => *last = index,
        _ => inner.sessions.push(index),
    }
}

fn sorted_addrs<'a>(addrs: impl Iterator<Item = &'a ResourceAddr>) -> Vec<ResourceAddr> {
    let mut out: Vec<ResourceAddr> = addrs.cloned().collect();
    out.sort_by_key(ToString::to_string);
    out
}

fn apply_intents(intents: &mut BTreeMap<ResourceAddr, Intent>, changes: &[IntentChange]) {
    for c in changes {
        match &c.intent {
            Some(i) => intents.insert(c.addr.clone(), i.clone()),
            None => intents.remove(&c.addr),
        };
    }
}

/// The deposed objects `writes` record or drop, last write per object winning.
fn deposed_changes(writes: &[Write]) -> Vec<DeposedChange> {
    let mut changes: BTreeMap<DeposedKey, Option<Deposed>> = BTreeMap::new();
    for w in writes {
        match w {
            Write::Depose(d) => changes.insert(d.key(), Some(d.clone())),
            Write::DropDeposed(key) => changes.insert(key.clone(), None),
            _ => continue,
        };
    }
    changes
        .into_iter()
        .map(|(key, deposed)| DeposedChange { key, deposed })
        .collect()
}

fn apply_deposed(deposed: &mut BTreeMap<DeposedKey, Deposed>, changes: &[DeposedChange]) {
    for c in changes {
        match &c.deposed {
            Some(d) => deposed.insert(c.key.clone(), d.clone()),
            None => deposed.remove(&c.key),
        };
    }
}

fn apply_delta(resources: &mut BTreeMap<ResourceAddr, ResourceRecord>, d: &Delta) {
    match &d.after {
        Some(r) => resources.insert(d.addr.clone(), r.clone()),
        None => resources.remove(&d.addr),
    };
}

/// Folds `d` into a session's net deltas: the first `before` stays, the last `after` wins.
fn merge_delta(net: &mut BTreeMap<ResourceAddr, Delta>, d: Delta) {
    match net.get_mut(&d.addr) {
        Some(existing) => existing.after = d.after,
        None => {
            net.insert(d.addr.clone(), d);
        }
    }
}

fn merge_outputs(net: &mut Option<OutputsDelta>, o: OutputsDelta) {
    match net {
        Some(existing) => existing.after = o.after,
        None => *net = Some(o),
    }
}

fn safe_span(lease: Duration) -> Duration {
    lease - lease / 4
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Locks a mutex, taking the value of a poisoned one (a panicking thread leaves the data
/// as consistent as any other interruption would).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Resolves the configured keys against the state's key metadata (`crypt.json`) and its
/// `state.json`: the sealer to use and what encryption must write before the first
/// write. A sealed `state.json`, or a new state with a key, makes every object required
/// to be sealed.
fn resolve_keys(
    path: &Path,
    keys: &gig_state::crypt::Keys,
    meta: Option<KeyMeta>,
    state: Option<&Object>,
) -> Result<(Sealer, Keying), StateError> {
    let resolved = Sealer::resolve(keys, meta.as_ref()).map_err(|source| StateError::Crypt {
        path: path.to_path_buf(),
        record: None,
        source,
    })?;
    let sealer = resolved.sealer;
    let state_sealed = state.is_some_and(|o| gig_state::crypt::is_sealed(&o.bytes));
    let writes_sealed = sealer.write_entry().is_some();
    if state_sealed || (state.is_none() && writes_sealed) {
        sealer.set_required();
    }
    let seal_all = writes_sealed && state.is_some() && !state_sealed;
    let meta = match resolved.pending {
        Some(pending) => Some(pending),
        None if seal_all => meta,
        None => None,
    };
    Ok((sealer, Keying { meta, seal_all }))
}

/// Reads an object's stored bytes back: opened by `sealer` (which refuses a clear object
/// in an encrypted state), then decoded.
fn open_stored<T: serde::de::DeserializeOwned>(
    sealer: &Sealer,
    path: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<T, StateError> {
    let clear = sealer
        .open(SEALED_TREE, name.as_bytes(), bytes)
        .map_err(|source| StateError::Crypt {
            path: path.to_path_buf(),
            record: Some(name.to_string()),
            source,
        })?;
    decode_stored(path, name, &clear)
}
