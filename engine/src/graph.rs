//! The resource graph: one node per resource instance, one edge per dependency.
//!
//! Nodes are every expanded instance in the [`Config`] (managed resources and data
//! sources) plus every instance found only in the Prior state (those are about to be
//! deleted; their edges come from the dependencies recorded in state). An edge points
//! from a dependency to its dependent, so a topological order is a valid create order
//! and its reverse a valid delete order.
//!
//! A dependency on a whole expanded resource (a reference such as
//! `[for s in aws.subnet.private : s.id]`, which lowering records with no instance key)
//! becomes one edge from each of its instances.
//!
//! Cycles are reported as diagnostic `E0301` with one label per edge of the cycle, at
//! the reference that made the edge. The topological order is deterministic: among the
//! instances that are ready at the same time, the smallest address comes first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use gig_core::addr::{Mode, ResourceAddr};
use gig_core::diag::{Code, Diagnostic};
use gig_core::span::Span;
use gig_dsl::config::{Config, DependencyKind};
use gig_state::Snapshot;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

/// One resource instance in the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The instance's address.
    pub addr: ResourceAddr,
    /// Declared in the configuration.
    pub in_config: bool,
    /// Recorded in the Prior state.
    pub in_prior: bool,
}

impl Node {
    /// Whether this is a data source.
    pub fn is_data(&self) -> bool {
        self.addr.mode == Mode::Data
    }
}

/// Why an edge exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeOrigin {
    /// A reference or `depends_on` entry in the configuration.
    Config(DependencyKind),
    /// A dependency recorded in state for an instance no longer in the configuration.
    State,
}

/// A dependency edge: the dependent needs the dependency first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Where the dependent names the dependency (detached for edges from state).
    pub span: Span,
    /// Reference, `depends_on` or state.
    pub origin: EdgeOrigin,
}

/// The dependency graph of one plan.
#[derive(Clone, Debug, Default)]
pub struct ResourceGraph {
    graph: DiGraph<Node, Edge>,
    index: BTreeMap<ResourceAddr, NodeIndex>,
    order: Vec<ResourceAddr>,
    cyclic: bool,
}

/// Builds the graph of `config` and the instances only in `prior`.
///
/// Returns the graph together with every problem found: cycles (`E0301`) and
/// dependencies on instances that do not exist (`E0302`). The graph is usable even
/// when there are diagnostics: missing edges are left out, and instances on a cycle
/// are placed at the end of [`ResourceGraph::order`] in address order.
pub fn build(config: &Config, prior: &Snapshot) -> (ResourceGraph, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut g = ResourceGraph::default();

    // Nodes, in address order so node indices are deterministic too.
    let mut addrs: BTreeMap<&ResourceAddr, (bool, bool)> = BTreeMap::new();
    for r in &config.resources {
        addrs.entry(&r.addr).or_default().0 = true;
    }
    for addr in prior.resources.keys() {
        addrs.entry(addr).or_default().1 = true;
    }
    for (addr, (in_config, in_prior)) in addrs {
        let ix = g.graph.add_node(Node {
            addr: addr.clone(),
            in_config,
            in_prior,
        });
        g.index.insert(addr.clone(), ix);
    }

    // Group address → instances, for references to a whole expanded resource.
    let mut groups: BTreeMap<ResourceAddr, Vec<NodeIndex>> = BTreeMap::new();
    for r in &config.resources {
        if r.addr.key.is_some() {
            groups
                .entry(r.addr.group())
                .or_default()
                .push(g.index[&r.addr]);
        }
    }

    // Edges from the configuration.
    let mut seen: BTreeSet<(NodeIndex, NodeIndex)> = BTreeSet::new();
    for r in &config.resources {
        let to = g.index[&r.addr];
        for dep in &r.dependencies {
            let targets: Vec<NodeIndex> = match g.index.get(&dep.target) {
                Some(ix) if g.graph[*ix].in_config => vec![*ix],
                _ if dep.target.key.is_none() => match groups.get(&dep.target) {
                    Some(ixs) => ixs.clone(),
                    // An expanded resource may legitimately have no instances (a `for`
                    // over an empty list); lowering rejects names that do not exist.
                    None => Vec::new(),
                },
                // An instance of a resource expanded over data sources: its instances
                // are made while planning, and the graph is built again with them.
                _ if config
                    .deferred
                    .iter()
                    .any(|d| d.resource.addr == dep.target.group()) =>
                {
                    Vec::new()
                }
                _ => {
                    diags.push(
                        Diagnostic::error(
                            Code::E0302,
                            "dependency on an unknown resource",
                            dep.span,
                        )
                        .with_detail(format!(
                            "`{}` depends on `{}`, which is not declared in the configuration.",
                            r.addr, dep.target
                        ))
                        .with_label("this instance does not exist")
                        .with_secondary(r.header_span, "in this resource"),
                    );
                    Vec::new()
                }
            };
            for from in targets {
                if seen.insert((from, to)) {
                    g.graph.add_edge(
                        from,
                        to,
                        Edge {
                            span: dep.span,
                            origin: EdgeOrigin::Config(dep.kind),
                        },
                    );
                }
            }
        }
    }

    // Edges from state, for instances that are only in state. A recorded dependency
    // that is gone from both config and state was already deleted: no edge needed.
    for (addr, record) in &prior.resources {
        let to = g.index[addr];
        if g.graph[to].in_config {
            continue;
        }
        for dep in &record.dependencies {
            if let Some(&from) = g.index.get(dep) {
                if from != to && seen.insert((from, to)) {
                    g.graph.add_edge(
                        from,
                        to,
                        Edge {
                            span: Span::DETACHED,
                            origin: EdgeOrigin::State,
                        },
                    );
                }
            }
        }
    }

    diags.extend(g.cycle_diagnostics(config));
    g.order = g.kahn_order();
    (g, diags)
}

impl ResourceGraph {
    /// Every instance in topological order (dependencies first, ties by address).
    pub fn order(&self) -> &[ResourceAddr] {
        &self.order
    }

    /// Whether the graph has a cycle (reported when it was built).
    pub fn has_cycle(&self) -> bool {
        self.cyclic
    }

    /// The number of instances.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// Whether the graph has no instances.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// The number of dependency edges.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// The node at `addr`.
    pub fn node(&self, addr: &ResourceAddr) -> Option<&Node> {
        self.index.get(addr).map(|ix| &self.graph[*ix])
    }

    /// Whether `addr` is in the graph.
    pub fn contains(&self, addr: &ResourceAddr) -> bool {
        self.index.contains_key(addr)
    }

    /// Every node, sorted by address.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> + '_ {
        self.index.values().map(|ix| &self.graph[*ix])
    }

    /// Every edge as (dependency, dependent, edge), sorted by dependent then dependency.
    pub fn edges(&self) -> Vec<(&ResourceAddr, &ResourceAddr, &Edge)> {
        let mut out: Vec<_> = self
            .graph
            .edge_references()
            .map(|e| {
                (
                    &self.graph[e.source()].addr,
                    &self.graph[e.target()].addr,
                    e.weight(),
                )
            })
            .collect();
        out.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
        out
    }

    /// The instances `addr` needs first, sorted.
    pub fn dependencies(&self, addr: &ResourceAddr) -> Vec<&ResourceAddr> {
        self.neighbors(addr, Direction::Incoming)
    }

    /// The instances that need `addr` first, sorted.
    pub fn dependents(&self, addr: &ResourceAddr) -> Vec<&ResourceAddr> {
        self.neighbors(addr, Direction::Outgoing)
    }

    /// The number of instances on the longest dependency chain (0 for an empty graph).
    /// With unlimited parallelism, apply needs at least this many sequential steps.
    pub fn critical_path_len(&self) -> usize {
        self.levels().values().map(|l| l + 1).max().unwrap_or(0)
    }

    /// The largest number of instances at the same depth (depth = longest chain of
    /// dependencies before it): how many could run at once in the widest step.
    pub fn width(&self) -> usize {
        let mut per_level: BTreeMap<usize, usize> = BTreeMap::new();
        for l in self.levels().values() {
            *per_level.entry(*l).or_default() += 1;
        }
        per_level.values().copied().max().unwrap_or(0)
    }

    /// Graphviz DOT text for `gig graph`: deterministic, addresses quoted, data sources
    /// dashed, instances only in state (to be deleted) dotted.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph gig {\n  rankdir = \"LR\";\n  node [shape = box];\n");
        for node in self.nodes() {
            let mut attrs = Vec::new();
            if node.is_data() {
                attrs.push("style = dashed");
            } else if !node.in_config {
                attrs.push("style = dotted");
            }
            let _ = if attrs.is_empty() {
                writeln!(out, "  {};", dot_quote(&node.addr.to_string()))
            } else {
                writeln!(
                    out,
                    "  {} [{}];",
                    dot_quote(&node.addr.to_string()),
                    attrs.join(", ")
                )
            };
        }
        let mut edges = self.edges();
        edges.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (from, to, edge) in edges {
            let style = match edge.origin {
                EdgeOrigin::Config(DependencyKind::Reference) => "",
                EdgeOrigin::Config(DependencyKind::DependsOn) => " [style = dashed]",
                EdgeOrigin::State => " [style = dotted]",
            };
            let _ = writeln!(
                out,
                "  {} -> {}{style};",
                dot_quote(&from.to_string()),
                dot_quote(&to.to_string())
            );
        }
        out.push_str("}\n");
        out
    }

    fn neighbors(&self, addr: &ResourceAddr, dir: Direction) -> Vec<&ResourceAddr> {
        let Some(&ix) = self.index.get(addr) else {
            return Vec::new();
        };
        let mut out: Vec<&ResourceAddr> = self
            .graph
            .neighbors_directed(ix, dir)
            .map(|n| &self.graph[n].addr)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Depth of every node in the topological order (cyclic nodes count from their
    /// acyclic predecessors only).
    fn levels(&self) -> BTreeMap<NodeIndex, usize> {
        let mut level: BTreeMap<NodeIndex, usize> = BTreeMap::new();
        for addr in &self.order {
            let ix = self.index[addr];
            let l = self
                .graph
                .neighbors_directed(ix, Direction::Incoming)
                .filter_map(|p| level.get(&p).map(|l| l + 1))
                .max()
                .unwrap_or(0);
            level.insert(ix, l);
        }
        level
    }

    /// Kahn's algorithm with a sorted ready set; nodes left on cycles go last.
    fn kahn_order(&self) -> Vec<ResourceAddr> {
        let mut indegree: BTreeMap<NodeIndex, usize> = BTreeMap::new();
        let mut ready: BTreeSet<(&ResourceAddr, NodeIndex)> = BTreeSet::new();
        for (addr, &ix) in &self.index {
            let d = self
                .graph
                .neighbors_directed(ix, Direction::Incoming)
                .count();
            indegree.insert(ix, d);
            if d == 0 {
                ready.insert((addr, ix));
            }
        }
        let mut order = Vec::with_capacity(self.index.len());
        let mut done: BTreeSet<NodeIndex> = BTreeSet::new();
        while let Some((addr, ix)) = ready.pop_first() {
            order.push(addr.clone());
            done.insert(ix);
            for next in self.graph.neighbors_directed(ix, Direction::Outgoing) {
                if let Some(d) = indegree.get_mut(&next) {
                    *d -= 1;
                    if *d == 0 {
                        ready.insert((&self.graph[next].addr, next));
                    }
                }
            }
        }
        for (addr, ix) in &self.index {
            if !done.contains(ix) {
                order.push(addr.clone());
            }
        }
        order
    }

    /// One `E0301` per strongly connected component that holds a cycle, labelling
    /// every edge of one cycle through its smallest address.
    fn cycle_diagnostics(&mut self, config: &Config) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let mut components: Vec<Vec<NodeIndex>> = petgraph::algo::tarjan_scc(&self.graph)
            .into_iter()
            .filter(|c| c.len() > 1 || self.graph.contains_edge(c[0], c[0]))
            .collect();
        for c in &mut components {
            c.sort_by(|a, b| self.graph[*a].addr.cmp(&self.graph[*b].addr));
        }
        components.sort_by(|a, b| self.graph[a[0]].addr.cmp(&self.graph[b[0]].addr));
        self.cyclic = !components.is_empty();
        for component in components {
            let members: BTreeSet<NodeIndex> = component.iter().copied().collect();
            let cycle = self.find_cycle(component[0], &members);
            // Walk the cycle in reference direction: each dependent references the next.
            let names: Vec<String> = cycle
                .iter()
                .rev()
                .map(|(_, to, _)| format!("`{}`", self.graph[*to].addr))
                .collect();
            let first = cycle.last().map(|(_, to, _)| *to).unwrap_or(component[0]);
            let primary = config
                .resource(&self.graph[first].addr)
                .map(|r| r.header_span)
                .unwrap_or(Span::DETACHED);
            let mut d = Diagnostic::error(Code::E0301, "dependency cycle", primary)
                .with_detail(format!(
                    "These resources depend on each other in a cycle, so none of them can be created first: {} → {}.",
                    names.join(" → "),
                    names.first().map(String::as_str).unwrap_or("")
                ))
                .with_label("this resource is part of a dependency cycle")
                .with_help("remove one of the references or `depends_on` entries to break the cycle");
            for (from, to, edge) in cycle.iter().rev() {
                let verb = match edge.origin {
                    EdgeOrigin::Config(DependencyKind::DependsOn) => "depends on",
                    EdgeOrigin::Config(DependencyKind::Reference) => "references",
                    EdgeOrigin::State => "depended on (in state)",
                };
                d = d.with_secondary(
                    edge.span,
                    format!(
                        "`{}` {verb} `{}` here",
                        self.graph[*to].addr, self.graph[*from].addr
                    ),
                );
            }
            diags.push(d);
        }
        diags
    }

    /// A cycle through `start` inside `members`, as edges (dependency, dependent, edge)
    /// in edge direction starting at `start`. Deterministic: successors are tried in
    /// address order.
    fn find_cycle(
        &self,
        start: NodeIndex,
        members: &BTreeSet<NodeIndex>,
    ) -> Vec<(NodeIndex, NodeIndex, Edge)> {
        // Breadth-first search from start's successors back to start gives a shortest cycle.
        let mut parent: BTreeMap<NodeIndex, (NodeIndex, Edge)> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::new();
        queue.push_back(start);
        let mut visited: BTreeSet<NodeIndex> = BTreeSet::new();
        while let Some(n) = queue.pop_front() {
            let mut succ: Vec<(NodeIndex, Edge)> = self
                .graph
                .edges_directed(n, Direction::Outgoing)
                .filter(|e| members.contains(&e.target()))
                .map(|e| (e.target(), *e.weight()))
                .collect();
            succ.sort_by(|a, b| self.graph[a.0].addr.cmp(&self.graph[b.0].addr));
            for (m, edge) in succ {
                if m == start {
                    // Rebuild the path start → … → n → start.
                    let mut path = vec![(n, start, edge)];
                    let mut cur = n;
                    while cur != start {
                        let Some((p, e)) = parent.get(&cur) else {
                            break;
                        };
                        path.push((*p, cur, *e));
                        cur = *p;
                    }
                    path.reverse();
                    return path;
                }
                if visited.insert(m) {
                    parent.insert(m, (n, edge));
                    queue.push_back(m);
                }
            }
        }
        Vec::new()
    }
}

/// Quotes a DOT identifier.
fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
