//! One function per command. Each validates its raw arguments, does the work through the
//! library crates, renders, and returns the exit code.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use gig_core::addr::{Mode, ResourceAddr};
use gig_core::diag::{has_errors, Diagnostic};
use gig_core::span::SourceMap;
use gig_core::value::Value;
use gig_engine::apply::{ApplyOptions, ApplyReport};
use gig_engine::events::ApplyEvent;
use gig_engine::model::Plan;
use gig_engine::planfile::{PlanFile, Staleness, FORMAT_VERSION};
use gig_engine::render;
use gig_provider::{OpContext, Provider};
use gig_state::{ResourceRecord, Snapshot, Store};
use sha2::{Digest, Sha256};

use crate::args::{
    ApplyArgs, CheckArgs, CheckFormat, DestroyArgs, DiagFormat, DriftArgs, DriftFormat, FmtArgs,
    Format, GraphArgs, ImportArgs, OutputArgs, PlanArgs, ShowArgs, StackArgs, StateAddrArgs,
    StateArgs, StateMvArgs, StateRestoreArgs, ValidateArgs,
};
use crate::context::{self, Stack, Ui};
use crate::report;

/// Exit code: success, no changes.
const OK: u8 = 0;
/// Exit code: an error.
const ERROR: u8 = 1;
/// Exit code: changes or drift present.
const CHANGES: u8 = 2;
/// Exit code: interrupted.
const INTERRUPTED: u8 = 130;

type Providers = BTreeMap<String, Arc<dyn Provider>>;
type Refreshed = BTreeMap<ResourceAddr, Option<Value>>;

/// `gig validate`
pub fn validate(ui: &Ui, args: ValidateArgs) -> anyhow::Result<u8> {
    let registry = context::registry();
    let (sources, config, diags) = context::load_checked(&args.stack, &registry)?;
    match args.format {
        DiagFormat::Json => println!(
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
        println!("Valid: {n} resource instances.");
    }
    Ok(OK)
}

/// `gig fmt`
pub fn fmt(ui: &Ui, args: FmtArgs) -> anyhow::Result<u8> {
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
                changed.push(path.clone());
                if !args.check {
                    std::fs::write(path, formatted)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
            }
            Ok(_) => {}
            Err(diags) => {
                ui.diagnostics(&diags, &sources);
                failed = true;
            }
        }
    }
    for path in &changed {
        println!("{}", path.display());
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

/// Everything a plan run produced.
struct Planned {
    plan: Plan,
    sources: SourceMap,
    snapshot: Snapshot,
    store: Store,
    providers: Providers,
    config_digest: String,
}

/// Loads, refreshes and plans. `Ok(None)` when diagnostics were printed.
async fn make_plan(
    ui: &Ui,
    stack_args: &StackArgs,
    refresh: bool,
    destroy: bool,
    parallelism: usize,
) -> anyhow::Result<Option<Planned>> {
    let registry = context::registry();
    let Some(Stack {
        config,
        sources,
        warnings,
    }) = context::load_stack(ui, stack_args, &registry)?
    else {
        return Ok(None);
    };
    let config_digest = config_digest(&sources, &config);
    let policy = gig_engine::policy::check(&config, &sources);
    if has_errors(&policy.findings) {
        ui.diagnostics(&policy.findings, &sources);
        eprintln!("Policy checks failed; nothing was planned. Fix the findings or accept them with `# gig:accept CODE -- reason`.");
        return Ok(None);
    }
    let store = context::open_state(stack_args)?;
    let snapshot = store.snapshot()?;
    let (graph, graph_diags) = gig_engine::graph::build(&config, &snapshot);
    if has_errors(&graph_diags) {
        ui.diagnostics(&graph_diags, &sources);
        return Ok(None);
    }
    let state_providers = snapshot.resources.values().map(|r| r.provider.clone());
    let providers = context::configure_providers(&registry, &config, state_providers).await?;
    let refreshed = if refresh && !snapshot.resources.is_empty() {
        match gig_engine::refresh::refresh(&snapshot, &providers, parallelism).await {
            Ok(values) => Some(values),
            Err(err) => {
                ui.diagnostics(&read_failure_diagnostics(&err.failures), &sources);
                return Ok(None);
            }
        }
    } else {
        None
    };
    let data = if destroy {
        BTreeMap::new()
    } else {
        let ctx = gig_engine::refresh::ReadContext {
            stack: config.stack.clone(),
            env: context::env_name(stack_args),
            parallelism,
        };
        match gig_engine::refresh::read_data_sources(&config, &providers, &ctx).await {
            Ok(data) => data,
            Err(err) => {
                ui.diagnostics(&read_failure_diagnostics(&err.failures), &sources);
                return Ok(None);
            }
        }
    };
    let input = gig_engine::plan::PlanInput {
        config: &config,
        graph: &graph,
        prior: &snapshot,
        refreshed: refreshed.as_ref(),
        data: &data,
        registry: &registry,
        destroy,
    };
    let (mut plan, mut diags) = gig_engine::plan::plan(&input);
    plan.env = context::env_name(stack_args);
    plan.diagnostics.extend(policy.findings.iter().cloned());
    diags.extend(warnings);
    diags.extend(policy.findings);
    ui.diagnostics(&diags, &sources);
    if has_errors(&diags) {
        return Ok(None);
    }
    Ok(Some(Planned {
        plan,
        sources,
        snapshot,
        store,
        providers,
        config_digest,
    }))
}

/// A digest of everything that went into the configuration: every source file read and
/// the final value of every declared param (secret ones included, hashed with the rest).
/// Environment variables that name no param do not count.
fn config_digest(sources: &SourceMap, config: &gig_dsl::config::Config) -> String {
    let mut h = Sha256::new();
    let mut files: Vec<_> = sources
        .iter()
        .map(|(_, f)| (f.path.clone(), f.text.clone()))
        .collect();
    files.sort();
    for (path, text) in files {
        h.update(path.display().to_string().as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    for (name, param) in &config.params {
        h.update(name.as_bytes());
        h.update([1]);
        h.update(param.value.to_json().to_string().as_bytes());
        h.update([0]);
    }
    h.update(config.env.clone().unwrap_or_default().as_bytes());
    hex::encode(h.finalize())
}

fn print_plan(ui: &Ui, plan: &Plan, format: Format) -> anyhow::Result<()> {
    let out = match format {
        Format::Text => render::text(plan, &render::TextOptions { color: ui.color }),
        Format::Json => serde_json::to_string_pretty(&render::json(plan))?,
        Format::Markdown => render::markdown(plan, &render::MarkdownOptions::default()),
    };
    write_stdout(&out)
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
    let Some(p) = make_plan(
        ui,
        &args.stack,
        args.refresh,
        args.destroy,
        args.parallelism,
    )
    .await?
    else {
        return Ok(ERROR);
    };
    print_plan(ui, &p.plan, args.format)?;
    if let Some(out) = &args.out {
        let file = PlanFile {
            format_version: FORMAT_VERSION,
            gig_version: env!("CARGO_PKG_VERSION").to_string(),
            stack_dir: args.stack.dir.clone(),
            state_dir: context::state_dir(&args.stack),
            env: context::env_name(&args.stack),
            lineage: p.snapshot.lineage.clone(),
            serial: p.snapshot.serial,
            config_digest: p.config_digest.clone(),
            plan: p.plan.clone(),
        };
        file.write(out)?;
        eprintln!(
            "Saved the plan to {}. Apply exactly it with: gig apply {}",
            out.display(),
            out.display()
        );
    }
    let changes = p.plan.summary.has_changes();
    Ok(if args.detailed_exitcode && changes {
        CHANGES
    } else {
        OK
    })
}

/// `gig apply [DIR | PLANFILE]`
pub async fn apply(ui: &Ui, args: ApplyArgs) -> anyhow::Result<u8> {
    if args.stack.dir.is_file() {
        return apply_saved(ui, &args).await;
    }
    if args.refresh_only {
        return apply_refresh_only(ui, &args).await;
    }
    let Some(p) = make_plan(ui, &args.stack, args.refresh, false, args.parallelism).await? else {
        return Ok(ERROR);
    };
    print_plan(ui, &p.plan, Format::Text)?;
    if !p.plan.summary.has_changes() && p.plan.outputs.iter().all(|o| o.before == o.after) {
        return Ok(OK);
    }
    if !args.auto_approve && !confirm(ui, "apply")? {
        println!("Apply cancelled.");
        return Ok(ERROR);
    }
    execute(
        ui,
        &p.plan,
        &p.providers,
        &p.store,
        &p.sources,
        args.parallelism,
        &args.stack,
    )
    .await
}

/// `gig apply --refresh-only`: shows the drift, then records Refreshed values as state.
async fn apply_refresh_only(ui: &Ui, args: &ApplyArgs) -> anyhow::Result<u8> {
    let registry = context::registry();
    let Some(stack) = context::load_stack(ui, &args.stack, &registry)? else {
        return Ok(ERROR);
    };
    let store = context::open_state(&args.stack)?;
    let snapshot = store.snapshot()?;
    let Some((refreshed, report)) = refresh_and_detect(
        ui,
        &registry,
        &stack,
        &snapshot,
        &args.stack,
        args.parallelism,
    )
    .await?
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
    if !args.auto_approve && !confirm(ui, "record these values in the state")? {
        println!("Nothing recorded.");
        return Ok(ERROR);
    }
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
    println!(
        "Recorded {} resource(s) as they are in the cloud.",
        writes.len()
    );
    Ok(OK)
}

async fn apply_saved(ui: &Ui, args: &ApplyArgs) -> anyhow::Result<u8> {
    let file = PlanFile::read(&args.stack.dir)?;
    let mut stack_args = args.stack.clone();
    stack_args.dir = file.stack_dir.clone();
    stack_args.state_dir = Some(file.state_dir.clone());
    if file.env != "default" {
        stack_args.env = Some(file.env.clone());
    }
    let registry = context::registry();
    let (sources, config, diags) = context::load_checked(&stack_args, &registry)?;
    let Some(config) = config.filter(|_| !has_errors(&diags)) else {
        ui.diagnostics(&diags, &sources);
        return Ok(ERROR);
    };
    let digest = config_digest(&sources, &config);
    let store = context::open_state(&stack_args)?;
    let snapshot = store.snapshot()?;
    if let Some(stale) = file.staleness(&snapshot.lineage, snapshot.serial, &digest) {
        let why = match stale {
            Staleness::Lineage { planned, current } => {
                format!("it was made against state lineage {planned}, but the state's lineage is {current}")
            }
            Staleness::Serial { planned, current } => format!(
                "the state changed since the plan was made (serial {planned} then, {current} now)"
            ),
            Staleness::Config => {
                "the configuration or its params changed since the plan was made".to_string()
            }
        };
        eprintln!("error[gig::E0350]: the saved plan is stale and was not applied\n  {why}.\n  help: run `gig plan --out FILE` again and apply the new file.");
        return Ok(ERROR);
    }
    let state_providers = snapshot.resources.values().map(|r| r.provider.clone());
    let providers = context::configure_providers(&registry, &config, state_providers).await?;
    print_plan(ui, &file.plan, Format::Text)?;
    if !file.plan.summary.has_changes() && file.plan.outputs.iter().all(|o| o.before == o.after) {
        return Ok(OK);
    }
    execute(
        ui,
        &file.plan,
        &providers,
        &store,
        &sources,
        args.parallelism,
        &stack_args,
    )
    .await
}

/// `gig destroy`
pub async fn destroy(ui: &Ui, args: DestroyArgs) -> anyhow::Result<u8> {
    let Some(p) = make_plan(ui, &args.stack, true, true, args.parallelism).await? else {
        return Ok(ERROR);
    };
    print_plan(ui, &p.plan, Format::Text)?;
    if !p.plan.summary.has_changes() {
        return Ok(OK);
    }
    if !args.auto_approve && !confirm(ui, "destroy")? {
        println!("Destroy cancelled.");
        return Ok(ERROR);
    }
    execute(
        ui,
        &p.plan,
        &p.providers,
        &p.store,
        &p.sources,
        args.parallelism,
        &args.stack,
    )
    .await
}

fn confirm(ui: &Ui, what: &str) -> anyhow::Result<bool> {
    if !ui.stdin_tty {
        bail!(
            "refusing to {what} without confirmation: stdin is not a terminal; pass --auto-approve"
        );
    }
    print!("\nDo you want to {what} these changes? Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

async fn execute(
    ui: &Ui,
    plan: &Plan,
    providers: &Providers,
    store: &Store,
    sources: &SourceMap,
    parallelism: usize,
    stack: &StackArgs,
) -> anyhow::Result<u8> {
    let opts = ApplyOptions {
        parallelism: parallelism.max(1),
        stack: plan.stack.clone(),
        env: context::env_name(stack),
        ..ApplyOptions::default()
    };
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nInterrupt received: finishing calls in flight, starting nothing new.");
            let _ = cancel_tx.send(true);
        }
    });
    let progress = crate::progress::Progress::new(ui, plan);
    let on_event = |e: ApplyEvent| progress.event(e);
    let report: ApplyReport =
        gig_engine::apply::apply(plan, providers, store, &opts, cancel_rx, &on_event).await;
    progress.finish();
    let diags = failure_diagnostics(&report);
    ui.diagnostics(&diags, sources);
    for (addr, because) in &report.skipped {
        eprintln!("skipped {addr}: it needs {because}, which failed");
    }
    if !report.not_started.is_empty() {
        eprintln!(
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
        eprintln!("output {name} could not be evaluated: {reason}");
    }
    if let Some(err) = &report.state_error {
        eprintln!("error: writing state failed, apply stopped: {err}");
    }
    let verb = if plan.destroy { "Destroy" } else { "Apply" };
    let outcome = if report.cancelled {
        "interrupted"
    } else if report.is_success() {
        "complete"
    } else {
        "failed"
    };
    println!(
        "\n{verb} {outcome}: {} succeeded, {} failed, {} skipped, {} not started.",
        report.succeeded.len(),
        report.failed.len(),
        report.skipped.len(),
        report.not_started.len()
    );
    if report.is_success() {
        print_outputs(&report.outputs, None, false)?;
    }
    Ok(if report.cancelled {
        INTERRUPTED
    } else if report.is_success() {
        OK
    } else {
        ERROR
    })
}

/// Provider failures as diagnostics at the resource block that caused them, with the
/// cloud's code and message intact.
fn failure_diagnostics(report: &ApplyReport) -> Vec<Diagnostic> {
    report
        .failed
        .iter()
        .map(|(addr, error, span)| {
            provider_diagnostic(
                "E0401",
                "the provider rejected a change",
                addr,
                error,
                *span,
            )
        })
        .collect()
}

fn read_failure_diagnostics(failures: &[gig_engine::refresh::ReadFailure]) -> Vec<Diagnostic> {
    failures
        .iter()
        .map(|f| {
            provider_diagnostic(
                "E0402",
                "reading from the provider failed",
                &f.addr,
                &f.error,
                f.span,
            )
        })
        .collect()
}

fn provider_diagnostic(
    code: &'static str,
    summary: &str,
    addr: &ResourceAddr,
    error: &gig_provider::ProviderError,
    span: gig_core::span::Span,
) -> Diagnostic {
    let cloud_code = error
        .code
        .as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    Diagnostic::error(code, summary, span)
        .with_label(format!("{addr} failed here"))
        .with_detail(format!("{addr}: {}{cloud_code}", error.message))
}

fn print_outputs(
    outputs: &BTreeMap<String, Value>,
    only: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let selected: BTreeMap<&String, &Value> = outputs
        .iter()
        .filter(|(k, _)| only.is_none_or(|o| o == k.as_str()))
        .collect();
    if let Some(name) = only {
        if selected.is_empty() {
            bail!("no output named `{name}`");
        }
    }
    if json {
        let map: serde_json::Map<String, serde_json::Value> = selected
            .iter()
            .map(|(k, v)| ((*k).clone(), v.to_json_redacted()))
            .collect();
        println!("{}", serde_json::to_string_pretty(&map)?);
    } else if !selected.is_empty() {
        if only.is_none() {
            println!("\nOutputs:");
        }
        for (k, v) in selected {
            match (only, v.as_str()) {
                (Some(_), Some(s)) if !v.is_secret() => println!("{s}"),
                _ => println!("  {k} = {}", v.display()),
            }
        }
    }
    Ok(())
}

/// `gig show FILE`
pub fn show(ui: &Ui, args: ShowArgs) -> anyhow::Result<u8> {
    let file = PlanFile::read(&args.plan)?;
    print_plan(ui, &file.plan, args.format)?;
    Ok(OK)
}

/// `gig output`
pub fn output(_ui: &Ui, args: OutputArgs) -> anyhow::Result<u8> {
    let store = context::open_state(&args.stack)?;
    let snapshot = store.snapshot()?;
    print_outputs(&snapshot.outputs, args.name.as_deref(), args.json)?;
    Ok(OK)
}

/// `gig graph`
pub fn graph(ui: &Ui, args: GraphArgs) -> anyhow::Result<u8> {
    let registry = context::registry();
    let Some(stack) = context::load_stack(ui, &args.stack, &registry)? else {
        return Ok(ERROR);
    };
    let snapshot = if context::state_dir(&args.stack).exists() {
        context::open_state(&args.stack)?.snapshot()?
    } else {
        Snapshot::default()
    };
    let (graph, diags) = gig_engine::graph::build(&stack.config, &snapshot);
    ui.diagnostics(&diags, &stack.sources);
    if has_errors(&diags) {
        return Ok(ERROR);
    }
    print!("{}", graph.to_dot());
    Ok(OK)
}

/// `gig import ADDR ID`
pub async fn import(ui: &Ui, args: ImportArgs) -> anyhow::Result<u8> {
    let addr = parse_addr(&args.address)?;
    if addr.mode == Mode::Data {
        bail!("{addr} is a data source; only managed resources can be imported");
    }
    let registry = context::registry();
    let Some(stack) = context::load_stack(ui, &args.stack, &registry)? else {
        return Ok(ERROR);
    };
    let Some(rc) = stack.config.resource(&addr) else {
        bail!("{addr} is not declared in the configuration; add its resource block first");
    };
    let store = context::open_state(&args.stack)?;
    if store.snapshot()?.resources.contains_key(&addr) {
        bail!("{addr} is already in state; use `gig state rm` first to re-import");
    }
    let providers = context::configure_providers(&registry, &stack.config, []).await?;
    let provider = providers
        .get(&rc.provider)
        .context("provider not configured")?;
    let ctx = OpContext {
        address: addr.to_string(),
        stack: stack.config.stack.clone(),
        env: context::env_name(&args.stack),
    };
    let value = provider
        .import(&ctx, &addr.rtype, &args.id)
        .await
        .map_err(|e| anyhow::anyhow!("importing {addr} ({}): {e}", args.id))?
        .with_context(|| format!("{} has no object with id {}", addr.rtype, args.id))?;
    let schema_version = registry
        .resource_schema(&addr.rtype, false)
        .map_or(0, |s| s.version);
    store.begin("import")?;
    store.put(&ResourceRecord {
        addr: addr.clone(),
        provider: rc.provider.clone(),
        id: args.id.clone(),
        value,
        dependencies: rc.dependencies.iter().map(|d| d.target.clone()).collect(),
        schema_version,
    })?;
    println!(
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
    let snapshot = context::open_state(&args.stack)?.snapshot()?;
    for (addr, rec) in &snapshot.resources {
        println!("{addr}\t{}", rec.id);
    }
    Ok(OK)
}

/// `gig state show ADDR`
pub fn state_show(_ui: &Ui, args: StateAddrArgs) -> anyhow::Result<u8> {
    let addr = parse_addr(&args.address)?;
    let snapshot = context::open_state(&args.stack)?.snapshot()?;
    let rec = snapshot
        .resources
        .get(&addr)
        .with_context(|| format!("no resource {addr} in state"))?;
    let shown = serde_json::json!({
        "address": addr.to_string(),
        "provider": rec.provider,
        "id": rec.id,
        "dependencies": rec.dependencies.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "schema_version": rec.schema_version,
        "value": rec.value.to_json_redacted(),
    });
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(OK)
}

/// `gig state rm ADDR`
pub fn state_rm(_ui: &Ui, args: StateAddrArgs) -> anyhow::Result<u8> {
    let addr = parse_addr(&args.address)?;
    context::open_state(&args.stack)?.rm(&addr)?;
    println!("Removed {addr} from state. The cloud object was left alone.");
    Ok(OK)
}

/// `gig state mv FROM TO`
pub fn state_mv(_ui: &Ui, args: StateMvArgs) -> anyhow::Result<u8> {
    let (from, to) = (parse_addr(&args.from)?, parse_addr(&args.to)?);
    context::open_state(&args.stack)?.mv(&from, &to)?;
    println!("Moved {from} to {to}.");
    Ok(OK)
}

/// `gig state history`
pub fn state_history(_ui: &Ui, args: StateArgs) -> anyhow::Result<u8> {
    for h in context::open_state(&args.stack)?.history()? {
        println!(
            "{:>5}  {}  {:<10} {} resources",
            h.serial,
            h.started,
            h.operation,
            h.changed.len()
        );
    }
    Ok(OK)
}

/// `gig state restore SERIAL`
pub fn state_restore(_ui: &Ui, args: StateRestoreArgs) -> anyhow::Result<u8> {
    let serial = context::open_state(&args.stack)?.restore(args.serial)?;
    println!(
        "Restored the state of serial {} as serial {serial}.",
        args.serial
    );
    Ok(OK)
}

/// `gig state export`
pub fn state_export(_ui: &Ui, args: StateArgs) -> anyhow::Result<u8> {
    let json = context::open_state(&args.stack)?.export_json()?;
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(OK)
}

/// Refreshes everything in `snapshot` and compares Refreshed with Prior: what `gig drift`
/// and `gig apply --refresh-only` share. `Ok(None)` when reads failed (diagnostics printed).
async fn refresh_and_detect(
    ui: &Ui,
    registry: &gig_provider::Registry,
    stack: &Stack,
    snapshot: &Snapshot,
    stack_args: &StackArgs,
    parallelism: usize,
) -> anyhow::Result<Option<(Refreshed, gig_engine::drift::DriftReport)>> {
    let state_providers = snapshot.resources.values().map(|r| r.provider.clone());
    let providers = context::configure_providers(registry, &stack.config, state_providers).await?;
    let refreshed = match gig_engine::refresh::refresh(snapshot, &providers, parallelism).await {
        Ok(values) => values,
        Err(err) => {
            ui.diagnostics(&read_failure_diagnostics(&err.failures), &stack.sources);
            return Ok(None);
        }
    };
    let env = context::env_name(stack_args);
    let report =
        gig_engine::drift::detect(&stack.config.stack, &env, snapshot, &refreshed, registry);
    Ok(Some((refreshed, report)))
}

/// `gig drift`
pub async fn drift(ui: &Ui, args: DriftArgs) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let registry = context::registry();
    let Some(stack) = context::load_stack(ui, &args.stack, &registry)? else {
        return Ok(ERROR);
    };
    let state_dir = context::state_dir(&args.stack);
    if !state_dir.exists() {
        bail!(
            "no state at {}: nothing has been applied to this stack and env (check --env, --state-dir and GIG_STATE_DIR)",
            state_dir.display()
        );
    }
    let store = context::open_state(&args.stack)?;
    let snapshot = store.snapshot()?;
    drop(store);
    let Some((_, report)) = refresh_and_detect(
        ui,
        &registry,
        &stack,
        &snapshot,
        &args.stack,
        args.parallelism,
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
    let registry = context::registry();
    let Some(stack) = context::load_stack(ui, &args.stack, &registry)? else {
        return Ok(ERROR);
    };
    let report = gig_engine::policy::check(&stack.config, &stack.sources);
    match args.format {
        CheckFormat::Text => {
            ui.diagnostics(&report.findings, &stack.sources);
            for (finding, reason) in &report.accepted {
                println!("accepted {} ({}): {reason}", finding.code, finding.summary);
            }
            let errors = report.findings.iter().filter(|d| d.is_error()).count();
            println!(
                "Policy: {errors} error(s), {} warning(s), {} accepted.",
                report.findings.len() - errors,
                report.accepted.len()
            );
        }
        CheckFormat::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report::to_json(&report.findings, &stack.sources))?
            );
        }
        CheckFormat::Sarif => {
            let sarif = crate::sarif::log(&report.findings, &report.accepted, &stack.sources);
            println!("{}", serde_json::to_string_pretty(&sarif)?);
        }
    }
    Ok(if has_errors(&report.findings) {
        ERROR
    } else {
        OK
    })
}
