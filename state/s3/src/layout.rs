//! The objects under a state's prefix and their stored forms.
//!
//! | key | content |
//! |---|---|
//! | `lock.json` | [`LeaseRecord`]: holder, lock id, generation, lease expiry |
//! | `crypt.json` | `gig_state::crypt::KeyMeta`: the keys of an encrypted state (clear) |
//! | `state.json` | [`StateObject`]: lineage, serial, fence, session index, records, outputs |
//! | `journal/<generation>/<serial>-<seq>.json` | [`JournalEntry`]: one commit round |
//! | `history/<serial>-<generation>.json` | [`SessionObject`]: a session's net deltas |
//!
//! Numbers in keys are zero-padded to 20 digits so that keys sort as numbers. Records are
//! written through `gig_state::encode_stored`, the bytes the sled store writes. In an
//! encrypted state the objects other than `lock.json` and `crypt.json` are those bytes
//! sealed whole by `gig_state::crypt::Sealer`, bound to their key relative to the
//! prefix ([`SEALED_TREE`]).

use std::collections::BTreeMap;

use gig_core::addr::ResourceAddr;
use gig_core::value::Value;
use gig_state::{Deposed, DeposedKey, HistoryEntry, Intent, LockInfo, ResourceRecord};
use serde::{Deserialize, Serialize};

/// The version of this layout; another version is refused.
pub(crate) const LAYOUT_VERSION: u64 = 1;

pub(crate) const LOCK: &str = "lock.json";
pub(crate) const CRYPT: &str = "crypt.json";
/// The tree name sealed objects are bound to (with their relative key).
pub(crate) const SEALED_TREE: &str = "s3";
pub(crate) const STATE: &str = "state.json";
pub(crate) const JOURNAL: &str = "journal/";
pub(crate) const HISTORY: &str = "history/";

/// The lock object: a lease.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct LeaseRecord {
    /// Who holds (or last held) it; params redacted.
    pub(crate) holder: LockInfo,
    /// A random id naming this holding, for `gig state unlock`.
    pub(crate) lock_id: String,
    /// Bumped by every taker; journal keys carry it.
    pub(crate) generation: u64,
    /// Milliseconds since the Unix epoch after which the lease may be taken over.
    pub(crate) expires_ms: u64,
    /// Set by a holder that let go normally: the next taker need not fence.
    pub(crate) released: bool,
}

/// The compacted state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct StateObject {
    pub(crate) layout: u64,
    pub(crate) lineage: String,
    /// The serial of the last session folded in (possibly still open when it was
    /// written: see `compacted_seq`).
    pub(crate) serial: u64,
    /// The highest journal sequence number of session `serial` folded in.
    pub(crate) compacted_seq: u64,
    /// Journal entries of a generation below this are void: written by a holder after it
    /// was fenced out.
    pub(crate) fence: u64,
    /// Every session, oldest first, with the key of its history object.
    pub(crate) sessions: Vec<SessionIndex>,
    pub(crate) resources: Vec<ResourceRecord>,
    pub(crate) outputs: BTreeMap<String, Value>,
    /// Set by `gig state migrate`: the location the state moved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) moved_to: Option<String>,
    /// The stack identity the state belongs to, once recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stack: Option<String>,
    /// Creates started and not recorded (not part of any version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) intents: Vec<Intent>,
    /// Objects replaced at their address and not deleted yet (not part of any version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) deposed: Vec<Deposed>,
}

/// A deposed object recorded (`Some`) or dropped (`None`) by a commit round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct DeposedChange {
    pub(crate) key: DeposedKey,
    pub(crate) deposed: Option<Deposed>,
}

/// A create intent set (`Some`) or dropped (`None`) by a commit round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct IntentChange {
    pub(crate) addr: ResourceAddr,
    pub(crate) intent: Option<Intent>,
}

/// One session in the index.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SessionIndex {
    pub(crate) entry: HistoryEntry,
    /// The history object's key, relative to the state's prefix.
    pub(crate) object: String,
}

/// One resource's change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Delta {
    pub(crate) addr: ResourceAddr,
    pub(crate) before: Option<ResourceRecord>,
    pub(crate) after: Option<ResourceRecord>,
}

/// The outputs' change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct OutputsDelta {
    pub(crate) before: BTreeMap<String, Value>,
    pub(crate) after: BTreeMap<String, Value>,
}

/// One commit round of one session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct JournalEntry {
    pub(crate) lineage: String,
    pub(crate) generation: u64,
    pub(crate) serial: u64,
    pub(crate) seq: u64,
    pub(crate) operation: String,
    pub(crate) started: String,
    pub(crate) deltas: Vec<Delta>,
    pub(crate) outputs: Option<OutputsDelta>,
    /// Intents set or dropped, applied after the deltas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) intents: Vec<IntentChange>,
    /// Deposed objects recorded or dropped, applied after the intents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) deposed: Vec<DeposedChange>,
}

/// A session's net change: per address the first `before` and the last `after`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct SessionObject {
    pub(crate) serial: u64,
    pub(crate) operation: String,
    pub(crate) started: String,
    pub(crate) deltas: Vec<Delta>,
    pub(crate) outputs: Option<OutputsDelta>,
}

/// `journal/<generation>/<serial>-<seq>.json`.
pub(crate) fn journal_key(generation: u64, serial: u64, seq: u64) -> String {
    format!("{JOURNAL}{generation:020}/{serial:020}-{seq:020}.json")
}

/// The generation, serial and sequence number in a journal key (relative to the prefix).
pub(crate) fn parse_journal_key(key: &str) -> Option<(u64, u64, u64)> {
    let rest = key.strip_prefix(JOURNAL)?.strip_suffix(".json")?;
    let (generation, rest) = rest.split_once('/')?;
    let (serial, seq) = rest.split_once('-')?;
    Some((
        generation.parse().ok()?,
        serial.parse().ok()?,
        seq.parse().ok()?,
    ))
}

/// `history/<serial>-<generation>.json`: the generation keeps a fenced holder from
/// overwriting the history object of the holder that replaced it.
pub(crate) fn history_key(serial: u64, generation: u64) -> String {
    format!("{HISTORY}{serial:020}-{generation:020}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_keys_sort_by_number_and_parse_back() {
        let a = journal_key(2, 9, 10);
        let b = journal_key(2, 10, 1);
        assert!(a < b);
        assert_eq!(parse_journal_key(&a), Some((2, 9, 10)));
        assert_eq!(parse_journal_key("journal/x/1-2.json"), None);
        assert_eq!(parse_journal_key("state.json"), None);
    }
}
