//! Rollback of a failed apply (`gig apply --rollback-on-failure`): undo what the apply
//! did, so the cloud and the state are back where the plan found them.
//!
//! # Algorithm
//!
//! The rollback is itself a [`Plan`], built from the failed apply's plan, its report and
//! the state the apply left, and carried out by the same executor in a write session
//! named `rollback` — so the history holds the apply and then its rollback, and every
//! undo is recorded the moment it lands, like any apply.
//!
//! - A resource the apply **created** is deleted. Deletes run in reverse dependency
//!   order (the executor's rule for deletes).
//! - A resource the apply **updated in place** is updated back to its Prior value: the
//!   attributes the apply changed are sent with their Prior values. The update runs
//!   before the delete of anything it referred to after the apply (a resource the apply
//!   created), so nothing is deleted while still in use.
//! - A **delete** or a **replacement** is not undone: its old object is gone, and making
//!   it again would be a new object with a new id (out of scope). Such resources are
//!   reported as not rolled back, as is a create whose outcome is unknown (its intent is
//!   resolved by the next plan) and a failed update, delete or replacement (the cloud
//!   may hold part of it). A create the cloud refused made nothing and needs no undo.

use std::collections::BTreeMap;
use std::sync::Arc;

use gig_core::addr::ResourceAddr;
use gig_provider::Provider;
use gig_state::{Snapshot, StateBackend};
use tokio::sync::watch;

use crate::apply::{ApplyOptions, ApplyReport};
use crate::events::ApplyEvent;
use crate::model::{Action, Plan, ResourceChange, Summary};

/// Why a delete is not undone.
const DELETED: &str = "it was deleted; making it again would be a new object";

/// What a rollback did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RollbackReport {
    /// Changes of the failed apply that were undone: (address, the apply's action),
    /// sorted by address.
    pub undone: Vec<(ResourceAddr, Action)>,
    /// Changes of the failed apply that were not undone, with the reason, sorted by
    /// address.
    pub not_undone: Vec<(ResourceAddr, String)>,
    /// The rollback's own run (its failures, skips and state errors).
    pub run: ApplyReport,
}

impl RollbackReport {
    /// Whether everything the apply did was undone.
    pub fn is_complete(&self) -> bool {
        self.not_undone.is_empty() && self.run.is_success()
    }
}

/// The rollback plan of `plan`, whose apply ended with `report` and left `now` in state,
/// and the changes it cannot undo with the reason. See the [module documentation](self).
pub fn rollback_plan(
    plan: &Plan,
    report: &ApplyReport,
    now: &Snapshot,
) -> (Plan, Vec<(ResourceAddr, String)>) {
    let by_addr: BTreeMap<&ResourceAddr, &ResourceChange> =
        plan.changes.iter().map(|c| (&c.addr, c)).collect();
    let mut changes = Vec::new();
    let mut not_undone: Vec<(ResourceAddr, String)> = Vec::new();
    for (addr, action) in &report.succeeded {
        let (Some(change), Some(record)) = (by_addr.get(addr), now.resources.get(addr)) else {
            let reason = match action {
                Action::Delete => DELETED,
                _ => "it is no longer in state",
            };
            not_undone.push((addr.clone(), reason.to_string()));
            continue;
        };
        let undo = ResourceChange {
            id: Some(record.id.clone()),
            prior: Some(record.value.clone()),
            planned: None,
            body: None,
            attributes: Vec::new(),
            updated: Vec::new(),
            replace_because: Vec::new(),
            dependencies: record.dependencies.clone(),
            ..(*change).clone()
        };
        match action {
            Action::Create => changes.push(ResourceChange {
                action: Action::Delete,
                ..undo
            }),
            Action::Update => {
                let Some(prior) = change.prior.clone() else {
                    not_undone.push((addr.clone(), "its Prior value is not known".to_string()));
                    continue;
                };
                let updated = crate::apply::changed_attributes(change, &prior, &record.value);
                changes.push(ResourceChange {
                    action: Action::Update,
                    planned: Some(prior),
                    updated,
                    ..undo
                });
            }
            Action::Replace => not_undone.push((
                addr.clone(),
                "it was replaced; the old object is gone and making it again would be a new \
                 object"
                    .to_string(),
            )),
            Action::Delete => not_undone.push((addr.clone(), DELETED.to_string())),
            Action::NoOp | Action::Read => {}
        }
    }
    for addr in now.intents.keys() {
        if by_addr.contains_key(addr) {
            not_undone.push((
                addr.clone(),
                "its create's outcome is unknown; the next plan looks the object up".to_string(),
            ));
        }
    }
    for (addr, error, _) in &report.failed {
        // A create the cloud refused made nothing: there is nothing to undo.
        let refused_create = by_addr
            .get(addr)
            .is_some_and(|c| c.action == Action::Create);
        if !now.intents.contains_key(addr) && !refused_create {
            not_undone.push((
                addr.clone(),
                format!(
                    "its change failed ({}); its record is unchanged",
                    error.message
                ),
            ));
        }
    }
    not_undone.sort_by(|a, b| a.0.cmp(&b.0));
    changes.sort_by(|a, b| a.addr.cmp(&b.addr));
    let rollback = Plan {
        stack: plan.stack.clone(),
        env: plan.env.clone(),
        summary: Summary::of(&changes),
        changes,
        // The outputs stay as the apply left them: a failed apply stored none.
        partial: true,
        ..Plan::default()
    };
    (rollback, not_undone)
}

/// Undoes what the apply of `plan` did (it ended with `report`), in a write session
/// named `rollback`. `providers`, `opts`, `cancel` and `events` are as for
/// [`crate::apply::apply`].
///
/// # Cancel safety
///
/// As for [`crate::apply::apply`]: use `cancel`, not dropping the future.
pub async fn rollback(
    plan: &Plan,
    report: &ApplyReport,
    providers: &BTreeMap<String, Arc<dyn Provider>>,
    store: &dyn StateBackend,
    opts: &ApplyOptions,
    cancel: watch::Receiver<bool>,
    events: &(dyn Fn(ApplyEvent) + Send + Sync),
) -> Result<RollbackReport, gig_state::StateError> {
    let now = store.snapshot()?;
    let (undo, mut not_undone) = rollback_plan(plan, report, &now);
    let run =
        crate::apply::execute(&undo, providers, store, opts, "rollback", cancel, events).await;
    let done: BTreeMap<&ResourceAddr, Action> =
        run.succeeded.iter().map(|(a, act)| (a, *act)).collect();
    let mut undone = Vec::new();
    for c in &undo.changes {
        let original = if c.action == Action::Delete {
            Action::Create
        } else {
            Action::Update
        };
        if done.contains_key(&c.addr) {
            undone.push((c.addr.clone(), original));
            continue;
        }
        let reason = if let Some((_, e, _)) = run.failed.iter().find(|(a, _, _)| *a == c.addr) {
            format!("its undo failed: {}", e.message)
        } else if let Some((_, because)) = run.skipped.iter().find(|(a, _)| *a == c.addr) {
            format!("its undo waited for {because}, whose undo failed")
        } else {
            "its undo was not started".to_string()
        };
        not_undone.push((c.addr.clone(), reason));
    }
    not_undone.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(RollbackReport {
        undone,
        not_undone,
        run,
    })
}
