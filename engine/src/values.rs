//! Resource instance values by address, as an evaluation [`Scope`].
//!
//! The planner fills a [`ValueTable`] with what is known of each instance at plan time
//! (Prior/Refreshed values merged with planned attributes, or Planned values holding
//! unknowns); apply fills one with New values to resolve residual bodies. A reference to
//! one instance resolves to its object; a reference without a key to an expanded
//! resource resolves to all of its instances: a map by key for `for` expansion, a list
//! in index order for `count`.

use std::collections::BTreeMap;

use gig_dsl::addr::{InstanceKey, ResourceAddr};
use gig_dsl::config::ResourceRef;
use gig_dsl::eval::Scope;
use gig_dsl::value::Value;

/// Values of resource instances by address.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValueTable {
    values: BTreeMap<ResourceAddr, Value>,
}

impl ValueTable {
    /// An empty table.
    pub fn new() -> ValueTable {
        ValueTable::default()
    }

    /// A table holding `values`.
    pub fn from_values(values: BTreeMap<ResourceAddr, Value>) -> ValueTable {
        ValueTable { values }
    }

    /// Sets the value of one instance, replacing any earlier one.
    pub fn insert(&mut self, addr: ResourceAddr, value: Value) {
        self.values.insert(addr, value);
    }

    /// Forgets one instance (after it was deleted).
    pub fn remove(&mut self, addr: &ResourceAddr) -> Option<Value> {
        self.values.remove(addr)
    }

    /// The value of one instance.
    pub fn get(&self, addr: &ResourceAddr) -> Option<&Value> {
        self.values.get(addr)
    }

    /// Every instance and its value, sorted by address.
    pub fn iter(&self) -> impl Iterator<Item = (&ResourceAddr, &Value)> + '_ {
        self.values.iter()
    }

    /// The number of instances.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// All instances of the expanded resource `group` (an address without a key), as a
    /// map by name key or a list by index. A group with no instance in the table is an
    /// expansion over an empty collection (`count = 0`, `for x in []`): the planner and
    /// apply insert every instance a residual expression can reach before evaluating it,
    /// so "none here" means "none declared", and evaluates to an empty list.
    fn group(&self, group: &ResourceAddr) -> Option<Value> {
        let start = group.clone();
        let instances: Vec<(&InstanceKey, &Value)> = self
            .values
            .range(start..)
            .take_while(|(a, _)| a.group() == *group)
            .filter_map(|(a, v)| a.key.as_ref().map(|k| (k, v)))
            .collect();
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
