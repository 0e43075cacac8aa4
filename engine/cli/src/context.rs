//! What every command needs: terminal facts, logging, the provider registry, loading a
//! stack with its params, and opening its state.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use gig_core::diag::{has_errors, Diagnostic};
use gig_core::span::SourceMap;
use gig_dsl::config::Config;
use gig_dsl::load::{LoadOptions, Loaded};
use gig_provider::{Provider, Registry};
use gig_state::{LockInfo, Store};

use crate::args::{LogFormat, StackArgs};
use crate::report;

/// Facts about the terminal the command writes to.
#[derive(Clone, Copy, Debug)]
pub struct Ui {
    /// ANSI colour allowed on stdout.
    pub color: bool,
    /// stdin is a terminal (prompts possible).
    pub stdin_tty: bool,
    /// stderr is a terminal (progress bars possible).
    pub stderr_tty: bool,
}

impl Ui {
    /// Reads the environment: NO_COLOR, --no-color and whether streams are terminals.
    pub fn detect(no_color: bool) -> Ui {
        let stdout_tty = std::io::stdout().is_terminal();
        let color =
            stdout_tty && !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Ui {
            color,
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    /// Prints diagnostics to stderr against their sources.
    pub fn diagnostics(&self, diags: &[Diagnostic], sources: &SourceMap) {
        let color = self.color && self.stderr_tty;
        report::render(diags, sources, color, &mut std::io::stderr().lock());
    }
}

/// Sets up tracing on stderr: level from GIG_LOG (default `warn`), text or JSON lines.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GIG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Every provider gig ships, by name.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(Arc::new(gig_provider_random::RandomFactory::default()));
    r.register(Arc::new(gig_provider_aws::AwsFactory::new()));
    r
}

/// A loaded, checked stack.
pub struct Stack {
    /// The lowered configuration.
    pub config: Config,
    /// Its sources, for rendering diagnostics.
    pub sources: SourceMap,
    /// Warnings found while loading and checking.
    pub warnings: Vec<Diagnostic>,
}

/// Turns the stack flags into lowering options, reading GIG_PARAM_* from the environment.
pub fn load_options(args: &StackArgs) -> anyhow::Result<LoadOptions> {
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
    Ok(LoadOptions {
        env: args.env.clone(),
        params,
        env_params,
    })
}

/// Loads and lowers a stack and checks it against provider schemas, returning every
/// diagnostic found.
pub fn load_checked(
    args: &StackArgs,
    registry: &Registry,
) -> anyhow::Result<(SourceMap, Option<Config>, Vec<Diagnostic>)> {
    let opts = load_options(args)?;
    let Loaded {
        sources,
        config,
        mut diagnostics,
    } = gig_dsl::load::load_dir(&args.dir, &opts);
    if let Some(config) = &config {
        diagnostics.extend(gig_engine::check::check(config, registry));
    }
    Ok((sources, config, diagnostics))
}

/// Loads and checks a stack. On errors, prints them and returns `None`.
pub fn load_stack(ui: &Ui, args: &StackArgs, registry: &Registry) -> anyhow::Result<Option<Stack>> {
    let (sources, config, diagnostics) = load_checked(args, registry)?;
    match config {
        Some(config) if !has_errors(&diagnostics) => Ok(Some(Stack {
            config,
            sources,
            warnings: diagnostics,
        })),
        _ => {
            ui.diagnostics(&diagnostics, &sources);
            Ok(None)
        }
    }
}

/// The environment name used for state and tags.
pub fn env_name(args: &StackArgs) -> String {
    args.env.clone().unwrap_or_else(|| "default".to_string())
}

/// Where the state of this stack and env lives.
pub fn state_dir(args: &StackArgs) -> PathBuf {
    if let Some(dir) = &args.state_dir {
        return dir.clone();
    }
    let env = env_name(args);
    if let Some(root) = std::env::var_os("GIG_STATE_DIR") {
        let stack = stack_name(&args.dir);
        return PathBuf::from(root).join(stack).join(env);
    }
    args.dir.join(".gig").join("state").join(env)
}

/// The stack's name: its directory's name.
pub fn stack_name(dir: &Path) -> String {
    let abs = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    abs.file_name()
        .map_or_else(|| "stack".to_string(), |n| n.to_string_lossy().into_owned())
}

/// Opens (and locks) the state of this stack and env. The lock record names the command
/// and stack directory only: flags (which may carry param values) are never recorded.
pub fn open_state(args: &StackArgs) -> anyhow::Result<Store> {
    let dir = state_dir(args);
    let subcommand: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .take(2)
        .collect();
    let command = format!(
        "gig {} ({})",
        subcommand.first().map_or("", String::as_str),
        args.dir.display()
    );
    Store::open(&dir, LockInfo::current(command)).map_err(anyhow::Error::from)
}

/// Configures every provider the config (or state) uses.
pub async fn configure_providers(
    registry: &Registry,
    config: &Config,
    extra: impl IntoIterator<Item = String>,
) -> anyhow::Result<BTreeMap<String, Arc<dyn Provider>>> {
    let mut names: Vec<String> = config.providers.keys().cloned().collect();
    names.extend(extra);
    names.sort();
    names.dedup();
    let mut out = BTreeMap::new();
    for name in names {
        let factory = registry
            .get(&name)
            .with_context(|| format!("unknown provider `{name}`"))?;
        let settings = config
            .providers
            .get(&name)
            .map(|p| p.settings.clone())
            .unwrap_or(gig_core::value::Value::Map(Default::default()));
        let provider = factory
            .configure(&settings)
            .await
            .map_err(|e| anyhow::anyhow!("configuring provider `{name}`: {e}"))?;
        out.insert(name, provider);
    }
    Ok(out)
}
