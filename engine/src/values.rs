//! Resource instance values by address, as an evaluation [`Scope`].
//!
//! The planner fills a [`ValueTable`] with what is known of each instance at plan time
//! (Prior/Refreshed values merged with planned attributes, or Planned values holding
//! unknowns); apply fills one with New values to resolve residual bodies. A reference to
//! one instance resolves to its object; a reference without a key to an expanded
//! resource resolves to all of its instances: a map by key for `for` expansion, a list
//! in index order for `count`.
//!
//! [`Scope::resource`] hands out owned values, so a lookup clones what it returns. Most
//! references are of the form `type.name.attr`, which need one attribute, not the
//! whole object: [`ValueTable::projecting`] gives a scope for one expression that
//! returns only that attribute for such references (in an object of its own), which
//! evaluates to exactly the same values while cloning far less.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gig_core::addr::{InstanceKey, ResourceAddr};
use gig_core::value::Value;
use gig_dsl::config::{Expr, ExprKind, ResourceRef, TemplatePart};
use gig_dsl::eval::Scope;

/// Values of resource instances by address.
///
/// Instances are hashed by address (a lookup costs one hash, not a dozen address
/// comparisons in a tree); the instance keys of each expanded resource are kept sorted
/// beside them for references to the whole resource.
#[derive(Clone, Default, PartialEq)]
pub struct ValueTable {
    values: HashMap<ResourceAddr, Value>,
    /// For each expanded resource (its address without key), its instances' keys.
    groups: HashMap<ResourceAddr, BTreeSet<InstanceKey>>,
}

impl std::fmt::Debug for ValueTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl ValueTable {
    /// An empty table.
    pub fn new() -> ValueTable {
        ValueTable::default()
    }

    /// A table holding `values`.
    pub fn from_values(values: BTreeMap<ResourceAddr, Value>) -> ValueTable {
        let mut table = ValueTable::new();
        for (addr, value) in values {
            table.insert(addr, value);
        }
        table
    }

    /// Sets the value of one instance, replacing any earlier one.
    pub fn insert(&mut self, addr: ResourceAddr, value: Value) {
        if let Some(key) = &addr.key {
            let keys = self.groups.entry(addr.group()).or_default();
            if !keys.contains(key) {
                keys.insert(key.clone());
            }
        }
        self.values.insert(addr, value);
    }

    /// Forgets one instance (after it was deleted).
    pub fn remove(&mut self, addr: &ResourceAddr) -> Option<Value> {
        let removed = self.values.remove(addr);
        if let (Some(key), Some(_)) = (&addr.key, &removed) {
            let group = addr.group();
            if let Some(keys) = self.groups.get_mut(&group) {
                keys.remove(key);
                if keys.is_empty() {
                    self.groups.remove(&group);
                }
            }
        }
        removed
    }

    /// The value of one instance.
    pub fn get(&self, addr: &ResourceAddr) -> Option<&Value> {
        self.values.get(addr)
    }

    /// Every instance and its value, sorted by address.
    pub fn iter(&self) -> impl Iterator<Item = (&ResourceAddr, &Value)> + '_ {
        let mut all: Vec<(&ResourceAddr, &Value)> = self.values.iter().collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all.into_iter()
    }

    /// The number of instances.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// A scope for evaluating `expr` (and nothing else) against this table: each
    /// reference in `expr` used only as `reference.attr` resolves to an object holding
    /// just `attr`, since evaluation reads nothing else of it; every other reference
    /// resolves as in the table itself.
    pub fn projecting<'t, 'e>(&'t self, expr: &'e Expr) -> Projecting<'t, 'e> {
        let mut attrs = Vec::new();
        attribute_references(expr, &mut attrs);
        Projecting { table: self, attrs }
    }

    /// All instances of the expanded resource `group` (an address without a key), as a
    /// map by name key or a list by index. A group with no instance in the table is an
    /// expansion over an empty collection (`count = 0`, `for x in []`): the planner and
    /// apply insert every instance a residual expression can reach before evaluating it,
    /// so "none here" means "none declared", and evaluates to an empty list.
    fn group(&self, group: &ResourceAddr) -> Option<Value> {
        let mut instances: Vec<(&InstanceKey, &Value)> = Vec::new();
        if let Some(keys) = self.groups.get(group) {
            let mut addr = group.clone();
            for k in keys {
                addr.key = Some(k.clone());
                if let Some(v) = self.values.get(&addr) {
                    instances.push((k, v));
                }
            }
        }
        if instances.is_empty() {
            return Some(Value::List(Vec::new()));
        }
        if instances
            .iter()
            .all(|(k, _)| matches!(k, InstanceKey::Index(_)))
        {
            // Keys sort by index, so the list is in index order.
            Some(Value::List(
                instances.into_iter().map(|(_, v)| v.clone()).collect(),
            ))
        } else {
            Some(Value::Map(
                instances
                    .into_iter()
                    .map(|(k, v)| match k {
                        InstanceKey::Name(n) => (n.clone(), v.clone()),
                        InstanceKey::Index(i) => (i.to_string(), v.clone()),
                    })
                    .collect(),
            ))
        }
    }
}

impl Scope for ValueTable {
    fn resource(&self, r: &ResourceRef) -> Option<Value> {
        let addr = r.addr();
        if let Some(v) = self.values.get(&addr) {
            return Some(v.clone());
        }
        if r.key.is_none() {
            return self.group(&addr);
        }
        None
    }
}

/// A [`ValueTable`] seen by one expression; see [`ValueTable::projecting`].
pub struct Projecting<'t, 'e> {
    table: &'t ValueTable,
    /// The reference nodes of the expression used as `reference.attr`, by address in
    /// memory (eval hands the scope the node itself), with the attribute.
    attrs: Vec<(usize, &'e str)>,
}

impl Scope for Projecting<'_, '_> {
    fn resource(&self, r: &ResourceRef) -> Option<Value> {
        let node = std::ptr::from_ref(r) as usize;
        let Some((_, attr)) = self.attrs.iter().find(|(n, _)| *n == node) else {
            return self.table.resource(r);
        };
        match self.table.values.get(&r.addr()) {
            // Attribute access reads only `attr`; a missing one stays missing.
            Some(Value::Map(m)) => Some(Value::Map(
                m.get(*attr)
                    .map(|v| ((*attr).to_string(), v.clone()))
                    .into_iter()
                    .collect(),
            )),
            Some(other) => Some(other.clone()),
            None => self.table.resource(r),
        }
    }
}

/// Collects the reference nodes of `e` whose only use is `reference.attr`.
fn attribute_references<'e>(e: &'e Expr, out: &mut Vec<(usize, &'e str)>) {
    let mut walk = |x: &'e Expr| attribute_references(x, out);
    match &e.kind {
        ExprKind::GetAttr(inner, name) => match &inner.kind {
            ExprKind::Resource(r) => out.push((std::ptr::from_ref(r) as usize, name.as_str())),
            _ => walk(inner),
        },
        ExprKind::Const(_) | ExprKind::Resource(_) | ExprKind::Local(_) => {}
        ExprKind::List(xs) | ExprKind::Call(_, xs) => xs.iter().for_each(walk),
        ExprKind::Object(entries) => entries.iter().for_each(|en| walk(&en.value)),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            walk(a);
            walk(b);
        }
        ExprKind::Unary(_, a) => walk(a),
        ExprKind::Conditional(c, a, b) => {
            walk(c);
            walk(a);
            walk(b);
        }
        ExprKind::Template(parts) => {
            for p in parts {
                if let TemplatePart::Interpolation(x) = p {
                    walk(x);
                }
            }
        }
        ExprKind::For {
            collection,
            key_expr,
            value_expr,
            cond,
            ..
        } => {
            walk(collection);
            key_expr.iter().for_each(|x| walk(x));
            walk(value_expr);
            cond.iter().for_each(|x| walk(x));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(s: &str) -> ResourceRef {
        let a = ResourceAddr::parse(s).expect("test address parses");
        ResourceRef {
            module: a.module,
            mode: a.mode,
            rtype: a.rtype,
            name: a.name,
            key: a.key,
        }
    }

    fn obj(id: &str) -> Value {
        Value::Map([("id".to_string(), Value::str(id))].into_iter().collect())
    }

    #[test]
    fn projected_references_evaluate_exactly_as_whole_ones() {
        let src = r#"
resource test.thing s for k in ["a", "b"] { name = k }
resource test.thing n { count = 2
  name = "n" }
resource test.thing one { name = "one" }
resource test.thing uses {
  name  = "${test.thing.one.id}-${test.thing.one.missing}"
  value = [test.thing.one.id, test.thing.s["a"].id, test.thing.s["b"].tags.Name,
           test.thing.n[1].id, test.thing.n[0], length(test.thing.one)]
  tags  = { x = test.thing.one.secret_attr, y = test.thing.one.later }
  ref   = [for k, v in test.thing.s : "${k}=${v.id}"]
  zone  = test.thing.one.id == "" ? test.thing.n[0].nothing : test.thing.one.arn
}
"#;
        let loaded = gig_dsl::load::load_str("t.gig", src, &Default::default());
        let config = match loaded.config {
            Some(c) => c,
            None => panic!("test stack does not lower: {:?}", loaded.diagnostics),
        };
        let mut t = ValueTable::new();
        let object = |id: &str| {
            Value::Map(
                [
                    ("id".to_string(), Value::str(id)),
                    ("arn".to_string(), Value::str(format!("arn:{id}"))),
                    ("secret_attr".to_string(), Value::str("pw").into_secret()),
                    ("later".to_string(), Value::Unknown),
                    (
                        "tags".to_string(),
                        Value::Map([("Name".to_string(), Value::str(id))].into()),
                    ),
                ]
                .into_iter()
                .collect(),
            )
        };
        for (a, id) in [
            ("test.thing.one", "1"),
            ("test.thing.s[\"a\"]", "sa"),
            ("test.thing.s[\"b\"]", "sb"),
            ("test.thing.n[0]", "n0"),
            ("test.thing.n[1]", "n1"),
        ] {
            t.insert(ResourceAddr::parse(a).expect("parses"), object(id));
        }
        let uses = config
            .resources
            .iter()
            .find(|r| r.addr.name == "uses")
            .expect("resource uses");
        let whole = gig_dsl::eval::eval(&uses.body, &t);
        let projected = gig_dsl::eval::eval(&uses.body, &t.projecting(&uses.body));
        assert!(whole.is_ok(), "{whole:?}");
        assert_eq!(whole, projected);
        // Only the attribute references were projected.
        let mut refs = Vec::new();
        attribute_references(&uses.body, &mut refs);
        assert!(refs.len() >= 10, "{refs:?}");
    }

    #[test]
    fn resolves_instances_groups_and_lists() {
        let mut t = ValueTable::new();
        for (a, id) in [
            ("test.thing.one", "1"),
            ("test.thing.s[\"b\"]", "sb"),
            ("test.thing.s[\"a\"]", "sa"),
            ("test.thing.n[10]", "n10"),
            ("test.thing.n[2]", "n2"),
            ("test.thing.sz", "other"),
        ] {
            t.insert(ResourceAddr::parse(a).expect("parses"), obj(id));
        }
        assert_eq!(t.resource(&reference("test.thing.one")), Some(obj("1")));
        assert_eq!(
            t.resource(&reference("test.thing.s[\"a\"]")),
            Some(obj("sa"))
        );
        assert_eq!(
            t.resource(&reference("test.thing.s")),
            Some(Value::Map(
                [("a".into(), obj("sa")), ("b".into(), obj("sb"))]
                    .into_iter()
                    .collect()
            ))
        );
        assert_eq!(
            t.resource(&reference("test.thing.n")),
            Some(Value::List(vec![obj("n2"), obj("n10")]))
        );
        // Regression: a `count = 0` listener referenced as a group made apply fail with
        // "still unknown"; an expansion with no instances is an empty collection.
        assert_eq!(
            t.resource(&reference("test.thing.missing")),
            Some(Value::List(Vec::new()))
        );
        assert_eq!(t.resource(&reference("test.thing.s[\"c\"]")), None);
    }
}
