//! `moved` blocks against the state: Prior records renamed before anything reads them.
//!
//! A `moved` block says that the object recorded at `from` is the one the configuration
//! now declares at `to`. [`apply_moves`] renames such records in Prior, so the graph,
//! refresh and the planner see them at their new addresses and plan a no-op or an
//! update instead of a delete and a create; the plan lists each rename
//! ([`crate::model::Plan::moved`]) and apply writes it to state first.
//!
//! # Algorithm
//!
//! 1. **Blocks.** Two blocks moving from one address, or to one address, are ambiguous
//!    (E0385). The blocks form a graph of `from → to` edges with at most one edge out
//!    of each address; following the edges from each block finds cycles (E0382).
//! 2. **Ends.** A `from` that the configuration still declares cannot be moved away
//!    (E0383). The last `to` of every chain must be declared (E0381); an address in the
//!    middle of a chain (`b` in `a → b`, `b → c`) need not be.
//! 3. **Records.** Each Prior record whose address is a `from` (or an instance of a
//!    whole-resource `from`) follows its chain to the end. A record whose new address
//!    is already recorded, or that another record also moves to, is an error (E0380):
//!    two objects cannot share one address. A `from` with no record does nothing.
//!
//! Pure: no clock, randomness, environment or I/O.

#![deny(clippy::disallowed_methods, clippy::disallowed_macros)]

use std::collections::{BTreeMap, BTreeSet};

use gig_core::addr::ResourceAddr;
use gig_core::diag::{Code, Diagnostic};
use gig_dsl::config::{Config, MovedConfig};
use gig_state::Snapshot;

/// The outcome of [`apply_moves`].
#[derive(Debug, Default)]
pub struct Moves {
    /// Prior with every moved record at its new address.
    pub prior: Snapshot,
    /// New address → the address state records it at.
    pub moved: BTreeMap<ResourceAddr, ResourceAddr>,
    /// Errors at the `moved` blocks; when there are any, `prior` is unchanged.
    pub diagnostics: Vec<Diagnostic>,
}

/// Renames the records of `prior` that `config`'s `moved` blocks move (see the module
/// documentation).
pub fn apply_moves(config: &Config, prior: &Snapshot) -> Moves {
    let mut out = Moves {
        prior: prior.clone(),
        ..Moves::default()
    };
    if config.moves.is_empty() {
        return out;
    }
    let blocks = check_blocks(config, &mut out.diagnostics);
    if !out.diagnostics.is_empty() {
        return out;
    }

    // Every record that moves, with the block that moves it first.
    let mut renames: BTreeMap<ResourceAddr, (ResourceAddr, &MovedConfig)> = BTreeMap::new();
    for addr in prior.resources.keys() {
        let Some((mut to, first)) = step(&blocks, addr) else {
            continue;
        };
        let mut steps = 1;
        while let Some((next, _)) = step(&blocks, &to) {
            to = next;
            steps += 1;
            if steps > config.moves.len() {
                break;
            }
        }
        if steps > config.moves.len() && step(&blocks, &to).is_some() {
            // A cycle through whole-resource and instance blocks together.
            out.diagnostics.push(
                Diagnostic::error(Code::E0382, "moved blocks form a cycle", first.span)
                    .with_detail(format!(
                        "Following the moved blocks from `{addr}` never ends: they lead back to where they start."
                    ))
                    .with_label("part of the cycle"),
            );
            return out;
        }
        renames.insert(addr.clone(), (to, first));
    }
    let mut taken: BTreeMap<&ResourceAddr, &ResourceAddr> = BTreeMap::new();
    for (from, (to, block)) in &renames {
        let staying = prior.resources.contains_key(to) && !renames.contains_key(to);
        let other = taken.insert(to, from);
        if staying || other.is_some() {
            let with = match other {
                Some(o) => format!("the object recorded at `{o}` moves there too"),
                None => format!("`{to}` is already recorded in state"),
            };
            out.diagnostics.push(
                Diagnostic::error(Code::E0380, "moved between two recorded objects", block.to_span)
                    .with_detail(format!(
                        "The object recorded at `{from}` would move to `{to}`, but {with}. One address holds one object."
                    ))
                    .with_label("already taken")
                    .with_help("remove one of the two records with `gig state rm`, or remove this moved block"),
            );
        }
    }
    if !out.diagnostics.is_empty() {
        return out;
    }
    for (from, (to, _)) in renames {
        if let Some(mut record) = out.prior.resources.remove(&from) {
            record.addr = to.clone();
            out.prior.resources.insert(to.clone(), record);
            out.moved.insert(to, from);
        }
    }
    // Records keep the addresses of what they depended on when applied, for deletes.
    for record in out.prior.resources.values_mut() {
        for dep in &mut record.dependencies {
            if let Some((to, _)) = out.moved.iter().find(|(_, from)| *from == dep) {
                *dep = to.clone();
            }
        }
    }
    out
}

/// Checks the blocks among themselves and against the configuration; returns them by
/// `from` address.
fn check_blocks<'c>(
    config: &'c Config,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<&'c ResourceAddr, &'c MovedConfig> {
    let mut by_from: BTreeMap<&ResourceAddr, &MovedConfig> = BTreeMap::new();
    let mut by_to: BTreeMap<&ResourceAddr, &MovedConfig> = BTreeMap::new();
    for m in &config.moves {
        for (map, addr, span, side) in [
            (&mut by_from, &m.from, m.from_span, "from"),
            (&mut by_to, &m.to, m.to_span, "to"),
        ] {
            if let Some(first) = map.insert(addr, m) {
                map.insert(addr, first);
                diags.push(
                    Diagnostic::error(Code::E0385, "conflicting moved blocks", span)
                        .with_detail(format!(
                            "Two moved blocks move {side} `{addr}`, so which object goes where is ambiguous."
                        ))
                        .with_label("second block")
                        .with_secondary(first.span, "first block")
                        .with_help("keep one block per address; chain moves as `a → b`, `b → c`"),
                );
            }
        }
    }
    if !diags.is_empty() {
        return by_from;
    }
    let mut in_cycle: BTreeSet<&ResourceAddr> = BTreeSet::new();
    for m in &config.moves {
        if in_cycle.contains(&m.from) {
            continue;
        }
        let mut chain = vec![&m.from];
        let mut at = &m.to;
        loop {
            if at == &m.from {
                let names: Vec<String> = chain.iter().map(|a| format!("`{a}`")).collect();
                diags.push(
                    Diagnostic::error(Code::E0382, "moved blocks form a cycle", m.span)
                        .with_detail(format!(
                            "These moved blocks lead back to where they start: {} → `{}`.",
                            names.join(" → "),
                            m.from
                        ))
                        .with_label("part of the cycle"),
                );
                in_cycle.extend(chain.iter().copied());
                break;
            }
            // A cycle that does not pass through `m` is reported from one of its blocks.
            let Some(next) = by_from
                .get(at)
                .filter(|_| chain.len() <= config.moves.len())
            else {
                break;
            };
            chain.push(at);
            at = &next.to;
        }
    }
    if !diags.is_empty() {
        return by_from;
    }
    for m in &config.moves {
        if declared(config, &m.from) {
            diags.push(
                Diagnostic::error(Code::E0383, "moved from a declared resource", m.from_span)
                    .with_detail(format!(
                        "`{}` is still declared, so its record cannot move to `{}`: the configuration would hold both.",
                        m.from, m.to
                    ))
                    .with_label("still declared")
                    .with_help("remove or rename the old resource block when moving it"),
            );
        }
        if !by_from.contains_key(&m.to) && !declared(config, &m.to) {
            diags.push(
                Diagnostic::error(
                    Code::E0381,
                    "moved or import target not declared",
                    m.to_span,
                )
                .with_detail(format!(
                    "The moved block moves `{}` to `{}`, which the configuration does not declare.",
                    m.from, m.to
                ))
                .with_label("not declared")
                .with_help("declare the resource at its new address, or fix the address"),
            );
        }
    }
    by_from
}

/// The address `addr` moves to by one block, and that block: a block from `addr`
/// itself, or a whole-resource block from `addr`'s resource (the key is kept).
fn step<'c>(
    blocks: &BTreeMap<&ResourceAddr, &'c MovedConfig>,
    addr: &ResourceAddr,
) -> Option<(ResourceAddr, &'c MovedConfig)> {
    if let Some(m) = blocks.get(addr) {
        return Some((m.to.clone(), m));
    }
    let key = addr.key.clone()?;
    let m = blocks.get(&addr.group())?;
    (m.to.key.is_none()).then(|| (m.to.clone().with_key(key), *m))
}

/// Whether `config` declares `addr`: the instance itself, or, for an address without a
/// key, a resource with instances; or an instance of a resource expanded over data
/// sources, whose instances are not known before they are read.
pub fn declared(config: &Config, addr: &ResourceAddr) -> bool {
    config.resource(addr).is_some()
        || (addr.key.is_none() && config.resources.iter().any(|r| r.addr.group() == *addr))
        // Instances of a resource expanded over data sources are made while planning.
        || config.deferred.iter().any(|d| d.resource.addr == addr.group())
}
