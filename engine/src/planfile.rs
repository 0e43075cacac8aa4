//! Saved plan files: `gig plan --out FILE` writes one, `gig apply FILE` applies exactly it.
//!
//! A plan file holds the Plan (with Prior values), the digest of the configuration it
//! was made from, and the lineage and serial of the state it was made against. Apply
//! refuses a file whose state has moved on or whose configuration changed since.
//! Plan files contain secret values (apply needs them): treat them like state. With a
//! key configured ([`gig_state::crypt::Keys`]) the file is encrypted at rest: an envelope
//! with a small clear header around the JSON ([`PlanFile::write_with`]).
//!
//! The file has its own schema ([`schema`], docs/plan-file.md), versioned as a whole by
//! [`FORMAT_VERSION`]; a file of any other version is refused (`E0351`), never guessed at.

pub mod schema;

use std::path::{Path, PathBuf};

use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_state::crypt::{self, CryptError, Keys};
use serde::{Deserialize, Serialize};

use crate::model::Plan;
use crate::planfile::schema::FilePlan;

/// The version of the file format this build writes and reads. Version 1 serialized
/// the engine's internal types directly; version 2 is the designed schema.
pub const FORMAT_VERSION: u32 = 2;

/// Everything needed to apply a plan later, and to know whether it is still valid.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanFile {
    /// [`FORMAT_VERSION`] at the time of writing.
    pub format_version: u32,
    /// The gig version that wrote it.
    pub gig_version: String,
    /// The stack directory the plan was made from.
    pub stack_dir: PathBuf,
    /// The state directory the plan was made against.
    pub state_dir: PathBuf,
    /// Environment name.
    pub env: String,
    /// State lineage at plan time.
    pub lineage: String,
    /// State serial at plan time.
    pub serial: u64,
    /// Digest of every source file and param value that went into the configuration.
    pub config_digest: String,
    /// The plan itself.
    pub plan: Plan,
}

/// A plan file as stored: the header and the plan in the file's own schema.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    format_version: u32,
    gig_version: String,
    stack_dir: PathBuf,
    state_dir: PathBuf,
    env: String,
    lineage: String,
    serial: u64,
    config_digest: String,
    plan: FilePlan,
}

/// Why a plan file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// Reading or writing failed.
    #[error("plan file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not a plan file, or damaged.
    #[error("plan file {path} is not a valid gig plan: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// Encrypted and not decryptable with the configured keys.
    #[error("plan file {path}: {source}")]
    Crypt {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: CryptError,
    },
    /// Written by an incompatible version.
    #[error(
        "plan file {path} has format version {found}; this gig reads version {FORMAT_VERSION}"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u64,
        /// The gig version that wrote it, when the file says.
        written_by: Option<String>,
    },
}

/// Why a plan file no longer matches the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Staleness {
    /// The state is a different state altogether.
    Lineage {
        /// In the plan file.
        planned: String,
        /// In the state now.
        current: String,
    },
    /// The state changed since the plan was made.
    Serial {
        /// In the plan file.
        planned: u64,
        /// In the state now.
        current: u64,
    },
    /// The configuration changed since the plan was made.
    Config,
}

impl PlanFileError {
    /// The error as a diagnostic: `E0351` for another version's file, `E0352` for a
    /// damaged one; unreadable files keep their I/O error.
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            PlanFileError::Version {
                path,
                found,
                written_by,
            } => Diagnostic::error(
                Code::E0351,
                "the plan file was written by another gig version",
                Span::DETACHED,
            )
            .with_detail(format!(
                "{} has plan file format version {found}{}; this gig ({}) reads format version {FORMAT_VERSION}.",
                path.display(),
                written_by
                    .as_ref()
                    .map(|v| format!(" (written by gig {v})"))
                    .unwrap_or_default(),
                env!("CARGO_PKG_VERSION"),
            ))
            .with_help("run `gig plan --out FILE` again with this gig and apply the new file"),
            PlanFileError::Format { path, message } => Diagnostic::error(
                Code::E0352,
                "the plan file is damaged or not a gig plan",
                Span::DETACHED,
            )
            .with_detail(format!("{}: {message}.", path.display()))
            .with_help("run `gig plan --out FILE` again and apply the new file"),
            PlanFileError::Crypt { path, source } => {
                source.diagnostic(&format!("the plan file `{}`", path.display()))
            }
            PlanFileError::Io { path, source } => Diagnostic::error(
                Code::E0352,
                "the plan file is damaged or not a gig plan",
                Span::DETACHED,
            )
            .with_detail(format!("{} could not be read: {source}.", path.display())),
        }
    }
}

impl Staleness {
    /// Why the saved plan was refused, as the `E0350` diagnostic.
    pub fn diagnostic(&self) -> Diagnostic {
        let why = match self {
            Staleness::Lineage { planned, current } => format!(
                "It was made against state lineage {planned}, but the state's lineage is {current}."
            ),
            Staleness::Serial { planned, current } => format!(
                "The state changed since the plan was made (serial {planned} then, {current} now)."
            ),
            Staleness::Config => {
                "The configuration or its params changed since the plan was made.".to_string()
            }
        };
        Diagnostic::error(
            Code::E0350,
            "the saved plan is stale and was not applied",
            Span::DETACHED,
        )
        .with_detail(why)
        .with_help("run `gig plan --out FILE` again and apply the new file")
    }
}

impl PlanFile {
    /// Writes the file (pretty JSON) atomically: a temporary file renamed into place.
    pub fn write(&self, path: &Path) -> Result<(), PlanFileError> {
        self.write_with(path, &Keys::none())
    }

    /// Writes the file as [`PlanFile::write`] does, encrypted when `keys` has a current key.
    pub fn write_with(&self, path: &Path, keys: &Keys) -> Result<(), PlanFileError> {
        let io = |source| PlanFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let stored = Stored {
            format_version: FORMAT_VERSION,
            gig_version: self.gig_version.clone(),
            stack_dir: self.stack_dir.clone(),
            state_dir: self.state_dir.clone(),
            env: self.env.clone(),
            lineage: self.lineage.clone(),
            serial: self.serial,
            config_digest: self.config_digest.clone(),
            plan: FilePlan::from_plan(&self.plan),
        };
        let text = serde_json::to_vec_pretty(&stored).map_err(|e| PlanFileError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let bytes = crypt::seal_file(keys, &text).map_err(|source| PlanFileError::Crypt {
            path: path.to_path_buf(),
            source,
        })?;
        let tmp = path.with_extension("tmp");
        write_private(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads and version-checks a file written without a key.
    pub fn read(path: &Path) -> Result<PlanFile, PlanFileError> {
        PlanFile::read_with(path, &Keys::none())
    }

    /// Reads and version-checks a file, decrypting it with `keys` when it is encrypted.
    pub fn read_with(path: &Path, keys: &Keys) -> Result<PlanFile, PlanFileError> {
        let format = |message: String| PlanFileError::Format {
            path: path.to_path_buf(),
            message,
        };
        let raw = std::fs::read(path).map_err(|source| PlanFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = crypt::open_file(keys, &raw).map_err(|source| PlanFileError::Crypt {
            path: path.to_path_buf(),
            source,
        })?;
        let head: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| format(e.to_string()))?;
        let found = head
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| format("it has no format_version".to_string()))?;
        if found != u64::from(FORMAT_VERSION) {
            return Err(PlanFileError::Version {
                path: path.to_path_buf(),
                found,
                written_by: head
                    .get("gig_version")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string),
            });
        }
        let stored: Stored = serde_json::from_value(head).map_err(|e| format(e.to_string()))?;
        Ok(PlanFile {
            format_version: stored.format_version,
            gig_version: stored.gig_version,
            stack_dir: stored.stack_dir,
            state_dir: stored.state_dir,
            env: stored.env,
            lineage: stored.lineage,
            serial: stored.serial,
            config_digest: stored.config_digest,
            plan: stored.plan.into_plan().map_err(format)?,
        })
    }

    /// Whether the plan still applies to a state at (`lineage`, `serial`) and a
    /// configuration with `config_digest`.
    pub fn staleness(&self, lineage: &str, serial: u64, config_digest: &str) -> Option<Staleness> {
        if self.lineage != lineage && !self.lineage.is_empty() {
            return Some(Staleness::Lineage {
                planned: self.lineage.clone(),
                current: lineage.to_string(),
            });
        }
        if self.serial != serial {
            return Some(Staleness::Serial {
                planned: self.serial,
                current: serial,
            });
        }
        if self.config_digest != config_digest {
            return Some(Staleness::Config);
        }
        None
    }
}

/// Writes `bytes` to a new file readable and writable by its owner only (mode 0600 on
/// Unix): a plan file holds secret values apply needs. An existing file is replaced.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
