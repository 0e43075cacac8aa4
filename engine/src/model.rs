//! The Plan: the one value that connects planning to apply and to every renderer.
//!
//! Apply executes a [`Plan`] and never re-reads the configuration: each change carries
//! the residual body expression needed to resolve values that are *unknown until
//! apply* from its dependencies' New values.
//!
//! What apply reads of a [`ResourceChange`]: `addr`, `provider`, `action`, `id`,
//! `prior`, `planned`, `body`, `updated`, `lifecycle.create_before_destroy`,
//! `dependencies`, `schema_version` and `span` (to place errors). Display-only fields
//! (`attributes`, `replace_because`, the rest of `lifecycle`) never change what apply
//! does; of a [`Plan`], apply reads `stack`, `changes`, `outputs`, `destroy`,
//! `recovered`, `moved`, `imported` and `deposed`.

use std::collections::{BTreeMap, BTreeSet};

use gig_core::addr::ResourceAddr;
use gig_core::diag::Diagnostic;
use gig_core::path::AttrPath;
use gig_core::span::Span;
use gig_core::value::Value;
use gig_dsl::config::{Expr, Lifecycle};
use serde::{Deserialize, Serialize};

/// What happens to one resource instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing to do.
    NoOp,
    /// `+` create.
    Create,
    /// `~` update in place.
    Update,
    /// `-/+` delete then create (or `+/-` with create_before_destroy).
    Replace,
    /// `-` delete.
    Delete,
    /// Data source read at plan time (shown only when it matters).
    Read,
}

impl Action {
    /// The symbol used in text output.
    pub fn symbol(self, create_before_destroy: bool) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace if create_before_destroy => "+/-",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Read => "<=",
        }
    }
}

/// One attribute-level difference, for display.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrChange {
    /// Where the difference is, e.g. `tags.Name` or `ingress[0].port`.
    pub path: AttrPath,
    /// Prior value (`None` on create).
    pub before: Option<Value>,
    /// Planned value (`None` on delete; may be or contain [`Value::Unknown`]).
    pub after: Option<Value>,
    /// This difference forces replacement.
    pub forces_replacement: bool,
    /// Secret per the schema or the value (rendered as `(secret)`).
    pub secret: bool,
}

/// The planned change to one resource instance.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceChange {
    /// The instance.
    pub addr: ResourceAddr,
    /// Its provider.
    pub provider: String,
    /// What happens.
    pub action: Action,
    /// Cloud id from state, when it exists.
    pub id: Option<String>,
    /// Prior value (from state, refreshed when refresh ran).
    pub prior: Option<Value>,
    /// Planned value (absent for deletes). May contain unknowns.
    pub planned: Option<Value>,
    /// The residual body to evaluate at apply time when `planned` has unknowns.
    pub body: Option<Expr>,
    /// Attribute differences, for display only (empty for no-op).
    pub attributes: Vec<AttrChange>,
    /// For an update in place: the top-level attributes it changes, sorted, as the
    /// planner computed them. Apply passes these (plus attributes unknown at plan time
    /// that resolve to a new value) to the provider as changed. Empty for other actions.
    pub updated: Vec<String>,
    /// Attributes whose change forces replacement, for display only.
    pub replace_because: Vec<String>,
    /// Lifecycle options from config (default for deletes of removed resources).
    pub lifecycle: Lifecycle,
    /// Instances this one needs first (from config; from state for deletes).
    pub dependencies: Vec<ResourceAddr>,
    /// Schema version the value is written with.
    pub schema_version: u32,
    /// The resource block in the source (detached for resources only in state).
    pub span: Span,
}

/// An output's planned value.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputChange {
    /// Output name.
    pub name: String,
    /// Value from the last apply.
    pub before: Option<Value>,
    /// Planned value (may be unknown).
    pub after: Option<Value>,
    /// The residual expression to evaluate after apply.
    pub expr: Option<Expr>,
    /// Secret.
    pub secret: bool,
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Creates.
    pub add: usize,
    /// Updates in place.
    pub change: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletes.
    pub destroy: usize,
}

impl Summary {
    /// The counts of `changes`.
    pub fn of(changes: &[ResourceChange]) -> Summary {
        let mut summary = Summary::default();
        for c in changes {
            match c.action {
                Action::Create => summary.add += 1,
                Action::Update => summary.change += 1,
                Action::Replace => summary.replace += 1,
                Action::Delete => summary.destroy += 1,
                Action::NoOp | Action::Read => {}
            }
        }
        summary
    }

    /// Whether anything would change.
    pub fn has_changes(&self) -> bool {
        self.add + self.change + self.replace + self.destroy > 0
    }
}

/// A plan: every resource's change in a deterministic order (sorted by address).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Stack name.
    pub stack: String,
    /// Environment name.
    pub env: String,
    /// Every managed resource in config or state, sorted by address.
    pub changes: Vec<ResourceChange>,
    /// Values read from data sources at plan time.
    pub data: BTreeMap<ResourceAddr, Value>,
    /// Root outputs.
    pub outputs: Vec<OutputChange>,
    /// Counts.
    pub summary: Summary,
    /// Whether this is a destroy plan.
    pub destroy: bool,
    /// Only some instances were planned (`--target`/`--exclude`): apply leaves the
    /// outputs as they are.
    pub partial: bool,
    /// Instances that are in Prior but that refresh found gone: deleted outside gig, so
    /// their create re-creates them. Display only; apply never reads it.
    pub deleted_outside: BTreeSet<ResourceAddr>,
    /// Create intents left by an interrupted apply, resolved while planning (see
    /// [`crate::recover`]): an adopted object is the Prior of its change, and apply
    /// records it (and drops every resolved intent) before anything else.
    pub recovered: BTreeMap<ResourceAddr, crate::recover::Resolution>,
    /// Records `moved` blocks move: new address → the address state records it at
    /// (see [`crate::moved`]). The change at the new address has the record as its
    /// Prior; apply writes the rename before anything else.
    pub moved: BTreeMap<ResourceAddr, ResourceAddr>,
    /// Objects `import` blocks adopt: address → cloud id. The change at the address has
    /// the object read by id as its Prior; apply records it before anything else.
    pub imported: BTreeMap<ResourceAddr, String>,
    /// Objects an earlier create-before-destroy replacement deposed and did not delete
    /// (from Prior, sorted by address and id): apply deletes each of them, after
    /// everything that depends on its address has moved on, and forgets it once gone.
    pub deposed: Vec<gig_state::Deposed>,
    /// Warnings and policy findings attached to the plan (errors stop planning).
    /// Not saved in plan files.
    pub diagnostics: Vec<Diagnostic>,
}

impl Plan {
    /// Whether applying would change anything: a resource, the record of an object an
    /// interrupted create made (see [`Plan::recovered`]), a record's address, an
    /// imported object, or a deposed object to delete.
    pub fn has_changes(&self) -> bool {
        self.summary.has_changes()
            || !self.recovered.is_empty()
            || !self.moved.is_empty()
            || !self.imported.is_empty()
            || !self.deposed.is_empty()
    }
}
