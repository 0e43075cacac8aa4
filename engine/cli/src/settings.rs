//! Settings: each command's raw arguments ([`crate::args`]) validated once into what the
//! command acts on. Commands read settings, never raw flags or the environment.

use std::path::{Path, PathBuf};

use anyhow::bail;
use gig_core::addr::ResourceAddr;
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_dsl::load::LoadOptions;
use gig_engine::pipeline::{PlanOptions, PolicyMode};

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
    /// The state directory of this stack and env.
    pub state_dir: PathBuf,
}

impl StackSettings {
    /// [`StackSettings::new`] for a command that reads or writes state: a stack with
    /// environments (`env/*.gigvars`) requires `--env`, since each env keeps its own
    /// state and the language declares no default one (E0360).
    pub fn with_state(args: &StackArgs) -> anyhow::Result<StackSettings> {
        let settings = StackSettings::new(args)?;
        let envs = gig_dsl::load::stack_envs(&settings.dir);
        if args.env.is_none() && !envs.is_empty() {
            let d = Diagnostic::error(
                Code::E0360,
                "this stack has environments; choose one with --env",
                Span::DETACHED,
            )
            .with_detail(format!(
                "`{}` defines the environments {} (env/*.gigvars), each with its own state, so gig does not guess one.",
                settings.dir.display(),
                envs.join(", ")
            ))
            .with_help(format!("pass `--env {}` or another of them", envs[0]));
            return Err(Refusal(d).into());
        }
        Ok(settings)
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
        let state_dir = match &args.state_dir {
            Some(dir) => dir.clone(),
            None => match std::env::var_os("GIG_STATE_DIR") {
                Some(root) => shared_state_dir(Path::new(&root), args, &env),
                None => args.dir.join(".gig").join("state").join(&env),
            },
        };
        Ok(StackSettings {
            dir: args.dir.clone(),
            env,
            load: LoadOptions {
                env: args.env.clone(),
                params,
                env_params,
                stack_name: args.stack_name.clone(),
            },
            state_dir,
        })
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
    /// `--state-dir` when given on the command line (a plan file must agree with it).
    pub explicit_state_dir: Option<PathBuf>,
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
            explicit_state_dir: args.stack.state_dir.clone(),
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
            explicit_state_dir: args.stack.state_dir.clone(),
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
