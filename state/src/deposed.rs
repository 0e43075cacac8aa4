//! Deposed objects: the old object of a create-before-destroy replacement, kept on
//! record from the moment its successor is recorded until its own delete succeeds.
//!
//! A replacement with `create_before_destroy` makes the new object first and records it
//! at the address; the old one then has no record of its own. So the write that records
//! the new object also records the old one as [`Deposed`], in the same durable step, and
//! the write that follows its successful delete drops it. A deposed object found by a
//! later run (its delete failed, or the run was stopped in between) is planned for
//! deletion and deleted by the next apply. Like create intents, deposed objects are
//! bookkeeping outside the history: the versions of the state hold records only.

use gig_core::addr::ResourceAddr;
use gig_core::value::Value;
use serde::{Deserialize, Serialize};

/// An object replaced at its address and not deleted yet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deposed {
    /// The address it was recorded at.
    pub addr: ResourceAddr,
    /// The provider that manages it.
    pub provider: String,
    /// The cloud's id of the old object.
    pub id: String,
    /// Its last recorded value (secrets wrapped), passed to the delete.
    #[serde(with = "crate::codec")]
    pub value: Value,
    /// Instances it depended on.
    pub dependencies: Vec<ResourceAddr>,
    /// The resource schema version of `value`.
    pub schema_version: u32,
    /// When it was deposed (RFC 3339, UTC).
    pub since: String,
}

impl Deposed {
    /// The record of `old` as deposed now.
    pub fn of(old: &crate::ResourceRecord) -> Deposed {
        Deposed {
            addr: old.addr.clone(),
            provider: old.provider.clone(),
            id: old.id.clone(),
            value: old.value.clone(),
            dependencies: old.dependencies.clone(),
            schema_version: old.schema_version,
            since: crate::time::now(),
        }
    }

    /// The key it is stored under: the address and the id, which together name one
    /// deposed object (an address can hold several after repeated failed deletes).
    pub fn key(&self) -> DeposedKey {
        DeposedKey {
            addr: self.addr.clone(),
            id: self.id.clone(),
        }
    }
}

/// Names one deposed object: its address and its id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeposedKey {
    /// The address it was recorded at.
    pub addr: ResourceAddr,
    /// The cloud's id.
    pub id: String,
}
