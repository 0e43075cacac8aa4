//! Saved plan files: `gig plan --out FILE` writes one, `gig apply FILE` applies exactly it.
//!
//! A plan file holds the Plan (with Prior values); what it was made from — the stack's
//! identity and env, a digest of every source file, the params given on the command line
//! or in `GIG_PARAM_*` (secret ones only as a digest) and a digest of the whole
//! configuration; and the lineage and serial of the state it was made against. Apply
//! re-uses the recorded params and env, refuses flags that contradict them (`E0353`),
//! and refuses a file whose state or configuration moved on (`E0350`, naming what
//! changed). Plan files contain secret values (apply needs them): treat them like
//! state. With a key configured ([`gig_state::crypt::Keys`]) the file is encrypted at
//! rest: an envelope with a small clear header around the JSON
//! ([`PlanFile::write_with`]); the digest is inside it.
//!
//! # Integrity
//!
//! `digest` is the SHA-256 of the file's canonical content (the stored value written
//! as compact JSON with `digest` empty). [`PlanFile::read`] recomputes it and refuses
//! any difference (`E0354`), so what `gig show` renders and what `gig apply` applies are
//! the one decoded plan the planner wrote: a value edited by hand is never applied. The
//! digest detects edits, not forgery: anyone can compute a SHA-256.
//!
//! The file has its own schema ([`schema`], docs/plan-file.md), versioned as a whole by
//! [`FORMAT_VERSION`]; a file of any other version is refused (`E0351`), never guessed at.

pub mod schema;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;
use gig_dsl::config::Config;
use gig_dsl::load::LoadOptions;
use gig_state::crypt::{self, CryptError, Keys};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::Plan;
use crate::pipeline::Stack;
use crate::planfile::schema::{FilePlan, ParamFrom, PlannedParam};

/// The version of the file format this build writes and reads. Version 1 serialized
/// the engine's internal types directly; version 2 is the designed schema; version 3
/// adds the integrity digest, the stack identity, per-source digests and the params.
pub const FORMAT_VERSION: u32 = 3;

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
    /// The stack's identity (`plan.stack`) was given with `--stack-name`: apply gives
    /// it again.
    pub stack_name_flag: bool,
    /// Every source file (relative to the stack directory) with the SHA-256 of its text.
    pub sources: BTreeMap<String, String>,
    /// Every declared param: where its value came from and what apply needs to re-use
    /// or verify it.
    pub params: BTreeMap<String, PlannedParam>,
    /// The plan itself; its `stack` is the stack's identity.
    pub plan: Plan,
}

/// A plan file as stored: the header and the plan in the file's own schema.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    format_version: u32,
    gig_version: String,
    digest: String,
    stack_dir: PathBuf,
    state_dir: PathBuf,
    env: String,
    lineage: String,
    serial: u64,
    config_digest: String,
    stack_name_flag: bool,
    sources: BTreeMap<String, String>,
    params: BTreeMap<String, PlannedParam>,
    plan: FilePlan,
}

impl Stored {
    /// The SHA-256 of the canonical content: compact JSON with `digest` empty.
    fn content_digest(&self) -> String {
        let mut content = self.clone();
        content.digest = String::new();
        let bytes = serde_json::to_vec(&content).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
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
    /// The content does not match its digest: the file was changed after gig wrote it.
    #[error("plan file {path} was changed after it was written")]
    Edited {
        /// The file.
        path: PathBuf,
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
    /// The configuration changed since the plan was made: what changed, in words
    /// (`main.gig was edited`, `param size is 12, the plan used 8`); empty when no part
    /// can be named.
    Config(Vec<String>),
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
            PlanFileError::Edited { path } => Diagnostic::error(
                Code::E0354,
                "the plan file was changed after it was written",
                Span::DETACHED,
            )
            .with_detail(format!(
                "The content of {} does not match the digest gig wrote into it, so it is not the plan that was reviewed. Nothing was shown or applied.",
                path.display()
            ))
            .with_help("run `gig plan --out FILE` again, review it, and apply the new file"),
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
            Staleness::Config(changes) if changes.is_empty() => {
                "The configuration or its params changed since the plan was made.".to_string()
            }
            Staleness::Config(changes) => format!(
                "The configuration changed since the plan was made: {}.",
                changes.join("; ")
            ),
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
        let mut stored = Stored {
            format_version: FORMAT_VERSION,
            gig_version: self.gig_version.clone(),
            digest: String::new(),
            stack_dir: self.stack_dir.clone(),
            state_dir: self.state_dir.clone(),
            env: self.env.clone(),
            lineage: self.lineage.clone(),
            serial: self.serial,
            config_digest: self.config_digest.clone(),
            stack_name_flag: self.stack_name_flag,
            sources: self.sources.clone(),
            params: self.params.clone(),
            plan: FilePlan::from_plan(&self.plan),
        };
        stored.digest = stored.content_digest();
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

    /// Reads a file (decrypting it with `keys` when it is encrypted), checks its version
    /// and its digest, and decodes the plan.
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
        if stored.content_digest() != stored.digest {
            return Err(PlanFileError::Edited {
                path: path.to_path_buf(),
            });
        }
        Ok(PlanFile {
            format_version: stored.format_version,
            gig_version: stored.gig_version,
            stack_dir: stored.stack_dir,
            state_dir: stored.state_dir,
            env: stored.env,
            lineage: stored.lineage,
            serial: stored.serial,
            config_digest: stored.config_digest,
            stack_name_flag: stored.stack_name_flag,
            sources: stored.sources,
            params: stored.params,
            plan: stored.plan.into_plan().map_err(format)?,
        })
    }

    /// Whether the plan still applies to a state at (`lineage`, `serial`) and to
    /// `stack` as loaded now from `dir`; a changed configuration is described by what
    /// changed.
    pub fn staleness(
        &self,
        lineage: &str,
        serial: u64,
        stack: &Stack,
        dir: &Path,
    ) -> Option<Staleness> {
        let config_digest = stack.config_digest(dir);
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
            return Some(Staleness::Config(self.config_changes(stack, dir)));
        }
        None
    }

    /// What differs between the configuration the plan was made from and `stack`.
    fn config_changes(&self, stack: &Stack, dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let now = stack.source_digests(dir);
        for (path, digest) in &self.sources {
            match now.get(path) {
                None => out.push(format!("{path} was removed")),
                Some(d) if d != digest => out.push(format!("{path} was edited")),
                Some(_) => {}
            }
        }
        for path in now.keys().filter(|p| !self.sources.contains_key(*p)) {
            out.push(format!("{path} was added"));
        }
        let now = param_records(&stack.config, &LoadOptions::default());
        for (name, then) in &self.params {
            match now.get(name) {
                None => out.push(format!("param {name} is no longer declared")),
                Some(p) if p.sha256 != then.sha256 => out.push(format!(
                    "secret param {name} has another value (give it as when planning: GIG_PARAM_{name} or --param)"
                )),
                Some(p) if p.value != then.value => out.push(format!(
                    "param {name} is {}, the plan used {}",
                    shown(p.value.as_ref()),
                    shown(then.value.as_ref())
                )),
                Some(_) => {}
            }
        }
        for name in now.keys().filter(|n| !self.params.contains_key(*n)) {
            out.push(format!("param {name} was added"));
        }
        let env = stack.config.env.as_deref().unwrap_or("default");
        if env != self.env {
            out.push(format!("the env is {env}, the plan used {}", self.env));
        }
        out
    }

    /// The flags and `GIG_PARAM_*` variables of `gig apply FILE` (in `given`) that
    /// contradict what the plan was made with, each naming the flag and both values;
    /// the `E0353` refusal when there is any. Secret params are compared by the
    /// configuration digest instead, so their values are never named.
    pub fn conflicts(&self, given: &Given<'_>) -> Option<Diagnostic> {
        let mut conflicts = Vec::new();
        if let Some(env) = given.env {
            if env != self.env {
                conflicts.push(format!(
                    "--env {env} was given, but the plan was made for env {}",
                    self.env
                ));
            }
        }
        if let Some(dir) = given.state_dir {
            if dir != self.state_dir {
                conflicts.push(format!(
                    "--state-dir {} was given, but the plan was made against {}",
                    dir.display(),
                    self.state_dir.display()
                ));
            }
        }
        if let Some(name) = given.stack_name {
            if name != self.plan.stack {
                conflicts.push(format!(
                    "--stack-name {name} was given, but the plan was made for stack {}",
                    self.plan.stack
                ));
            }
        }
        let inputs = given
            .load
            .env_params
            .iter()
            .map(|(k, v)| (format!("GIG_PARAM_{k}={v}"), k, v))
            .chain(
                given
                    .load
                    .params
                    .iter()
                    .map(|(k, v)| (format!("--param {k}={v}"), k, v)),
            );
        for (flag, name, text) in inputs {
            let Some(planned) = self.params.get(name) else {
                // Not a declared param: loading reports it (or ignores an unrelated
                // variable).
                continue;
            };
            if planned.sha256.is_some() {
                continue;
            }
            let same = match (&planned.input, &planned.value) {
                (Some(input), _) => input == text,
                (None, Some(value)) => raw_text(value) == *text,
                (None, None) => true,
            };
            if !same {
                let used = match (&planned.input, planned.from) {
                    (Some(input), _) => format!("{name}={input}"),
                    (None, _) => format!(
                        "{name} = {} from the configuration",
                        shown(planned.value.as_ref())
                    ),
                };
                conflicts.push(format!(
                    "{flag} was given, but the plan was made with {used}"
                ));
            }
        }
        if conflicts.is_empty() {
            return None;
        }
        Some(
            Diagnostic::error(
                Code::E0353,
                "a flag contradicts the saved plan",
                Span::DETACHED,
            )
            .with_detail(format!("{}. Nothing was applied.", conflicts.join("; ")))
            .with_help(
                "apply the plan without these flags (it re-uses its env and params), or make a new plan with them",
            ),
        )
    }

    /// What to load the stack with to check the plan: its env, the params it was made
    /// with from the command line and `GIG_PARAM_*`, and what `given` adds (secret
    /// params, which the file holds only as a digest).
    pub fn load_options(&self, given: &LoadOptions) -> LoadOptions {
        let mut params = Vec::new();
        let mut env_params = Vec::new();
        for (name, p) in &self.params {
            if let Some(input) = &p.input {
                match p.from {
                    ParamFrom::Flag => params.push((name.clone(), input.clone())),
                    ParamFrom::Env => env_params.push((name.clone(), input.clone())),
                    ParamFrom::Config => {}
                }
            }
        }
        params.extend(given.params.iter().cloned());
        env_params.extend(given.env_params.iter().cloned());
        LoadOptions {
            env: (self.env != "default").then(|| self.env.clone()),
            params,
            env_params,
            stack_name: given
                .stack_name
                .clone()
                .or_else(|| self.stack_name_flag.then(|| self.plan.stack.clone())),
            extra_files: given.extra_files.clone(),
        }
    }
}

/// What `gig apply FILE` was given besides the file.
#[derive(Clone, Copy, Debug)]
pub struct Given<'a> {
    /// `--env`.
    pub env: Option<&'a str>,
    /// `--state-dir`, absolute.
    pub state_dir: Option<&'a Path>,
    /// `--stack-name`.
    pub stack_name: Option<&'a str>,
    /// `--param` and `GIG_PARAM_*` values.
    pub load: &'a LoadOptions,
}

/// Every declared param of `config` as a plan file records it: where its value came
/// from (`load` holds the `--param` and `GIG_PARAM_*` inputs), the raw input and the
/// final value of a param that is not secret, and only a digest of a secret one.
pub fn param_records(config: &Config, load: &LoadOptions) -> BTreeMap<String, PlannedParam> {
    config
        .params
        .iter()
        .map(|(name, p)| {
            let flag = load.params.iter().rev().find(|(k, _)| k == name);
            let env = load.env_params.iter().find(|(k, _)| k == name);
            let (from, input) = match (flag, env) {
                (Some((_, v)), _) => (ParamFrom::Flag, Some(v.clone())),
                (None, Some((_, v))) => (ParamFrom::Env, Some(v.clone())),
                (None, None) => (ParamFrom::Config, None),
            };
            let record = if p.secret {
                PlannedParam {
                    from,
                    input: None,
                    value: None,
                    sha256: Some(secret_digest(name, &p.value)),
                }
            } else {
                PlannedParam {
                    from,
                    input,
                    value: Some(p.value.clone()),
                    sha256: None,
                }
            };
            (name.clone(), record)
        })
        .collect()
}

/// The digest a plan file keeps of a secret param's final value.
fn secret_digest(name: &str, value: &Value) -> String {
    let mut h = Sha256::new();
    h.update(b"gig plan file secret param\0");
    h.update(name.as_bytes());
    h.update([0]);
    h.update(value.revealed().to_json().to_string().as_bytes());
    hex::encode(h.finalize())
}

/// A param value as the command line would give it: strings bare, others as JSON.
fn raw_text(value: &Value) -> String {
    match value.as_str() {
        Some(s) => s.to_string(),
        None => value.to_json().to_string(),
    }
}

/// A non-secret param value for a message.
fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "nothing".to_string(), Value::display)
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
