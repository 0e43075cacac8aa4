//! The plan pipeline: the one road from a stack to a [`Plan`], shared by every command,
//! test and benchmark.
//!
//! ```text
//! load (dsl) ─▶ check (schemas) ─▶ policy ─▶ graph ─▶ configure providers
//!            ─▶ refresh (Prior → Refreshed) ─▶ data sources ─▶ plan (pure)
//! ```
//!
//! [`load_dir`] and [`load_str`] run the first two stages and return every diagnostic
//! they found. [`plan_stack`] runs the rest. A stage that finds a user mistake stops the
//! pipeline and says which stage it was ([`PlanOutcome::stopped`]); every diagnostic found
//! until then — warnings, policy findings, read failures at their resource blocks — is
//! in [`PlanOutcome::diagnostics`]. Infrastructure failures outside any resource (a
//! provider that cannot be configured) are a typed [`PipelineError`].
//!
//! The CLI adds only flags, rendering and exit codes on top of this module.
//!
//! # Cancel safety
//!
//! [`plan_stack`] only reads (state is passed in; the cloud is only read); dropping its
//! future at any await point leaves nothing behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gig_core::addr::ResourceAddr;
use gig_core::diag::{has_errors, Diagnostic};
use gig_core::span::SourceMap;
use gig_core::value::Value;
use gig_dsl::config::Config;
use gig_dsl::load::{LoadOptions, Loaded};
use gig_provider::{Provider, ProviderError, Registry};
use gig_state::Snapshot;
use sha2::{Digest, Sha256};

use crate::drift::DriftReport;
use crate::model::Plan;
use crate::refresh::ReadContext;

/// Configured providers by name.
pub type Providers = BTreeMap<String, Arc<dyn Provider>>;

/// Refreshed values by address (`None`: the object is gone).
pub type Refreshed = BTreeMap<ResourceAddr, Option<Value>>;

/// A loaded stack whose configuration passed the schema checks.
#[derive(Clone, Debug)]
pub struct Stack {
    /// The lowered configuration (Desired).
    pub config: Config,
    /// Its sources, for rendering diagnostics.
    pub sources: SourceMap,
    /// Warnings found while loading and checking.
    pub warnings: Vec<Diagnostic>,
}

impl Stack {
    /// The stack when `loaded` has a configuration and no error diagnostics; otherwise
    /// the sources and every diagnostic, for the caller to report.
    pub fn from_loaded(loaded: Loaded) -> Result<Stack, (SourceMap, Vec<Diagnostic>)> {
        match loaded.config {
            Some(config) if !has_errors(&loaded.diagnostics) => Ok(Stack {
                config,
                sources: loaded.sources,
                warnings: loaded.diagnostics,
            }),
            _ => Err((loaded.sources, loaded.diagnostics)),
        }
    }

    /// A digest of everything that went into the configuration: every source file read
    /// (named relative to the stack directory `dir`, so the digest does not depend on
    /// where gig runs) and the final value of every declared param (secret ones
    /// included, hashed with the rest), and the env. Environment variables that name no
    /// param do not count.
    pub fn config_digest(&self, dir: &Path) -> String {
        config_digest(&self.sources, &self.config, dir)
    }

    /// Every source file read, named relative to the stack directory `dir`, with the
    /// SHA-256 of its text: what a stale saved plan names when the sources changed.
    pub fn source_digests(&self, dir: &Path) -> BTreeMap<String, String> {
        relative_sources(&self.sources, dir)
            .into_iter()
            .map(|(path, text)| (path, hex::encode(Sha256::digest(text.as_bytes()))))
            .collect()
    }
}

/// Every source's path relative to `dir` (as text) and its text, sorted by path.
fn relative_sources<'s>(sources: &'s SourceMap, dir: &Path) -> Vec<(String, &'s str)> {
    let mut files: Vec<(String, &str)> = sources
        .iter()
        .map(|(_, f)| {
            let path = f.path.strip_prefix(dir).unwrap_or(&f.path);
            (path.display().to_string(), f.text.as_str())
        })
        .collect();
    files.sort();
    files
}

/// Loads a stack directory and checks it against the providers' schemas.
pub fn load_dir(dir: &Path, opts: &LoadOptions, registry: &Registry) -> Loaded {
    checked(gig_dsl::load::load_dir(dir, opts), registry)
}

/// Loads one in-memory source as a stack (tests and benchmarks) and checks it.
pub fn load_str(name: &str, text: &str, opts: &LoadOptions, registry: &Registry) -> Loaded {
    checked(gig_dsl::load::load_str(name, text, opts), registry)
}

fn checked(mut loaded: Loaded, registry: &Registry) -> Loaded {
    if let Some(config) = &loaded.config {
        loaded
            .diagnostics
            .extend(crate::check::check(config, registry));
    }
    loaded
}

/// What a plan run does besides diffing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// Read every Prior object from the cloud first (`--refresh`).
    pub refresh: bool,
    /// Plan the deletion of everything in state.
    pub destroy: bool,
    /// The most provider reads in flight at once.
    pub parallelism: usize,
    /// Environment name, for tags and provider calls.
    pub env: String,
    /// Whether policy errors stop the plan.
    pub policy: PolicyMode,
    /// Plan only these instances (a group address names all its instances) and what
    /// they need (`--target`); empty: everything.
    pub targets: Vec<ResourceAddr>,
    /// Leave out these instances and everything that needs them (`--exclude`).
    pub excludes: Vec<ResourceAddr>,
    /// Replace these instances even though nothing forces it (`--replace`).
    pub replace: Vec<ResourceAddr>,
}

/// What a failed built-in policy check does to a plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PolicyMode {
    /// Errors stop the plan (the default).
    #[default]
    Enforce,
    /// Every finding is reported as a warning and the plan goes on (`--policy=warn`),
    /// e.g. while migrating a stack whose findings are not yet fixed or accepted.
    Warn,
}

impl Default for PlanOptions {
    fn default() -> PlanOptions {
        PlanOptions {
            refresh: true,
            destroy: false,
            parallelism: 32,
            env: "default".to_string(),
            policy: PolicyMode::Enforce,
            targets: Vec::new(),
            excludes: Vec::new(),
            replace: Vec::new(),
        }
    }
}

/// The stage at which a plan run stopped on a user mistake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// A built-in policy check failed (and was not accepted).
    Policy,
    /// The resource graph has a cycle or a bad reference.
    Graph,
    /// Reading Prior objects from the cloud failed.
    Refresh,
    /// Reading a data source failed, or its arguments are wrong.
    Data,
    /// The planner found an error (for example `prevent_destroy`).
    Plan,
}

/// Wall time of each stage, for logs and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageTimes {
    /// Policy checks.
    pub policy: Duration,
    /// Building the graph.
    pub graph: Duration,
    /// Configuring providers.
    pub configure: Duration,
    /// Refresh.
    pub refresh: Duration,
    /// Data sources.
    pub data: Duration,
    /// The pure planner.
    pub plan: Duration,
}

/// Everything a plan run produced.
pub struct PlanOutcome {
    /// The plan, when the planner ran. When the planner itself found errors (such as
    /// `prevent_destroy`), the plan is kept for display but `stopped` is set and the
    /// plan must not be applied.
    pub plan: Option<Plan>,
    /// Where the run stopped, when it did.
    pub stopped: Option<Stage>,
    /// Every diagnostic found: load warnings, policy findings, read failures at their
    /// resource blocks, planner diagnostics.
    pub diagnostics: Vec<Diagnostic>,
    /// The providers configured for this run (apply reuses them).
    pub providers: Providers,
    /// Refreshed values, when refresh ran and succeeded.
    pub refreshed: Option<Refreshed>,
    /// Stage timings.
    pub times: StageTimes,
}

/// An infrastructure failure outside any resource.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The stack or its state names a provider gig does not have.
    #[error("unknown provider `{name}`")]
    UnknownProvider {
        /// The provider's name.
        name: String,
    },
    /// Resources in state use a provider alias whose block is gone from the stack.
    #[error(
        "provider `{name}` manages resources in state but the stack has no `provider {name} {{ … }}` block: \
         restore the block (at least until those resources are destroyed), or move them with `gig state mv`"
    )]
    AliasNotConfigured {
        /// The provider alias, e.g. `aws.west`.
        name: String,
    },
    /// A provider could not be configured.
    #[error("configuring provider `{name}`: {error}")]
    Configure {
        /// The provider's name.
        name: String,
        /// Why.
        error: ProviderError,
    },
}

/// Plans `stack` against the Prior state `prior`: policy, graph, providers, refresh,
/// data sources and the pure planner, in that order.
pub async fn plan_stack(
    stack: &Stack,
    prior: &Snapshot,
    registry: &Registry,
    opts: &PlanOptions,
) -> Result<PlanOutcome, PipelineError> {
    let config = &stack.config;
    let mut outcome = PlanOutcome {
        plan: None,
        stopped: None,
        diagnostics: stack.warnings.clone(),
        providers: Providers::new(),
        refreshed: None,
        times: StageTimes::default(),
    };
    let stop = |mut outcome: PlanOutcome, stage: Stage| {
        outcome.stopped = Some(stage);
        Ok(outcome)
    };

    let t = Instant::now();
    let mut policy = crate::policy::check(config, &stack.sources);
    if opts.policy == PolicyMode::Warn {
        for finding in &mut policy.findings {
            finding.severity = gig_core::diag::Severity::Warning;
        }
    }
    outcome.times.policy = t.elapsed();
    let policy_failed = has_errors(&policy.findings);
    let policy_findings = policy.findings.clone();
    outcome.diagnostics.extend(policy.findings);
    if policy_failed {
        return stop(outcome, Stage::Policy);
    }

    // Creates an interrupted apply left unresolved are settled before anything reads
    // Prior: an adopted object is Prior from here on.
    let recovery = if prior.intents.is_empty() {
        None
    } else {
        let t = Instant::now();
        let intent_providers = prior.intents.values().map(|i| i.provider.clone());
        let state_providers = prior.resources.values().map(|r| r.provider.clone());
        outcome.providers =
            configure_providers(registry, config, state_providers.chain(intent_providers)).await?;
        let recovery = crate::recover::recover(
            prior,
            config,
            &outcome.providers,
            &opts.env,
            opts.parallelism,
        )
        .await;
        outcome.times.refresh += t.elapsed();
        if has_errors(&recovery.diagnostics) {
            outcome.diagnostics.extend(recovery.diagnostics);
            return stop(outcome, Stage::Refresh);
        }
        Some(recovery)
    };
    let prior = recovery.as_ref().map_or(prior, |r| &r.prior);

    // `moved` blocks rename records before anything else reads Prior.
    let moves = crate::moved::apply_moves(config, prior);
    if has_errors(&moves.diagnostics) {
        outcome.diagnostics.extend(moves.diagnostics);
        return stop(outcome, Stage::Graph);
    }
    let prior = &moves.prior;

    let t = Instant::now();
    let (graph, graph_diags) = crate::graph::build(config, prior);
    outcome.times.graph = t.elapsed();
    let graph_failed = has_errors(&graph_diags);
    outcome.diagnostics.extend(graph_diags);
    if graph_failed {
        return stop(outcome, Stage::Graph);
    }

    if recovery.is_none() {
        let t = Instant::now();
        let state_providers = prior.resources.values().map(|r| r.provider.clone());
        outcome.providers = configure_providers(registry, config, state_providers).await?;
        outcome.times.configure = t.elapsed();
    }

    // `import` blocks adopt existing objects into Prior; refresh then reads them as it
    // reads every recorded object.
    let imports = if config.imports.is_empty() || opts.destroy {
        None
    } else {
        let t = Instant::now();
        let imports = crate::import::import_objects(
            config,
            prior,
            &outcome.providers,
            registry,
            &opts.env,
            opts.parallelism,
        )
        .await;
        outcome.times.refresh += t.elapsed();
        let failed = has_errors(&imports.diagnostics);
        outcome
            .diagnostics
            .extend(imports.diagnostics.iter().cloned());
        if failed {
            return stop(outcome, Stage::Refresh);
        }
        Some(imports)
    };
    let prior = imports.as_ref().map_or(prior, |i| &i.prior);

    let t = Instant::now();
    if opts.refresh && !prior.resources.is_empty() {
        match crate::refresh::refresh(prior, &outcome.providers, opts.parallelism).await {
            Ok(values) => outcome.refreshed = Some(values),
            Err(err) => {
                outcome
                    .diagnostics
                    .extend(crate::refresh::failure_diagnostics(&err.failures));
                outcome.times.refresh = t.elapsed();
                return stop(outcome, Stage::Refresh);
            }
        }
    }
    outcome.times.refresh = t.elapsed();

    let t = Instant::now();
    let data = if opts.destroy {
        BTreeMap::new()
    } else {
        let ctx = ReadContext {
            stack: config.stack.clone(),
            env: opts.env.clone(),
            parallelism: opts.parallelism,
        };
        let read =
            crate::refresh::read_data_sources(config, &outcome.providers, registry, &ctx).await;
        outcome.times.data = t.elapsed();
        if !read.is_complete() {
            outcome.diagnostics.extend(read.into_diagnostics());
            return stop(outcome, Stage::Data);
        }
        read.values
    };

    // Resources expanded over data sources get their instances now that those are read;
    // they are checked against their schemas and the graph is built again with them.
    let expanded;
    let rebuilt;
    let (config, graph) = if config.deferred.is_empty() || opts.destroy {
        (config, &graph)
    } else {
        let mut with_instances = config.clone();
        let mut diags = gig_dsl::expansion::expand_deferred(&mut with_instances, &data);
        if !has_errors(&diags) {
            diags = crate::check::check(&with_instances, registry);
            diags.retain(Diagnostic::is_error);
        }
        if has_errors(&diags) {
            outcome.diagnostics.extend(diags);
            return stop(outcome, Stage::Data);
        }
        expanded = with_instances;
        let (g, graph_diags) = crate::graph::build(&expanded, prior);
        if has_errors(&graph_diags) {
            outcome.diagnostics.extend(graph_diags);
            return stop(outcome, Stage::Graph);
        }
        rebuilt = g;
        (&expanded, &rebuilt)
    };

    let t = Instant::now();
    let input = crate::plan::PlanInput {
        config,
        graph,
        prior,
        refreshed: outcome.refreshed.as_ref(),
        data: &data,
        registry,
        destroy: opts.destroy,
        replace: &opts.replace,
    };
    let (mut plan, plan_diags) = crate::plan::plan(&input);
    outcome.times.plan = t.elapsed();
    plan.env = opts.env.clone();
    if let Some(recovery) = recovery {
        plan.recovered = recovery.resolved;
    }
    plan.moved = moves.moved;
    if let Some(imports) = imports {
        plan.imported = imports.imported;
        plan.diagnostics.extend(imports.diagnostics);
    }
    plan.diagnostics.extend(policy_findings);
    if !opts.targets.is_empty() || !opts.excludes.is_empty() {
        let warning = narrow(&mut plan, graph, opts);
        plan.diagnostics.push(warning.clone());
        outcome.diagnostics.push(warning);
    }
    let plan_failed = has_errors(&plan_diags);
    outcome.diagnostics.extend(plan_diags);
    outcome.plan = Some(plan);
    if plan_failed {
        return stop(outcome, Stage::Plan);
    }
    Ok(outcome)
}

/// Whether `addr` is `pattern` or an instance of the group `pattern` names.
fn matches(addr: &ResourceAddr, pattern: &ResourceAddr) -> bool {
    addr == pattern || (pattern.key.is_none() && addr.group() == *pattern)
}

/// Keeps only the changes `--target` / `--exclude` select: targets with everything they
/// need, minus excluded instances with everything that needs them. Outputs are left
/// alone by a partial apply. Returns the warning that says the plan is partial.
fn narrow(plan: &mut Plan, graph: &crate::graph::ResourceGraph, opts: &PlanOptions) -> Diagnostic {
    use std::collections::BTreeSet;
    let all: Vec<ResourceAddr> = plan.changes.iter().map(|c| c.addr.clone()).collect();
    // Deletes of instances only in state have their dependencies in the change.
    let recorded: BTreeMap<&ResourceAddr, &[ResourceAddr]> = plan
        .changes
        .iter()
        .map(|c| (&c.addr, c.dependencies.as_slice()))
        .collect();
    let needs = |a: &ResourceAddr| -> Vec<ResourceAddr> {
        let mut out: Vec<ResourceAddr> = graph.dependencies(a).into_iter().cloned().collect();
        out.extend(recorded.get(a).into_iter().flat_map(|d| d.iter().cloned()));
        out
    };
    let mut keep: BTreeSet<ResourceAddr> = if opts.targets.is_empty() {
        all.iter().cloned().collect()
    } else {
        let mut keep = BTreeSet::new();
        let mut todo: Vec<ResourceAddr> = all
            .iter()
            .filter(|a| opts.targets.iter().any(|t| matches(a, t)))
            .cloned()
            .collect();
        while let Some(a) = todo.pop() {
            if keep.insert(a.clone()) {
                todo.extend(needs(&a));
            }
        }
        keep
    };
    let mut dropped: BTreeSet<ResourceAddr> = all
        .iter()
        .filter(|a| opts.excludes.iter().any(|x| matches(a, x)))
        .cloned()
        .collect();
    loop {
        let more: Vec<ResourceAddr> = all
            .iter()
            .filter(|a| !dropped.contains(*a) && needs(a).iter().any(|d| dropped.contains(d)))
            .cloned()
            .collect();
        if more.is_empty() {
            break;
        }
        dropped.extend(more);
    }
    keep.retain(|a| !dropped.contains(a));
    let left_out: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| !keep.contains(&c.addr) && c.action != crate::model::Action::NoOp)
        .map(|c| c.addr.to_string())
        .collect();
    plan.changes.retain(|c| keep.contains(&c.addr));
    plan.moved.retain(|to, _| keep.contains(to));
    plan.imported.retain(|to, _| keep.contains(to));
    plan.partial = true;
    plan.summary = crate::model::Summary::of(&plan.changes);
    let detail = if left_out.is_empty() {
        "This plan covers only the selected instances; no other instance had changes.".to_string()
    } else {
        format!(
            "This plan covers only the selected instances. Changes left out: {}.",
            left_out.join(", ")
        )
    };
    Diagnostic::warning(
        gig_core::diag::Code::E0370,
        "the plan is partial",
        gig_core::span::Span::DETACHED,
    )
    .with_detail(detail)
    .with_help(
        "apply a full plan afterwards, so the state and outputs match the whole configuration",
    )
}

/// Configures every provider the configuration uses, plus `extra` (the providers of
/// resources only in state). Makes no cloud call: configuring only reads settings.
pub async fn configure_providers(
    registry: &Registry,
    config: &Config,
    extra: impl IntoIterator<Item = String>,
) -> Result<Providers, PipelineError> {
    let mut names: Vec<String> = config.providers.keys().cloned().collect();
    names.extend(extra);
    names.sort();
    names.dedup();
    let mut out = Providers::new();
    for name in names {
        let factory = registry
            .get(&name)
            .ok_or_else(|| PipelineError::UnknownProvider { name: name.clone() })?;
        let settings = match config.providers.get(&name) {
            Some(p) => p.settings.clone(),
            // An alias configured with defaults would silently point at the wrong
            // region or account.
            None if gig_core::addr::provider_kind(&name) != name => {
                return Err(PipelineError::AliasNotConfigured { name });
            }
            None => Value::Map(BTreeMap::new()),
        };
        let provider =
            factory
                .configure(&settings)
                .await
                .map_err(|error| PipelineError::Configure {
                    name: name.clone(),
                    error,
                })?;
        out.insert(name, provider);
    }
    Ok(out)
}

/// See [`Stack::config_digest`].
fn config_digest(sources: &SourceMap, config: &Config, dir: &Path) -> String {
    let mut h = Sha256::new();
    for (path, text) in relative_sources(sources, dir) {
        h.update(path.as_bytes());
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

/// What a drift check produced.
pub struct DriftOutcome {
    /// Refreshed values and the differences from Prior; `None` when reads failed.
    pub drift: Option<(Refreshed, DriftReport)>,
    /// Read failures at their resource blocks.
    pub diagnostics: Vec<Diagnostic>,
}

/// Refreshes everything in `prior` and compares Refreshed with Prior: `gig drift` and
/// `gig apply --refresh-only`.
pub async fn detect_drift(
    stack: &Stack,
    prior: &Snapshot,
    registry: &Registry,
    opts: &PlanOptions,
) -> Result<DriftOutcome, PipelineError> {
    let state_providers = prior.resources.values().map(|r| r.provider.clone());
    let providers = configure_providers(registry, &stack.config, state_providers).await?;
    match crate::refresh::refresh(prior, &providers, opts.parallelism).await {
        Ok(refreshed) => {
            let report =
                crate::drift::detect(&stack.config.stack, &opts.env, prior, &refreshed, registry);
            Ok(DriftOutcome {
                drift: Some((refreshed, report)),
                diagnostics: Vec::new(),
            })
        }
        Err(err) => Ok(DriftOutcome {
            drift: None,
            diagnostics: crate::refresh::failure_diagnostics(&err.failures),
        }),
    }
}
