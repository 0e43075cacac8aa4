//! The stored form of a [`Value`], written and read directly with serde.
//!
//! The bytes are exactly those of [`Value::to_json`] (plain JSON, `{"$secret": v}`
//! around secrets, `{"$unknown": true}` for unknowns), and reading gives exactly
//! [`Value::from_json`] of them. `Value`'s own serde impls go through a
//! `serde_json::Value` tree in both directions; these skip that tree, which halves the
//! allocations of reading a record and of writing one. Used through `#[serde(with)]`
//! on stored fields, so the stored format does not change.

use std::collections::BTreeMap;
use std::fmt;

use gig_core::value::Value;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// Marker key of a secret in the stored form.
const SECRET: &str = "$secret";
/// Marker key of an unknown in the stored form.
const UNKNOWN: &str = "$unknown";

/// Writes `value` in its stored form (for `#[serde(serialize_with)]`).
pub(crate) fn serialize<S: Serializer>(value: &Value, s: S) -> Result<S::Ok, S::Error> {
    Stored(value).serialize(s)
}

/// Reads a value in its stored form (for `#[serde(deserialize_with)]`).
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    d.deserialize_any(StoredVisitor)
}

/// A borrowed value that serialises to its stored form.
pub(crate) struct Stored<'a>(pub &'a Value);

impl Serialize for Stored<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            // As `Value::to_json`: whole numbers as integers, other finite numbers as
            // floats, and what JSON cannot hold as null.
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => s.serialize_i64(*n as i64),
            Value::Number(n) if n.is_finite() => s.serialize_f64(*n),
            Value::Number(_) => s.serialize_unit(),
            Value::String(text) => s.serialize_str(text),
            Value::List(xs) => {
                let mut seq = s.serialize_seq(Some(xs.len()))?;
                for x in xs {
                    seq.serialize_element(&Stored(x))?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, &Stored(v))?;
                }
                map.end()
            }
            Value::Unknown => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry(UNKNOWN, &true)?;
                map.end()
            }
            Value::Secret(inner) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry(SECRET, &Stored(inner))?;
                map.end()
            }
        }
    }
}

/// Builds a [`Value`] from the stored form, as [`Value::from_json`] would.
struct StoredVisitor;

/// One value read in stored form, for nested elements.
struct Owned(Value);

impl<'de> Deserialize<'de> for Owned {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Owned, D::Error> {
        d.deserialize_any(StoredVisitor).map(Owned)
    }
}

impl<'de> Visitor<'de> for StoredVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StoredVisitor)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n as f64))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n as f64))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        Ok(Value::Number(n))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Owned(x)) = seq.next_element()? {
            out.push(x);
        }
        Ok(Value::List(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        // Later duplicates of a key replace earlier ones, as in a JSON object read by
        // serde_json; the markers count only in an object of exactly one key.
        let mut m = BTreeMap::new();
        while let Some((k, Owned(v))) = access.next_entry::<String, Owned>()? {
            m.insert(k, v);
        }
        if m.len() == 1 {
            if let Some(inner) = m.remove(SECRET) {
                return Ok(inner.into_secret());
            }
            if m.get(UNKNOWN) == Some(&Value::Bool(true)) {
                return Ok(Value::Unknown);
            }
        }
        Ok(Value::Map(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values covering every variant, markers, look-alike maps and odd numbers.
    fn samples() -> Vec<Value> {
        let map = |pairs: Vec<(&str, Value)>| {
            Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        };
        vec![
            Value::Null,
            Value::Bool(true),
            Value::Number(0.0),
            Value::Number(-0.0),
            Value::Number(42.0),
            Value::Number(-7.0),
            Value::Number(1.5),
            Value::Number(1e300),
            Value::Number(9.5e15),
            Value::Number(f64::NAN),
            Value::Number(f64::INFINITY),
            Value::str("a \"quoted\" \u{1F600} line\n"),
            Value::List(vec![Value::Null, Value::str("x"), Value::Unknown]),
            Value::Unknown,
            Value::str("pw").into_secret(),
            Value::List(vec![Value::Number(1.0)]).into_secret(),
            map(vec![
                ("id", Value::str("i-1")),
                ("tags", map(vec![("Name", Value::str("web"))])),
                ("password", Value::str("hunter2").into_secret()),
                ("later", Value::Unknown),
            ]),
            // Maps that only look like markers stay maps.
            map(vec![("$unknown", Value::Bool(false))]),
            map(vec![("$secret", Value::str("s")), ("other", Value::Null)]),
            map(vec![]),
        ]
    }

    #[test]
    fn writes_the_bytes_of_to_json() {
        for v in samples() {
            let direct = serde_json::to_vec(&Stored(&v)).unwrap();
            let through_tree = serde_json::to_vec(&v.to_json()).unwrap();
            assert_eq!(
                String::from_utf8(direct).unwrap(),
                String::from_utf8(through_tree).unwrap(),
                "{v:?}"
            );
        }
    }

    #[test]
    fn reads_what_from_json_reads() {
        let texts = [
            r#"{"a":1,"b":[1,2.5,-3,null,true],"c":{"$secret":"x"},"d":{"$unknown":true}}"#,
            r#"{"$unknown":false}"#,
            r#"{"$unknown":true,"x":1}"#,
            r#"{"$secret":{"$secret":"twice"}}"#,
            r#"{"$secret":"a","$secret":"b"}"#,
            r#"{"k":1,"k":2}"#,
            r#"18446744073709551615"#,
            r#"123456789012345678901234567890"#,
            r#""\u00e9\n""#,
            r#"[]"#,
        ];
        for text in texts {
            let mut de = serde_json::Deserializer::from_str(text);
            let direct = deserialize(&mut de).unwrap();
            let through_tree = Value::from_json(&serde_json::from_str(text).unwrap());
            assert_eq!(format!("{direct:?}"), format!("{through_tree:?}"), "{text}");
        }
        for v in samples() {
            let bytes = serde_json::to_vec(&Stored(&v)).unwrap();
            let mut de = serde_json::Deserializer::from_slice(&bytes);
            let back = deserialize(&mut de).unwrap();
            let want = Value::from_json(&v.to_json());
            assert_eq!(format!("{back:?}"), format!("{want:?}"));
        }
    }
}
