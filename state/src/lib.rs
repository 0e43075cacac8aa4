//! gig's state: what gig last knew of every resource it manages, per stack and env.
//!
//! SKELETON: the signatures below are the contract the engine and CLI code against;
//! the bodies are filled in by the state work.

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gig_dsl::addr::ResourceAddr;
use gig_dsl::value::Value;
use serde::{Deserialize, Serialize};

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
    pub value: Value,
    /// Instances it depended on when applied (to delete in reverse order).
    pub dependencies: Vec<ResourceAddr>,
    /// The resource schema version the value was written with.
    pub schema_version: u32,
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

/// One entry of the history: a write session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The serial the session produced.
    pub serial: u64,
    /// What did it: `apply`, `destroy`, `import`, `state rm`, `state mv`, `restore`.
    pub operation: String,
    /// When it started (RFC 3339, UTC).
    pub started: String,
    /// Addresses written or removed.
    pub changed: Vec<ResourceAddr>,
}

/// A state failure, naming the path or resource.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another process holds the state.
    #[error("state at {path} is locked by pid {} on {} running `{}` since {}", holder.pid, holder.host, holder.command, holder.since)]
    Locked {
        /// The state directory.
        path: PathBuf,
        /// Who holds it.
        holder: LockInfo,
    },
    /// Storage failed.
    #[error("state at {path}: {message}")]
    Storage {
        /// The state directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No such resource.
    #[error("no resource {0} in state")]
    NoSuchResource(ResourceAddr),
    /// No such history entry.
    #[error("no state version with serial {0}")]
    NoSuchSerial(u64),
}

/// An open, locked state store for one stack and env.
pub struct Store {
    _private: (),
}

impl Store {
    /// Opens (creating if needed) the state in `dir`, taking the lock for `holder`.
    /// Fails at once with [`StateError::Locked`] naming the holder when another process has it.
    pub fn open(dir: &Path, holder: LockInfo) -> Result<Store, StateError> {
        let _ = (dir, holder);
        unimplemented!()
    }

    /// The current state.
    pub fn snapshot(&self) -> Result<Snapshot, StateError> {
        unimplemented!()
    }

    /// Starts a write session: bumps the serial and opens a history entry.
    pub fn begin(&self, operation: &str) -> Result<u64, StateError> {
        let _ = operation;
        unimplemented!()
    }

    /// Durably records one resource (flushed before returning).
    pub fn put(&self, record: &ResourceRecord) -> Result<(), StateError> {
        let _ = record;
        unimplemented!()
    }

    /// Durably removes one resource.
    pub fn remove(&self, addr: &ResourceAddr) -> Result<(), StateError> {
        let _ = addr;
        unimplemented!()
    }

    /// Replaces the stored outputs.
    pub fn set_outputs(&self, outputs: &BTreeMap<String, Value>) -> Result<(), StateError> {
        let _ = outputs;
        unimplemented!()
    }

    /// Write sessions, oldest first.
    pub fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        unimplemented!()
    }

    /// The state as it was after the session with `serial`.
    pub fn snapshot_at(&self, serial: u64) -> Result<Snapshot, StateError> {
        let _ = serial;
        unimplemented!()
    }
}
