//! What every command needs: terminal facts, logging, the provider registry, loading a
//! stack and opening its state.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gig_core::diag::{Code, Diagnostic};
use gig_core::span::SourceMap;
use gig_core::span::Span;
use gig_dsl::load::Loaded;
use gig_engine::identity::{self, Recorded};
use gig_engine::pipeline::Stack;
use gig_provider::Registry;
use gig_state::crypt::{self, Keys};
use gig_state::{LockInfo, Snapshot, StateBackend, StateError, Store};
use gig_state_s3::{S3Backend, S3Options};

use crate::args::LogFormat;
use crate::report::{self, Refusal};
use crate::settings::{StackSettings, StateLocation};

/// Facts about the terminal the command writes to.
#[derive(Clone, Copy, Debug)]
pub struct Ui {
    /// ANSI colour allowed on stdout.
    pub color: bool,
    /// stdin is a terminal (prompts possible).
    pub stdin_tty: bool,
    /// stderr is a terminal (progress bars possible).
    pub stderr_tty: bool,
    /// `--log-format json`: diagnostics and errors go to stderr as JSON lines too.
    pub json_log: bool,
}

impl Ui {
    /// Reads the environment: NO_COLOR, --no-color and whether streams are terminals.
    pub fn detect(no_color: bool, log_format: LogFormat) -> Ui {
        let stdout_tty = std::io::stdout().is_terminal();
        let color =
            stdout_tty && !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Ui {
            color,
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
            json_log: log_format == LogFormat::Json,
        }
    }

    /// Prints an error that is not about the sources to stderr, rendered like diagnostics.
    pub fn error(&self, message: &str) {
        if self.json_log {
            report::error_json_line(message, &mut std::io::stderr().lock());
            return;
        }
        report::error(
            message,
            self.stderr_tty && self.color,
            &mut std::io::stderr().lock(),
        );
    }

    /// Prints diagnostics to stderr against their sources.
    pub fn diagnostics(&self, diags: &[Diagnostic], sources: &SourceMap) {
        if self.json_log {
            report::json_lines(diags, sources, &mut std::io::stderr().lock());
            return;
        }
        let color = self.color && self.stderr_tty;
        report::render(diags, sources, color, &mut std::io::stderr().lock());
    }
}

/// Log targets of the AWS SDK, its HTTP stack and sled (prefixes). Their events are wire
/// chatter, storage internals and `Debug` dumps of failures gig itself reports as
/// diagnostics, so they are off unless GIG_LOG names them
/// (`GIG_LOG=debug,aws_smithy_runtime=debug`).
const LIBRARY_TARGETS: &[&str] = &[
    "aws",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tower",
    "sled",
];

/// The tracing filter for GIG_LOG's value `spec` (default `warn`): the spec, with every
/// library target it does not name switched off.
fn log_filter(spec: Option<&str>) -> String {
    let spec = spec
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("warn");
    let mut filter = spec.to_string();
    for target in LIBRARY_TARGETS {
        // A more specific directive (`aws_smithy_runtime=debug`) wins over `aws=off` by
        // itself; only the same target needs leaving out.
        let named = spec
            .split(',')
            .any(|d| d.trim().split(['=', '[']).next() == Some(*target));
        if !named {
            filter.push_str(&format!(",{target}=off"));
        }
    }
    filter
}

/// Sets up tracing on stderr: level from GIG_LOG (default `warn`; library targets off
/// unless named), text or JSON lines.
pub fn init_logging(format: LogFormat) {
    let spec = std::env::var("GIG_LOG").ok();
    let filter = tracing_subscriber::EnvFilter::try_new(log_filter(spec.as_deref()))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_filter(None)));
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

/// Loads a stack and checks it against provider schemas, returning every diagnostic.
pub fn load_checked(settings: &StackSettings, registry: &Registry) -> Loaded {
    gig_engine::pipeline::load_dir(&settings.dir, &settings.load, registry)
}

/// Loads and checks a stack. On errors, prints them and returns `None`.
pub fn load_stack(ui: &Ui, settings: &StackSettings, registry: &Registry) -> Option<Stack> {
    match Stack::from_loaded(load_checked(settings, registry)) {
        Ok(stack) => Some(stack),
        Err((sources, diagnostics)) => {
            ui.diagnostics(&diagnostics, &sources);
            None
        }
    }
}

/// Settles the stack's identity against its state (`gig_engine::identity`) and names
/// the stack by it: the name every plan and apply of this run uses. An explicit name
/// that contradicts the state is returned as the `E0357` diagnostic.
pub fn settle_identity(
    stack: &mut Stack,
    settings: &StackSettings,
    store: &dyn StateBackend,
) -> anyhow::Result<Result<(), Diagnostic>> {
    let recorded = Recorded::new(store.stack_identity()?, store.snapshot()?.serial);
    let location = PathBuf::from(settings.state.to_string());
    Ok(
        identity::settle(&stack.config, &settings.dir, &recorded, &location).map(|name| {
            stack.config.stack = name;
        }),
    )
}

/// Records the stack's identity in its state before a write, when the state has none
/// yet (a new state, or one written before gig recorded identities).
pub fn record_identity(store: &dyn StateBackend, name: &str) -> anyhow::Result<()> {
    if store.stack_identity()?.is_none() {
        store.set_stack_identity(name)?;
    }
    Ok(())
}

/// The recorded state, or an empty one when the stack has none yet (for commands
/// that only read it: `graph`, `console`). The state is released on return.
pub fn snapshot_or_empty(settings: &StackSettings) -> anyhow::Result<Snapshot> {
    let exists = match &settings.state {
        StateLocation::Dir(dir) => dir.exists(),
        StateLocation::S3(_) => true,
    };
    if !exists {
        return Ok(Snapshot::default());
    }
    Ok(open_state(settings)?.snapshot()?)
}

/// Opens (and locks) the state of this stack and env: a sled directory or an S3 prefix.
/// The lock record names the command and stack directory only: flags (which may carry
/// param values) are never recorded. A state locked by another process fails at once
/// naming the holder, or with `--lock-timeout` is tried again until the timeout.
pub fn open_state(settings: &StackSettings) -> anyhow::Result<Box<dyn StateBackend>> {
    let subcommand: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .take(2)
        .collect();
    let command = format!(
        "gig {} ({})",
        subcommand.first().map_or("", String::as_str),
        settings.dir.display()
    );
    let deadline = Instant::now() + settings.lock_timeout;
    let mut pause = Duration::from_millis(200);
    loop {
        let opened: Result<Box<dyn StateBackend>, StateError> = match &settings.state {
            StateLocation::Dir(dir) => {
                Store::open_with(dir, LockInfo::current(command.clone()), keys())
                    .map(|s| Box::new(s) as Box<dyn StateBackend>)
            }
            StateLocation::S3(loc) => {
                { S3Backend::open(loc, LockInfo::current(command.clone()), &s3_options()) }
                    .map(|s| Box::new(s) as Box<dyn StateBackend>)
            }
        };
        match opened {
            Err(StateError::Locked { .. }) if Instant::now() + pause < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            other => return other.map_err(anyhow::Error::from),
        }
    }
}

/// The keys for state and plan files, read once per process (so each key is derived or
/// unwrapped once per process): the KMS key of `GIG_STATE_KMS_KEY_ID` (else of the
/// stack's `state` block) when set, else the
/// passphrase of `GIG_STATE_PASSPHRASE`, as the current key; as the fallback
/// `GIG_STATE_PASSPHRASE_FALLBACK`, or `GIG_STATE_PASSPHRASE` when a KMS key is current
/// (so setting a KMS key beside the passphrase and running `gig state rekey` moves a
/// state from the passphrase to KMS).
pub fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let passphrase = var(crypt::PASSPHRASE_VAR);
        let fallback = var(crypt::FALLBACK_VAR);
        match var(crypt::KMS_KEY_VAR).or_else(|| STACK_KMS_KEY.get().cloned()) {
            Some(key_id) => {
                let wrapper = gig_state_s3::KmsWrapper::new(&key_id, &Default::default());
                let kms = crypt::KeySource::Kms(crypt::KmsKey::new(Box::new(wrapper)));
                let fallback = fallback
                    .or(passphrase)
                    .map(|p| crypt::KeySource::Passphrase(crypt::Passphrase::new(p)));
                Keys::new(Some(kms), fallback)
            }
            None => Keys::from_passphrases(passphrase, fallback),
        }
    })
}

/// The KMS key named by the stack's `state` block, used when `GIG_STATE_KMS_KEY_ID` is
/// not set.
static STACK_KMS_KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Records the KMS key of the stack's `state` block (before [`keys`] is first used; the
/// first stack's key wins, as a process works on one stack).
pub fn use_stack_kms_key(key_id: String) {
    let _ = STACK_KMS_KEY.set(key_id);
}

/// How this process opens a state on S3: the standard AWS chain, [`keys`], and a local
/// copy of `state.json` under the user cache directory (`$XDG_CACHE_HOME/gig/state`,
/// else `~/.cache/gig/state`).
pub fn s3_options() -> S3Options {
    let cache_root = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
    S3Options {
        keys: keys().clone(),
        cache_dir: cache_root.map(|root| root.join("gig").join("state")),
        ..S3Options::default()
    }
}

/// Opens the state of this stack and env for a command that only shows what is recorded
/// (`drift`, `output`, `state list/show/history/export`): refuses with E0361 when nothing
/// was ever written there, instead of showing an empty state as if it were the truth.
/// A state directory that does not exist is not created.
pub fn open_existing_state(settings: &StackSettings) -> anyhow::Result<Box<dyn StateBackend>> {
    let no_state = || {
        let d = Diagnostic::error(
            Code::E0361,
            "no state for this stack and environment",
            Span::DETACHED,
        )
        .with_detail(format!(
            "Nothing has been applied to `{}` in the environment `{}`: there is no state at `{}`.",
            settings.dir.display(),
            settings.env,
            settings.state
        ))
        .with_help(
            "check --env, --state, --state-dir, GIG_STATE and GIG_STATE_DIR; `gig apply` creates the state",
        );
        anyhow::Error::new(Refusal(d))
    };
    if let StateLocation::Dir(dir) = &settings.state {
        if !dir.exists() {
            return Err(no_state());
        }
    }
    let store = open_state(settings)?;
    if store.snapshot()?.serial == 0 {
        return Err(no_state());
    }
    Ok(store)
}

/// The diagnostic for a damaged state (E0362) with the recovery the CLI really offers;
/// `None` for other state failures.
pub fn state_diagnostic(err: &StateError) -> Option<Diagnostic> {
    if let StateError::Crypt {
        path,
        record,
        source,
    } = err
    {
        let subject = match record {
            Some(record) => format!("the record `{record}` of the state at `{}`", path.display()),
            None => format!("the state at `{}`", path.display()),
        };
        return Some(source.diagnostic(&subject));
    }
    if let StateError::LockLost { path, message } = err {
        return Some(lock_lost_diagnostic(&path.display().to_string(), message));
    }
    if let StateError::Moved { path, to } = err {
        return Some(
            Diagnostic::error(Code::E0513, "the state was moved", Span::DETACHED)
                .with_detail(format!(
                    "`gig state migrate` moved the state at `{}` to `{to}`; gig neither reads nor \
                     writes the old copy, so that nobody keeps changing it.",
                    path.display()
                ))
                .with_help(
                    "pass --state with the location given to `gig state migrate --to` (the part before \
                     /<place>/<env>), or set GIG_STATE to it",
                ),
        );
    }
    let StateError::Corrupt { path, key, message } = err else {
        return None;
    };
    let d = Diagnostic::error(Code::E0362, "the state is damaged", Span::DETACHED);
    Some(if key == "sled" {
        d.with_detail(format!(
            "The state at `{}` cannot be opened: {message}. gig reads and changes nothing while it is damaged.",
            path.display()
        ))
        .with_help(format!(
            "keep the damaged directory (`mv {0} {0}.damaged`), then put back a file backup of it if you have one; \
             otherwise rebuild the state with `gig import ADDRESS ID` for each object (gig tags every object it \
             creates with `gig:address`)",
            path.display()
        ))
    } else {
        d.with_detail(format!(
            "The record `{key}` in the state at `{}` cannot be read: {message}.",
            path.display()
        ))
        .with_help(
            "`gig state history` lists the saved versions; `gig state restore SERIAL` brings back one from \
             before the damage (as a new version)",
        )
    })
}

/// E0510: this process lost the state's lock and stopped writing.
pub fn lock_lost_diagnostic(location: &str, how: &str) -> Diagnostic {
    Diagnostic::error(Code::E0510, "the state lock was lost", Span::DETACHED)
        .with_detail(format!(
            "This gig held the lock of the state at `{location}` but lost it ({how}), so it stopped \
             writing: what it wrote before is in the state, nothing after. Another process may be \
             changing the state now."
        ))
        .with_help(
            "run `gig plan` once the other process is done: it shows what is left to do, including \
             cloud objects this run created but could not record (`gig import` adopts them)",
        )
}
