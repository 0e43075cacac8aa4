//! gig's state: what gig last knew of every resource it manages, per stack and env.
//!
//! One state directory holds one stack and env (the CLI picks `<stack>/.gig/state/<env>`).
//! [`Store`] keeps it in an embedded sled database: one record per resource instance,
//! the lineage (a random id fixed at creation), the serial (bumped by every write
//! session), the outputs of the last apply, and a history of per-resource deltas from
//! which any earlier version can be rebuilt exactly. Every write is durable before it
//! returns, and costs bytes in proportion to the records it touches, never to the size
//! of the whole state. The store is locked for one process at a time; a refused process
//! learns who holds it. docs/state.md describes the layout and guarantees for users.
//!
//! Only this crate defines what is persisted. [`StateBackend`] is the seam for other
//! storage (a shared S3 backend is planned; see docs/notes/state-backends.md). [`crypt`]
//! encrypts stored values at rest, at the bytes boundary, so every backend gets it.

#![warn(missing_docs)]

mod codec;
pub mod crypt;
mod deposed;
mod lock;
mod store;
mod time;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use gig_core::addr::ResourceAddr;
use gig_core::value::Value;
use serde::{Deserialize, Serialize};

pub use crate::deposed::{Deposed, DeposedKey};
pub use crate::store::Store;

/// The clear bytes gig stores for a persisted value (a record, a delta, a session
/// header): exactly what [`Store`] hands to its [`crypt::Sealer`], so every backend
/// stores the same form.
pub fn encode_stored<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    crate::store::encode(value)
}

/// Reads bytes written by [`encode_stored`] back; a failure is [`StateError::Corrupt`]
/// naming `location` and `key`, never the stored bytes (they may be secret).
pub fn decode_stored<T: serde::de::DeserializeOwned>(
    location: &Path,
    key: &str,
    bytes: &[u8],
) -> Result<T, StateError> {
    crate::store::decode(location, key, bytes)
}

/// Replaces `--param NAME=VALUE` values in a holder's command with `(redacted)`, as
/// every backend does before it writes a lock record other users can read.
pub fn redact_holder(holder: LockInfo) -> LockInfo {
    LockInfo {
        command: lock::redact_params(&holder.command),
        ..holder
    }
}

/// The version of the stored layout and of the JSON export; bumped on incompatible change.
pub const FORMAT_VERSION: u64 = 1;

/// What gig recorded of one resource instance after its last successful operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    /// Its address.
    pub addr: ResourceAddr,
    /// The provider that manages it.
    pub provider: String,
    /// The cloud's id.
    pub id: String,
    /// The New value returned by the provider (a map including `id`); secrets wrapped.
    #[serde(with = "crate::codec")]
    pub value: Value,
    /// Instances it depended on when applied (to delete in reverse order).
    pub dependencies: Vec<ResourceAddr>,
    /// The resource schema version the value was written with.
    pub schema_version: u32,
}

/// A create that was started and whose result has not reached state yet.
///
/// Apply records one, durably, before it sends a create call, and fills in `id` the
/// moment the provider learns the new object's id (before any wait for the object to
/// become ready). The write that records the resource drops it in the same durable step.
/// An intent found by a later run marks an object that may exist without being
/// recorded; the engine resolves it by looking the object up and adopting it
/// (docs/reliability.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// The address being created.
    pub addr: ResourceAddr,
    /// The provider that makes it.
    pub provider: String,
    /// A random token fixed for this create: sent as the client token where the API
    /// takes one, so a resumed create can be matched to its object.
    pub token: String,
    /// When the create was started (RFC 3339, UTC).
    pub started: String,
    /// The cloud id, once the provider has reported it.
    pub id: Option<String>,
    /// The value the create was sent with (secrets wrapped), for looking the object up
    /// by its unique name when no id was reported.
    #[serde(with = "crate::codec")]
    pub planned: Value,
    /// Instances it depended on, recorded with the resource when it is adopted.
    pub dependencies: Vec<ResourceAddr>,
    /// The resource schema version of `planned`.
    pub schema_version: u32,
}

/// One write of a batch committed with [`Store::commit`].
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Records a resource (creates or replaces its record) and drops its intent.
    Put(ResourceRecord),
    /// Forgets a resource and drops its intent; nothing happens when neither exists.
    Remove(ResourceAddr),
    /// Records (or replaces) a create intent. Not part of the history: intents are
    /// bookkeeping for calls in flight, not state versions.
    Intent(Intent),
    /// Drops a create intent; nothing happens when there is none.
    DropIntent(ResourceAddr),
    /// Records an object replaced at its address as deposed (see [`Deposed`]). Not part
    /// of the history, like intents.
    Depose(Deposed),
    /// Forgets a deposed object once it is deleted; nothing happens when it is not on
    /// record.
    DropDeposed(DeposedKey),
}

/// The whole state of one stack and env at one serial.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Random id fixed when the state is first created; never changes.
    pub lineage: String,
    /// Bumped by every write session (apply, import, rm, mv, restore).
    pub serial: u64,
    /// Records by address.
    pub resources: BTreeMap<ResourceAddr, ResourceRecord>,
    /// Outputs from the last apply.
    pub outputs: BTreeMap<String, Value>,
    /// Creates that were started and not recorded (see [`Intent`]); empty in every
    /// past version and in exports.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intents: BTreeMap<ResourceAddr, Intent>,
    /// Objects replaced at their address and not deleted yet (see [`Deposed`]); empty
    /// in every past version and in exports.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deposed: BTreeMap<DeposedKey, Deposed>,
}

impl Snapshot {
    /// The export form with secrets shown as `"(secret)"`: safe to print or attach to a
    /// ticket. See [`Snapshot::to_json_raw`] for the layout.
    pub fn to_json_redacted(&self) -> serde_json::Value {
        self.to_json_with(true)
    }

    /// The export form with secrets kept in their stored form (`{"$secret": …}`), for
    /// backups. The layout, with resources and outputs sorted by name:
    ///
    /// ```json
    /// {
    ///   "format_version": 1,
    ///   "lineage": "9f1c…",
    ///   "serial": 4,
    ///   "resources": {
    ///     "aws.vpc.main": {
    ///       "provider": "aws", "id": "vpc-0abc", "schema_version": 0,
    ///       "dependencies": [], "value": { "id": "vpc-0abc", "cidr_block": "10.0.0.0/16" }
    ///     }
    ///   },
    ///   "outputs": { "alb_dns": "…" }
    /// }
    /// ```
    pub fn to_json_raw(&self) -> serde_json::Value {
        self.to_json_with(false)
    }

    /// Reads a raw export ([`Snapshot::to_json_raw`]) back, e.g. a backup to hand to
    /// [`Store::load_backup`]. A redacted export is refused: its secrets are gone.
    pub fn from_json_raw(json: &serde_json::Value) -> Result<Snapshot, StateError> {
        let bad = |message: String| StateError::BadBackup { message };
        if json
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            != Some(FORMAT_VERSION)
        {
            return Err(bad(format!("format_version is not {FORMAT_VERSION}")));
        }
        let lineage = json
            .get("lineage")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| bad("lineage is missing or not a string".to_string()))?;
        let serial = json
            .get("serial")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| bad("serial is missing or not a whole number".to_string()))?;
        let entries = json
            .get("resources")
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| bad("resources is missing or not an object".to_string()))?;
        let parse_addr = |name: &str| {
            ResourceAddr::parse(name)
                .filter(|a| a.to_string() == name)
                .ok_or_else(|| bad(format!("{name:?} is not a resource address")))
        };
        let mut resources = BTreeMap::new();
        for (name, entry) in entries {
            let addr = parse_addr(name)?;
            let field = |key: &str| {
                entry
                    .get(key)
                    .ok_or_else(|| bad(format!("resource {name}: {key} is missing")))
            };
            let text = |key: &str| {
                field(key)?
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("resource {name}: {key} is not a string")))
            };
            let schema_version = field("schema_version")?
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad(format!("resource {name}: schema_version is not a u32")))?;
            let dependencies = field("dependencies")?
                .as_array()
                .ok_or_else(|| bad(format!("resource {name}: dependencies is not a list")))?
                .iter()
                .map(|d| {
                    d.as_str()
                        .ok_or_else(|| {
                            bad(format!("resource {name}: a dependency is not a string"))
                        })
                        .and_then(parse_addr)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let value = Value::from_json(field("value")?);
            if holds_redacted(&value) {
                return Err(bad(format!(
                    "resource {name} holds a redacted secret: load a raw export, not a redacted one"
                )));
            }
            let record = ResourceRecord {
                addr: addr.clone(),
                provider: text("provider")?,
                id: text("id")?,
                value,
                dependencies,
                schema_version,
            };
            resources.insert(addr, record);
        }
        let mut outputs = BTreeMap::new();
        if let Some(entries) = json.get("outputs") {
            let entries = entries
                .as_object()
                .ok_or_else(|| bad("outputs is not an object".to_string()))?;
            for (name, v) in entries {
                let value = Value::from_json(v);
                if holds_redacted(&value) {
                    return Err(bad(format!(
                        "output {name} holds a redacted secret: load a raw export, not a redacted one"
                    )));
                }
                outputs.insert(name.clone(), value);
            }
        }
        Ok(Snapshot {
            lineage: lineage.to_string(),
            serial,
            resources,
            outputs,
            intents: BTreeMap::new(),
            deposed: BTreeMap::new(),
        })
    }

    fn to_json_with(&self, redact: bool) -> serde_json::Value {
        let render = |v: &Value| {
            if redact {
                v.to_json_redacted()
            } else {
                v.to_json()
            }
        };
        let mut by_name: Vec<(String, &ResourceRecord)> = self
            .resources
            .values()
            .map(|r| (r.addr.to_string(), r))
            .collect();
        by_name.sort_by(|a, b| a.0.cmp(&b.0));
        let mut resources = serde_json::Map::new();
        for (name, r) in by_name {
            let deps: Vec<String> = r.dependencies.iter().map(ToString::to_string).collect();
            resources.insert(
                name,
                serde_json::json!({
                    "provider": r.provider,
                    "id": r.id,
                    "schema_version": r.schema_version,
                    "dependencies": deps,
                    "value": render(&r.value),
                }),
            );
        }
        let outputs: serde_json::Map<String, serde_json::Value> = self
            .outputs
            .iter()
            .map(|(k, v)| (k.clone(), render(v)))
            .collect();
        serde_json::json!({
            "format_version": FORMAT_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "resources": resources,
            "outputs": outputs,
        })
    }
}

/// Whether `v` holds the text a redacted export puts in place of a secret.
fn holds_redacted(v: &Value) -> bool {
    match v {
        Value::String(s) => s == gig_core::value::REDACTED,
        Value::List(xs) => xs.iter().any(holds_redacted),
        Value::Map(m) => m.values().any(holds_redacted),
        Value::Secret(inner) => holds_redacted(inner),
        _ => false,
    }
}

/// Who holds the lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// The command line, e.g. `gig apply stacks/giggatek`.
    pub command: String,
    /// When it took the lock (RFC 3339, UTC).
    pub since: String,
}

/// The current time as RFC 3339 in UTC with whole seconds (`2024-02-29T12:34:56Z`), the
/// form used for [`LockInfo::since`] and [`HistoryEntry::started`].
pub fn now_rfc3339() -> String {
    time::now()
}

/// The text used for every field of a holder that could not be identified.
const UNKNOWN: &str = "unknown";

impl LockInfo {
    /// This process as a holder: its pid, the host name and the time now.
    ///
    /// `command` is shown to whoever is refused the lock, so it should name the operation
    /// and stack only (`gig apply stacks/giggatek`), never param values: those may be
    /// secrets. ([`Store::open`] also redacts `--param NAME=VALUE` values before writing
    /// the lock record.)
    pub fn current(command: impl Into<String>) -> LockInfo {
        let host = hostname::get()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| UNKNOWN.to_string());
        LockInfo {
            pid: std::process::id(),
            host,
            command: command.into(),
            since: time::now(),
        }
    }

    /// The holder reported when the lock is held but its record is missing or unreadable.
    pub fn unknown() -> LockInfo {
        LockInfo {
            pid: 0,
            host: UNKNOWN.to_string(),
            command: UNKNOWN.to_string(),
            since: UNKNOWN.to_string(),
        }
    }

    /// Whether this is the [`LockInfo::unknown`] holder.
    pub fn is_unknown(&self) -> bool {
        self.pid == 0
    }
}

/// One entry of the history: a write session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The serial the session produced.
    pub serial: u64,
    /// What did it: `apply`, `destroy`, `import`, `state rm`, `state mv`, `restore`.
    pub operation: String,
    /// When it started (RFC 3339, UTC).
    pub started: String,
    /// Addresses written or removed, sorted by their display form. Output changes are
    /// not listed here.
    pub changed: Vec<ResourceAddr>,
}

/// A state failure, naming the path or resource.
///
/// No variant carries stored values, so printing an error never reveals a secret.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another process holds the state.
    #[error("{}", locked_message(path, holder, lock_id.as_deref()))]
    Locked {
        /// The state directory (or `s3://bucket/prefix/stack/env` location).
        path: PathBuf,
        /// Who holds it ([`LockInfo::unknown`] when its record could not be read).
        holder: Box<LockInfo>,
        /// The id that `gig state unlock` takes to break the lock, for backends whose
        /// locks outlive their holder (S3 leases); `None` for sled, whose lock the
        /// kernel releases when its holder dies.
        lock_id: Option<String>,
    },
    /// This process held the lock but lost it (its lease expired and another process
    /// took it over, or someone broke it): it stopped writing, and nothing it writes
    /// from now on can land in the state.
    #[error("state at {path}: the lock was lost ({message}); nothing more was written")]
    LockLost {
        /// The state location.
        path: PathBuf,
        /// How it was lost.
        message: String,
    },
    /// Storage failed.
    #[error("state at {path}: {message}")]
    Storage {
        /// The state directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A stored record could not be read back.
    #[error("state at {path}: corrupt record {key}: {message}")]
    Corrupt {
        /// The state directory.
        path: PathBuf,
        /// Which record: `resources/<address>`, `meta/<name>`, `history/<serial>/…`.
        key: String,
        /// What is wrong with it (never the stored bytes).
        message: String,
    },
    /// No such resource.
    #[error("no resource {0} in state")]
    NoSuchResource(ResourceAddr),
    /// The target of a move is already in state.
    #[error("resource {0} is already in state")]
    AddressExists(ResourceAddr),
    /// A move between addresses of different resource types.
    #[error("cannot move {from} to {to}: they are different resource types")]
    TypeMismatch {
        /// The address moved from.
        from: Box<ResourceAddr>,
        /// The address moved to.
        to: Box<ResourceAddr>,
    },
    /// A backup belongs to another state.
    #[error("state at {path} has lineage {state}; the backup has lineage {backup}")]
    LineageMismatch {
        /// The state directory.
        path: PathBuf,
        /// This state's lineage.
        state: String,
        /// The backup's lineage.
        backup: String,
    },
    /// A backup (raw JSON export) could not be read.
    #[error("cannot read the state backup: {message}")]
    BadBackup {
        /// What is wrong with it (names fields and addresses, never values).
        message: String,
    },
    /// The state was moved elsewhere by `gig state migrate`; it is read and written
    /// there now.
    #[error("state at {path} was moved to {to}")]
    Moved {
        /// The old location.
        path: PathBuf,
        /// The new location.
        to: String,
    },
    /// No such history entry.
    #[error("no state version with serial {0}")]
    NoSuchSerial(u64),
    /// The state's encryption refused: no key, a wrong key, a value under a key not
    /// configured, or a value that fails authentication.
    #[error("state at {path}{}: {source}", record.as_ref().map(|r| format!(", record {r}")).unwrap_or_default())]
    Crypt {
        /// The state directory.
        path: PathBuf,
        /// The record, when one value is concerned (`resources/<address>`, …).
        record: Option<String>,
        /// What failed.
        source: crypt::CryptError,
    },
    /// A write was attempted outside a write session.
    #[error("state at {0}: write outside a session (call begin first)")]
    NoSession(PathBuf),
}

fn locked_message(path: &Path, holder: &LockInfo, lock_id: Option<&str>) -> String {
    if let Some(id) = lock_id {
        return format!(
            "state at {} is locked by pid {} on {} running `{}` since {} (lock id {id})",
            path.display(),
            holder.pid,
            holder.host,
            holder.command,
            holder.since
        );
    }
    if holder.is_unknown() {
        format!(
            "state at {} is locked by another process (its lock record {} is missing or unreadable)",
            path.display(),
            path.join(lock::LOCK_FILE).display()
        )
    } else {
        format!(
            "state at {} is locked by pid {} on {} running `{}` since {}",
            path.display(),
            holder.pid,
            holder.host,
            holder.command,
            holder.since
        )
    }
}

/// Storage for one stack and env's state: the seam between gig and where state lives.
///
/// [`Store`] (sled, local, `flock`-locked) is the embedded default. A backend is locked
/// for its holder from the moment it is opened until it is dropped. Writes happen in
/// sessions: [`StateBackend::begin`] bumps the serial, then each `put`, `remove` and
/// `set_outputs` is durable before it returns and is recorded in that session's history.
pub trait StateBackend: Send + Sync {
    /// The current state.
    fn snapshot(&self) -> Result<Snapshot, StateError>;
    /// The stack identity recorded when the state was first written, if any.
    fn stack_identity(&self) -> Result<Option<String>, StateError>;
    /// Durably records the stack identity (outside any write session).
    fn set_stack_identity(&self, name: &str) -> Result<(), StateError>;
    /// One resource's record, if present.
    fn get(&self, addr: &ResourceAddr) -> Result<Option<ResourceRecord>, StateError>;
    /// Starts a write session; returns its serial.
    fn begin(&self, operation: &str) -> Result<u64, StateError>;
    /// Durably records one resource in the open session.
    fn put(&self, record: &ResourceRecord) -> Result<(), StateError>;
    /// Durably removes one resource in the open session.
    fn remove(&self, addr: &ResourceAddr) -> Result<(), StateError>;
    /// Durably applies a group of writes in the open session, all or nothing, in one
    /// durable step where the backend can (see [`Store::commit`]). A `Remove` of an
    /// address not in state does nothing. The default writes them one by one, each
    /// durable on its own.
    fn commit(&self, writes: &[Write]) -> Result<(), StateError> {
        for w in writes {
            match w {
                Write::Put(record) => self.put(record)?,
                Write::Remove(addr) => match self.remove(addr) {
                    Ok(()) | Err(StateError::NoSuchResource(_)) => {}
                    Err(e) => return Err(e),
                },
                Write::Intent(_) | Write::DropIntent(_) => {
                    return Err(StateError::Storage {
                        path: PathBuf::new(),
                        message: "this backend does not record create intents".to_string(),
                    })
                }
                Write::Depose(_) | Write::DropDeposed(_) => {
                    return Err(StateError::Storage {
                        path: PathBuf::new(),
                        message: "this backend does not record deposed objects".to_string(),
                    })
                }
            }
        }
        Ok(())
    }
    /// Durably replaces the outputs in the open session.
    fn set_outputs(&self, outputs: &BTreeMap<String, Value>) -> Result<(), StateError>;
    /// Write sessions, oldest first.
    fn history(&self) -> Result<Vec<HistoryEntry>, StateError>;
    /// The state as it was after the session with `serial`.
    fn snapshot_at(&self, serial: u64) -> Result<Snapshot, StateError>;
    /// Writes the state of `serial` back as a new session; returns its serial.
    fn restore(&self, serial: u64) -> Result<u64, StateError>;
    /// Writes a backup's resources and outputs as a new session; returns its serial.
    fn load_backup(&self, backup: &Snapshot) -> Result<u64, StateError>;
    /// Forgets one resource in a session of its own; returns its serial.
    fn rm(&self, addr: &ResourceAddr) -> Result<u64, StateError>;
    /// Moves one resource to a new address in a session of its own; returns its serial.
    fn mv(&self, from: &ResourceAddr, to: &ResourceAddr) -> Result<u64, StateError>;
    /// Durably marks this state as moved to the location `to`: opening it afterwards
    /// fails with [`StateError::Moved`] naming `to`.
    fn mark_moved(&self, to: &str) -> Result<(), StateError>;
    /// Copies `source` into this state, which must never have been written, keeping its
    /// lineage, serial, records, outputs, stack identity and every session of its
    /// history (`gig state migrate`); returns the serial.
    fn import_history(&self, source: &dyn StateBackend) -> Result<u64, StateError>;
}

impl fmt::Display for HistoryEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} ({} changed)",
            self.serial,
            self.started,
            self.operation,
            self.changed.len()
        )
    }
}
