//! Settings: each command's raw arguments ([`crate::args`]) validated once into what the
//! command acts on. Commands read settings, never raw flags or the environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use gig_core::addr::ResourceAddr;
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_dsl::load::LoadOptions;
use gig_engine::pipeline::{PlanOptions, PolicyMode};
use gig_state_s3::S3Location;

use crate::args::{ApplyArgs, DestroyArgs, Format, PlanArgs, StackArgs};
use crate::report::Refusal;

/// Where the stack is, which environment, its params and where its state lives.
#[derive(Clone, Debug)]
pub struct StackSettings {
    /// The stack directory.
    pub dir: PathBuf,
    /// The environment name (`default` when none was given).
    pub env: String,
    /// Lowering options: env, `--param` values and `GIG_PARAM_*` variables.
    pub load: LoadOptions,
    /// Where the state of this stack and env lives.
    pub state: StateLocation,
    /// How long to wait for a state another process holds (zero: fail at once).
    pub lock_timeout: Duration,
}

/// Where one stack and env's state lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateLocation {
    /// A sled state directory.
    Dir(PathBuf),
    /// A prefix in an S3 bucket.
    S3(S3Location),
}

impl StateLocation {
    /// The form a saved plan records: the absolute directory, or the `s3://` URL.
    pub fn recorded(&self) -> PathBuf {
        match self {
            StateLocation::Dir(dir) => dir.canonicalize().unwrap_or_else(|_| {
                std::env::current_dir()
                    .map(|cwd| cwd.join(dir))
                    .unwrap_or_else(|_| dir.clone())
            }),
            StateLocation::S3(loc) => PathBuf::from(loc.to_string()),
        }
    }

    /// Reads back what [`StateLocation::recorded`] wrote.
    pub fn from_recorded(path: &Path) -> anyhow::Result<StateLocation> {
        match path.to_str() {
            Some(text) if S3Location::is_s3(text) => Ok(StateLocation::S3(
                S3Location::parse(text).map_err(|e| bad_location(text, &e))?,
            )),
            _ => Ok(StateLocation::Dir(path.to_path_buf())),
        }
    }
}

impl std::fmt::Display for StateLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateLocation::Dir(dir) => write!(f, "{}", dir.display()),
            StateLocation::S3(loc) => write!(f, "{loc}"),
        }
    }
}

/// E0511 for a `--state`/`GIG_STATE` value that is not a usable location.
fn bad_location(text: &str, why: &dyn std::fmt::Display) -> anyhow::Error {
    let d = Diagnostic::error(Code::E0511, "the state location is not valid", Span::DETACHED)
        .with_detail(format!("`{text}` cannot hold state: {why}."))
        .with_help("give a directory, or s3://BUCKET/PREFIX (path-style bucket names: lowercase letters, digits, `-` and `.`)");
    Refusal(d).into()
}

/// Parses `--lock-timeout`: a whole number with `ms`, `s`, `m` or `h`, or plain seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| {
        anyhow::anyhow!("--lock-timeout expects a duration such as 30s or 5m, got `{text}`")
    })?;
    let secs = |k: u64| Duration::from_secs(n.saturating_mul(k));
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(secs(1)),
        "m" => Ok(secs(60)),
        "h" => Ok(secs(3600)),
        _ => bail!("--lock-timeout expects a duration such as 30s or 5m, got `{text}`"),
    }
}

impl StackSettings {
    /// [`StackSettings::new`] for a command that reads or writes state: a stack with
    /// environments (`env/*.gigvars`) requires `--env`, since each env keeps its own
    /// state and the language declares no default one (E0360).
    pub fn with_state(args: &StackArgs) -> anyhow::Result<StackSettings> {
        let envs = gig_dsl::load::stack_envs(&args.dir);
        if args.env.is_none() && !envs.is_empty() {
            let d = Diagnostic::error(
                Code::E0360,
                "this stack has environments; choose one with --env",
                Span::DETACHED,
            )
            .with_detail(format!(
                "`{}` defines the environments {} (env/*.gigvars), each with its own state, so gig does not guess one.",
                args.dir.display(),
                envs.join(", ")
            ))
            .with_help(format!("pass `--env {}` or another of them", envs[0]));
            return Err(Refusal(d).into());
        }
        StackSettings::new(args)
    }

    /// Validates the stack flags, reading `GIG_PARAM_*` and `GIG_STATE_DIR` from the
    /// environment.
    pub fn new(args: &StackArgs) -> anyhow::Result<StackSettings> {
        let mut params = Vec::new();
        for p in &args.params {
            let Some((k, v)) = p.split_once('=') else {
                bail!("--param expects NAME=VALUE, got `{p}`");
            };
            params.push((k.trim().to_string(), v.to_string()));
        }
        let env_params = std::env::vars()
            .filter_map(|(k, v)| {
                k.strip_prefix("GIG_PARAM_")
                    .map(|name| (name.to_string(), v))
            })
            .collect();
        let env = args.env.clone().unwrap_or_else(|| "default".to_string());
        let load = LoadOptions {
            env: args.env.clone(),
            params,
            env_params,
            stack_name: args.stack_name.clone(),
            extra_files: Vec::new(),
        };
        // Precedence: --state, GIG_STATE (clap reads it into `state`), the stack's
        // `state` block, --state-dir, GIG_STATE_DIR, the stack's `.gig/state/<env>`.
        let block = match &args.state {
            Some(_) => None,
            None => stack_state_block(&args.dir, &load)?,
        };
        let block_location = block.as_ref().and_then(|b| b.location.clone());
        let state = match (&args.state, &block_location, &args.state_dir) {
            // `--state` (or GIG_STATE, which clap reads into it) names a root.
            (Some(text), _, _) if S3Location::is_s3(text) => StateLocation::S3(
                S3Location::parse(text)
                    .map_err(|e| bad_location(text, &e))?
                    .join(&gig_engine::identity::derived_name(&args.dir))
                    .join(&env),
            ),
            (Some(text), _, _) if text.trim().is_empty() => {
                return Err(bad_location(text, &"it is empty"));
            }
            (Some(text), _, _) => StateLocation::Dir(
                PathBuf::from(text)
                    .join(gig_engine::identity::derived_name(&args.dir))
                    .join(&env),
            ),
            // The stack's `state` block names the exact location (it may use params
            // and env values); a directory is relative to the stack.
            (None, Some(text), _) if S3Location::is_s3(text) => {
                StateLocation::S3(S3Location::parse(text).map_err(|e| bad_location(text, &e))?)
            }
            (None, Some(text), _) => StateLocation::Dir(args.dir.join(text)),
            (None, None, Some(dir)) => StateLocation::Dir(dir.clone()),
            (None, None, None) => StateLocation::Dir(match std::env::var_os("GIG_STATE_DIR") {
                Some(root) => shared_state_dir(Path::new(&root), args, &env),
                None => args.dir.join(".gig").join("state").join(&env),
            }),
        };
        let lock_timeout = match (
            &args.lock_timeout,
            block.as_ref().and_then(|b| b.lock_timeout.as_ref()),
        ) {
            (Some(text), _) | (None, Some(text)) => parse_duration(text)?,
            (None, None) => Duration::ZERO,
        };
        if let Some(key_id) = block.and_then(|b| b.kms_key_id) {
            crate::context::use_stack_kms_key(key_id);
        }
        Ok(StackSettings {
            dir: args.dir.clone(),
            env,
            load,
            state,
            lock_timeout,
        })
    }
}

/// The stack's `state { … }` block, read by loading the stack when its files seem to
/// hold one. A stack with such a block that does not load is refused with its
/// diagnostics: guessing another location would read or write the wrong state.
fn stack_state_block(
    dir: &Path,
    load: &LoadOptions,
) -> anyhow::Result<Option<gig_dsl::config::StateConfig>> {
    if !gig_dsl::load::has_state_block(dir) {
        return Ok(None);
    }
    let loaded = gig_dsl::load::load_dir(dir, load);
    match loaded.config {
        Some(config) => Ok(config.state),
        None => Err(crate::report::SourcedRefusal {
            diagnostics: loaded.diagnostics,
            sources: loaded.sources,
        }
        .into()),
    }
}

/// The stack's state under `GIG_STATE_DIR`: `<root>/<place>/<env>`, where the place is
/// the name derived from where the stack is (`gig_engine::identity::derived_name`: the
/// git work tree's name and the path below it), so that stacks laid out alike do not
/// share a state there, every checkout of a repository finds the same one, and renaming
/// the stack does not move it. When that directory does not exist but one under the
/// directory's bare name does, that one is used: it holds a state made before gig told
/// stacks apart (the identity recorded in it, or the directory's name, then decides).
fn shared_state_dir(root: &Path, args: &StackArgs, env: &str) -> PathBuf {
    let at = |name: &str| root.join(name).join(env);
    let legacy = at(&directory_name(&args.dir));
    let preferred = at(&gig_engine::identity::derived_name(&args.dir));
    if preferred.exists() || !legacy.exists() {
        preferred
    } else {
        legacy
    }
}

/// The stack directory's name (symlinks resolved), as states under `GIG_STATE_DIR`
/// have always been kept.
fn directory_name(dir: &Path) -> String {
    let abs = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    abs.file_name()
        .map_or_else(|| "stack".to_string(), |n| n.to_string_lossy().into_owned())
}

/// The `--target`, `--exclude` and `--replace` addresses, parsed.
fn selection(args: &crate::args::SelectionArgs) -> anyhow::Result<PlanOptions> {
    let parse = |list: &[String], flag: &str| -> anyhow::Result<Vec<ResourceAddr>> {
        list.iter()
            .map(|s| {
                ResourceAddr::parse(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--{flag} `{s}` is not a resource address (e.g. aws.vpc.main or aws.subnet.private[\"a\"])"
                    )
                })
            })
            .collect()
    };
    Ok(PlanOptions {
        targets: parse(&args.targets, "target")?,
        excludes: parse(&args.excludes, "exclude")?,
        replace: parse(&args.replace, "replace")?,
        ..PlanOptions::default()
    })
}

/// The most concurrent provider calls: at least one.
fn parallelism(n: usize) -> anyhow::Result<usize> {
    if n == 0 {
        bail!("--parallelism must be at least 1");
    }
    Ok(n)
}

/// `gig plan`
#[derive(Clone, Debug)]
pub struct PlanSettings {
    /// The stack.
    pub stack: StackSettings,
    /// What the plan run does.
    pub options: PlanOptions,
    /// How to print the plan.
    pub format: Format,
    /// Where to save the plan.
    pub out: Option<PathBuf>,
    /// Exit 2 when there are changes.
    pub detailed_exitcode: bool,
}

impl PlanSettings {
    /// Validates `gig plan` flags.
    pub fn new(args: &PlanArgs) -> anyhow::Result<PlanSettings> {
        let stack = StackSettings::with_state(&args.stack)?;
        Ok(PlanSettings {
            options: PlanOptions {
                refresh: args.refresh,
                destroy: args.destroy,
                parallelism: parallelism(args.parallelism)?,
                env: stack.env.clone(),
                policy: args.policy.into(),
                ..selection(&args.selection)?
            },
            stack,
            format: args.format,
            out: args.out.clone(),
            detailed_exitcode: args.detailed_exitcode,
        })
    }
}

/// What `gig apply` applies.
#[derive(Clone, Debug)]
pub enum ApplySource {
    /// Plan the stack now, then apply.
    Stack,
    /// Apply exactly this saved plan file.
    PlanFile(PathBuf),
    /// Record Refreshed values as the state (`--refresh-only`).
    RefreshOnly,
}

/// `gig apply` and `gig destroy`
#[derive(Clone, Debug)]
pub struct ApplySettings {
    /// The stack (for a plan file: the flags given, before the file's own settings).
    pub stack: StackSettings,
    /// What to apply.
    pub source: ApplySource,
    /// The plan run before applying (also the apply's parallelism).
    pub options: PlanOptions,
    /// Skip the confirmation prompt.
    pub auto_approve: bool,
    /// `--rollback-on-failure`: undo this apply's changes when one of them fails.
    pub rollback_on_failure: bool,
    /// `--state-dir` when given on the command line (a plan file must agree with it).
    pub explicit_state_dir: Option<PathBuf>,
    /// `--state` (or `GIG_STATE`) when given: a plan file's state must lie under it.
    pub explicit_state_root: Option<String>,
}

impl ApplySettings {
    /// Validates `gig apply` flags.
    pub fn new(args: &ApplyArgs) -> anyhow::Result<ApplySettings> {
        // A plan file names its own env and state.
        let stack = if args.stack.dir.is_file() {
            StackSettings::new(&args.stack)?
        } else {
            StackSettings::with_state(&args.stack)?
        };
        if args.refresh_only && args.rollback_on_failure {
            bail!("--rollback-on-failure undoes changes to the cloud; --refresh-only makes none");
        }
        let source = if args.stack.dir.is_file() {
            if args.refresh_only {
                bail!("--refresh-only plans from the stack; it cannot be used with a plan file");
            }
            ApplySource::PlanFile(args.stack.dir.clone())
        } else if args.refresh_only {
            ApplySource::RefreshOnly
        } else {
            ApplySource::Stack
        };
        Ok(ApplySettings {
            options: PlanOptions {
                refresh: args.refresh,
                destroy: false,
                parallelism: parallelism(args.parallelism)?,
                env: stack.env.clone(),
                policy: args.policy.into(),
                ..selection(&args.selection)?
            },
            stack,
            source,
            auto_approve: args.auto_approve,
            rollback_on_failure: args.rollback_on_failure,
            explicit_state_dir: args.stack.state_dir.clone(),
            explicit_state_root: args.stack.state.clone(),
        })
    }

    /// Validates `gig destroy` flags: a destroy plan after a refresh.
    pub fn destroy(args: &DestroyArgs) -> anyhow::Result<ApplySettings> {
        let stack = StackSettings::with_state(&args.stack)?;
        Ok(ApplySettings {
            options: PlanOptions {
                refresh: true,
                destroy: true,
                parallelism: parallelism(args.parallelism)?,
                env: stack.env.clone(),
                policy: PolicyMode::Enforce,
                ..selection(&args.selection)?
            },
            stack,
            source: ApplySource::Stack,
            auto_approve: args.auto_approve,
            rollback_on_failure: false,
            explicit_state_dir: args.stack.state_dir.clone(),
            explicit_state_root: args.stack.state.clone(),
        })
    }
}

impl From<crate::args::Policy> for PolicyMode {
    fn from(p: crate::args::Policy) -> PolicyMode {
        match p {
            crate::args::Policy::Enforce => PolicyMode::Enforce,
            crate::args::Policy::Warn => PolicyMode::Warn,
        }
    }
}
