//! Lowering: parsed [`ast::File`]s of a stack → the [`Config`] the engine consumes.
//!
//! The algorithm runs in three passes.
//!
//! 1. **Module tree.** Starting from the root module (every `.gig` file of the stack
//!    directory), each `module NAME from "PATH"` block is resolved relative to the
//!    declaring module's directory and loaded through the [`Host`]. A directory that is
//!    already on the chain from the root is a cycle (E0171); the tree is at most
//!    [`MAX_MODULE_DEPTH`] deep (E0176). Every module block becomes a module *instance*
//!    with a path (`["edge"]`); two instances of one directory share its parsed files.
//! 2. **Declarations.** Each instance indexes its params, lets, resources, child modules
//!    and outputs by name, reporting duplicates (E0154). Root params get their final
//!    values (default < `env/<ENV>.gigvars` < `GIG_PARAM_*` < `--param`), converted and
//!    type-checked.
//! 3. **Values, on demand.** Lets, module arguments, module outputs and resource
//!    expansions are lowered lazily and memoised in slots; a slot found busy means a
//!    cycle (E0153). Every resource block is expanded into instances (`for` over a known
//!    list or map, or `count`), and each instance's body is lowered with the for
//!    variables bound to constants. Names resolve in this order: for-expression
//!    variables, the resource's own for variables (and `count`), references
//!    (`PROVIDER.TYPE.NAME`, `data.…`, `module.NAME.OUTPUT`), params, lets.
//!    Expressions fold bottom-up into constants as they are built ([`crate::eval`]);
//!    whatever depends on a resource stays residual.
//!
//! Lowering never panics and recursion is bounded: expressions by the parser's
//! depth limit, modules by [`MAX_MODULE_DEPTH`], lazy slots by cycle detection.

// Diagnostics are large but only travel on the error path.
#![allow(clippy::result_large_err)]

mod expr;
mod modules;
mod moved;
mod params;
mod stack;
mod state;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::ast;
use crate::config::{
    Config, DeferredResource, Dependency, DependencyKind, Expr, ExprKind, Lifecycle, ObjectEntry,
    OutputConfig, ProviderConfig, ResourceConfig, ResourceRef,
};
use gig_core::addr::{provider_kind, InstanceKey, Mode, ResourceAddr};
use gig_core::diag::{suggest, Code, Diagnostic};
use gig_core::span::Span;
use gig_core::value::Value;

/// The deepest chain of nested modules.
pub const MAX_MODULE_DEPTH: usize = 16;

/// The most instances one resource block may expand into.
pub const MAX_INSTANCES: usize = 100_000;

/// The parsed files of one module directory.
#[derive(Clone, Debug, Default)]
pub struct ModuleSource {
    /// The directory the files came from; `None` for in-memory sources, which then
    /// cannot use modules or `file()`.
    pub dir: Option<PathBuf>,
    /// The parsed files, in the order they should be read (sorted by path).
    pub files: Vec<ast::File>,
}

/// Why a module directory could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModuleLoadError {
    /// The directory holds no `.gig` file.
    NoGigFiles,
    /// Reading the directory failed; the message says why.
    Io(String),
}

/// What lowering needs from whoever reads files: loading module directories and
/// parsing raw param values. [`crate::load`] implements it over the real file system.
pub trait Host {
    /// Reads and parses every `.gig` file of `dir` (sorted by path). Syntax errors in
    /// those files are the host's to report; lowering uses whatever parsed.
    fn load_module(&mut self, dir: &Path) -> Result<Vec<ast::File>, ModuleLoadError>;

    /// Parses `text`, the raw value of param `name`, as one expression; `origin` names
    /// where the text came from (for example `--param azs`) so diagnostics can point at
    /// it. `None` (with the syntax diagnostics reported by the host) when it does not
    /// parse.
    fn parse_expr(&mut self, origin: &str, name: &str, text: &str) -> Option<ast::Expr>;
}

/// Inputs of lowering besides the files.
#[derive(Clone, Debug, Default)]
pub struct LowerOptions<'a> {
    /// The stack's name when nothing else names it: its directory's name.
    pub stack: String,
    /// `--stack-name NAME`: overrides the `stack` block and the directory's name.
    pub stack_name: Option<String>,
    /// The selected environment.
    pub env: Option<String>,
    /// The parsed `env/<ENV>.gigvars` file, when an environment is selected.
    pub gigvars: Option<&'a ast::File>,
    /// `--param name=value` pairs, in command-line order (later wins).
    pub params: &'a [(String, String)],
    /// `GIG_PARAM_<name>=value` pairs from the environment.
    pub env_params: &'a [(String, String)],
}

/// Lowers a stack. The config is complete when no error was found; with errors it holds
/// whatever lowered, and the caller should not use it.
pub fn lower(
    root: ModuleSource,
    opts: &LowerOptions<'_>,
    host: &mut dyn Host,
) -> (Config, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let root_canon = root.dir.as_ref().and_then(|d| d.canonicalize().ok());
    let mut tree = Tree {
        defs: vec![ModDef {
            dir: root.dir,
            canon: root_canon.clone(),
            files: root.files,
        }],
        insts: vec![InstInfo {
            def: 0,
            path: Vec::new(),
            parent: None,
            children: BTreeMap::new(),
        }],
    };
    let mut chain: Vec<(PathBuf, String)> = root_canon
        .map(|c| (c, ".".to_string()))
        .into_iter()
        .collect();
    build_tree(&mut tree, 0, &mut chain, host, &mut diags);

    let mut lw = Lowerer::new(&tree, diags);
    let config = lw.run(opts, host);
    let mut diags = lw.diags;
    release(tree);
    dedup_diagnostics(&mut diags);
    (config, diags)
}

/// Items in a module tree from which [`release`] frees it on another thread.
const BACKGROUND_FREE_ITEMS: usize = 2_000;

/// Frees the parsed files once lowering is done. A large stack's syntax tree is
/// millions of small allocations, and freeing them took a sixth of lowering's time;
/// nothing waits for that, so a large tree is handed to a short-lived thread that
/// frees it while the caller goes on (if no thread can be started, it is freed here).
fn release(tree: Tree) {
    let items: usize = tree
        .defs
        .iter()
        .flat_map(|d| &d.files)
        .map(|f| f.items.len())
        .sum();
    if items >= BACKGROUND_FREE_ITEMS {
        let _ = std::thread::Builder::new()
            .name("gig-free-ast".to_string())
            .spawn(move || drop(tree));
    }
}

/// Removes repeated diagnostics (a module used twice reports its own mistakes once).
fn dedup_diagnostics(diags: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    diags.retain(|d| seen.insert((d.code, d.span, d.detail.clone())));
}

// ------------------------------------------------------------------ module tree

struct ModDef {
    dir: Option<PathBuf>,
    canon: Option<PathBuf>,
    files: Vec<ast::File>,
}

struct InstInfo {
    def: usize,
    path: Vec<String>,
    /// The parent instance and the position (file, item) of the module block.
    parent: Option<(usize, usize, usize)>,
    children: BTreeMap<String, usize>,
}

struct Tree {
    defs: Vec<ModDef>,
    insts: Vec<InstInfo>,
}

fn build_tree(
    tree: &mut Tree,
    inst: usize,
    chain: &mut Vec<(PathBuf, String)>,
    host: &mut dyn Host,
    diags: &mut Vec<Diagnostic>,
) {
    let def = tree.insts[inst].def;
    let mut blocks = Vec::new();
    for (fi, file) in tree.defs[def].files.iter().enumerate() {
        for (ii, item) in file.items.iter().enumerate() {
            if let ast::Item::Module(m) = item {
                blocks.push((fi, ii, m.name.name.clone(), m.source.clone(), m.source_span));
            }
        }
    }
    for (fi, ii, name, source, source_span) in blocks {
        if tree.insts[inst].children.contains_key(&name) {
            continue; // Reported as a duplicate declaration.
        }
        let Some(base) = tree.defs[def].dir.clone() else {
            diags.push(
                Diagnostic::error(Code::E0170, "module directory not found", source_span)
                    .with_detail("These sources were not read from a directory, so module paths cannot be resolved.")
                    .with_label("cannot be resolved"),
            );
            continue;
        };
        let dir = base.join(&source);
        let missing = |why: &str| {
            Diagnostic::error(Code::E0170, "module directory not found", source_span)
                .with_detail(format!("The module `{name}` reads `{}`, which {why}.", dir.display()))
                .with_label("no module here")
                .with_help("module paths are relative to the directory of the file that declares the module")
        };
        let canon = match dir.canonicalize() {
            Ok(c) if c.is_dir() => c,
            Ok(_) => {
                diags.push(missing("is not a directory"));
                continue;
            }
            Err(_) => {
                diags.push(missing("does not exist"));
                continue;
            }
        };
        if let Some(pos) = chain.iter().position(|(c, _)| c == &canon) {
            let mut names: Vec<&str> = chain[pos..].iter().map(|(_, l)| l.as_str()).collect();
            names.push(&source);
            diags.push(
                Diagnostic::error(Code::E0171, "module includes itself", source_span)
                    .with_detail(format!(
                        "The module `{name}` would include a directory that is already being included: {}.",
                        names.join(" → ")
                    ))
                    .with_label("this closes the cycle"),
            );
            continue;
        }
        if tree.insts[inst].path.len() + 1 > MAX_MODULE_DEPTH {
            diags.push(
                Diagnostic::error(Code::E0176, "modules nested too deeply", source_span)
                    .with_detail(format!(
                        "Modules may nest at most {MAX_MODULE_DEPTH} levels deep."
                    ))
                    .with_label("one level too many"),
            );
            continue;
        }
        let def_idx = match tree
            .defs
            .iter()
            .position(|d| d.canon.as_ref() == Some(&canon))
        {
            Some(i) => i,
            None => match host.load_module(&dir) {
                Ok(files) => {
                    tree.defs.push(ModDef {
                        dir: Some(dir.clone()),
                        canon: Some(canon.clone()),
                        files,
                    });
                    tree.defs.len() - 1
                }
                Err(ModuleLoadError::NoGigFiles) => {
                    diags.push(missing("holds no .gig file"));
                    continue;
                }
                Err(ModuleLoadError::Io(why)) => {
                    diags.push(missing(&format!("could not be read ({why})")));
                    continue;
                }
            },
        };
        let mut path = tree.insts[inst].path.clone();
        path.push(name.clone());
        tree.insts.push(InstInfo {
            def: def_idx,
            path,
            parent: Some((inst, fi, ii)),
            children: BTreeMap::new(),
        });
        let child = tree.insts.len() - 1;
        tree.insts[inst].children.insert(name, child);
        chain.push((canon, source));
        build_tree(tree, child, chain, host, diags);
        chain.pop();
    }
}

// ------------------------------------------------------------------ lookups

/// FxHash, the multiply-rotate hash of rustc: much cheaper than the standard SipHash
/// for the short names lowering looks up once or more per reference. Lowering's hash
/// maps are never iterated into anything a user sees without sorting first.
#[derive(Clone, Copy, Default)]
struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A hash map with [`FxHasher`].
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A hash set with [`FxHasher`].
type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// How many names a [`NameMap`] holds before it hashes them.
const SMALL_NAMES: usize = 8;

/// Names seen in one block or map literal, each with a value (a span, an index).
/// Blocks hold a handful of names, which a short array searched in order finds faster
/// than hashing would (and without allocating); past [`SMALL_NAMES`] names the map
/// switches to hashing so a huge generated block stays linear.
struct NameMap<'n, V> {
    small: [Option<(&'n str, V)>; SMALL_NAMES],
    len: usize,
    large: Option<FastMap<&'n str, V>>,
}

impl<'n, V: Copy> NameMap<'n, V> {
    fn new() -> Self {
        NameMap {
            small: [None; SMALL_NAMES],
            len: 0,
            large: None,
        }
    }

    fn get(&self, name: &str) -> Option<V> {
        match &self.large {
            Some(map) => map.get(name).copied(),
            None => self.small[..self.len]
                .iter()
                .flatten()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v),
        }
    }

    /// Sets `name` to `value`; returns the value it had, like [`HashMap::insert`].
    fn insert(&mut self, name: &'n str, value: V) -> Option<V> {
        if let Some(map) = &mut self.large {
            return map.insert(name, value);
        }
        for (n, v) in self.small[..self.len].iter_mut().flatten() {
            if *n == name {
                return Some(std::mem::replace(v, value));
            }
        }
        if self.len < self.small.len() {
            self.small[self.len] = Some((name, value));
            self.len += 1;
        } else {
            let mut map: FastMap<&'n str, V> = self.small.iter().flatten().copied().collect();
            map.insert(name, value);
            self.large = Some(map);
        }
        None
    }
}

// ------------------------------------------------------------------ lowering state

/// A lazily computed value.
#[derive(Clone)]
enum Slot<T> {
    Todo,
    Busy,
    Done(T),
}

/// Values bound to names for one instance (for variables, `count`).
type Bindings = Vec<(String, Value)>;

/// How a resource block expands.
#[derive(Debug)]
enum Expansion {
    /// One instance, no key.
    Single,
    /// Keyed instances with the for variables (or `count`) bound for each.
    Keys {
        count: bool,
        instances: Vec<(InstanceKey, Vec<(String, Value)>)>,
    },
    /// Keyed by the value of data sources, read while planning: expanded by the engine
    /// (see [`crate::expansion`]). `vars` are the `for` head's variables (`None` for
    /// `count`).
    Deferred {
        count: bool,
        vars: Option<(Option<String>, String)>,
        collection: Expr,
    },
    /// The expansion could not be computed; references to it are silently unknown.
    Failed,
}

impl Expansion {
    fn keys(&self) -> Option<impl Iterator<Item = &InstanceKey>> {
        match self {
            Expansion::Keys { instances, .. } => Some(instances.iter().map(|(k, _)| k)),
            _ => None,
        }
    }
}

#[derive(Clone)]
struct ParamState<'a> {
    decl: &'a ast::Param,
    secret: bool,
    slot: Slot<Expr>,
}

#[derive(Clone)]
struct ResState<'a> {
    decl: &'a ast::Resource,
    rtype: String,
    /// The first `count` attribute of the body, found while indexing (when the tree is
    /// read in order) rather than when the expansion is first needed.
    count: Option<&'a ast::Attribute>,
    slot: Slot<Rc<Expansion>>,
}

#[derive(Clone)]
struct Inst<'a> {
    dir: Option<&'a Path>,
    path: Vec<String>,
    /// The module block that instantiated this module, and the instance declaring it.
    parent: Option<(usize, &'a ast::Module)>,
    params: FastMap<&'a str, ParamState<'a>>,
    lets: FastMap<&'a str, (&'a ast::Let, Slot<Expr>)>,
    /// Keyed by `TYPE.NAME` for managed resources, `data.TYPE.NAME` for data sources.
    resources: FastMap<String, ResState<'a>>,
    /// First segments of managed resource types (`aws`), which start references.
    prefixes: FastSet<&'a str>,
    children: BTreeMap<String, usize>,
    outputs: BTreeMap<&'a str, (&'a ast::Output, Slot<Expr>)>,
    /// `moved` blocks, in source order.
    moved: Vec<&'a ast::MovedBlock>,
    /// `import` blocks, in source order.
    imports: Vec<&'a ast::ImportBlock>,
    /// For one instance of a module block expanded with `for` or `count`: its key.
    key: Option<InstanceKey>,
    /// For one instance of an expanded module block: the block's for variables (or
    /// `count`), bound for this instance. They are seen by the block's arguments only.
    vars: Bindings,
    /// A module block expanded into instances: this instance (and everything below it)
    /// is only the template its instances were copied from, and is never lowered.
    dead: bool,
    /// Child module blocks expanded with `for` or `count`, by name: their instances,
    /// or `None` when the expansion failed (already reported).
    expanded: BTreeMap<String, Option<modules::ModuleKeys>>,
    /// What the `depends_on` of the module block that instantiated this one names,
    /// computed on first use.
    block_deps: Option<Rc<modules::BlockDeps>>,
}

struct Lowerer<'a> {
    insts: Vec<Inst<'a>>,
    by_path: FastMap<Vec<String>, usize>,
    files: Vec<&'a ast::File>,
    diags: Vec<Diagnostic>,
    /// A reusable buffer for resource keys looked up on every reference.
    key_buf: String,
    /// Descriptions of the lazy values being computed, innermost last (for cycles).
    stack: Vec<String>,
    /// `depends_on` entries naming modules: the resource instance that waits, the path
    /// of the module instance whose resources it waits for, and the entry's span.
    /// Resolved once every resource is lowered.
    module_deps: Vec<(ResourceAddr, Vec<String>, Span)>,
    /// Resources expanded over data sources, lowered once each.
    deferred: Vec<DeferredResource>,
}

/// Where an expression is being lowered.
#[derive(Clone)]
struct Ctx<'v> {
    inst: usize,
    /// The resource's own for variables (and `count`), bound to constants.
    vars: &'v [(String, Value)],
    /// Variables of enclosing for-expressions.
    locals: Vec<String>,
    /// Params' defaults and gigvars values: no names at all.
    const_only: bool,
}

impl<'v> Ctx<'v> {
    fn module(inst: usize) -> Ctx<'v> {
        Ctx {
            inst,
            vars: &[],
            locals: Vec::new(),
            const_only: false,
        }
    }
}

fn res_key(mode: Mode, rtype: &str, name: &str) -> String {
    let mut key = String::new();
    push_res_key(&mut key, mode, rtype, name);
    key
}

/// Writes the key of `resources` for a resource into `key` (cleared first).
fn push_res_key(key: &mut String, mode: Mode, rtype: &str, name: &str) {
    key.clear();
    if mode == Mode::Data {
        key.push_str("data.");
    }
    key.reserve(rtype.len() + 1 + name.len());
    key.push_str(rtype);
    key.push('.');
    key.push_str(name);
}

/// `PROVIDER.TYPE` from its two parts.
fn dotted(provider: &str, rtype: &str) -> String {
    let mut out = String::with_capacity(provider.len() + 1 + rtype.len());
    out.push_str(provider);
    out.push('.');
    out.push_str(rtype);
    out
}

fn mode_of(kind: ast::ResourceKind) -> Mode {
    match kind {
        ast::ResourceKind::Managed => Mode::Managed,
        ast::ResourceKind::Data => Mode::Data,
    }
}

fn duplicate(kind: &str, name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(Code::E0154, "duplicate declaration", span)
        .with_detail(format!(
            "The {kind} `{name}` is declared more than once in this module."
        ))
        .with_label("declared again here")
        .with_secondary(first, "first declared here")
}

impl<'a> Lowerer<'a> {
    fn new(tree: &'a Tree, diags: Vec<Diagnostic>) -> Lowerer<'a> {
        let mut lw = Lowerer {
            insts: Vec::new(),
            by_path: FastMap::default(),
            files: Vec::new(),
            diags,
            key_buf: String::new(),
            stack: Vec::new(),
            module_deps: Vec::new(),
            deferred: Vec::new(),
        };
        for (idx, info) in tree.insts.iter().enumerate() {
            let def = &tree.defs[info.def];
            let parent = info.parent.and_then(|(p, fi, ii)| {
                let pdef = &tree.defs[tree.insts[p].def];
                match pdef.files.get(fi).and_then(|f| f.items.get(ii)) {
                    Some(ast::Item::Module(m)) => Some((p, m)),
                    _ => None,
                }
            });
            let inst = lw.index_module(def, info, parent);
            lw.by_path.insert(info.path.clone(), idx);
            lw.insts.push(inst);
            if idx == 0 {
                lw.files.extend(def.files.iter());
            }
        }
        lw
    }

    /// Pass 2: indexes one instance's declarations.
    fn index_module(
        &mut self,
        def: &'a ModDef,
        info: &InstInfo,
        parent: Option<(usize, &'a ast::Module)>,
    ) -> Inst<'a> {
        let mut inst = Inst {
            dir: def.dir.as_deref(),
            path: info.path.clone(),
            parent,
            params: FastMap::default(),
            lets: FastMap::default(),
            resources: FastMap::default(),
            prefixes: FastSet::default(),
            children: info.children.clone(),
            outputs: BTreeMap::new(),
            moved: Vec::new(),
            imports: Vec::new(),
            key: None,
            vars: Vec::new(),
            dead: false,
            expanded: BTreeMap::new(),
            block_deps: None,
        };
        let mut values: FastMap<&str, Span> = FastMap::default();
        let mut modules: FastMap<&str, Span> = FastMap::default();
        for file in &def.files {
            for item in &file.items {
                match item {
                    ast::Item::Param(p) => {
                        if let Some(first) = values.insert(&p.name.name, p.name.span) {
                            self.diags.push(duplicate("value", &p.name.name, p.name.span, first));
                            continue;
                        }
                        let secret = self.param_secret(p);
                        inst.params.insert(&p.name.name, ParamState { decl: p, secret, slot: Slot::Todo });
                    }
                    ast::Item::Let(l) => {
                        if let Some(first) = values.insert(&l.name.name, l.name.span) {
                            self.diags.push(duplicate("value", &l.name.name, l.name.span, first));
                            continue;
                        }
                        inst.lets.insert(&l.name.name, (l, Slot::Todo));
                    }
                    ast::Item::Resource(r) => {
                        if r.rtype.len() != 2 {
                            let span = r.rtype.first().map_or(r.span, |f| f.span.to(r.rtype[r.rtype.len() - 1].span));
                            self.diags.push(
                                Diagnostic::error(Code::E0165, "malformed resource type", span)
                                    .with_detail(format!(
                                        "A resource type has two parts, the provider and the type (`aws.subnet`), but `{}` has {}.",
                                        r.type_name(),
                                        r.rtype.len()
                                    ))
                                    .with_label("expected PROVIDER.TYPE"),
                            );
                            continue;
                        }
                        // Two parts, as checked above.
                        let rtype = dotted(&r.rtype[0].name, &r.rtype[1].name);
                        let mode = mode_of(r.kind);
                        let key = res_key(mode, &rtype, &r.name.name);
                        if let Some(prev) = inst.resources.get(&key) {
                            let first = prev.decl.name.span;
                            self.diags.push(duplicate("resource", &key, r.name.span, first));
                            continue;
                        }
                        if mode == Mode::Managed {
                            inst.prefixes.insert(&r.rtype[0].name);
                        }
                        let count = r.body.entries.iter().find_map(|e| match e {
                            ast::BodyEntry::Attribute(a) if a.name.name == "count" => Some(a),
                            _ => None,
                        });
                        inst.resources.insert(key, ResState { decl: r, rtype, count, slot: Slot::Todo });
                    }
                    ast::Item::Module(m) => {
                        if let Some(first) = modules.insert(&m.name.name, m.name.span) {
                            self.diags.push(duplicate("module", &m.name.name, m.name.span, first));
                        }
                    }
                    ast::Item::Output(o) => {
                        if let Some((prev, _)) = inst.outputs.get(o.name.name.as_str()) {
                            let first = prev.name.span;
                            self.diags.push(duplicate("output", &o.name.name, o.name.span, first));
                            continue;
                        }
                        inst.outputs.insert(&o.name.name, (o, Slot::Todo));
                    }
                    ast::Item::Provider(p) if !info.path.is_empty() => self.diags.push(
                        Diagnostic::error(Code::E0191, "provider block in a module", p.name.span)
                            .with_detail(format!(
                                "Modules use the providers configured by the root module, so `provider {}` belongs in the stack's own files.",
                                p.name.name
                            ))
                            .with_label("move this block to the root module"),
                    ),
                    ast::Item::Provider(_) => {}
                    ast::Item::Stack(st) if !info.path.is_empty() => self.diags.push(
                        Diagnostic::error(Code::E0356, "invalid stack block", st.span)
                            .with_detail("A module is part of the stack that uses it, so it cannot name a stack; `stack { … }` belongs in the stack's own files.")
                            .with_label("stack block in a module"),
                    ),
                    ast::Item::Stack(_) => {}
                    ast::Item::State(st) if !info.path.is_empty() => self.diags.push(
                        Diagnostic::error(Code::E0517, "invalid state block", st.span)
                            .with_detail("A module is part of the stack that uses it and shares its state, so `state { … }` belongs in the stack's own files.")
                            .with_label("state block in a module"),
                    ),
                    ast::Item::State(_) => {}
                    ast::Item::Moved(m) => inst.moved.push(m),
                    ast::Item::Import(i) => inst.imports.push(i),
                    ast::Item::Assign(a) => self.diags.push(
                        Diagnostic::error(Code::E0188, "assignment outside a gigvars file", a.name.span)
                            .with_detail(format!(
                                "`{} = …` at the top level sets a param, which only `env/<ENV>.gigvars` files may do.",
                                a.name.name
                            ))
                            .with_label("not allowed in a .gig file")
                            .with_help(format!("declare it with `let {} = …` or `param {} …`", a.name.name, a.name.name)),
                    ),
                }
            }
        }
        inst
    }

    fn param_secret(&mut self, p: &ast::Param) -> bool {
        let mut secret = false;
        for opt in &p.options {
            match opt.name.name.as_str() {
                "secret" => match opt.value.kind {
                    ast::ExprKind::Bool(b) => secret = b,
                    _ => self.diags.push(
                        Diagnostic::error(Code::E0189, "invalid param option", opt.value.span)
                            .with_detail(
                                "The `secret` option of a param must be `true` or `false`.",
                            )
                            .with_label("expected a bool literal"),
                    ),
                },
                "description" => {}
                other => {
                    let mut d = Diagnostic::error(Code::E0189, "invalid param option", opt.name.span)
                        .with_detail(format!("`{other}` is not a param option; params accept `secret` and `description`."))
                        .with_label("unknown option");
                    if let Some(s) = suggest(other, ["secret", "description"]) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.diags.push(d);
                }
            }
        }
        secret
    }

    /// Pass 3: everything else.
    fn run(&mut self, opts: &LowerOptions<'_>, host: &mut dyn Host) -> Config {
        let params = self.root_params(opts, host);
        let (stack, stack_source) = self.stack_name(opts);
        self.expand_modules();
        self.check_module_args();

        // Lower every let and output of every instance, so mistakes in values nobody
        // references are still reported.
        for i in 0..self.insts.len() {
            if self.insts[i].dead {
                continue;
            }
            let mut lets: Vec<(Span, &str)> = self.insts[i]
                .lets
                .iter()
                .map(|(k, (l, _))| (l.span, *k))
                .collect();
            lets.sort();
            let lets: Vec<&str> = lets.into_iter().map(|(_, k)| k).collect();
            for name in lets {
                self.let_value(i, name);
            }
            let outs: Vec<&str> = self.insts[i].outputs.keys().copied().collect();
            for name in outs {
                self.output_value(i, name);
            }
        }

        let mut resources = Vec::new();
        for i in 0..self.insts.len() {
            if self.insts[i].dead {
                continue;
            }
            let mut keys: Vec<String> = self.insts[i].resources.keys().cloned().collect();
            keys.sort();
            for key in keys {
                self.lower_resource(i, &key, &mut resources);
            }
        }
        resources.sort_by(|a: &ResourceConfig, b| a.addr.cmp(&b.addr));
        self.resolve_module_deps(&mut resources);

        let providers = self.providers(&resources);
        let state = self.state_block();
        let (moves, imports) = self.moves_and_imports();

        let mut outputs = Vec::new();
        let root_outputs: Vec<(&str, &ast::Output)> = self.insts[0]
            .outputs
            .iter()
            .map(|(k, (o, _))| (*k, *o))
            .collect();
        for (name, decl) in root_outputs {
            let value = self.output_value(0, name);
            let declared = decl
                .options
                .iter()
                .any(|o| o.name.name == "secret" && o.value.kind == ast::ExprKind::Bool(true));
            let mut secret = declared;
            value.walk(&mut |e| {
                if let ExprKind::Const(v) = &e.kind {
                    secret |= v.is_secret();
                }
            });
            outputs.push(OutputConfig {
                name: name.to_string(),
                value,
                secret,
                span: decl.span,
            });
        }

        Config {
            stack,
            stack_source,
            env: opts.env.clone(),
            params,
            providers,
            resources,
            outputs,
            state,
            moves,
            imports,
            deferred: std::mem::take(&mut self.deferred),
        }
    }

    // -------------------------------------------------------------- lets and outputs

    /// Runs `f` as the computation of the lazy value described by `what`, reporting a
    /// cycle at `span` when it is already being computed.
    fn cycle(&mut self, what: String, span: Span) -> Expr {
        let pos = self.stack.iter().position(|s| *s == what).unwrap_or(0);
        let mut chain: Vec<&str> = self.stack[pos..].iter().map(String::as_str).collect();
        chain.push(&what);
        self.diags.push(
            Diagnostic::error(Code::E0153, "cycle between values", span)
                .with_detail(format!(
                    "These values are defined in terms of each other: {}.",
                    chain.join(" → ")
                ))
                .with_label("part of the cycle")
                .with_help("break the cycle by writing one of the values without the others"),
        );
        Expr::constant(Value::Unknown, span)
    }

    fn let_value(&mut self, inst: usize, name: &str) -> Expr {
        let Some((decl, slot)) = self.insts[inst]
            .lets
            .get(name)
            .map(|(d, s)| (*d, s.clone()))
        else {
            return Expr::constant(Value::Unknown, Span::DETACHED);
        };
        match slot {
            Slot::Done(e) => e,
            Slot::Busy => {
                let what = self.describe(inst, &format!("let {name}"));
                self.cycle(what, decl.name.span)
            }
            Slot::Todo => {
                let what = self.describe(inst, &format!("let {name}"));
                self.set_let(inst, name, Slot::Busy);
                self.stack.push(what);
                let mut cx = Ctx::module(inst);
                let e = self.lower_expr(&decl.value, &mut cx);
                self.stack.pop();
                self.set_let(inst, name, Slot::Done(e.clone()));
                e
            }
        }
    }

    fn set_let(&mut self, inst: usize, name: &str, slot: Slot<Expr>) {
        if let Some(entry) = self.insts[inst].lets.get_mut(name) {
            entry.1 = slot;
        }
    }

    fn output_value(&mut self, inst: usize, name: &str) -> Expr {
        let Some((decl, slot)) = self.insts[inst]
            .outputs
            .get(name)
            .map(|(d, s)| (*d, s.clone()))
        else {
            return Expr::constant(Value::Unknown, Span::DETACHED);
        };
        match slot {
            Slot::Done(e) => e,
            Slot::Busy => {
                let what = self.describe(inst, &format!("output {name}"));
                self.cycle(what, decl.name.span)
            }
            Slot::Todo => {
                let what = self.describe(inst, &format!("output {name}"));
                self.set_output(inst, name, Slot::Busy);
                self.stack.push(what);
                let mut cx = Ctx::module(inst);
                let e = self.lower_expr(&decl.value, &mut cx);
                for opt in &decl.options {
                    if !matches!(opt.name.name.as_str(), "secret" | "description" | "value") {
                        self.diags.push(
                            Diagnostic::error(Code::E0194, "invalid output option", opt.name.span)
                                .with_detail(format!(
                                    "`{}` is not an output option; outputs accept `value`, `secret` and `description`.",
                                    opt.name.name
                                ))
                                .with_label("unknown option"),
                        );
                    }
                }
                self.stack.pop();
                self.set_output(inst, name, Slot::Done(e.clone()));
                e
            }
        }
    }

    fn set_output(&mut self, inst: usize, name: &str, slot: Slot<Expr>) {
        if let Some(entry) = self.insts[inst].outputs.get_mut(name) {
            entry.1 = slot;
        }
    }

    /// `module.a.let x` style description for cycle messages.
    fn describe(&self, inst: usize, what: &str) -> String {
        let mut s = String::new();
        for m in &self.insts[inst].path {
            s.push_str(&format!("module.{m}."));
        }
        s.push_str(what);
        s
    }

    // -------------------------------------------------------------- resources

    /// The expansion of resource `key` of `inst`, computing it on first use.
    fn expansion(&mut self, inst: usize, key: &str) -> Rc<Expansion> {
        let Some(state) = self.insts[inst].resources.get(key) else {
            return Rc::new(Expansion::Failed);
        };
        let decl = state.decl;
        match &state.slot {
            Slot::Done(e) => return e.clone(),
            Slot::Busy => {
                let what = self.describe(inst, &format!("expansion of {key}"));
                self.cycle(what, decl.name.span);
                return Rc::new(Expansion::Failed);
            }
            Slot::Todo => {}
        }
        self.set_expansion(inst, key, Slot::Busy);
        let what = self.describe(inst, &format!("expansion of {key}"));
        self.stack.push(what);
        let e = Rc::new(self.compute_expansion(inst, key, decl));
        self.stack.pop();
        self.set_expansion(inst, key, Slot::Done(e.clone()));
        e
    }

    fn set_expansion(&mut self, inst: usize, key: &str, slot: Slot<Rc<Expansion>>) {
        if let Some(s) = self.insts[inst].resources.get_mut(key) {
            s.slot = slot;
        }
    }

    fn compute_expansion(&mut self, inst: usize, key: &str, decl: &'a ast::Resource) -> Expansion {
        let count = self.insts[inst].resources.get(key).and_then(|r| r.count);
        let what = match decl.kind {
            ast::ResourceKind::Managed => "resource",
            ast::ResourceKind::Data => "data source",
        };
        self.expand(inst, decl.for_each.as_ref(), count, what)
    }

    /// The instances of a block (`what` is `resource` or `module`) with the `for` head
    /// `for_each` or the `count` attribute `count`, lowered in module instance `inst`.
    fn expand(
        &mut self,
        inst: usize,
        for_each: Option<&ast::ForHead>,
        count: Option<&ast::Attribute>,
        what: &str,
    ) -> Expansion {
        if let (Some(head), Some(count)) = (for_each, count) {
            self.diags.push(
                Diagnostic::error(Code::E0158, "invalid count", count.name.span)
                    .with_detail(format!(
                        "A {what} can be expanded by `for` or by `count`, not both."
                    ))
                    .with_label("count given here")
                    .with_secondary(head.span, "for given here"),
            );
            return Expansion::Failed;
        }
        if let Some(count) = count {
            let mut cx = Ctx::module(inst);
            let v = self.lower_expr(&count.value, &mut cx);
            if what == "resource" && crate::expansion::reads_only_data(&v) {
                return Expansion::Deferred {
                    count: true,
                    vars: None,
                    collection: v,
                };
            }
            let Some(v) = self.known_at_lowering(&v, "count") else {
                return Expansion::Failed;
            };
            return match crate::expansion::count_instances(&v, count.value.span) {
                Ok(instances) => Expansion::Keys {
                    count: true,
                    instances,
                },
                Err(d) => {
                    self.diags.push(d);
                    Expansion::Failed
                }
            };
        }
        let Some(head) = for_each else {
            return Expansion::Single;
        };
        let mut cx = Ctx::module(inst);
        let coll = self.lower_expr(&head.collection, &mut cx);
        let kname = head.key.as_ref().map(|k| k.name.clone());
        let vname = head.value.name.clone();
        if what == "resource" && crate::expansion::reads_only_data(&coll) {
            return Expansion::Deferred {
                count: false,
                vars: Some((kname, vname)),
                collection: coll,
            };
        }
        let Some(v) = self.known_at_lowering(&coll, &format!("the collection of a {what}'s `for`"))
        else {
            return Expansion::Failed;
        };
        let vars = crate::expansion::ForVars {
            key: kname.as_deref(),
            value: &vname,
        };
        match crate::expansion::for_instances(v, vars, head.collection.span, what) {
            Ok(instances) => Expansion::Keys {
                count: false,
                instances,
            },
            Err(d) => {
                self.diags.push(d);
                Expansion::Failed
            }
        }
    }

    /// The value of `e` when it is wholly known at lowering; otherwise reports E0155.
    fn known_at_lowering(&mut self, e: &Expr, what: &str) -> Option<Value> {
        match e.as_const() {
            Some(v) if v.is_known() => Some(v.clone()),
            Some(_) if self.failed_quietly(e) => None,
            _ => {
                let mut refs: Vec<String> = e
                    .references()
                    .iter()
                    .map(|r| r.addr().to_string())
                    .collect();
                refs.dedup();
                let because = if refs.is_empty() {
                    "it is not known until apply".to_string()
                } else {
                    format!("it depends on {}, known only after apply", refs.join(", "))
                };
                self.diags.push(
                    Diagnostic::error(Code::E0155, "expansion not known at plan time", e.span)
                        .with_detail(format!(
                            "The value of {what} must be known before any resource exists, but {because}."
                        ))
                        .with_label("must be known when lowering")
                        .with_help("build it from params, lets, literals and functions only"),
                );
                None
            }
        }
    }

    /// Whether an unknown constant stands for an error already reported. Lowering turns
    /// failed subtrees into unknown constants; those must not be reported twice.
    fn failed_quietly(&self, e: &Expr) -> bool {
        e.as_const() == Some(&Value::Unknown) && gig_core::diag::has_errors(&self.diags)
    }

    fn lower_resource(&mut self, inst: usize, key: &str, out: &mut Vec<ResourceConfig>) {
        let Some(state) = self.insts[inst].resources.get(key) else {
            return;
        };
        let decl = state.decl;
        let rtype = state.rtype.clone();
        let expansion = self.expansion(inst, key);
        let mode = mode_of(decl.kind);
        let base = ResourceAddr {
            module: self.insts[inst].path.clone(),
            mode,
            rtype: rtype.clone(),
            name: decl.name.name.clone(),
            key: None,
        };
        let header_span = Span {
            file: decl.span.file,
            start: decl.span.start,
            end: decl.name.span.end,
        };
        let no_vars: Bindings = Vec::new();
        // A deferred resource is lowered once, its variables left as locals.
        let mut locals = Vec::new();
        let instances: Vec<(Option<&InstanceKey>, &Bindings)> = match &*expansion {
            Expansion::Single => vec![(None, &no_vars)],
            Expansion::Keys { instances, .. } => {
                instances.iter().map(|(k, b)| (Some(k), b)).collect()
            }
            Expansion::Deferred { vars, .. } => {
                match vars {
                    Some((k, v)) => locals.extend(k.iter().cloned().chain([v.clone()])),
                    None => locals.push("count".to_string()),
                }
                vec![(None, &no_vars)]
            }
            Expansion::Failed => return,
        };
        out.reserve(instances.len());
        for (ikey, vars) in instances {
            let mut cx = Ctx {
                inst,
                vars,
                locals: locals.clone(),
                const_only: false,
            };
            let (entries, meta) = self.lower_body(&decl.body, &mut cx, true);
            let body = Expr {
                kind: ExprKind::Object(entries),
                span: decl.body.span,
            };
            let mut refs: Vec<(&ResourceRef, Span)> = Vec::new();
            body.walk(&mut |e| {
                if let ExprKind::Resource(r) = &e.kind {
                    refs.push((r, e.span));
                }
            });
            let mut dependencies = Vec::with_capacity(refs.len() + meta.depends_on.len());
            for (r, span) in refs {
                self.ref_targets(r, &mut |target| {
                    dependencies.push(Dependency {
                        target,
                        span,
                        kind: DependencyKind::Reference,
                    })
                });
            }
            let block_deps = self.enclosing_block_deps(inst);
            let depends_on = meta
                .depends_on
                .iter()
                .chain(block_deps.iter().flat_map(|d| d.resources.iter()));
            for (r, span) in depends_on {
                self.ref_targets(r, &mut |target| {
                    dependencies.push(Dependency {
                        target,
                        span: *span,
                        kind: DependencyKind::DependsOn,
                    })
                });
            }
            let addr_here = ResourceAddr {
                key: ikey.cloned(),
                ..base.clone()
            };
            let module_deps = meta
                .depends_on_modules
                .iter()
                .chain(block_deps.iter().flat_map(|d| d.modules.iter()));
            for (path, span) in module_deps {
                self.module_deps
                    .push((addr_here.clone(), path.clone(), *span));
            }
            dependencies
                .sort_by(|a, b| (&a.target, a.kind, a.span).cmp(&(&b.target, b.kind, b.span)));
            dependencies.dedup_by(|a, b| a.target == b.target);
            let addr = ResourceAddr {
                key: ikey.cloned(),
                ..base.clone()
            };
            if let Some(d) = dependencies.iter().find(|d| same_group(&d.target, &base)) {
                self.diags.push(
                    Diagnostic::error(Code::E0164, "resource refers to itself", d.span)
                        .with_detail(format!(
                            "`{base}` uses its own attributes (directly or through a let), so it would have to exist before it is created."
                        ))
                        .with_label("refers to the resource being defined"),
                );
                dependencies.retain(|d| !same_group(&d.target, &base));
            }
            let provider = match meta.provider {
                Some((key, span)) => self.provider_ref(key, span, &base),
                None => base.provider().to_string(),
            };
            if let Expansion::Deferred {
                count,
                vars,
                collection,
            } = &*expansion
            {
                let (key_var, value_var) =
                    vars.clone().unwrap_or_else(|| (None, "count".to_string()));
                self.deferred.push(DeferredResource {
                    resource: ResourceConfig {
                        addr: base.clone(),
                        span: decl.span,
                        header_span,
                        provider,
                        body,
                        dependencies,
                        lifecycle: meta.lifecycle,
                    },
                    count: *count,
                    key_var,
                    value_var,
                    collection: collection.clone(),
                });
                continue;
            }
            out.push(ResourceConfig {
                addr,
                span: decl.span,
                header_span,
                provider,
                body,
                dependencies,
                lifecycle: meta.lifecycle,
            });
        }
    }

    /// Calls `f` with every instance address a reference stands for.
    fn ref_targets(&mut self, r: &ResourceRef, f: &mut impl FnMut(ResourceAddr)) {
        let addr = r.addr();
        if r.key.is_some() {
            f(addr);
            return;
        }
        let Some(&inst) = self.by_path.get(&r.module) else {
            return;
        };
        let mut key = std::mem::take(&mut self.key_buf);
        push_res_key(&mut key, r.mode, &r.rtype, &r.name);
        let exp = self.expansion(inst, &key);
        self.key_buf = key;
        match &*exp {
            // The instances of a deferred resource are made later; the graph reads a
            // dependency on the resource as one on all of them.
            Expansion::Single | Expansion::Deferred { .. } => f(addr),
            Expansion::Keys { instances, .. } => {
                for (k, _) in instances {
                    f(addr.clone().with_key(k.clone()));
                }
            }
            Expansion::Failed => {}
        }
    }

    /// Lowers a block body into object entries; at the top of a resource it also takes
    /// out the meta-arguments.
    fn lower_body(
        &mut self,
        body: &'a ast::Body,
        cx: &mut Ctx<'_>,
        top: bool,
    ) -> (Vec<ObjectEntry>, Meta) {
        let mut meta = Meta::default();
        let mut entries: Vec<ObjectEntry> = Vec::with_capacity(body.entries.len());
        let mut seen: NameMap<'a, Span> = NameMap::new();
        // Index of the list entry collecting each nested block name.
        let mut block_lists: NameMap<'a, usize> = NameMap::new();
        for entry in &body.entries {
            match entry {
                ast::BodyEntry::Attribute(a) => {
                    let name = a.name.name.as_str();
                    if top && name == "count" {
                        continue; // Handled by the expansion.
                    }
                    if let Some(first) = seen.insert(name, a.name.span) {
                        self.diags.push(duplicate_attr(name, a.name.span, first));
                        continue;
                    }
                    if top && name == "depends_on" {
                        let deps = self.depends_on(&a.value, cx);
                        meta.depends_on = deps.resources;
                        meta.depends_on_modules = deps.modules;
                        continue;
                    }
                    if top && name == "provider" {
                        meta.provider = self.provider_meta(&a.value);
                        continue;
                    }
                    let value = self.lower_expr(&a.value, cx);
                    entries.push(ObjectEntry {
                        key: name.to_string(),
                        key_span: a.name.span,
                        value,
                    });
                }
                ast::BodyEntry::Block(b) => {
                    let name = b.name.name.as_str();
                    if top && name == "lifecycle" {
                        if let Some(first) = seen.insert(name, b.name.span) {
                            self.diags.push(duplicate_attr(name, b.name.span, first));
                            continue;
                        }
                        meta.lifecycle = self.lifecycle(&b.body, cx);
                        continue;
                    }
                    let (inner, _) = self.lower_body(&b.body, cx, false);
                    let obj = Expr {
                        kind: ExprKind::Object(inner),
                        span: b.span,
                    };
                    if let Some(idx) = block_lists.get(name) {
                        if let ExprKind::List(xs) = &mut entries[idx].value.kind {
                            xs.push(obj);
                            entries[idx].value.span = entries[idx].value.span.to(b.span);
                        }
                        continue;
                    }
                    if let Some(first) = seen.insert(name, b.name.span) {
                        self.diags.push(duplicate_attr(name, b.name.span, first));
                        continue;
                    }
                    block_lists.insert(name, entries.len());
                    entries.push(ObjectEntry {
                        key: name.to_string(),
                        key_span: b.name.span,
                        value: Expr {
                            kind: ExprKind::List(vec![obj]),
                            span: b.span,
                        },
                    });
                }
            }
        }
        (entries, meta)
    }

    /// The resources and the module instances a `depends_on` list names.
    fn depends_on(&mut self, value: &ast::Expr, cx: &mut Ctx<'_>) -> modules::BlockDeps {
        let ast::ExprKind::List(items) = &value.kind else {
            self.diags.push(
                Diagnostic::error(Code::E0159, "invalid depends_on", value.span)
                    .with_detail("`depends_on` takes a list of resource references such as `[aws.vpc.main]`.")
                    .with_label("not a list"),
            );
            return modules::BlockDeps::default();
        };
        let mut out = Vec::new();
        let mut modules = Vec::new();
        for item in items {
            if let Some(paths) = self.module_dependency(item, cx) {
                modules.extend(paths.into_iter().map(|p| (p, item.span)));
                continue;
            }
            let e = self.lower_expr(item, cx);
            match e.kind {
                ExprKind::Resource(r) => out.push((r, item.span)),
                ExprKind::Const(Value::Unknown) if gig_core::diag::has_errors(&self.diags) => {}
                _ => self.diags.push(
                    Diagnostic::error(Code::E0159, "invalid depends_on", item.span)
                        .with_detail("Each entry of `depends_on` must name a resource, such as `aws.vpc.main` or `aws.subnet.private[\"a\"]`, or a module, such as `module.net`.")
                        .with_label("not a resource reference"),
                ),
            }
        }
        modules::BlockDeps {
            resources: out,
            modules,
        }
    }

    fn provider_meta(&mut self, value: &ast::Expr) -> Option<(String, Span)> {
        match &value.kind {
            ast::ExprKind::Var(id) => Some(id.name.clone()),
            ast::ExprKind::GetAttr(base, alias) => match &base.kind {
                ast::ExprKind::Var(id) => Some(format!("{}.{}", id.name, alias.name)),
                _ => None,
            },
            ast::ExprKind::Template(parts) if parts.len() == 1 => match &parts[0] {
                ast::TemplatePart::Literal(s) => Some(s.clone()),
                _ => None,
            },
            ast::ExprKind::Template(parts) if parts.is_empty() => None,
            _ => None,
        }
        .map(|key| (key, value.span))
        .or_else(|| {
            self.diags.push(
                Diagnostic::error(Code::E0161, "invalid provider argument", value.span)
                    .with_detail("`provider` names the provider that manages the resource, such as `provider = aws`.")
                    .with_label("not a provider name"),
            );
            None
        })
    }

    /// Checks a resource's `provider = KEY`: the provider must manage the resource's
    /// type, and an alias (`aws.west`) must have its `provider aws.west { … }` block.
    /// Falls back to the type's default provider after an error.
    fn provider_ref(&mut self, key: String, span: Span, addr: &ResourceAddr) -> String {
        let kind = provider_kind(&key);
        if kind != addr.provider() {
            self.diags.push(
                Diagnostic::error(Code::E0167, "provider of another kind", span)
                    .with_detail(format!(
                        "`{addr}` is a `{}` resource, so only a provider of kind `{}` can manage it; `{key}` is of kind `{kind}`.",
                        addr.provider(),
                        addr.provider()
                    ))
                    .with_label(format!("provider of kind `{kind}`")),
            );
            return addr.provider().to_string();
        }
        if key == kind {
            return key;
        }
        let declared: Vec<&str> = self
            .files
            .iter()
            .flat_map(|f| &f.items)
            .filter_map(|item| match item {
                ast::Item::Provider(p) if provider_kind(&p.name.name) == kind => {
                    Some(p.name.name.as_str())
                }
                _ => None,
            })
            .collect();
        if declared.contains(&key.as_str()) {
            return key;
        }
        let mut diag = Diagnostic::error(Code::E0166, "unknown provider alias", span)
            .with_detail(format!(
                "No `provider {key} {{ … }}` block declares this alias."
            ))
            .with_label("not declared");
        let aliases: Vec<&str> = declared.into_iter().filter(|d| *d != kind).collect();
        diag = if aliases.is_empty() {
            diag.with_help(format!(
                "declare it at the top level, e.g. `provider {key} {{ region = \"…\" }}`"
            ))
        } else {
            diag.with_help(format!("declared aliases: {}", aliases.join(", ")))
        };
        self.diags.push(diag);
        addr.provider().to_string()
    }

    fn lifecycle(&mut self, body: &'a ast::Body, cx: &mut Ctx<'_>) -> Lifecycle {
        let mut lc = Lifecycle::default();
        for entry in &body.entries {
            let a = match entry {
                ast::BodyEntry::Attribute(a) => a,
                ast::BodyEntry::Block(b) => {
                    self.diags.push(lifecycle_error(
                        b.name.span,
                        format!("`{}` is not a lifecycle option.", b.name.name),
                    ));
                    continue;
                }
            };
            let v = self.lower_expr(&a.value, cx);
            let val = v.as_const().filter(|v| v.is_known()).cloned();
            match a.name.name.as_str() {
                n @ ("prevent_destroy" | "create_before_destroy") => {
                    match val.as_ref().and_then(Value::as_bool) {
                        Some(b) => {
                            if n == "prevent_destroy" {
                                lc.prevent_destroy = b;
                            } else {
                                lc.create_before_destroy = b;
                            }
                        }
                        None => self.diags.push(lifecycle_error(
                            a.value.span,
                            format!("`{n}` must be a bool known when lowering."),
                        )),
                    }
                }
                "ignore_changes" => {
                    let names: Option<Vec<String>> = val
                        .as_ref()
                        .and_then(Value::as_list)
                        .and_then(|xs| xs.iter().map(|x| x.as_str().map(str::to_string)).collect());
                    match names {
                        Some(names) => lc.ignore_changes = names,
                        None => self.diags.push(lifecycle_error(
                            a.value.span,
                            "`ignore_changes` must be a list of attribute names, such as `[\"tags\"]`.".to_string(),
                        )),
                    }
                }
                other => {
                    let mut d = lifecycle_error(
                        a.name.span,
                        format!("`{other}` is not a lifecycle option."),
                    );
                    if let Some(s) = suggest(
                        other,
                        ["prevent_destroy", "create_before_destroy", "ignore_changes"],
                    ) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.diags.push(d);
                }
            }
        }
        lc
    }

    // -------------------------------------------------------------- providers

    fn providers(&mut self, resources: &[ResourceConfig]) -> BTreeMap<String, ProviderConfig> {
        let mut out: BTreeMap<String, ProviderConfig> = BTreeMap::new();
        let files = self.files.clone();
        let mut blocks: Vec<(usize, &'a ast::Provider)> = Vec::new();
        for f in &files {
            for item in &f.items {
                if let ast::Item::Provider(p) = item {
                    blocks.push((0, p));
                }
            }
        }
        for (inst, p) in blocks {
            if let Some(prev) = out.get(&p.name.name) {
                let first = prev.span;
                self.diags
                    .push(duplicate("provider", &p.name.name, p.name.span, first));
                continue;
            }
            let mut cx = Ctx::module(inst);
            let (entries, _) = self.lower_body(&p.body, &mut cx, false);
            let body = crate::eval::fold(
                Expr {
                    kind: ExprKind::Object(entries),
                    span: p.body.span,
                },
                &mut self.diags,
            );
            let settings = match body.as_const() {
                Some(v) if v.is_known() => v.clone(),
                // An unknown constant stands for an error reported already.
                Some(_) => Value::Map(BTreeMap::new()),
                None => {
                    self.diags.push(
                        Diagnostic::error(Code::E0190, "provider settings not known", p.body.span)
                            .with_detail(format!(
                                "The settings of provider `{}` must be known before any resource exists; they cannot use resource attributes.",
                                p.name.name
                            ))
                            .with_label("depends on a resource"),
                    );
                    Value::Map(BTreeMap::new())
                }
            };
            out.insert(
                p.name.name.clone(),
                ProviderConfig {
                    name: p.name.name.clone(),
                    settings,
                    span: p.span,
                },
            );
        }
        // Resources expanded over data sources use their providers too.
        let deferred = std::mem::take(&mut self.deferred);
        for r in resources.iter().chain(deferred.iter().map(|d| &d.resource)) {
            if !out.contains_key(&r.provider) {
                out.insert(
                    r.provider.clone(),
                    ProviderConfig {
                        name: r.provider.clone(),
                        settings: Value::Map(BTreeMap::new()),
                        span: Span::DETACHED,
                    },
                );
            }
        }
        self.deferred = deferred;
        out
    }
}

/// Whether `addr` is an instance of the resource `group` (which has no key), compared
/// without building `addr.group()`.
fn same_group(addr: &ResourceAddr, group: &ResourceAddr) -> bool {
    addr.mode == group.mode
        && addr.name == group.name
        && addr.rtype == group.rtype
        && addr.module == group.module
}

/// Meta-arguments taken out of a resource body.
#[derive(Default)]
struct Meta {
    depends_on: Vec<(ResourceRef, Span)>,
    /// `depends_on` entries naming module instances, by path.
    depends_on_modules: Vec<(Vec<String>, Span)>,
    /// `provider = aws.west`: the provider key and where it is written.
    provider: Option<(String, Span)>,
    lifecycle: Lifecycle,
}

fn duplicate_attr(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(Code::E0192, "duplicate attribute", span)
        .with_detail(format!("`{name}` is set more than once in this block."))
        .with_label("set again here")
        .with_secondary(first, "first set here")
}

fn lifecycle_error(span: Span, detail: String) -> Diagnostic {
    Diagnostic::error(Code::E0160, "invalid lifecycle option", span)
        .with_detail(format!(
            "{detail} A lifecycle block accepts `prevent_destroy`, `create_before_destroy` (bools) and `ignore_changes` (a list of attribute names)."
        ))
        .with_label("invalid here")
}
