//! gig's state on S3, shared by every machine that runs gig against one stack and env.
//!
//! [`S3Backend`] implements [`gig_state::StateBackend`] with the semantics of the sled
//! [`gig_state::Store`]: locked while open, write sessions that bump the serial, every
//! `put`/`remove`/`commit` durable before it returns at a cost that does not grow with the
//! state, exact history, fixed lineage. docs/notes/state-backends.md is the design and
//! docs/state.md the user's description; in short:
//!
//! - **Lock = lease.** `lock.json` is created with `If-None-Match: *` (or replaces a
//!   released or expired lease with `If-Match` on its ETag, so exactly one taker wins)
//!   and names the holder, a lock id, a *generation* bumped by every taker and an expiry.
//!   A task renews it with `If-Match` every third of the lease. A holder whose renewal
//!   is refused, or whose lease lapsed without a successful renewal, stops writing: every
//!   later write fails with [`gig_state::StateError::LockLost`].
//! - **Writes = journal.** Each commit round is one small object
//!   `journal/<generation>/<serial>-<seq>.json` written with `If-None-Match: *`; S3
//!   acknowledges only durable writes. The compacted `state.json` and a history object
//!   per session are written at the end of a session and every [`COMPACT_EVERY`] rounds,
//!   then the compacted journal objects are deleted.
//! - **Fencing.** A process that takes over an expired lease first folds the journal
//!   left by the holder before it into `state.json` and raises its `fence` to its own
//!   generation: a journal object of an older generation written after that (by a
//!   holder that did not yet know it was replaced) is ignored by everyone.
//! - **Reading** is `lock.json`, `crypt.json`, `state.json` and one listing of the
//!   journal: a fixed number of requests whatever the size of the state
//!   ([`S3Backend::requests`]). With a cache directory ([`S3Options::cache_dir`]),
//!   `state.json` is read with `If-None-Match` against a local copy, so an unchanged
//!   state costs no download of it.
//! - **Encryption.** With a key configured ([`S3Options::keys`]) every object but
//!   `lock.json` and `crypt.json` is sealed whole by `gig_state::crypt`, as the sled
//!   store seals its values; `crypt.json` holds the clear key metadata. A sealed
//!   `state.json` marks the state as encrypted: from then on a clear object is refused.

#![warn(missing_docs)]

mod backend;
mod cache;
mod client;
mod kms;
mod layout;

use std::fmt;
use std::time::Duration;

pub use crate::backend::{unlock, S3Backend, Unlock};
pub use crate::client::AwsOptions;
pub use crate::kms::KmsWrapper;

/// Journal rounds after which an open session is compacted into `state.json`.
pub const COMPACT_EVERY: usize = 256;

/// Where a state lives on S3: a bucket and a key prefix (no leading or trailing `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The key prefix under which the state's objects live (may be empty).
    pub prefix: String,
}

/// A location that is not `s3://BUCKET[/PREFIX]`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadLocation(String);

impl S3Location {
    /// Whether `text` names an S3 location (starts with `s3://`).
    pub fn is_s3(text: &str) -> bool {
        text.starts_with("s3://")
    }

    /// Parses `s3://BUCKET[/PREFIX]`.
    pub fn parse(text: &str) -> Result<S3Location, BadLocation> {
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| BadLocation(format!("`{text}` does not start with s3://")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid_bucket {
            return Err(BadLocation(format!(
                "`{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-` and `.`)"
            )));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part == "." || part == "..") {
            return Err(BadLocation(format!(
                "the prefix `{prefix}` holds a `.` or `..` segment"
            )));
        }
        Ok(S3Location {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// This location with `segment` appended to the prefix.
    pub fn join(&self, segment: &str) -> S3Location {
        let segment = segment.trim_matches('/');
        let prefix = if self.prefix.is_empty() {
            segment.to_string()
        } else {
            format!("{}/{segment}", self.prefix)
        };
        S3Location {
            bucket: self.bucket.clone(),
            prefix,
        }
    }

    /// The full key of `name` under the prefix.
    pub(crate) fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// How an [`S3Backend`] is opened.
#[derive(Clone, Debug)]
pub struct S3Options {
    /// Where the AWS settings come from.
    pub aws: AwsOptions,
    /// How long a lease lasts without renewal; renewed every third of it.
    pub lease: Duration,
    /// The keys that encrypt and decrypt the state's objects (none: clear).
    pub keys: gig_state::crypt::Keys,
    /// Where to keep a local copy of `state.json` keyed by its ETag (none: no copy).
    pub cache_dir: Option<std::path::PathBuf>,
}

impl Default for S3Options {
    fn default() -> S3Options {
        S3Options {
            aws: AwsOptions::default(),
            lease: Duration::from_secs(30),
            keys: gig_state::crypt::Keys::none(),
            cache_dir: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_join() {
        let loc = S3Location::parse("s3://team-state/gig/").unwrap();
        assert_eq!(loc.bucket, "team-state");
        assert_eq!(loc.prefix, "gig");
        assert_eq!(
            loc.join("web").join("prod").to_string(),
            "s3://team-state/gig/web/prod"
        );
        assert_eq!(loc.join("web").key("lock.json"), "gig/web/lock.json");
        assert_eq!(
            S3Location::parse("s3://bucket").unwrap().key("state.json"),
            "state.json"
        );
        for bad in ["s3://", "s3://UPPER/x", "/tmp/x", "s3://ok-bucket/a/../b"] {
            assert!(S3Location::parse(bad).is_err(), "{bad}");
        }
    }
}
