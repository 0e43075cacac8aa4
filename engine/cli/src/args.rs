//! Raw command-line arguments as clap parses them; validated into settings by each command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// gig: declarative infrastructure as code.
#[derive(Debug, Parser)]
#[command(name = "gig", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format on stderr: `text` for people, `json` for CI. Level from GIG_LOG (default warn).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Never use colour (also when NO_COLOR is set or stdout is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Output format of plan-like commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// Machine-readable JSON.
    Json,
    /// Markdown for pull-request comments.
    Markdown,
}

/// Which instances a plan covers (`plan`, `apply`, `destroy`).
#[derive(Debug, Args, Clone, Default)]
pub struct SelectionArgs {
    /// Plan only this instance (or every instance of a resource) and what it needs;
    /// repeatable. The plan is partial: outputs are left as they are.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Leave out this instance (or resource) and everything that needs it; repeatable.
    #[arg(long = "exclude", value_name = "ADDR")]
    pub excludes: Vec<String>,
    /// Replace this instance even though nothing forces it; repeatable.
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
}

/// What failed policy checks do (`--policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// Errors stop the plan.
    Enforce,
    /// Every finding is a warning; the plan goes on.
    Warn,
}

/// Output format of `gig validate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiagFormat {
    /// Rendered against the source.
    Text,
    /// JSON diagnostics for editors and CI annotations.
    Json,
}

/// Output format of `gig output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `name = value` lines; a single string output alone as its raw value.
    Text,
    /// One JSON object of every selected output (secrets redacted).
    Json,
}

/// Output format of `gig graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, lower and check a stack against provider schemas; no cloud access.
    Validate(ValidateArgs),
    /// Rewrite .gig files in canonical style.
    Fmt(FmtArgs),
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Make the changes: plan and apply, or apply a saved plan file.
    Apply(ApplyArgs),
    /// Delete everything the stack manages.
    Destroy(DestroyArgs),
    /// Show a saved plan file.
    Show(ShowArgs),
    /// Print outputs recorded by the last apply.
    Output(OutputArgs),
    /// Print the resource dependency graph.
    Graph(GraphArgs),
    /// Evaluate expressions (one per line on stdin) against the stack and its state.
    Console(ConsoleArgs),
    /// Inspect and edit state.
    #[command(subcommand)]
    State(StateCommand),
    /// Adopt an existing cloud object into state.
    Import(ImportArgs),
    /// Compare the cloud with the recorded state: exit 0 clean, 2 drift, 1 error.
    Drift(DriftArgs),
    /// Run the built-in policy checks alone.
    Check(CheckArgs),
    /// Inspect the providers gig ships.
    #[command(subcommand)]
    Providers(ProvidersCommand),
    /// Print a shell completion script: `gig completions bash > /etc/bash_completion.d/gig`.
    Completions(CompletionsArgs),
}

/// `gig completions`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `gig providers …`
#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Print every provider's settings, resource and data source types with their
    /// attributes (for editors, linters and migration tools).
    Schema(ProvidersSchemaArgs),
}

/// `gig providers schema`
#[derive(Debug, Args)]
pub struct ProvidersSchemaArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = SchemaFormat::Text)]
    pub format: SchemaFormat,
}

/// Output format of `gig providers schema`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SchemaFormat {
    /// Provider and type names, one per line.
    Text,
    /// The full schemas as one JSON document.
    Json,
}

/// Output format of `gig drift`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DriftFormat {
    /// Human-readable text.
    Text,
    /// Machine-readable JSON.
    Json,
    /// Markdown for an issue or chat message.
    Markdown,
    /// Prometheus text format for node_exporter's textfile collector.
    Prometheus,
}

/// Output format of `gig check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Rendered against the source.
    Text,
    /// JSON diagnostics.
    Json,
    /// SARIF 2.1.0 for code-scanning upload.
    Sarif,
}

/// `gig drift`
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DriftFormat::Text)]
    pub format: DriftFormat,
    /// Concurrent provider calls during refresh.
    #[arg(long, default_value_t = 32)]
    pub parallelism: usize,
    /// Also write the output to this file (atomically), e.g. for the textfile collector.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `gig check`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

/// Where the stack is and which environment.
#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// Stack directory (default: current directory).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Environment: reads env/NAME.gigvars and keeps a separate state.
    #[arg(long)]
    pub env: Option<String>,
    /// Set a param: --param name=value (repeatable; overrides GIG_PARAM_name and gigvars).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// State directory (default: <DIR>/.gig/state/<ENV>, or GIG_STATE_DIR/<stack>/<env>).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// The stack's name (its identity: `gig:stack` tags, derived names, the state's
    /// owner), over the name its `stack` block declares.
    #[arg(long, value_name = "NAME")]
    pub stack_name: Option<String>,
    /// Where the states of all stacks live: a directory (sled) or s3://BUCKET/PREFIX;
    /// this stack's is LOCATION/<place>/<env>. Wins over --state-dir and GIG_STATE_DIR.
    #[arg(long = "state", value_name = "LOCATION", env = "GIG_STATE")]
    pub state: Option<String>,
    /// Wait up to DURATION (e.g. 30s, 5m) for a state locked by another process.
    #[arg(long, value_name = "DURATION")]
    pub lock_timeout: Option<String>,
}

/// `gig validate`
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiagFormat::Text)]
    pub format: DiagFormat,
}

/// `gig fmt`
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files or directories (directories are searched recursively for .gig and .gigvars);
    /// `-` formats standard input to standard output.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Change nothing; exit 1 and list the files that would change.
    #[arg(long)]
    pub check: bool,
    /// Change nothing; print what would change as a unified diff (exit 1 with `--check`
    /// when there is any).
    #[arg(long)]
    pub diff: bool,
}

/// `gig plan`
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
    /// Save the plan to a file for `gig apply FILE`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Read the cloud before planning (default true).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub refresh: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 2 when there are changes, 0 when none, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan the destruction of everything in state.
    #[arg(long)]
    pub destroy: bool,
    /// Concurrent provider calls during refresh.
    #[arg(long, default_value_t = 32)]
    pub parallelism: usize,
    /// Which instances to plan.
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// `enforce`: policy errors stop the plan; `warn`: report them as warnings and plan.
    #[arg(long, value_enum, default_value_t = Policy::Enforce)]
    pub policy: Policy,
}

/// `gig apply`
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The stack (or a saved plan file).
    #[command(flatten)]
    pub stack: StackArgs,
    /// Skip the interactive "yes" prompt.
    #[arg(long)]
    pub auto_approve: bool,
    /// Cap on concurrent provider calls.
    #[arg(long, default_value_t = 32)]
    pub parallelism: usize,
    /// Which instances to plan.
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// `enforce`: policy errors stop the plan; `warn`: report them as warnings and plan.
    #[arg(long, value_enum, default_value_t = Policy::Enforce)]
    pub policy: Policy,
    /// Read the cloud before planning (default true).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub refresh: bool,
    /// Change nothing in the cloud: record what the cloud holds now (Refreshed) as the
    /// state, adopting drift; objects found gone are forgotten.
    #[arg(long)]
    pub refresh_only: bool,
    /// When a change fails, undo what this apply did: delete what it created and
    /// restore what it updated in place, in reverse dependency order.
    #[arg(long)]
    pub rollback_on_failure: bool,
}

/// `gig destroy`
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
    /// Skip the interactive "yes" prompt.
    #[arg(long)]
    pub auto_approve: bool,
    /// Cap on concurrent provider calls.
    #[arg(long, default_value_t = 32)]
    pub parallelism: usize,
    /// Which instances to plan.
    #[command(flatten)]
    pub selection: SelectionArgs,
}

/// `gig show`
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file written by `gig plan --out`.
    pub plan: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `gig output`
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
    /// One output's name; all when absent.
    #[arg(long)]
    pub name: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// The same as `--format json` (kept for scripts written before `--format`).
    #[arg(long, hide = true)]
    pub json: bool,
    /// Print only the value of the output named by `--name`, for scripts: a string as
    /// is (no quotes), anything else as JSON.
    #[arg(long, requires = "name", conflicts_with_all = ["format", "json"])]
    pub raw: bool,
    /// Show secret values instead of `(secret)`. Without it, asking for one secret
    /// output by name is an error rather than a silent `(secret)`.
    #[arg(long)]
    pub show_secret: bool,
}

/// `gig console`
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
    /// How each result is printed: gig syntax, or one JSON value per line.
    #[arg(long, value_enum, default_value_t = ConsoleFormat::Text)]
    pub format: ConsoleFormat,
    /// Show secret values instead of `(secret)` (they will appear in clear).
    #[arg(long)]
    pub show_secret: bool,
}

/// Output format of `gig console`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConsoleFormat {
    /// gig syntax.
    Text,
    /// One JSON value per line.
    Json,
}

/// `gig graph`
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
}

/// `gig import`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Resource address in the configuration, e.g. aws.vpc.main.
    pub address: String,
    /// The cloud id, e.g. vpc-0abc….
    pub id: String,
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `gig state …`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List resource addresses in state.
    List(StateArgs),
    /// Show one resource's recorded value (secrets redacted).
    Show(StateAddrArgs),
    /// Forget a resource (the cloud object is left alone).
    Rm(StateAddrArgs),
    /// Rename a resource's address.
    Mv(StateMvArgs),
    /// List write sessions.
    History(StateArgs),
    /// Bring state back to how it was after session SERIAL (as a new session).
    Restore(StateRestoreArgs),
    /// Print the whole state as JSON (secrets redacted).
    Export(StateArgs),
    /// Encrypt every stored value, all history included, under the current key
    /// (GIG_STATE_PASSPHRASE).
    Rekey(StateArgs),
    /// Record NAME as the stack identity this state belongs to (after renaming the
    /// stack on purpose; objects already created keep their tags and names).
    RenameStack(StateRenameArgs),
    /// Break the lock LOCK_ID of a shared (S3) state whose holder is gone.
    Unlock(StateUnlockArgs),
    /// Move this stack's state to another location (lineage, serial and history kept).
    Migrate(StateMigrateArgs),
}

/// `gig state rename-stack`
#[derive(Debug, Args)]
pub struct StateRenameArgs {
    /// The stack's new name.
    pub name: String,
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `gig state migrate`
#[derive(Debug, Args)]
pub struct StateMigrateArgs {
    /// Where the states of all stacks live from now on: s3://BUCKET/PREFIX (as --state).
    #[arg(long, value_name = "LOCATION")]
    pub to: String,
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `gig state unlock`
#[derive(Debug, Args)]
pub struct StateUnlockArgs {
    /// The lock id named by the error that refused the lock.
    pub lock_id: String,
    /// Break it without asking for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// State command with only a stack.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// State command with an address.
#[derive(Debug, Args)]
pub struct StateAddrArgs {
    /// Resource address.
    pub address: String,
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `gig state mv`
#[derive(Debug, Args)]
pub struct StateMvArgs {
    /// Current address.
    pub from: String,
    /// New address.
    pub to: String,
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `gig state restore`
#[derive(Debug, Args)]
pub struct StateRestoreArgs {
    /// The serial to restore.
    pub serial: u64,
    /// The stack.
    #[command(flatten)]
    pub stack: StackArgs,
}
