//! The planner: a pure, deterministic function from Desired, Prior and Refreshed values
//! to a [`Plan`]. No I/O, no clock, no randomness.
//!
//! # Algorithm
//!
//! Instances are visited in the graph's topological order, so every dependency has a
//! value in the [`ValueTable`] before its dependents are evaluated. For each managed
//! instance in the configuration:
//!
//! 1. **Desired**: its residual body is evaluated against the table. A reference to a
//!    dependency that stays (no-op or update) resolves to the dependency's current value
//!    (Refreshed, else Prior) with its planned attributes merged, so `vpc_id =
//!    aws.vpc.main.id` yields the real id and an unchanged stack plans clean; a
//!    reference to a dependency being created or replaced yields unknown values for
//!    what the cloud assigns.
//! 2. **Planned**: the Desired attributes, plus schema defaults for unset optional
//!    attributes, plus, when the object exists and stays, the current values of
//!    computed attributes (`id` included) and of optional+computed attributes the user
//!    left unset; on create or replace those are unknown. Attributes listed in
//!    `lifecycle.ignore_changes` keep their current value. Secret attributes are
//!    wrapped secret.
//! 3. **Diff**: attribute by attribute against the current value. Sets compare
//!    without regard to order, maps by key, lists element by element; null, absent and
//!    empty collections are equal; an unknown after-value is a change.
//! 4. **Action**: create when there is no current object (never applied, or found gone
//!    by refresh), no-op without differences, replace when a difference touches a
//!    force-new attribute (also when its new value is unknown), else update.
//!
//! Instances only in Prior are deleted; with `destroy`, every instance in Prior is.
//! Deleting or replacing an instance with `lifecycle.prevent_destroy` is an error
//! (`E0330`). Data sources take their values from [`PlanInput::data`].

// Pure: no clock, randomness, environment or I/O (clippy.toml lists what is denied).
#![deny(clippy::disallowed_methods, clippy::disallowed_macros)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gig_core::addr::{Mode, ResourceAddr};
use gig_core::diag::{Code, Diagnostic};
use gig_core::path::{AttrPath, Step};
use gig_core::span::Span;
use gig_core::value::Value;
use gig_dsl::config::{Config, ExprKind, Lifecycle, ResourceConfig};
use gig_dsl::eval::eval;
use gig_provider::{AttrType, Registry, ResourceSchema};
use gig_state::{ResourceRecord, Snapshot};

use crate::check::{problem_diagnostic, value_problems};
use crate::graph::ResourceGraph;
use crate::model::{Action, AttrChange, OutputChange, Plan, ResourceChange, Summary};
use crate::values::ValueTable;

/// Everything the planner reads. Nothing else influences the plan.
pub struct PlanInput<'a> {
    /// The lowered configuration (Desired).
    pub config: &'a Config,
    /// Its dependency graph, built from `config` and `prior`.
    pub graph: &'a ResourceGraph,
    /// The state before this run (Prior).
    pub prior: &'a Snapshot,
    /// Values read from the cloud (Refreshed): `None` when refresh was skipped; a
    /// `None` value for an object found gone. Instances missing from the map keep
    /// their Prior value.
    pub refreshed: Option<&'a BTreeMap<ResourceAddr, Option<Value>>>,
    /// Data source values read before planning.
    pub data: &'a BTreeMap<ResourceAddr, Value>,
    /// Provider schemas.
    pub registry: &'a Registry,
    /// Plan to delete everything in state.
    pub destroy: bool,
    /// Instances to replace even though nothing forces it (`--replace`).
    pub replace: &'a [ResourceAddr],
}

/// Plans the changes that make the infrastructure match the configuration.
///
/// Returns the plan and every diagnostic found. Warnings are also attached to
/// [`Plan::diagnostics`]; when an error is returned the plan must not be applied.
pub fn plan(input: &PlanInput) -> (Plan, Vec<Diagnostic>) {
    let mut p = Planner {
        input,
        table: ValueTable::new(),
        diags: Vec::new(),
        changes: Vec::new(),
    };
    let mut data = BTreeMap::new();
    // One hash per lookup instead of a binary search of address comparisons.
    let by_addr: HashMap<&ResourceAddr, &ResourceConfig> = input
        .config
        .resources
        .iter()
        .map(|r| (&r.addr, r))
        .collect();
    for addr in input.graph.order() {
        let rc = by_addr.get(addr).copied();
        match (addr.mode, rc) {
            (Mode::Data, Some(rc)) => {
                let value = match input.data.get(addr) {
                    Some(v) => {
                        data.insert(addr.clone(), v.clone());
                        v.clone()
                    }
                    None => p.unread_data(rc),
                };
                p.table.insert(addr.clone(), value);
            }
            (Mode::Data, None) => {}
            (Mode::Managed, Some(rc)) if !input.destroy => p.managed(rc),
            (Mode::Managed, _) => {
                if input.prior.resources.contains_key(addr) {
                    p.delete(addr, rc);
                }
            }
        }
    }
    let outputs = p.outputs();
    let mut changes = std::mem::take(&mut p.changes);
    changes.sort_by(|a, b| a.addr.cmp(&b.addr));
    let summary = Summary::of(&changes);
    let diags = p.diags;
    // Refresh saw these gone; a create of one re-creates what was deleted outside gig.
    let deleted_outside = changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .filter(|c| {
            input.prior.resources.contains_key(&c.addr)
                && matches!(input.refreshed.and_then(|r| r.get(&c.addr)), Some(None))
        })
        .map(|c| c.addr.clone())
        .collect();
    let plan = Plan {
        stack: input.config.stack.clone(),
        env: input
            .config
            .env
            .clone()
            .unwrap_or_else(|| "default".to_string()),
        changes,
        data,
        outputs,
        summary,
        destroy: input.destroy,
        partial: false,
        deleted_outside,
        recovered: BTreeMap::new(),
        moved: BTreeMap::new(),
        imported: BTreeMap::new(),
        deposed: input.prior.deposed.values().cloned().collect(),
        diagnostics: diags.iter().filter(|d| !d.is_error()).cloned().collect(),
    };
    (plan, diags)
}

struct Planner<'a, 'i> {
    input: &'a PlanInput<'i>,
    table: ValueTable,
    diags: Vec<Diagnostic>,
    changes: Vec<ResourceChange>,
}

impl Planner<'_, '_> {
    /// The current object: Refreshed when refresh ran and saw it, else Prior.
    /// `None` when never created or found gone.
    fn current(&self, addr: &ResourceAddr) -> Option<Value> {
        let record = self.input.prior.resources.get(addr)?;
        self.current_of(addr, record)
    }

    /// [`Planner::current`] for the Prior `record` of `addr`.
    fn current_of(&self, addr: &ResourceAddr, record: &ResourceRecord) -> Option<Value> {
        match self.input.refreshed.and_then(|r| r.get(addr)) {
            Some(Some(v)) => Some(v.clone()),
            Some(None) => None,
            None => Some(record.value.clone()),
        }
    }

    fn schema(&self, addr: &ResourceAddr) -> Option<&ResourceSchema> {
        self.input
            .registry
            .resource_schema(&addr.rtype, addr.mode == Mode::Data)
    }

    /// A data source not read before planning (its arguments were unknown): its
    /// arguments as far as known, every computed attribute unknown.
    fn unread_data(&mut self, rc: &ResourceConfig) -> Value {
        let args = eval(&rc.body, &self.table)
            .ok()
            .and_then(|v| v.as_map().cloned())
            .unwrap_or_default();
        let mut value = args;
        if let Some(schema) = self.schema(&rc.addr) {
            for (k, a) in &schema.attributes {
                if a.computed && !value.contains_key(k) {
                    value.insert(k.clone(), Value::Unknown);
                }
            }
        }
        Value::Map(value)
    }

    fn managed(&mut self, rc: &ResourceConfig) {
        let addr = &rc.addr;
        // Borrowed from the input, not from `self`, so `self` stays free to change.
        let input = self.input;
        let schema = input
            .registry
            .resource_schema(&addr.rtype, addr.mode == Mode::Data);

        // Desired. A body known whole at lowering time is read, not evaluated.
        let desired = match rc.body.as_const() {
            Some(v) => v.clone(),
            // References of the form `type.name.attr` resolve to just that attribute
            // (see `ValueTable::projecting`).
            None => match eval(&rc.body, &self.table.projecting(&rc.body)) {
                Ok(v) => v,
                Err(d) => {
                    self.diags.push(d);
                    self.table.insert(addr.clone(), Value::Unknown);
                    return;
                }
            },
        };
        let desired: BTreeMap<String, Value> = match revealed(desired) {
            Value::Map(m) => m,
            other => {
                self.diags.push(
                    Diagnostic::error(Code::E0331, "resource body is not an object", rc.span)
                        .with_detail(format!(
                            "The body of `{addr}` evaluated to a {}, not an object.",
                            other.kind()
                        ))
                        .with_label("in this resource"),
                );
                self.table.insert(addr.clone(), Value::Unknown);
                return;
            }
        };
        // Lossless implicit conversions (`"80"` for a number) before anything compares.
        let desired: BTreeMap<String, Value> = match schema {
            Some(s) => desired
                .into_iter()
                .map(|(k, v)| match s.attributes.get(&k) {
                    Some(a) => {
                        let v = crate::check::convert(v, &a.ty);
                        (k, v)
                    }
                    None => (k, v),
                })
                .collect(),
            None => desired,
        };
        if let Some(s) = schema {
            self.type_check(rc, &desired, s);
        }
        let desired_unknown = desired.values().any(Value::is_unknown);

        let record = input.prior.resources.get(addr);
        let current = record
            .and_then(|r| self.current_of(addr, r))
            .map(|v| with_secret_attributes(v, schema));
        let current_map = current.as_ref().and_then(Value::as_map);

        // Planned, assuming the object stays.
        let mut planned = planned_value(&desired, schema, current_map, &rc.lifecycle);
        let mut attributes = Vec::new();
        let forced_by_user = self.input.replace.contains(addr);
        let action = match current_map {
            None => Action::Create,
            Some(_) if forced_by_user => Action::Replace,
            Some(cur) => {
                attributes = diff_top(cur, &planned, schema, &rc.lifecycle);
                if attributes.is_empty() {
                    Action::NoOp
                } else if attributes.iter().any(|c| c.forces_replacement) {
                    Action::Replace
                } else {
                    Action::Update
                }
            }
        };
        let mut replace_because = Vec::new();
        if action == Action::Replace {
            let forced: BTreeSet<String> = attributes
                .iter()
                .filter(|c| c.forces_replacement)
                .filter_map(|c| c.path.attribute_name().map(str::to_string))
                .collect();
            replace_because = forced.into_iter().collect();
            if forced_by_user {
                replace_because.push("--replace".to_string());
            }
            // A new object: everything the cloud assigns is unknown again.
            planned = planned_value(&desired, schema, None, &rc.lifecycle);
        }
        if action == Action::Create {
            attributes = create_attributes(&planned, schema);
        }
        if matches!(action, Action::Replace) && rc.lifecycle.prevent_destroy {
            self.prevent_destroy(addr, rc, "replace");
        }
        if action == Action::Update {
            // Versions and revisions the cloud assigns on every change are not known
            // until apply; keeping the Prior value would plan dependents against it.
            for (k, a) in schema.iter().flat_map(|s| &s.attributes) {
                if a.recomputed_on_update {
                    planned.insert(k.clone(), Value::Unknown);
                }
            }
        }

        // What dependents see: the current object with the planned attributes over it
        // (each attribute cloned once), else the planned one, with every schema
        // attribute present.
        let mut seen = match (action, current_map) {
            (Action::NoOp | Action::Update, Some(cur)) => {
                let mut m: BTreeMap<String, Value> = cur
                    .iter()
                    .filter(|(k, _)| !planned.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                m.extend(planned.iter().map(|(k, v)| (k.clone(), v.clone())));
                m
            }
            _ => planned.clone(),
        };
        if let Some(s) = schema {
            for k in s.attributes.keys() {
                if !seen.contains_key(k) {
                    seen.insert(k.clone(), Value::Null);
                }
            }
        }
        self.table.insert(addr.clone(), Value::Map(seen));

        let exists = current_map.is_some();
        self.changes.push(ResourceChange {
            addr: addr.clone(),
            provider: rc.provider.clone(),
            action,
            id: if exists {
                record.map(|r| r.id.clone())
            } else {
                None
            },
            prior: if exists { current } else { None },
            planned: Some(Value::Map(planned)),
            body: desired_unknown.then(|| rc.body.clone()),
            updated: if action == Action::Update {
                let names: BTreeSet<String> = attributes
                    .iter()
                    .filter_map(|c| c.path.attribute_name().map(str::to_string))
                    .collect();
                names.into_iter().collect()
            } else {
                Vec::new()
            },
            attributes,
            replace_because,
            lifecycle: rc.lifecycle.clone(),
            dependencies: self
                .input
                .graph
                .dependencies(addr)
                .into_iter()
                .cloned()
                .collect(),
            schema_version: schema.map_or(0, |s| s.version),
            span: rc.span,
        });
    }

    /// A Delete of an instance in state (removed from config, or a destroy plan).
    fn delete(&mut self, addr: &ResourceAddr, rc: Option<&ResourceConfig>) {
        let Some(record) = self.input.prior.resources.get(addr) else {
            return;
        };
        if let Some(rc) = rc {
            if rc.lifecycle.prevent_destroy {
                self.prevent_destroy(addr, rc, "destroy");
            }
        }
        let schema = self.schema(addr);
        let current = with_secret_attributes(
            self.current(addr).unwrap_or_else(|| record.value.clone()),
            schema,
        );
        let attributes = match current.as_map() {
            Some(m) => m
                .iter()
                .filter(|(k, v)| k.as_str() != "id" && !is_absent(v))
                .map(|(k, v)| {
                    let secret = v.is_secret()
                        || schema
                            .and_then(|s| s.attributes.get(k))
                            .is_some_and(|a| a.secret);
                    AttrChange {
                        path: AttrPath::attribute(k),
                        before: Some(if secret {
                            self::secret(v.clone())
                        } else {
                            v.clone()
                        }),
                        after: None,
                        forces_replacement: false,
                        secret,
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        self.changes.push(ResourceChange {
            addr: addr.clone(),
            provider: record.provider.clone(),
            action: Action::Delete,
            id: Some(record.id.clone()),
            prior: Some(current),
            planned: None,
            body: None,
            attributes,
            updated: Vec::new(),
            replace_because: Vec::new(),
            lifecycle: rc.map(|r| r.lifecycle.clone()).unwrap_or_default(),
            dependencies: record.dependencies.clone(),
            schema_version: record.schema_version,
            span: rc.map_or(Span::DETACHED, |r| r.span),
        });
    }

    fn prevent_destroy(&mut self, addr: &ResourceAddr, rc: &ResourceConfig, verb: &str) {
        self.diags.push(
            Diagnostic::error(Code::E0330, "plan would destroy a protected resource", rc.header_span)
                .with_detail(format!(
                    "`{addr}` has `lifecycle {{ prevent_destroy = true }}`, but this plan would {verb} it."
                ))
                .with_label(format!("this resource would be {}", if verb == "replace" { "replaced" } else { "destroyed" }))
                .with_help("remove `prevent_destroy` first if destroying it is intended, or change the configuration so it is kept"),
        );
    }

    /// Type errors only visible with real values, at the attribute's key.
    fn type_check(
        &mut self,
        rc: &ResourceConfig,
        desired: &BTreeMap<String, Value>,
        schema: &ResourceSchema,
    ) {
        for (k, v) in desired {
            let Some(a) = schema.attributes.get(k) else {
                continue;
            };
            // Constants were checked before planning; only residual values are new here.
            let entry = rc.body.entry(k);
            if entry.is_some_and(|e| e.value.as_const().is_some()) {
                continue;
            }
            let span = entry.map_or(rc.header_span, |e| e.key_span);
            for problem in value_problems(v, &a.ty, k) {
                let what = format!("`{}`", rc.addr);
                self.diags.push(problem_diagnostic(&problem, &what, span));
            }
        }
    }

    fn outputs(&mut self) -> Vec<OutputChange> {
        let mut out = Vec::new();
        let mut names = BTreeSet::new();
        for o in &self.input.config.outputs {
            names.insert(o.name.clone());
            let before = self.input.prior.outputs.get(&o.name).cloned();
            let after = if self.input.destroy {
                None
            } else {
                match eval(&o.value, &self.table) {
                    Ok(v) => Some(v),
                    Err(d) => {
                        self.diags.push(d);
                        Some(Value::Unknown)
                    }
                }
            };
            let secret = o.secret
                || before.as_ref().is_some_and(Value::is_secret)
                || after.as_ref().is_some_and(Value::is_secret);
            let wrap = |v: Option<Value>| v.map(|v| if secret { self::secret(v) } else { v });
            out.push(OutputChange {
                name: o.name.clone(),
                before: wrap(before),
                after: wrap(after),
                expr: (!self.input.destroy && !matches!(o.value.kind, ExprKind::Const(_)))
                    .then(|| o.value.clone()),
                secret,
            });
        }
        for (name, before) in &self.input.prior.outputs {
            if !names.contains(name) {
                let secret = before.is_secret();
                out.push(OutputChange {
                    name: name.clone(),
                    before: Some(before.clone()),
                    after: None,
                    expr: None,
                    secret,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// `v` with its secret wrappers removed at the top, by value (as [`Value::reveal`]).
fn revealed(v: Value) -> Value {
    match v {
        Value::Secret(inner) => revealed(*inner),
        v => v,
    }
}

/// The Planned value of a managed instance from its Desired attributes; `current` is
/// the object that stays (`None` for a new object).
fn planned_value(
    desired: &BTreeMap<String, Value>,
    schema: Option<&ResourceSchema>,
    current: Option<&BTreeMap<String, Value>>,
    lifecycle: &Lifecycle,
) -> BTreeMap<String, Value> {
    let mut planned: BTreeMap<String, Value> = desired
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(s) = schema {
        for (k, a) in &s.attributes {
            if let Some(v) = planned.get_mut(k) {
                fill_nested_defaults(v, &a.ty);
                continue;
            }
            let kept = current.and_then(|c| c.get(k)).filter(|v| !v.is_null());
            let value = if a.computed {
                // Computed (or optional+computed and unset): the cloud's value stays.
                match kept {
                    Some(v) => Some(v.clone()),
                    None if current.is_some() => a.default.clone(),
                    None => Some(a.default.clone().unwrap_or(Value::Unknown)),
                }
            } else {
                a.default.clone()
            };
            if let Some(v) = value {
                planned.insert(k.clone(), v);
            }
        }
    }
    wrap_secret_attributes(&mut planned, schema);
    match current.and_then(|c| c.get("id")) {
        Some(id) => {
            planned.insert("id".into(), id.clone());
        }
        None => {
            planned.entry("id".into()).or_insert(if current.is_some() {
                Value::Null
            } else {
                Value::Unknown
            });
        }
    }
    if let Some(cur) = current {
        for path in &lifecycle.ignore_changes {
            let segments: Vec<&str> = path.split('.').collect();
            match get_path(cur, &segments) {
                Some(v) => set_path(&mut planned, &segments, v.clone()),
                None => remove_path(&mut planned, &segments),
            }
        }
    }
    planned
}

/// Wraps the values of attributes the schema marks secret. Unknown and null values
/// stay as they are: they reveal nothing, and apply fills unknowns in place.
fn wrap_secret_attributes(m: &mut BTreeMap<String, Value>, schema: Option<&ResourceSchema>) {
    let Some(s) = schema else { return };
    for (k, v) in m.iter_mut() {
        if s.attributes.get(k).is_some_and(|a| a.secret) {
            *v = secret(std::mem::take(v));
        }
    }
}

fn with_secret_attributes(v: Value, schema: Option<&ResourceSchema>) -> Value {
    match v {
        Value::Map(mut m) => {
            wrap_secret_attributes(&mut m, schema);
            Value::Map(m)
        }
        other => other,
    }
}

/// `v` wrapped secret, unless it is null or unknown.
fn secret(v: Value) -> Value {
    match v {
        Value::Null | Value::Unknown => v,
        other => other.into_secret(),
    }
}

/// Fills schema defaults of unset attributes inside nested objects (blocks).
fn fill_nested_defaults(value: &mut Value, ty: &AttrType) {
    match (value, ty) {
        (Value::List(xs), AttrType::List(inner) | AttrType::Set(inner)) => {
            xs.iter_mut().for_each(|x| fill_nested_defaults(x, inner));
        }
        (Value::Map(m), AttrType::Map(inner)) => {
            m.values_mut().for_each(|x| fill_nested_defaults(x, inner))
        }
        (Value::Map(m), AttrType::Object(attrs)) => {
            for (k, a) in attrs {
                match m.get_mut(k) {
                    Some(v) if !v.is_null() => fill_nested_defaults(v, &a.ty),
                    _ => {
                        if let Some(d) = &a.default {
                            m.insert(k.clone(), d.clone());
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

fn get_path<'v>(m: &'v BTreeMap<String, Value>, segments: &[&str]) -> Option<&'v Value> {
    let (first, rest) = segments.split_first()?;
    let v = m.get(*first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        get_path(v.as_map()?, rest)
    }
}

fn set_path(m: &mut BTreeMap<String, Value>, segments: &[&str], value: Value) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        m.insert((*first).to_string(), value);
        return;
    }
    let entry = m
        .entry((*first).to_string())
        .or_insert_with(|| Value::Map(BTreeMap::new()));
    if let Value::Map(inner) = entry {
        set_path(inner, rest, value);
    }
}

fn remove_path(m: &mut BTreeMap<String, Value>, segments: &[&str]) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        m.remove(*first);
    } else if let Some(Value::Map(inner)) = m.get_mut(*first) {
        remove_path(inner, rest);
    }
}

/// Differences between the current object and the planned one, for a staying object.
pub(crate) fn diff_top(
    current: &BTreeMap<String, Value>,
    planned: &BTreeMap<String, Value>,
    schema: Option<&ResourceSchema>,
    lifecycle: &Lifecycle,
) -> Vec<AttrChange> {
    let mut keys: BTreeSet<&String> = planned.keys().collect();
    if let Some(s) = schema {
        keys.extend(
            s.attributes
                .iter()
                .filter(|(_, a)| a.settable())
                .map(|(k, _)| k),
        );
    }
    let mut out = Vec::new();
    for k in keys {
        if k == "id" {
            continue;
        }
        let attr = schema.and_then(|s| s.attributes.get(k.as_str()));
        if attr.is_some_and(|a| !a.settable()) {
            continue;
        }
        let d = Differ {
            force: attr.is_some_and(|a| a.force_new),
            secret: attr.is_some_and(|a| a.secret),
        };
        d.diff(
            &AttrPath::attribute(k),
            current.get(k.as_str()),
            planned.get(k.as_str()),
            attr.map(|a| &a.ty),
            &mut out,
        );
    }
    let ignored: Vec<AttrPath> = lifecycle
        .ignore_changes
        .iter()
        .map(|i| {
            AttrPath::from(
                i.split('.')
                    .map(|k| Step::Key(k.to_string()))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    out.retain(|c| !ignored.iter().any(|i| c.path.starts_with(i)));
    out
}

/// Every planned attribute of a new object, for display.
fn create_attributes(
    planned: &BTreeMap<String, Value>,
    schema: Option<&ResourceSchema>,
) -> Vec<AttrChange> {
    planned
        .iter()
        .filter(|(_, v)| !is_absent(v))
        .map(|(k, v)| {
            let secret = v.is_secret()
                || schema
                    .and_then(|s| s.attributes.get(k))
                    .is_some_and(|a| a.secret);
            AttrChange {
                path: AttrPath::attribute(k),
                before: None,
                after: Some(if secret {
                    self::secret(v.clone())
                } else {
                    v.clone()
                }),
                forces_replacement: false,
                secret,
            }
        })
        .collect()
}

/// Null, or an empty list or map: all mean "not set".
fn is_absent(v: &Value) -> bool {
    match v.reveal() {
        Value::Null => true,
        Value::List(xs) => xs.is_empty(),
        Value::Map(m) => m.is_empty(),
        _ => false,
    }
}

/// Whether two values are the same for planning purposes under type `ty`.
pub(crate) fn same(a: Option<&Value>, b: Option<&Value>, ty: Option<&AttrType>) -> bool {
    let absent = |v: Option<&Value>| v.is_none_or(is_absent);
    if absent(a) && absent(b) {
        return true;
    }
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    let (a, b) = (a.reveal(), b.reveal());
    if matches!(a, Value::Unknown) || matches!(b, Value::Unknown) {
        return false;
    }
    match (a, b, ty) {
        (Value::List(xs), Value::List(ys), Some(AttrType::Set(inner))) => {
            set_equal(xs, ys, Some(inner))
        }
        (Value::List(xs), Value::List(ys), ty) => {
            let inner = match ty {
                Some(AttrType::List(t)) => Some(&**t),
                _ => None,
            };
            xs.len() == ys.len()
                && xs
                    .iter()
                    .zip(ys)
                    .all(|(x, y)| same(Some(x), Some(y), inner))
        }
        (Value::Map(xm), Value::Map(ym), Some(AttrType::Object(attrs))) => {
            let keys: BTreeSet<&String> = xm.keys().chain(ym.keys()).collect();
            keys.into_iter().all(|k| {
                let attr = attrs.get(k.as_str());
                // A nested computed attribute the configuration leaves unset never differs.
                if attr.is_some_and(|a| a.computed) && ym.get(k.as_str()).is_none_or(Value::is_null)
                {
                    return true;
                }
                same(xm.get(k.as_str()), ym.get(k.as_str()), attr.map(|a| &a.ty))
            })
        }
        (Value::Map(xm), Value::Map(ym), ty) => {
            let inner = match ty {
                Some(AttrType::Map(t)) => Some(&**t),
                _ => None,
            };
            let keys: BTreeSet<&String> = xm.keys().chain(ym.keys()).collect();
            keys.into_iter()
                .all(|k| same(xm.get(k.as_str()), ym.get(k.as_str()), inner))
        }
        (Value::Number(x), Value::Number(y), _) => x == y,
        (x, y, _) => x == y,
    }
}

/// Multiset equality under `same`.
fn set_equal(xs: &[Value], ys: &[Value], inner: Option<&AttrType>) -> bool {
    if xs.len() != ys.len() {
        return false;
    }
    let mut used = vec![false; ys.len()];
    xs.iter().all(|x| {
        let found = ys
            .iter()
            .enumerate()
            .find(|(i, y)| !used[*i] && same(Some(x), Some(y), inner));
        match found {
            Some((i, _)) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

/// Produces attribute-level changes, descending into maps, objects and equal-length lists.
struct Differ {
    force: bool,
    secret: bool,
}

impl Differ {
    fn diff(
        &self,
        path: &AttrPath,
        before: Option<&Value>,
        after: Option<&Value>,
        ty: Option<&AttrType>,
        out: &mut Vec<AttrChange>,
    ) {
        if same(before, after, ty) {
            return;
        }
        let whole = |out: &mut Vec<AttrChange>| {
            let secret = self.secret
                || before.is_some_and(Value::is_secret)
                || after.is_some_and(Value::is_secret);
            let show = |v: Option<&Value>| {
                v.filter(|v| !v.is_null()).map(|v| {
                    if secret {
                        self::secret(v.clone())
                    } else {
                        v.clone()
                    }
                })
            };
            out.push(AttrChange {
                path: path.clone(),
                before: show(before),
                after: show(after),
                forces_replacement: self.force,
                secret,
            });
        };
        let (Some(b), Some(a)) = (before, after) else {
            return whole(out);
        };
        if matches!(b, Value::Secret(_)) || matches!(a, Value::Secret(_)) {
            return whole(out);
        }
        match (b, a, ty) {
            // Sets: one entry per element removed (`- ingress = {…}`) and per element
            // added (`+ ingress = {…}`), so a reviewer sees the rule that changed rather
            // than two whole sets.
            (Value::List(bs), Value::List(xs), Some(AttrType::Set(inner))) => {
                let secret = self.secret;
                let shown = |v: &Value| {
                    if secret {
                        self::secret(v.clone())
                    } else {
                        v.clone()
                    }
                };
                let mut element = |before: Option<&Value>, after: Option<&Value>| {
                    out.push(AttrChange {
                        path: path.clone(),
                        before: before.map(shown),
                        after: after.map(shown),
                        forces_replacement: self.force,
                        secret,
                    })
                };
                for x in bs
                    .iter()
                    .filter(|x| !xs.iter().any(|y| same(Some(x), Some(y), Some(inner))))
                {
                    element(Some(x), None);
                }
                for y in xs
                    .iter()
                    .filter(|y| !bs.iter().any(|x| same(Some(x), Some(y), Some(inner))))
                {
                    element(None, Some(y));
                }
            }
            (_, _, Some(AttrType::Set(_))) => whole(out),
            (Value::Map(bm), Value::Map(am), Some(AttrType::Object(attrs))) => {
                let keys: BTreeSet<&String> = bm.keys().chain(am.keys()).collect();
                for k in keys {
                    let attr = attrs.get(k.as_str());
                    if attr.is_some_and(|a| a.computed)
                        && am.get(k.as_str()).is_none_or(Value::is_null)
                    {
                        continue;
                    }
                    let nested = Differ {
                        force: self.force || attr.is_some_and(|a| a.force_new),
                        secret: self.secret || attr.is_some_and(|a| a.secret),
                    };
                    nested.diff(
                        &path.key(k),
                        bm.get(k.as_str()),
                        am.get(k.as_str()),
                        attr.map(|a| &a.ty),
                        out,
                    );
                }
            }
            (
                Value::Map(bm),
                Value::Map(am),
                ty @ (None | Some(AttrType::Map(_) | AttrType::Any)),
            ) => {
                let inner = match ty {
                    Some(AttrType::Map(t)) => Some(&**t),
                    _ => None,
                };
                let keys: BTreeSet<&String> = bm.keys().chain(am.keys()).collect();
                for k in keys {
                    self.diff(
                        &path.key(k),
                        bm.get(k.as_str()),
                        am.get(k.as_str()),
                        inner,
                        out,
                    );
                }
            }
            (
                Value::List(bs),
                Value::List(as_),
                ty @ (None | Some(AttrType::List(_) | AttrType::Any)),
            ) if bs.len() == as_.len() => {
                let inner = match ty {
                    Some(AttrType::List(t)) => Some(&**t),
                    _ => None,
                };
                for (i, (x, y)) in bs.iter().zip(as_).enumerate() {
                    self.diff(&path.index(i), Some(x), Some(y), inner, out);
                }
            }
            _ => whole(out),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
