//! The step graph apply walks: one or two provider steps per change, with the edges that
//! order them.
//!
//! Each change contributes a *create side* step (create or update, or the create of a
//! replace) and/or a *delete side* step (delete, or the delete of a replace). For an
//! instance X that depends on D (X's `dependencies` name D):
//!
//! - (a) D's create side finishes before X's create side starts: X is built from D's
//!   New value.
//! - (b) X's delete finishes before D's delete starts: deletes run in reverse
//!   dependency order, so nothing is deleted while something still uses it.
//! - (c) a replace deletes the old object before creating the new one, or (d) with
//!   `create_before_destroy` creates the new one first;
//! - (e) with `create_before_destroy` on D, the old D is deleted only after X's create
//!   side has moved X onto the new D.
//!
//! - (g) an update of X finishes before the delete of D (a plain delete): X may still
//!   refer to D until it is updated. A plan from configuration never has this pair (X's
//!   configuration needs D, so D stays); a rollback plan has it when the apply being
//!   undone pointed X at an object it created.
//!
//! Changes from `first_deposed` on are *deposed objects* (old objects of an earlier
//! create-before-destroy replacement, see `gig_state::Deposed`): each is one delete step,
//! which (f) waits for the create side and the delete of every instance that depends on
//! its address, as (b) and (e) order the old object of a replacement in the same run.
//!
//! One combination would close a cycle: X replaced with `create_before_destroy` while D
//! is replaced without it (D delete → D create → X create → X delete → D delete). Edge
//! (b) is dropped there, so old D goes before old X. Any other cycle (only a malformed
//! plan can make one) is found by [`Schedule::cyclic`] and its steps fail.

use std::collections::{BTreeMap, BTreeSet};

use gig_core::addr::ResourceAddr;

use crate::events::Step;
use crate::model::{Action, ResourceChange};

/// What a successful step writes to state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Commit {
    /// Put the New value.
    Put,
    /// Remove the record.
    Remove,
    /// Forget the deposed object: the old object of a create-before-destroy replace,
    /// whose address already holds the new object's record, or a deposed object left by
    /// an earlier run.
    DropDeposed,
}

/// One provider step.
#[derive(Clone, Debug)]
pub(crate) struct StepNode {
    /// Index of its change in the plan.
    pub change: usize,
    /// The operation.
    pub step: Step,
    /// What success writes to state.
    pub commit: Commit,
}

/// The steps and their ordering edges.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    /// Steps in plan order (a replace's two steps are adjacent).
    pub steps: Vec<StepNode>,
    /// For each step, the steps that wait for it (sorted, no duplicates).
    pub successors: Vec<Vec<usize>>,
    /// For each step, how many steps it waits for.
    pub predecessors: Vec<usize>,
    /// How many steps each change has.
    pub steps_per_change: Vec<usize>,
}

impl Schedule {
    /// Builds the steps of every change that does something.
    #[cfg(test)]
    pub fn build(changes: &[ResourceChange]) -> Schedule {
        Schedule::build_with_deposed(changes, changes.len())
    }

    /// Builds the steps of every change that does something, where the changes from
    /// `first_deposed` on are deletes of deposed objects.
    pub fn build_with_deposed(changes: &[ResourceChange], first_deposed: usize) -> Schedule {
        let mut s = Schedule {
            steps_per_change: vec![0; changes.len()],
            ..Schedule::default()
        };
        let mut create_side: Vec<Option<usize>> = vec![None; changes.len()];
        let mut delete_side: Vec<Option<usize>> = vec![None; changes.len()];
        let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
        for (i, c) in changes.iter().enumerate() {
            let cbd = c.lifecycle.create_before_destroy;
            let mut add = |step: Step, commit: Commit| {
                s.steps.push(StepNode {
                    change: i,
                    step,
                    commit,
                });
                s.steps.len() - 1
            };
            match c.action {
                _ if i >= first_deposed => {
                    delete_side[i] = Some(add(Step::Delete, Commit::DropDeposed));
                }
                Action::NoOp | Action::Read => {}
                Action::Create => create_side[i] = Some(add(Step::Create, Commit::Put)),
                Action::Update => create_side[i] = Some(add(Step::Update, Commit::Put)),
                Action::Delete => delete_side[i] = Some(add(Step::Delete, Commit::Remove)),
                Action::Replace if cbd => {
                    let create = add(Step::Create, Commit::Put);
                    let delete = add(Step::Delete, Commit::DropDeposed);
                    edges.insert((create, delete)); // (d)
                    create_side[i] = Some(create);
                    delete_side[i] = Some(delete);
                }
                Action::Replace => {
                    let delete = add(Step::Delete, Commit::Remove);
                    let create = add(Step::Create, Commit::Put);
                    edges.insert((delete, create)); // (c)
                    create_side[i] = Some(create);
                    delete_side[i] = Some(delete);
                }
            }
            s.steps_per_change[i] =
                usize::from(create_side[i].is_some()) + usize::from(delete_side[i].is_some());
        }

        let index: BTreeMap<&ResourceAddr, usize> = changes[..first_deposed]
            .iter()
            .enumerate()
            .map(|(i, c)| (&c.addr, i))
            .collect();
        let mut deposed_at: BTreeMap<&ResourceAddr, Vec<usize>> = BTreeMap::new();
        for (k, c) in changes.iter().enumerate().skip(first_deposed) {
            deposed_at.entry(&c.addr).or_default().push(k);
        }
        let is_replace = |i: usize, cbd: bool| {
            changes[i].action == Action::Replace
                && changes[i].lifecycle.create_before_destroy == cbd
        };
        for (x, change) in changes.iter().enumerate() {
            for d in dependencies(change, &index) {
                if d == x {
                    continue;
                }
                if let (Some(cd), Some(cx)) = (create_side[d], create_side[x]) {
                    edges.insert((cd, cx)); // (a)
                }
                if let (Some(dx), Some(dd)) = (delete_side[x], delete_side[d]) {
                    if !(is_replace(x, true) && is_replace(d, false)) {
                        edges.insert((dx, dd)); // (b)
                    }
                }
                if let (true, Some(cx), Some(dd)) =
                    (is_replace(d, true), create_side[x], delete_side[d])
                {
                    edges.insert((cx, dd)); // (e)
                }
                if let (Some(cx), Some(dd), Action::Delete) =
                    (create_side[x], delete_side[d], changes[d].action)
                {
                    edges.insert((cx, dd)); // (g)
                }
                for &k in deposed_at.get(&changes[d].addr).into_iter().flatten() {
                    for side in [create_side[x], delete_side[x]].into_iter().flatten() {
                        if let Some(dk) = delete_side[k] {
                            edges.insert((side, dk)); // (f)
                        }
                    }
                }
            }
        }

        s.successors = vec![Vec::new(); s.steps.len()];
        s.predecessors = vec![0; s.steps.len()];
        for (from, to) in edges {
            s.successors[from].push(to);
            s.predecessors[to] += 1;
        }
        s
    }

    /// Steps that can never start because they lie on (or after) a cycle.
    pub fn cyclic(&self) -> Vec<usize> {
        let mut waiting = self.predecessors.clone();
        let mut ready: Vec<usize> = (0..self.steps.len()).filter(|i| waiting[*i] == 0).collect();
        let mut reached = vec![false; self.steps.len()];
        while let Some(i) = ready.pop() {
            reached[i] = true;
            for &n in &self.successors[i] {
                waiting[n] -= 1;
                if waiting[n] == 0 {
                    ready.push(n);
                }
            }
        }
        (0..self.steps.len()).filter(|i| !reached[*i]).collect()
    }
}

/// The plan indices of the changes `change` depends on. A dependency on a whole
/// expanded resource (an address without a key that names no change) means every one
/// of its instances. Dependencies outside the plan (data sources) are ignored.
fn dependencies(
    change: &ResourceChange,
    index: &BTreeMap<&ResourceAddr, usize>,
) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    for dep in &change.dependencies {
        if let Some(&i) = index.get(dep) {
            out.insert(i);
        } else if dep.key.is_none() {
            out.extend(
                index
                    .range::<&ResourceAddr, _>(dep..)
                    .take_while(|(a, _)| a.group() == *dep)
                    .map(|(_, i)| *i),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gig_core::span::Span;
    use gig_dsl::config::Lifecycle;

    fn change(name: &str, action: Action, deps: &[&str], cbd: bool) -> ResourceChange {
        ResourceChange {
            addr: ResourceAddr::managed("test.thing", name),
            provider: "test".into(),
            action,
            id: None,
            prior: None,
            planned: None,
            body: None,
            attributes: Vec::new(),
            updated: Vec::new(),
            replace_because: Vec::new(),
            lifecycle: Lifecycle {
                create_before_destroy: cbd,
                ..Lifecycle::default()
            },
            dependencies: deps
                .iter()
                .map(|d| ResourceAddr::managed("test.thing", *d))
                .collect(),
            schema_version: 0,
            span: Span::DETACHED,
        }
    }

    /// Pairs (from, to) as "name:step" strings.
    fn edges(changes: &[ResourceChange]) -> Vec<(String, String)> {
        let s = Schedule::build(changes);
        let label = |i: usize| {
            format!(
                "{}:{}",
                changes[s.steps[i].change].addr.name,
                s.steps[i].step.name()
            )
        };
        let mut out = Vec::new();
        for (from, succ) in s.successors.iter().enumerate() {
            for &to in succ {
                out.push((label(from), label(to)));
            }
        }
        out.sort();
        out
    }

    fn e(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn creates_follow_dependencies_and_deletes_reverse_them() {
        let changes = [
            change("a", Action::Create, &[], false),
            change("b", Action::Create, &["a"], false),
            change("x", Action::Delete, &[], false),
            change("y", Action::Delete, &["x"], false),
        ];
        assert_eq!(
            edges(&changes),
            vec![e("a:create", "b:create"), e("y:delete", "x:delete")]
        );
    }

    #[test]
    fn replace_orders_its_two_steps() {
        let changes = [
            change("a", Action::Replace, &[], false),
            change("b", Action::Replace, &[], true),
        ];
        assert_eq!(
            edges(&changes),
            vec![e("a:delete", "a:create"), e("b:create", "b:delete")]
        );
    }

    #[test]
    fn create_before_destroy_waits_for_dependents_before_deleting() {
        let changes = [
            change("d", Action::Replace, &[], true),
            change("x", Action::Update, &["d"], false),
        ];
        assert_eq!(
            edges(&changes),
            vec![
                e("d:create", "d:delete"),
                e("d:create", "x:update"),
                e("x:update", "d:delete")
            ]
        );
    }

    #[test]
    fn mixed_replace_modes_do_not_make_a_cycle() {
        let changes = [
            change("d", Action::Replace, &[], false),
            change("x", Action::Replace, &["d"], true),
        ];
        let s = Schedule::build(&changes);
        assert!(s.cyclic().is_empty());
        assert_eq!(
            edges(&changes),
            vec![
                e("d:create", "x:create"),
                e("d:delete", "d:create"),
                e("x:create", "x:delete")
            ]
        );
    }

    #[test]
    fn group_dependencies_mean_every_instance() {
        let mut a0 = change("a", Action::Create, &[], false);
        a0.addr = a0.addr.with_key(gig_core::addr::InstanceKey::Index(0));
        let mut a1 = change("a", Action::Create, &[], false);
        a1.addr = a1.addr.with_key(gig_core::addr::InstanceKey::Index(1));
        let b = change("b", Action::Create, &["a"], false);
        let s = Schedule::build(&[a0, a1, b]);
        assert_eq!(s.predecessors, vec![0, 0, 2]);
    }

    #[test]
    fn cycles_are_found() {
        let changes = [
            change("a", Action::Create, &["b"], false),
            change("b", Action::Create, &["a"], false),
        ];
        assert_eq!(Schedule::build(&changes).cyclic(), vec![0, 1]);
    }
}
