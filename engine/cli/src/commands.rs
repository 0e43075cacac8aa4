//! One function per command. Each validates its raw arguments, does the work through the
//! library crates, renders, and returns the exit code.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use gig_core::addr::{Mode, ResourceAddr};
use gig_core::diag::{has_errors, Diagnostic};
use gig_core::span::SourceMap;
use gig_core::value::Value;
use gig_dsl::load::Loaded;
use gig_engine::apply::{ApplyOptions, ApplyReport};
use gig_engine::events::ApplyEvent;
use gig_engine::model::Plan;
use gig_engine::pipeline::{self, PlanOptions, Providers, Refreshed, Stack, Stage};
use gig_engine::planfile::{self, PlanFile, FORMAT_VERSION};
use gig_engine::render;
use gig_provider::OpContext;
use gig_state::{ResourceRecord, Snapshot, StateBackend};
use gig_state_s3::S3Location;

use crate::args::{
    ApplyArgs, CheckArgs, CheckFormat, DestroyArgs, DiagFormat, DriftArgs, DriftFormat, FmtArgs,
    Format, GraphArgs, ImportArgs, OutputArgs, OutputFormat, PlanArgs, ProvidersSchemaArgs,
    SchemaFormat, ShowArgs, StateAddrArgs, StateArgs, StateMigrateArgs, StateMvArgs,
    StateRenameArgs, StateRestoreArgs, StateUnlockArgs, ValidateArgs,
};
use crate::context::{self, Ui};
use crate::report::{self, Refusal};
use crate::settings::{ApplySettings, ApplySource, PlanSettings, StackSettings, StateLocation};
use crate::signals::{self, InFlight, INTERRUPTED};

/// Exit code: success, no changes.
const OK: u8 = 0;
/// Exit code: an error.
const ERROR: u8 = 1;
/// Exit code: changes or drift present.
const CHANGES: u8 = 2;

/// `gig validate`
pub fn validate(ui: &Ui, args: ValidateArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::new(&args.stack)?;
    let registry = context::registry();
    let Loaded {
        sources,
        config,
        diagnostics: mut diags,
    } = context::load_checked(&settings, &registry);
    // Dependency cycles and bad references are found by building the graph; an empty
    // snapshot keeps validate offline and independent of state.
    if let Some(config) = &config {
        let (_, graph_diags) = gig_engine::graph::build(config, &Snapshot::default());
        diags.extend(graph_diags);
    }
    match args.format {
        DiagFormat::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&report::to_json(&diags, &sources))?
        ),
        DiagFormat::Text => ui.diagnostics(&diags, &sources),
    }
    if has_errors(&diags) || config.is_none() {
        return Ok(ERROR);
    }
    if args.format == DiagFormat::Text {
        let n = config.map_or(0, |c| c.resources.len());
        outln!("Valid: {n} resource instances.");
    }
    Ok(OK)
}

/// `gig fmt`
pub fn fmt(ui: &Ui, args: FmtArgs) -> anyhow::Result<u8> {
    let stdin = Path::new("-");
    if args.paths.iter().any(|p| p == stdin) {
        if args.paths.len() > 1 {
            bail!("`-` (standard input) cannot be combined with other paths");
        }
        return fmt_stdin(ui, &args);
    }
    let mut files = Vec::new();
    for p in &args.paths {
        collect_source_files(p, &mut files)?;
    }
    files.sort();
    files.dedup();
    let mut changed = Vec::new();
    let mut failed = false;
    for path in &files {
        let mut sources = SourceMap::new();
        let id = match gig_dsl::source::read_source(&mut sources, path, path) {
            Ok(id) => id,
            Err(d) => {
                ui.diagnostics(&[d], &sources);
                failed = true;
                continue;
            }
        };
        let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
        match gig_dsl::fmt::format_source(id, &text) {
            Ok(formatted) if formatted != text => {
                if args.diff {
                    write_stdout(&crate::diff::unified(
                        &path.display().to_string(),
                        &text,
                        &formatted,
                    ))?;
                } else if !args.check {
                    std::fs::write(path, formatted)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                changed.push(path.clone());
            }
            Ok(_) => {}
            Err(diags) => {
                ui.diagnostics(&diags, &sources);
                failed = true;
            }
        }
    }
    if !args.diff {
        for path in &changed {
            outln!("{}", path.display());
        }
    }
    if failed {
        return Ok(ERROR);
    }
    Ok(if args.check && !changed.is_empty() {
        ERROR
    } else {
        OK
    })
}

/// `gig fmt -`: formats standard input to standard output (editors' format-on-save).
/// With `--check` nothing is printed and the exit code says whether it would change;
/// with `--diff` the changes are printed as a diff.
fn fmt_stdin(ui: &Ui, args: &FmtArgs) -> anyhow::Result<u8> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
        .context("reading standard input")?;
    let mut sources = SourceMap::new();
    let name = Path::new("<stdin>");
    let id = match gig_dsl::source::source_from_bytes(&mut sources, name, bytes) {
        Ok(id) => id,
        Err(d) => {
            ui.diagnostics(&[d], &sources);
            return Ok(ERROR);
        }
    };
    let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
    let formatted = match gig_dsl::fmt::format_source(id, &text) {
        Ok(formatted) => formatted,
        Err(diags) => {
            ui.diagnostics(&diags, &sources);
            return Ok(ERROR);
        }
    };
    if args.diff {
        write_stdout(&crate::diff::unified("<stdin>", &text, &formatted))?;
    } else if !args.check {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(formatted.as_bytes())?;
        stdout.flush()?;
    }
    Ok(if args.check && formatted != text {
        ERROR
    } else {
        OK
    })
}

fn collect_source_files(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))?;
    for entry in entries {
        let p = entry?.path();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if p.is_dir() {
            collect_source_files(&p, out)?;
        } else if name.ends_with(".gig") || name.ends_with(".gigvars") {
            out.push(p);
        }
    }
    Ok(())
}

/// Everything a successful plan run produced.
struct Planned {
    /// Warnings found on the way (not errors: the run did not stop).
    warnings: Vec<Diagnostic>,
    plan: Plan,
    stack: Stack,
    snapshot: Snapshot,
    store: Box<dyn StateBackend>,
    providers: Providers,
}

/// A plan run that stopped on user mistakes: every diagnostic found, with its sources.
struct Stopped {
    sources: SourceMap,
    diagnostics: Vec<Diagnostic>,
}

/// Loads, refreshes and plans through the engine's pipeline. Warnings of a successful
/// run are printed; a run that stopped on user mistakes returns them unprinted, for the
/// caller to render in its format.
async fn make_plan(
    settings: &StackSettings,
    options: &PlanOptions,
) -> anyhow::Result<Result<Planned, Stopped>> {
    let registry = context::registry();
    let mut stack = match Stack::from_loaded(context::load_checked(settings, &registry)) {
        Ok(stack) => stack,
        Err((sources, diagnostics)) => {
            return Ok(Err(Stopped {
                sources,
                diagnostics,
            }))
        }
    };
    let store = context::open_state(settings)?;
    if let Err(refused) = context::settle_identity(&mut stack, settings, store.as_ref())? {
        return Ok(Err(Stopped {
            sources: stack.sources,
            diagnostics: vec![refused],
        }));
    }
    let snapshot = store.snapshot()?;
    let outcome = pipeline::plan_stack(&stack, &snapshot, &registry, options).await?;
    if outcome.stopped == Some(Stage::Policy) {
        errln!("Policy checks failed; nothing was planned. Fix the findings or accept them with `# gig:accept CODE -- reason`.");
    }
    let (Some(plan), None) = (outcome.plan, outcome.stopped) else {
        return Ok(Err(Stopped {
            sources: stack.sources,
            diagnostics: outcome.diagnostics,
        }));
    };
    Ok(Ok(Planned {
        warnings: outcome.diagnostics,
        plan,
        stack,
        snapshot,
        store,
        providers: outcome.providers,
    }))
}

/// [`make_plan`] for a command that renders text: prints the warnings or the
/// diagnostics that stopped the run; `None` when it stopped.
async fn make_plan_text(
    ui: &Ui,
    settings: &StackSettings,
    options: &PlanOptions,
) -> anyhow::Result<Option<Planned>> {
    Ok(match make_plan(settings, options).await? {
        Ok(p) => {
            ui.diagnostics(&p.warnings, &p.stack.sources);
            Some(p)
        }
        Err(stopped) => {
            ui.diagnostics(&stopped.diagnostics, &stopped.sources);
            None
        }
    })
}

fn print_plan(ui: &Ui, plan: &Plan, format: Format) -> anyhow::Result<()> {
    let out = match format {
        Format::Text => report::styled(&render::text(plan), ui.color),
        Format::Json => serde_json::to_string_pretty(&render::json(plan))?,
        Format::Markdown => render::markdown(plan, &render::MarkdownOptions::default()),
    };
    write_stdout(&out)
}

/// `path` made absolute (symlinks resolved when it exists).
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Writes to stdout; a closed pipe (`gig show FILE | head`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{}", text.trim_end()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// `gig plan`
pub async fn plan(ui: &Ui, args: PlanArgs) -> anyhow::Result<u8> {
    let settings = match PlanSettings::new(&args) {
        Ok(settings) => settings,
        Err(err) => {
            if let (Format::Json, Some(refusal)) = (args.format, err.downcast_ref::<Refusal>()) {
                let diags = std::slice::from_ref(&refusal.0);
                write_stdout(&serde_json::to_string_pretty(&report::to_json(
                    diags,
                    &SourceMap::new(),
                ))?)?;
            }
            return Err(err);
        }
    };
    let p = match make_plan(&settings.stack, &settings.options).await? {
        Ok(p) => {
            ui.diagnostics(&p.warnings, &p.stack.sources);
            p
        }
        Err(stopped) => {
            ui.diagnostics(&stopped.diagnostics, &stopped.sources);
            // CI that parses stdout gets the reasons, never nothing.
            if settings.format == Format::Json {
                write_stdout(&serde_json::to_string_pretty(&report::to_json(
                    &stopped.diagnostics,
                    &stopped.sources,
                ))?)?;
            }
            return Ok(ERROR);
        }
    };
    print_plan(ui, &p.plan, settings.format)?;
    if let Some(out) = &settings.out {
        let file = PlanFile {
            format_version: FORMAT_VERSION,
            gig_version: env!("CARGO_PKG_VERSION").to_string(),
            // Absolute, so the file applies from any working directory.
            stack_dir: absolute(&settings.stack.dir),
            state_dir: settings.stack.state.recorded(),
            env: settings.stack.env.clone(),
            lineage: p.snapshot.lineage.clone(),
            serial: p.snapshot.serial,
            config_digest: p.stack.config_digest(&settings.stack.dir),
            stack_name_flag: settings.stack.load.stack_name.is_some(),
            sources: p.stack.source_digests(&settings.stack.dir),
            params: planfile::param_records(&p.stack.config, &settings.stack.load),
            plan: p.plan.clone(),
        };
        file.write_with(out, context::keys())?;
        errln!(
            "Saved the plan to {}. Apply exactly it with: gig apply {}",
            out.display(),
            out.display()
        );
    }
    let changes = p.plan.has_changes();
    Ok(if settings.detailed_exitcode && changes {
        CHANGES
    } else {
        OK
    })
}

/// `gig apply [DIR | PLANFILE]`
pub async fn apply(ui: &Ui, args: ApplyArgs) -> anyhow::Result<u8> {
    let settings = ApplySettings::new(&args)?;
    match &settings.source {
        ApplySource::PlanFile(path) => apply_saved(ui, &settings, path).await,
        ApplySource::RefreshOnly => apply_refresh_only(ui, &settings).await,
        ApplySource::Stack => plan_and_apply(ui, &settings).await,
    }
}

/// `gig destroy`
pub async fn destroy(ui: &Ui, args: DestroyArgs) -> anyhow::Result<u8> {
    plan_and_apply(ui, &ApplySettings::destroy(&args)?).await
}

/// Plans, shows the plan, asks, applies: `gig apply DIR` and `gig destroy`.
async fn plan_and_apply(ui: &Ui, settings: &ApplySettings) -> anyhow::Result<u8> {
    let Some(p) = make_plan_text(ui, &settings.stack, &settings.options).await? else {
        return Ok(ERROR);
    };
    print_plan(ui, &p.plan, Format::Text)?;
    let destroy = settings.options.destroy;
    let outputs_change = !destroy && p.plan.outputs.iter().any(|o| o.before != o.after);
    if !p.plan.has_changes() && !outputs_change {
        return Ok(OK);
    }
    let (verb, cancelled) = if destroy {
        ("destroy", "Destroy cancelled.")
    } else {
        ("apply", "Apply cancelled.")
    };
    if !settings.auto_approve && !confirm(ui, verb)? {
        outln!("{cancelled}");
        return Ok(ERROR);
    }
    execute(
        ui,
        &p.plan,
        &p.providers,
        p.store.as_ref(),
        &p.stack.sources,
        settings,
    )
    .await
}

/// `gig apply --refresh-only`: shows the drift, then records Refreshed values as state.
async fn apply_refresh_only(ui: &Ui, settings: &ApplySettings) -> anyhow::Result<u8> {
    let registry = context::registry();
    let Some(mut stack) = context::load_stack(ui, &settings.stack, &registry) else {
        return Ok(ERROR);
    };
    let store = context::open_state(&settings.stack)?;
    if let Err(refused) = context::settle_identity(&mut stack, &settings.stack, store.as_ref())? {
        ui.diagnostics(&[refused], &stack.sources);
        return Ok(ERROR);
    }
    let snapshot = store.snapshot()?;
    let Some((refreshed, report)) =
        refresh_and_detect(ui, &registry, &stack, &snapshot, &settings.options).await?
    else {
        return Ok(ERROR);
    };
    if !report.has_drift() {
        write_stdout("No drift: the state already matches the cloud.")?;
        return Ok(OK);
    }
    write_stdout(&gig_engine::drift::text_with_advice(
        &report,
        "Applying records these values as the state; the cloud is not changed.",
    ))?;
    if !settings.auto_approve && !confirm(ui, "record these values in the state")? {
        outln!("Nothing recorded.");
        return Ok(ERROR);
    }
    context::record_identity(store.as_ref(), &stack.config.stack)?;
    store.begin("refresh")?;
    let mut writes = Vec::new();
    for d in &report.drifted {
        match (refreshed.get(&d.addr), snapshot.resources.get(&d.addr)) {
            (Some(Some(value)), Some(record)) => {
                writes.push(gig_state::Write::Put(ResourceRecord {
                    value: value.clone(),
                    ..record.clone()
                }));
            }
            (Some(None), _) => writes.push(gig_state::Write::Remove(d.addr.clone())),
            _ => {}
        }
    }
    store.commit(&writes)?;
    outln!(
        "Recorded {} resource(s) as they are in the cloud.",
        writes.len()
    );
    Ok(OK)
}

/// A saved plan applies to the state it was made for: a `--state` (or `GIG_STATE`) root
/// that does not hold it is refused rather than silently ignored (E0353).
fn state_root_conflict(settings: &ApplySettings, file: &PlanFile) -> Option<Diagnostic> {
    let root = settings.explicit_state_root.as_ref()?;
    let recorded = file.state_dir.to_string_lossy();
    let root_form = if S3Location::is_s3(root) {
        root.trim_end_matches('/').to_string()
    } else {
        absolute(Path::new(root)).to_string_lossy().into_owned()
    };
    if recorded.starts_with(&format!("{root_form}/")) {
        return None;
    }
    Some(
        Diagnostic::error(
            gig_core::diag::Code::E0353,
            "a flag contradicts the saved plan",
            gig_core::span::Span::DETACHED,
        )
        .with_detail(format!(
            "--state (or GIG_STATE) {root} was given, but the plan was made against {recorded}. Nothing was applied."
        ))
        .with_help("apply the plan without these flags, or make a new plan for that env or state"),
    )
}

/// `gig apply PLANFILE`: applies exactly the saved plan, after checking it still fits
/// the state and the configuration.
async fn apply_saved(ui: &Ui, settings: &ApplySettings, path: &Path) -> anyhow::Result<u8> {
    let file = match PlanFile::read_with(path, context::keys()) {
        Ok(file) => file,
        Err(err) => {
            ui.diagnostics(&[err.diagnostic()], &SourceMap::new());
            return Ok(ERROR);
        }
    };
    let state_dir = settings.explicit_state_dir.as_deref().map(absolute);
    let given = planfile::Given {
        env: settings.stack.load.env.as_deref(),
        state_dir: state_dir.as_deref(),
        stack_name: settings.stack.load.stack_name.as_deref(),
        load: &settings.stack.load,
    };
    if let Some(conflict) = file
        .conflicts(&given)
        .or_else(|| state_root_conflict(settings, &file))
    {
        ui.diagnostics(&[conflict], &SourceMap::new());
        return Ok(ERROR);
    }
    // The plan's own stack, state, env and params.
    let stack_settings = StackSettings {
        dir: file.stack_dir.clone(),
        env: file.env.clone(),
        load: file.load_options(&settings.stack.load),
        state: StateLocation::from_recorded(&file.state_dir)?,
        lock_timeout: settings.stack.lock_timeout,
    };
    let registry = context::registry();
    let Some(mut stack) = context::load_stack(ui, &stack_settings, &registry) else {
        return Ok(ERROR);
    };
    let store = context::open_state(&stack_settings)?;
    if let Err(refused) = context::settle_identity(&mut stack, &stack_settings, store.as_ref())? {
        ui.diagnostics(&[refused], &stack.sources);
        return Ok(ERROR);
    }
    if stack.config.stack != file.plan.stack {
        let refused = gig_engine::identity::plan_conflict(&file.plan.stack, &stack.config.stack);
        ui.diagnostics(&[refused], &SourceMap::new());
        return Ok(ERROR);
    }
    let snapshot = store.snapshot()?;
    if let Some(stale) = file.staleness(
        &snapshot.lineage,
        snapshot.serial,
        &stack,
        &stack_settings.dir,
    ) {
        ui.diagnostics(&[stale.diagnostic()], &SourceMap::new());
        return Ok(ERROR);
    }
    let state_providers = snapshot.resources.values().map(|r| r.provider.clone());
    let providers =
        pipeline::configure_providers(&registry, &stack.config, state_providers).await?;
    print_plan(ui, &file.plan, Format::Text)?;
    if !file.plan.has_changes() && file.plan.outputs.iter().all(|o| o.before == o.after) {
        return Ok(OK);
    }
    let settings = ApplySettings {
        stack: stack_settings,
        ..settings.clone()
    };
    execute(
        ui,
        &file.plan,
        &providers,
        store.as_ref(),
        &stack.sources,
        &settings,
    )
    .await
}

fn confirm(ui: &Ui, what: &str) -> anyhow::Result<bool> {
    if !ui.stdin_tty {
        bail!(
            "refusing to {what} without confirmation: stdin is not a terminal; pass --auto-approve"
        );
    }
    out!("\nDo you want to {what} these changes? Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

async fn execute(
    ui: &Ui,
    plan: &Plan,
    providers: &Providers,
    store: &dyn StateBackend,
    sources: &SourceMap,
    settings: &ApplySettings,
) -> anyhow::Result<u8> {
    context::record_identity(store, &plan.stack)?;
    let opts = ApplyOptions {
        parallelism: settings.options.parallelism,
        stack: plan.stack.clone(),
        env: settings.stack.env.clone(),
        ..ApplyOptions::default()
    };
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let in_flight = InFlight::default();
    signals::watch_interrupts(cancel_tx, in_flight.clone());
    let progress = crate::progress::Progress::new(ui, plan);
    let on_event = |e: ApplyEvent| {
        in_flight.event(&e);
        progress.event(e);
    };
    // The rollback, if any, listens to the same interrupts.
    let rollback_cancel = cancel_rx.clone();
    let report: ApplyReport =
        gig_engine::apply::apply(plan, providers, store, &opts, cancel_rx, &on_event).await;
    progress.finish();
    let diags = report.failure_diagnostics();
    ui.diagnostics(&diags, sources);
    for (addr, because) in &report.skipped {
        errln!("skipped {addr}: it needs {because}, which failed");
    }
    if !report.not_started.is_empty() {
        errln!(
            "not started: {}",
            report
                .not_started
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for (name, reason) in &report.output_errors {
        ui.error(&format!("output {name} could not be evaluated: {reason}"));
    }
    if let Some(err) = &report.state_error {
        if report.state_lock_lost {
            let d = context::lock_lost_diagnostic(&settings.stack.state.to_string(), err);
            ui.diagnostics(&[d], sources);
        } else {
            ui.error(&format!("writing state failed, apply stopped: {err}"));
        }
    }
    let verb = if plan.destroy { "Destroy" } else { "Apply" };
    let outcome = if report.cancelled {
        "interrupted"
    } else if report.is_success() {
        "complete"
    } else {
        "failed"
    };
    outln!(
        "\n{verb} {outcome}: {} succeeded, {} failed, {} skipped, {} not started.",
        report.succeeded.len(),
        report.failed.len(),
        report.skipped.len(),
        report.not_started.len()
    );
    if report.is_success() {
        print_outputs(&report.outputs, None, OutputStyle::Text, false)?;
    }
    let failed_for_good =
        !report.failed.is_empty() && !report.cancelled && report.state_error.is_none();
    if settings.rollback_on_failure && failed_for_good {
        let run = RunContext {
            providers,
            store,
            opts: &opts,
            cancel: rollback_cancel,
            in_flight: &in_flight,
        };
        roll_back(ui, plan, &report, run, sources).await?;
    }
    Ok(if report.cancelled {
        INTERRUPTED
    } else if report.is_success() {
        OK
    } else {
        ERROR
    })
}

/// What a rollback runs with: the apply's providers, state, options and interrupts.
struct RunContext<'a> {
    providers: &'a Providers,
    store: &'a dyn StateBackend,
    opts: &'a ApplyOptions,
    cancel: tokio::sync::watch::Receiver<bool>,
    in_flight: &'a InFlight,
}

/// `--rollback-on-failure` after a failed apply: undoes what it did and prints what was
/// undone and what was not. The apply's exit code (1) stands either way.
async fn roll_back(
    ui: &Ui,
    plan: &Plan,
    report: &ApplyReport,
    run: RunContext<'_>,
    sources: &SourceMap,
) -> anyhow::Result<()> {
    outln!("\nRolling back what this apply did (--rollback-on-failure)...");
    let on_event = |e: ApplyEvent| run.in_flight.event(&e);
    let rolled = gig_engine::rollback::rollback(
        plan,
        report,
        run.providers,
        run.store,
        run.opts,
        run.cancel,
        &on_event,
    )
    .await?;
    ui.diagnostics(&rolled.run.failure_diagnostics(), sources);
    if let Some(err) = &rolled.run.state_error {
        ui.error(&format!("writing state failed, rollback stopped: {err}"));
    }
    for (addr, action) in &rolled.undone {
        let how = match action {
            gig_engine::model::Action::Create => "deleted",
            _ => "restored to its Prior value",
        };
        outln!("  undone: {addr} ({how})");
    }
    for (addr, reason) in &rolled.not_undone {
        outln!("  not undone: {addr}: {reason}");
    }
    outln!(
        "\nRollback {}: {} undone, {} not undone.",
        if rolled.is_complete() {
            "complete"
        } else {
            "incomplete"
        },
        rolled.undone.len(),
        rolled.not_undone.len()
    );
    Ok(())
}

/// How `gig output` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OutputStyle {
    /// `name = value` lines (after apply: under an `Outputs:` heading).
    Text,
    /// One JSON object.
    Json,
    /// One value alone (`--raw`).
    Raw,
}

fn print_outputs(
    outputs: &BTreeMap<String, Value>,
    only: Option<&str>,
    style: OutputStyle,
    show_secret: bool,
) -> anyhow::Result<()> {
    let selected: BTreeMap<&String, Value> = outputs
        .iter()
        .filter(|(k, _)| only.is_none_or(|o| o == k.as_str()))
        .map(|(k, v)| (k, if show_secret { v.revealed() } else { v.clone() }))
        .collect();
    if let Some(name) = only {
        let Some(value) = selected.values().next() else {
            bail!("no output named `{name}`");
        };
        if value.is_secret() {
            bail!(
                "output `{name}` is secret; pass --show-secret to print it (it will appear in clear)"
            );
        }
    }
    match style {
        OutputStyle::Json => {
            let map: serde_json::Map<String, serde_json::Value> = selected
                .iter()
                .map(|(k, v)| ((*k).clone(), v.to_json_redacted()))
                .collect();
            outln!("{}", serde_json::to_string_pretty(&map)?);
        }
        OutputStyle::Raw => {
            for v in selected.values() {
                match v.as_str() {
                    Some(s) => outln!("{s}"),
                    None => outln!("{}", serde_json::to_string(&v.to_json_redacted())?),
                }
            }
        }
        OutputStyle::Text if selected.is_empty() => {}
        OutputStyle::Text => {
            if only.is_none() {
                outln!("\nOutputs:");
            }
            for (k, v) in selected {
                match (only, v.as_str()) {
                    (Some(_), Some(s)) => outln!("{s}"),
                    _ => outln!("  {k} = {}", v.display()),
                }
            }
        }
    }
    Ok(())
}

/// `gig show FILE`
pub fn show(ui: &Ui, args: ShowArgs) -> anyhow::Result<u8> {
    let file = match PlanFile::read_with(&args.plan, context::keys()) {
        Ok(file) => file,
        Err(err) => {
            ui.diagnostics(&[err.diagnostic()], &SourceMap::new());
            return Ok(ERROR);
        }
    };
    print_plan(ui, &file.plan, args.format)?;
    Ok(OK)
}

/// `gig output`
pub fn output(_ui: &Ui, args: OutputArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let store = context::open_existing_state(&settings)?;
    let snapshot = store.snapshot()?;
    let style = if args.raw {
        OutputStyle::Raw
    } else if args.json || args.format == OutputFormat::Json {
        OutputStyle::Json
    } else {
        OutputStyle::Text
    };
    print_outputs(
        &snapshot.outputs,
        args.name.as_deref(),
        style,
        args.show_secret,
    )?;
    Ok(OK)
}

/// `gig graph`
pub fn graph(ui: &Ui, args: GraphArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::new(&args.stack)?;
    let registry = context::registry();
    let Some(stack) = context::load_stack(ui, &settings, &registry) else {
        return Ok(ERROR);
    };
    let snapshot = context::snapshot_or_empty(&settings)?;
    let (graph, diags) = gig_engine::graph::build(&stack.config, &snapshot);
    ui.diagnostics(&diags, &stack.sources);
    if has_errors(&diags) {
        return Ok(ERROR);
    }
    out!("{}", graph.to_dot());
    Ok(OK)
}

/// `gig import ADDR ID`
pub async fn import(ui: &Ui, args: ImportArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let addr = parse_addr(&args.address)?;
    if addr.mode == Mode::Data {
        bail!("{addr} is a data source; only managed resources can be imported");
    }
    let registry = context::registry();
    let Some(mut stack) = context::load_stack(ui, &settings, &registry) else {
        return Ok(ERROR);
    };
    let store = context::open_state(&settings)?;
    if let Err(refused) = context::settle_identity(&mut stack, &settings, store.as_ref())? {
        ui.diagnostics(&[refused], &stack.sources);
        return Ok(ERROR);
    }
    let Some(rc) = stack.config.resource(&addr) else {
        bail!("{addr} is not declared in the configuration; add its resource block first");
    };
    if store.snapshot()?.resources.contains_key(&addr) {
        bail!("{addr} is already in state; use `gig state rm` first to re-import");
    }
    let providers = pipeline::configure_providers(&registry, &stack.config, []).await?;
    let provider = providers
        .get(&rc.provider)
        .context("provider not configured")?;
    let ctx = OpContext {
        address: addr.to_string(),
        stack: stack.config.stack.clone(),
        env: settings.env.clone(),
        ..OpContext::default()
    };
    let value = provider
        .import(&ctx, &addr.rtype, &args.id)
        .await
        .map_err(|e| anyhow::anyhow!("importing {addr} ({}): {e}", args.id))?
        .with_context(|| format!("{} has no object with id {}", addr.rtype, args.id))?;
    let schema_version = registry
        .resource_schema(&addr.rtype, false)
        .map_or(0, |s| s.version);
    context::record_identity(store.as_ref(), &stack.config.stack)?;
    store.begin("import")?;
    store.put(&ResourceRecord {
        addr: addr.clone(),
        provider: rc.provider.clone(),
        id: args.id.clone(),
        value,
        dependencies: rc.dependencies.iter().map(|d| d.target.clone()).collect(),
        schema_version,
    })?;
    outln!(
        "Imported {addr} (id {}). Run `gig plan` to see any differences from the configuration.",
        args.id
    );
    Ok(OK)
}

fn parse_addr(s: &str) -> anyhow::Result<ResourceAddr> {
    ResourceAddr::parse(s).with_context(|| {
        format!("`{s}` is not a resource address (e.g. aws.vpc.main or aws.subnet.private[\"a\"])")
    })
}

/// `gig state list`
pub fn state_list(_ui: &Ui, args: StateArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let snapshot = context::open_existing_state(&settings)?.snapshot()?;
    for (addr, rec) in &snapshot.resources {
        outln!("{addr}\t{}", rec.id);
    }
    // Creates an interrupted apply left unresolved; the next plan settles them.
    for (addr, intent) in &snapshot.intents {
        let id = intent.id.as_deref().unwrap_or("(id not known)");
        outln!(
            "{addr}\t{id}\tinterrupted create, started {}",
            intent.started
        );
    }
    // Old objects of create-before-destroy replacements; the next apply deletes them.
    for d in snapshot.deposed.values() {
        outln!("{}\t{}\tdeposed since {}", d.addr, d.id, d.since);
    }
    Ok(OK)
}

/// `gig state show ADDR`
pub fn state_show(_ui: &Ui, args: StateAddrArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let addr = parse_addr(&args.address)?;
    let snapshot = context::open_existing_state(&settings)?.snapshot()?;
    let deposed: Vec<serde_json::Value> = snapshot
        .deposed
        .values()
        .filter(|d| d.addr == addr)
        .map(|d| {
            serde_json::json!({
                "id": d.id,
                "since": d.since,
                "value": d.value.to_json_redacted(),
            })
        })
        .collect();
    let rec = snapshot.resources.get(&addr);
    if rec.is_none() && deposed.is_empty() {
        anyhow::bail!("no resource {addr} in state");
    }
    let mut shown = match rec {
        Some(rec) => serde_json::json!({
            "address": addr.to_string(),
            "provider": rec.provider,
            "id": rec.id,
            "dependencies": rec.dependencies.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "schema_version": rec.schema_version,
            "value": rec.value.to_json_redacted(),
        }),
        None => serde_json::json!({ "address": addr.to_string() }),
    };
    // Old objects replaced at this address and not deleted yet.
    if !deposed.is_empty() {
        shown["deposed"] = serde_json::Value::Array(deposed);
    }
    outln!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(OK)
}

/// `gig state rm ADDR`
pub fn state_rm(_ui: &Ui, args: StateAddrArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let addr = parse_addr(&args.address)?;
    context::open_state(&settings)?.rm(&addr)?;
    outln!("Removed {addr} from state. The cloud object was left alone.");
    Ok(OK)
}

/// `gig state mv FROM TO`
pub fn state_mv(_ui: &Ui, args: StateMvArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let (from, to) = (parse_addr(&args.from)?, parse_addr(&args.to)?);
    context::open_state(&settings)?.mv(&from, &to)?;
    outln!("Moved {from} to {to}.");
    Ok(OK)
}

/// `gig state history`
pub fn state_history(_ui: &Ui, args: StateArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    for h in context::open_existing_state(&settings)?.history()? {
        outln!(
            "{:>5}  {}  {:<10} {} resources",
            h.serial,
            h.started,
            h.operation,
            h.changed.len()
        );
    }
    Ok(OK)
}

/// `gig state rename-stack NAME`: the one way to change the identity a state belongs to.
pub fn state_rename_stack(_ui: &Ui, args: StateRenameArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    if let Err(why) = gig_dsl::config::check_stack_name(&args.name) {
        let d = Diagnostic::error(
            gig_core::diag::Code::E0355,
            "invalid stack name",
            gig_core::span::Span::DETACHED,
        )
        .with_detail(format!("The stack's name {why}"));
        return Err(Refusal(d).into());
    }
    let store = context::open_existing_state(&settings)?;
    // A written state without a recorded identity belongs to the directory's name.
    let before = store
        .stack_identity()?
        .unwrap_or_else(|| gig_dsl::load::directory_name(&settings.dir));
    store.set_stack_identity(&args.name)?;
    outln!(
        "The state at {} now belongs to stack `{}` (it was `{before}`). Objects created before keep the tags and names they were created with.",
        settings.state,
        args.name
    );
    Ok(OK)
}

/// `gig state restore SERIAL`
pub fn state_restore(_ui: &Ui, args: StateRestoreArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let serial = context::open_state(&settings)?.restore(args.serial)?;
    outln!(
        "Restored the state of serial {} as serial {serial}.",
        args.serial
    );
    Ok(OK)
}

/// `gig state rekey`
pub fn state_rekey(_ui: &Ui, args: StateArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    // Refuses a state that was never written (E0361) before opening it for rekeying.
    drop(context::open_existing_state(&settings)?);
    let holder =
        gig_state::LockInfo::current(format!("gig state rekey ({})", settings.dir.display()));
    let count = match &settings.state {
        StateLocation::Dir(dir) => {
            let store = gig_state::Store::open_with(dir, holder, context::keys())?;
            let count = store.rekey()?;
            // Rebuilding the database leaves no earlier (clear or old-key) bytes on disk.
            store.compact()?;
            count
        }
        StateLocation::S3(location) => {
            gig_state_s3::S3Backend::open(location, holder, &context::s3_options())?.rekey()?
        }
    };
    outln!("Encrypted {count} stored values of the state under the current key.");
    Ok(OK)
}

/// A refusal with a detached diagnostic: `code`, a fixed summary, the detail and help.
fn refusal(code: gig_core::diag::Code, summary: &str, detail: String, help: &str) -> anyhow::Error {
    let d = Diagnostic::error(code, summary, gig_core::span::Span::DETACHED)
        .with_detail(detail)
        .with_help(help);
    anyhow::Error::new(Refusal(d))
}

/// `gig state unlock LOCK_ID`: breaks the lease of a shared state after confirmation.
pub fn state_unlock(ui: &Ui, args: StateUnlockArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let refuse = |summary: &str, detail: String| {
        refusal(
            gig_core::diag::Code::E0512,
            summary,
            detail,
            "`gig state unlock` takes the lock id that the error refusing the lock names",
        )
    };
    let StateLocation::S3(location) = &settings.state else {
        return Err(refuse(
            "this state's lock cannot be broken",
            format!(
                "The state at `{}` is a directory: its lock is released by the kernel when its holder \
                 exits, however it exits, so a lock there is always held by a running process.",
                settings.state
            ),
        ));
    };
    if !args.yes {
        if !ui.stdin_tty {
            bail!("refusing to break the lock without confirmation: stdin is not a terminal; pass --yes");
        }
        out!(
            "Break the lock {} of {location}? Its holder, if it still runs, fails when it next writes. Only 'yes' will be accepted: ",
            args.lock_id
        );
        std::io::stdout().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if line.trim() != "yes" {
            outln!("The lock was left alone.");
            return Ok(ERROR);
        }
    }
    match gig_state_s3::unlock(location, &args.lock_id, &context::s3_options())? {
        gig_state_s3::Unlock::Broken(holder) => {
            outln!(
                "Broke the lock {} of {location}, held by pid {} on {} running `{}` since {}.",
                args.lock_id, holder.pid, holder.host, holder.command, holder.since
            );
            Ok(OK)
        }
        gig_state_s3::Unlock::NotLocked => Err(refuse(
            "the state is not locked",
            format!("Nobody holds the lock of the state at `{location}`; nothing was changed."),
        )),
        gig_state_s3::Unlock::OtherId { holder, lock_id } => Err(refuse(
            "the state is locked under another lock id",
            format!(
                "The state at `{location}` is locked under the id {lock_id} (pid {} on {} running `{}` since {}), \
                 not {}; nothing was changed.",
                holder.pid, holder.host, holder.command, holder.since, args.lock_id
            ),
        )),
    }
}

/// `gig state migrate --to LOCATION`: copies the state with its lineage, serial and
/// history to another location (a directory or an S3 prefix, from either), then marks
/// the source as moved so nobody keeps writing to it.
pub fn state_migrate(_ui: &Ui, args: StateMigrateArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let dest_args = crate::args::StackArgs {
        state: Some(args.to.clone()),
        ..args.stack.clone()
    };
    let dest_settings = StackSettings::new(&dest_args)?;
    let refuse = |summary: &str, detail: String| {
        refusal(
            gig_core::diag::Code::E0514,
            summary,
            detail,
            "`gig state migrate --to LOCATION` moves a state into a directory or an S3 prefix that holds none yet",
        )
    };
    if dest_settings.state.recorded() == settings.state.recorded() {
        return Err(refuse(
            "the state cannot be migrated there",
            format!("The state already lives at `{}`.", settings.state),
        ));
    }
    let source = context::open_existing_state(&settings)?;
    let dest_location = dest_settings.state.clone();
    let dest = context::open_state(&dest_settings)?;
    if dest.snapshot()?.serial != 0 || !dest.history()?.is_empty() {
        return Err(refuse(
            "the state cannot be migrated there",
            format!(
                "`{dest_location}` already holds a state; nothing was copied and `{}` is unchanged.",
                settings.state
            ),
        ));
    }
    let serial = dest.import_history(source.as_ref())?;
    let sessions = dest.history()?.len();
    drop(dest);
    let moved_to = match &dest_location {
        StateLocation::Dir(_) => dest_location.recorded().display().to_string(),
        StateLocation::S3(loc) => loc.to_string(),
    };
    source.mark_moved(&moved_to)?;
    outln!(
        "Moved the state from {} to {dest_location} (serial {serial}, {sessions} sessions of history). \
         The old state is marked as moved: pass --state {} (or set GIG_STATE) from now on.",
        settings.state, args.to
    );
    Ok(OK)
}

/// `gig state export`
pub fn state_export(_ui: &Ui, args: StateArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let json = context::open_existing_state(&settings)?
        .snapshot()?
        .to_json_redacted();
    outln!("{}", serde_json::to_string_pretty(&json)?);
    Ok(OK)
}

/// Refreshes everything in `snapshot` and compares Refreshed with Prior, printing read
/// failures: what `gig drift` and `gig apply --refresh-only` share. `Ok(None)` when reads
/// failed.
async fn refresh_and_detect(
    ui: &Ui,
    registry: &gig_provider::Registry,
    stack: &Stack,
    snapshot: &Snapshot,
    options: &PlanOptions,
) -> anyhow::Result<Option<(Refreshed, gig_engine::drift::DriftReport)>> {
    let outcome = pipeline::detect_drift(stack, snapshot, registry, options).await?;
    ui.diagnostics(&outcome.diagnostics, &stack.sources);
    Ok(outcome.drift)
}

/// `gig drift`
pub async fn drift(ui: &Ui, args: DriftArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::with_state(&args.stack)?;
    let started = std::time::Instant::now();
    let registry = context::registry();
    let Some(mut stack) = context::load_stack(ui, &settings, &registry) else {
        return Ok(ERROR);
    };
    let store = context::open_existing_state(&settings)?;
    if let Err(refused) = context::settle_identity(&mut stack, &settings, store.as_ref())? {
        ui.diagnostics(&[refused], &stack.sources);
        return Ok(ERROR);
    }
    let snapshot = store.snapshot()?;
    drop(store);
    let Some((_, report)) = refresh_and_detect(
        ui,
        &registry,
        &stack,
        &snapshot,
        &PlanOptions {
            parallelism: args.parallelism.max(1),
            env: settings.env.clone(),
            ..PlanOptions::default()
        },
    )
    .await?
    else {
        return Ok(ERROR);
    };
    let timing = gig_engine::drift::CheckTiming {
        timestamp: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        duration: started.elapsed().as_secs_f64(),
    };
    let out = match args.format {
        DriftFormat::Text => gig_engine::drift::text(&report),
        DriftFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&gig_engine::drift::json(&report))?
        ),
        DriftFormat::Markdown => {
            gig_engine::drift::markdown(&report, gig_engine::drift::MARKDOWN_MAX_CHARS)
        }
        DriftFormat::Prometheus => gig_engine::drift::prometheus(&report, timing),
    };
    write_stdout(&out)?;
    if let Some(path) = &args.out {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &out).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.has_drift() { CHANGES } else { OK })
}

/// `gig check`
pub fn check(ui: &Ui, args: CheckArgs) -> anyhow::Result<u8> {
    let settings = StackSettings::new(&args.stack)?;
    let registry = context::registry();
    let Some(stack) = context::load_stack(ui, &settings, &registry) else {
        return Ok(ERROR);
    };
    let report = gig_engine::policy::check(&stack.config, &stack.sources);
    match args.format {
        CheckFormat::Text => {
            ui.diagnostics(&report.findings, &stack.sources);
            for (finding, reason) in &report.accepted {
                outln!("accepted {} ({}): {reason}", finding.code, finding.summary);
            }
            let errors = report.findings.iter().filter(|d| d.is_error()).count();
            outln!(
                "Policy: {errors} error(s), {} warning(s), {} accepted.",
                report.findings.len() - errors,
                report.accepted.len()
            );
        }
        CheckFormat::Json => {
            outln!(
                "{}",
                serde_json::to_string_pretty(&report::to_json(&report.findings, &stack.sources))?
            );
        }
        CheckFormat::Sarif => {
            let sarif = crate::sarif::log(&report.findings, &report.accepted, &stack.sources);
            outln!("{}", serde_json::to_string_pretty(&sarif)?);
        }
    }
    Ok(if has_errors(&report.findings) {
        ERROR
    } else {
        OK
    })
}

/// `gig providers schema`
pub fn providers_schema(_ui: &Ui, args: ProvidersSchemaArgs) -> anyhow::Result<u8> {
    let registry = context::registry();
    let schemas: Vec<&gig_provider::ProviderSchema> = registry
        .names()
        .filter_map(|n| registry.get(n))
        .map(|f| f.schema())
        .collect();
    let out = match args.format {
        SchemaFormat::Json => serde_json::to_string_pretty(&gig_provider::schema::schemas_json(
            schemas.iter().copied(),
        ))?,
        SchemaFormat::Text => {
            let mut lines = Vec::new();
            for p in &schemas {
                lines.push(format!("provider {}", p.name));
                lines.extend(p.resources.keys().map(|t| format!("  resource {t}")));
                lines.extend(p.data_sources.keys().map(|t| format!("  data {t}")));
            }
            lines.join("\n")
        }
    };
    write_stdout(&out)?;
    Ok(OK)
}
