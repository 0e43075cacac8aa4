//! Modules as values and as expanded blocks: `module.NAME` references, module blocks
//! with `for` or `count`, and `depends_on` naming modules.
//!
//! # Expansion
//!
//! Pass 1 makes one module instance per module block. A block with a `for` head or a
//! `count` argument is expanded at the start of pass 3, parents before children, by
//! [`Lowerer::expand_modules`]: its collection (or count) is lowered in the declaring
//! instance like a resource's, and the block's instance, with everything below it, is
//! copied once per key. A copy's path names its key (`net["a"]`, so addresses read
//! `module.net["a"].aws.subnet.x`) and it holds the block's for variables bound for that
//! key, which the block's arguments see. The instance copied from is marked dead and
//! never lowered. Nothing has been lowered in a subtree before it is copied, so every
//! copy starts with empty slots.
//!
//! # References
//!
//! `module.NAME.OUTPUT` is the output's value. `module.NAME` alone is an object of every
//! output of the module; for an expanded block, a map of such objects by key (a list for
//! `count`), and `module.NAME[KEY]` (with a key known when lowering) one of them.
//!
//! # depends_on
//!
//! `depends_on = [module.NAME]` (on a resource or a module block) waits for every
//! resource of the module's instances. A module block's `depends_on` applies to every
//! resource below it. Module entries are resolved to resource instances once every
//! resource is lowered ([`Lowerer::resolve_module_deps`]).

use std::rc::Rc;

use crate::ast;
use crate::config::{
    Dependency, DependencyKind, Expr, ExprKind, ObjectEntry, ResourceConfig, ResourceRef,
};
use crate::eval::fold_node;
use gig_core::addr::{InstanceKey, ResourceAddr};
use gig_core::diag::{suggest, Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;

use super::expr::respan;
use super::{Ctx, Expansion, Lowerer, MAX_INSTANCES};

/// The arguments of a module block that belong to the block, not to the module.
pub(super) const META_ARGS: [&str; 2] = ["count", "depends_on"];

/// The instances of an expanded module block.
#[derive(Clone, Debug)]
pub(super) struct ModuleKeys {
    /// Expanded by `count` (so the whole is a list), not `for`.
    pub count: bool,
    /// Each instance's key and index in the lowerer's instances.
    pub instances: Vec<(InstanceKey, usize)>,
}

/// What a module block's `depends_on` names.
#[derive(Debug, Default)]
pub(super) struct BlockDeps {
    /// Resources (and whole expanded resources).
    pub resources: Vec<(ResourceRef, Span)>,
    /// Module instances, by path.
    pub modules: Vec<(Vec<String>, Span)>,
}

/// The path segment of one instance of module `name`: `net["a"]`, `net[0]`.
pub(super) fn keyed_segment(name: &str, key: &InstanceKey) -> String {
    format!("{name}{key}")
}

impl<'a> Lowerer<'a> {
    /// Expands every module block with `for` or `count` (see the module documentation).
    pub(super) fn expand_modules(&mut self) {
        let mut i = 1;
        while i < self.insts.len() {
            let inst = i;
            i += 1;
            let Some((parent, block)) = self.insts[inst].parent else {
                continue;
            };
            let count = block.body.entries.iter().find_map(|e| match e {
                ast::BodyEntry::Attribute(a) if a.name.name == "count" => Some(a),
                _ => None,
            });
            if self.insts[inst].dead
                || self.insts[inst].key.is_some()
                || (block.for_each.is_none() && count.is_none())
            {
                continue;
            }
            let name = block.name.name.clone();
            let expansion = self.expand(parent, block.for_each.as_ref(), count, "module");
            self.kill(inst);
            self.insts[parent].children.remove(&name);
            let Expansion::Keys { count, instances } = expansion else {
                self.insts[parent].expanded.insert(name, None);
                continue;
            };
            let subtree = self.subtree(inst);
            if self.insts.len() + subtree.len() * instances.len() > MAX_INSTANCES {
                self.diags.push(
                    Diagnostic::error(Code::E0156, "invalid expansion collection", block.span)
                        .with_detail(format!(
                            "The module `{name}` would expand into more than {MAX_INSTANCES} module instances."
                        ))
                        .with_label("too many instances"),
                );
                self.insts[parent].expanded.insert(name, None);
                continue;
            }
            let mut copies = Vec::with_capacity(instances.len());
            for (key, vars) in instances {
                let copy = self.copy_subtree(&subtree, &name, &key, vars);
                copies.push((key, copy));
            }
            self.insts[parent].expanded.insert(
                name,
                Some(ModuleKeys {
                    count,
                    instances: copies,
                }),
            );
        }
    }

    /// Marks `inst` and every instance below it dead.
    fn kill(&mut self, inst: usize) {
        for i in self.subtree(inst) {
            self.insts[i].dead = true;
        }
    }

    /// `inst` and every instance below it, parents first.
    fn subtree(&self, inst: usize) -> Vec<usize> {
        let mut out = vec![inst];
        let mut at = 0;
        while at < out.len() {
            let i = out[at];
            out.extend(self.insts[i].children.values().copied());
            at += 1;
        }
        out
    }

    /// Copies the instances `subtree` (its root first) as the instance `key` of module
    /// block `name`, with its for variables `vars`; returns the copy of the root.
    fn copy_subtree(
        &mut self,
        subtree: &[usize],
        name: &str,
        key: &InstanceKey,
        vars: Vec<(String, Value)>,
    ) -> usize {
        let root = subtree[0];
        let depth = self.insts[root].path.len() - 1;
        let segment = keyed_segment(name, key);
        let first = self.insts.len();
        let new_index = |old: usize| subtree.iter().position(|&s| s == old).map(|p| first + p);
        for (n, &old) in subtree.iter().enumerate() {
            let mut copy = self.insts[old].clone();
            copy.dead = false;
            copy.path[depth] = segment.clone();
            for child in copy.children.values_mut() {
                *child = new_index(*child).unwrap_or(*child);
            }
            if n == 0 {
                copy.key = Some(key.clone());
                copy.vars = vars.clone();
            } else if let Some((p, block)) = copy.parent {
                copy.parent = Some((new_index(p).unwrap_or(p), block));
            }
            self.by_path.insert(copy.path.clone(), first + n);
            self.insts.push(copy);
        }
        first
    }

    /// `module.NAME…`: an output, one instance's outputs, or all of them.
    pub(super) fn module_ref<'e>(
        &mut self,
        id: &'e ast::Ident,
        chain: &[&'e ast::Expr],
        cx: &mut Ctx<'_>,
    ) -> (Expr, usize) {
        let inst = cx.inst;
        let whole = chain.last().map_or(id.span, |n| n.span);
        let Some(ast::ExprKind::GetAttr(_, mname)) = chain.first().map(|n| &n.kind) else {
            self.diags.push(
                Diagnostic::error(Code::E0174, "undefined module", whole)
                    .with_detail("A module is read as `module.NAME`, or one output at a time as `module.NAME.OUTPUT`.")
                    .with_label("incomplete module reference"),
            );
            return (Expr::constant(Value::Unknown, whole), chain.len());
        };
        if let Some(expanded) = self.insts[inst].expanded.get(&mname.name).cloned() {
            let Some(keys) = expanded else {
                return (Expr::constant(Value::Unknown, whole), chain.len());
            };
            return match chain.get(1).map(|n| &n.kind) {
                Some(ast::ExprKind::Index(_, ix)) => {
                    let Some(child) = self.module_instance(&mname.name, &keys, ix, cx) else {
                        return (Expr::constant(Value::Unknown, whole), chain.len());
                    };
                    self.module_outputs(child, &mname.name, chain, 2)
                }
                _ => {
                    let span = chain[0].span;
                    let mut items = Vec::with_capacity(keys.instances.len());
                    for (key, child) in &keys.instances {
                        let value = self.outputs_object(*child, span);
                        items.push((key.clone(), value));
                    }
                    let kind = if keys.count {
                        ExprKind::List(items.into_iter().map(|(_, v)| v).collect())
                    } else {
                        ExprKind::Object(
                            items
                                .into_iter()
                                .map(|(k, value)| ObjectEntry {
                                    key: match k {
                                        InstanceKey::Name(s) => s,
                                        InstanceKey::Index(i) => i.to_string(),
                                    },
                                    key_span: span,
                                    value,
                                })
                                .collect(),
                        )
                    };
                    (self.fold(Expr { kind, span }, cx), 1)
                }
            };
        }
        let Some(&child) = self.insts[inst].children.get(&mname.name) else {
            let mut d = Diagnostic::error(Code::E0174, "undefined module", mname.span)
                .with_detail(format!(
                    "No module `{}` is declared in this module.",
                    mname.name
                ))
                .with_label("not declared");
            let names = self.insts[inst]
                .children
                .keys()
                .chain(self.insts[inst].expanded.keys());
            if let Some(s) = suggest(&mname.name, names.map(String::as_str)) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.diags.push(d);
            return (Expr::constant(Value::Unknown, whole), chain.len());
        };
        if let Some(
            next @ ast::Expr {
                kind: ast::ExprKind::Index(..),
                ..
            },
        ) = chain.get(1)
        {
            self.diags.push(
                Diagnostic::error(Code::E0198, "no such module instance", next.span)
                    .with_detail(format!(
                        "The module `{}` is not expanded with `for` or `count`, so it has no instance keys.",
                        mname.name
                    ))
                    .with_label("indexes a single module")
                    .with_help(format!("refer to it as `module.{}`", mname.name)),
            );
            return (Expr::constant(Value::Unknown, next.span), chain.len());
        }
        self.module_outputs(child, &mname.name, chain, 1)
    }

    /// The instance of an expanded module block that the index `ix` names.
    fn module_instance(
        &mut self,
        name: &str,
        keys: &ModuleKeys,
        ix: &ast::Expr,
        cx: &mut Ctx<'_>,
    ) -> Option<usize> {
        let value = self.lower_expr(ix, cx);
        let wanted = match value.as_const() {
            Some(Value::String(s)) => Some(InstanceKey::Name(s.clone())),
            Some(Value::Number(n)) if n.fract() == 0.0 && n.abs() < 1e15 => {
                Some(InstanceKey::Index(*n as i64))
            }
            _ if self.failed_quietly(&value) => return None,
            _ => None,
        };
        if let Some(found) = wanted
            .as_ref()
            .and_then(|w| keys.instances.iter().find(|(k, _)| k == w))
        {
            return Some(found.1);
        }
        let listed: Vec<String> = keys.instances.iter().map(|(k, _)| k.to_string()).collect();
        let mut d = Diagnostic::error(Code::E0198, "no such module instance", ix.span)
            .with_label("no instance with this key");
        d = match &wanted {
            Some(w) => d.with_detail(format!(
                "The module `{name}` has no instance {w}; its instances are {}.",
                if listed.is_empty() { "none".to_string() } else { listed.join(", ") }
            )),
            None => d.with_detail(format!(
                "An instance of the module `{name}` is picked with a key known when lowering: a string for `for`, a whole number for `count`."
            )),
        };
        if let Some(InstanceKey::Name(w)) = &wanted {
            let names = keys.instances.iter().filter_map(|(k, _)| match k {
                InstanceKey::Name(s) => Some(s.as_str()),
                InstanceKey::Index(_) => None,
            });
            if let Some(s) = suggest(w, names) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
        }
        self.diags.push(d);
        None
    }

    /// After `module.NAME` (and a key), `chain[at]`: one output, or all of them as an
    /// object when no output name follows.
    fn module_outputs(
        &mut self,
        child: usize,
        name: &str,
        chain: &[&ast::Expr],
        at: usize,
    ) -> (Expr, usize) {
        let Some(ast::ExprKind::GetAttr(_, oname)) = chain.get(at).map(|n| &n.kind) else {
            let span = chain[at - 1].span;
            let value = self.outputs_object(child, span);
            let dir = self.insts[child].dir;
            return (fold_node(value, dir, &mut self.diags), at);
        };
        if !self.insts[child].outputs.contains_key(oname.name.as_str()) {
            let mut d = Diagnostic::error(Code::E0175, "unknown module output", oname.span)
                .with_detail(format!(
                    "The module `{name}` has no output `{}`.",
                    oname.name
                ))
                .with_label("not an output of this module");
            if let Some(s) = suggest(&oname.name, self.insts[child].outputs.keys().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            self.diags.push(d);
            let whole = chain.last().map_or(oname.span, |n| n.span);
            return (Expr::constant(Value::Unknown, whole), chain.len());
        }
        let v = self.output_value(child, &oname.name);
        (respan(v, chain[at].span), at + 1)
    }

    /// Every output of module instance `child` as one object, its references at `span`.
    fn outputs_object(&mut self, child: usize, span: Span) -> Expr {
        let names: Vec<&str> = self.insts[child].outputs.keys().copied().collect();
        let mut entries = Vec::with_capacity(names.len());
        for name in names {
            let value = respan(self.output_value(child, name), span);
            entries.push(ObjectEntry {
                key: name.to_string(),
                key_span: span,
                value,
            });
        }
        let dir = self.insts[child].dir;
        fold_node(
            Expr {
                kind: ExprKind::Object(entries),
                span,
            },
            dir,
            &mut self.diags,
        )
    }

    fn fold(&mut self, e: Expr, cx: &Ctx<'_>) -> Expr {
        let dir = self.insts[cx.inst].dir;
        fold_node(e, dir, &mut self.diags)
    }

    /// For a `depends_on` entry `module.NAME` or `module.NAME[KEY]`: the paths of the
    /// module instances it names. `None` when the entry is not a module reference.
    pub(super) fn module_dependency(
        &mut self,
        item: &ast::Expr,
        cx: &mut Ctx<'_>,
    ) -> Option<Vec<Vec<String>>> {
        let (base, ix) = match &item.kind {
            ast::ExprKind::Index(base, ix) => (&**base, Some(&**ix)),
            _ => (item, None),
        };
        let ast::ExprKind::GetAttr(root, mname) = &base.kind else {
            return None;
        };
        let ast::ExprKind::Var(root) = &root.kind else {
            return None;
        };
        let inst = cx.inst;
        let shadowed = self.insts[inst].params.contains_key(root.name.as_str())
            || self.insts[inst].lets.contains_key(root.name.as_str());
        if root.name != "module" || shadowed {
            return None;
        }
        if let Some(expanded) = self.insts[inst].expanded.get(&mname.name).cloned() {
            let keys = expanded?;
            let chosen = match ix {
                Some(ix) => vec![self.module_instance(&mname.name, &keys, ix, cx)?],
                None => keys.instances.iter().map(|(_, i)| *i).collect(),
            };
            return Some(
                chosen
                    .into_iter()
                    .map(|i| self.insts[i].path.clone())
                    .collect(),
            );
        }
        if ix.is_some() {
            return None; // Reported as an invalid reference when lowered.
        }
        let &child = self.insts[inst].children.get(&mname.name)?;
        Some(vec![self.insts[child].path.clone()])
    }

    /// What the `depends_on` of every module block above `inst` names (instantiating
    /// `inst`, its parent, …), computed once per instance.
    pub(super) fn enclosing_block_deps(&mut self, inst: usize) -> Vec<Rc<BlockDeps>> {
        let mut out = Vec::new();
        let mut at = inst;
        while let Some((parent, block)) = self.insts[at].parent {
            if let Some(deps) = &self.insts[at].block_deps {
                out.push(deps.clone());
            } else {
                let mut deps = BlockDeps::default();
                let attr = block.body.entries.iter().find_map(|e| match e {
                    ast::BodyEntry::Attribute(a) if a.name.name == "depends_on" => Some(a),
                    _ => None,
                });
                if let Some(attr) = attr {
                    let vars = self.insts[at].vars.clone();
                    let mut cx = Ctx {
                        vars: &vars,
                        ..Ctx::module(parent)
                    };
                    deps = self.depends_on(&attr.value, &mut cx);
                }
                let deps = Rc::new(deps);
                self.insts[at].block_deps = Some(deps.clone());
                out.push(deps);
            }
            at = parent;
        }
        out
    }

    /// Adds to each resource that waits for a module a dependency on every resource
    /// instance of that module (except itself). `resources` is sorted by address.
    pub(super) fn resolve_module_deps(&mut self, resources: &mut [ResourceConfig]) {
        let pending = std::mem::take(&mut self.module_deps);
        if pending.is_empty() {
            return;
        }
        let mut added: Vec<(usize, Dependency)> = Vec::new();
        for (addr, path, span) in pending {
            let Ok(at) = resources.binary_search_by(|r| r.addr.cmp(&addr)) else {
                // A resource expanded over data sources: its instances share the deps.
                let targets: Vec<ResourceAddr> = resources
                    .iter()
                    .filter(|r| r.addr.module.starts_with(&path))
                    .map(|r| r.addr.clone())
                    .collect();
                if let Some(d) = self.deferred.iter_mut().find(|d| d.resource.addr == addr) {
                    d.resource
                        .dependencies
                        .extend(targets.into_iter().map(|target| Dependency {
                            target,
                            span,
                            kind: DependencyKind::DependsOn,
                        }));
                }
                continue;
            };
            for r in resources.iter() {
                if r.addr.module.starts_with(&path) && r.addr.group() != addr.group() {
                    added.push((
                        at,
                        Dependency {
                            target: r.addr.clone(),
                            span,
                            kind: DependencyKind::DependsOn,
                        },
                    ));
                }
            }
        }
        for (at, dep) in added {
            resources[at].dependencies.push(dep);
        }
        let deferred = self.deferred.iter_mut().map(|d| &mut d.resource);
        for r in resources.iter_mut().chain(deferred) {
            let deps = &mut r.dependencies;
            deps.sort_by(|a, b| (&a.target, a.kind, a.span).cmp(&(&b.target, b.kind, b.span)));
            deps.dedup_by(|a, b| a.target == b.target);
        }
    }
}
