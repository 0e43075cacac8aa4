//! Runtime values of the language and of resource attributes.
//!
//! A value may be *unknown until apply* ([`Value::Unknown`]) when it depends on an
//! attribute the cloud assigns, and may be *secret* ([`Value::Secret`]) when it came from
//! a secret param or a secret provider attribute. Both are contagious: any expression
//! over an unknown is unknown, any expression over a secret is secret.
//!
//! Stored form (state, plan files): plain JSON, with `{"$secret": v}` around secrets and
//! `{"$unknown": true}` for unknowns. Display form ([`Value::to_json_redacted`]) replaces
//! secrets with the string `"(secret)"`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The text every renderer shows in place of a secret.
pub const REDACTED: &str = "(secret)";

/// A value.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// `null`, also "not set".
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Numbers are f64; whole numbers print without a fraction.
    Number(f64),
    /// A string.
    String(String),
    /// An ordered list.
    List(Vec<Value>),
    /// A map / object with sorted keys.
    Map(BTreeMap<String, Value>),
    /// Known only after apply.
    Unknown,
    /// A secret; never rendered.
    Secret(Box<Value>),
}

/// The type of a value, for type errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// null
    Null,
    /// bool
    Bool,
    /// number
    Number,
    /// string
    String,
    /// list
    List,
    /// map
    Map,
    /// unknown
    Unknown,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueKind::Null => "null",
            ValueKind::Bool => "bool",
            ValueKind::Number => "number",
            ValueKind::String => "string",
            ValueKind::List => "list",
            ValueKind::Map => "map",
            ValueKind::Unknown => "unknown",
        })
    }
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// Wraps in [`Value::Secret`] unless already secret.
    pub fn into_secret(self) -> Value {
        match self {
            Value::Secret(_) => self,
            other => Value::Secret(Box::new(other)),
        }
    }

    /// The kind, looking through secrets.
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Null => ValueKind::Null,
            Value::Bool(_) => ValueKind::Bool,
            Value::Number(_) => ValueKind::Number,
            Value::String(_) => ValueKind::String,
            Value::List(_) => ValueKind::List,
            Value::Map(_) => ValueKind::Map,
            Value::Unknown => ValueKind::Unknown,
            Value::Secret(v) => v.kind(),
        }
    }

    /// The value with any secret wrapper removed (at the top level only).
    pub fn reveal(&self) -> &Value {
        match self {
            Value::Secret(v) => v.reveal(),
            v => v,
        }
    }

    /// The value with every secret wrapper removed, at any depth: only for showing a
    /// secret to a user who asked for it explicitly (`gig output --show-secret`).
    pub fn revealed(&self) -> Value {
        match self {
            Value::Secret(v) => v.revealed(),
            Value::List(xs) => Value::List(xs.iter().map(Value::revealed).collect()),
            Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), v.revealed())).collect()),
            v => v.clone(),
        }
    }

    /// Whether this value, or anything inside it, is secret.
    pub fn is_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::List(xs) => xs.iter().any(Value::is_secret),
            Value::Map(m) => m.values().any(Value::is_secret),
            _ => false,
        }
    }

    /// Whether this value, or anything inside it, is unknown.
    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Secret(v) => v.is_unknown(),
            Value::List(xs) => xs.iter().any(Value::is_unknown),
            Value::Map(m) => m.values().any(Value::is_unknown),
            _ => false,
        }
    }

    /// Whether the value is wholly known (no unknown anywhere inside).
    pub fn is_known(&self) -> bool {
        !self.is_unknown()
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.reveal(), Value::Null)
    }

    /// The string inside, looking through secrets.
    pub fn as_str(&self) -> Option<&str> {
        match self.reveal() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number inside, looking through secrets.
    pub fn as_f64(&self) -> Option<f64> {
        match self.reveal() {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as i64 when it is whole.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_f64()
            .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
            .map(|n| n as i64)
    }

    /// The bool inside, looking through secrets.
    pub fn as_bool(&self) -> Option<bool> {
        match self.reveal() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The list inside, looking through secrets.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self.reveal() {
            Value::List(xs) => Some(xs),
            _ => None,
        }
    }

    /// The map inside, looking through secrets.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self.reveal() {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// `map[key]` for maps, `None` otherwise.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// Stored form: plain JSON plus `$secret` / `$unknown` markers.
    pub fn to_json(&self) -> serde_json::Value {
        self.to_json_with(false)
    }

    /// Display form: secrets become `"(secret)"`, unknowns `{"$unknown": true}`.
    pub fn to_json_redacted(&self) -> serde_json::Value {
        self.to_json_with(true)
    }

    fn to_json_with(&self, redact: bool) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => J::String(s.clone()),
            Value::List(xs) => J::Array(xs.iter().map(|x| x.to_json_with(redact)).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_json_with(redact)))
                    .collect(),
            ),
            Value::Unknown => serde_json::json!({"$unknown": true}),
            Value::Secret(_) if redact => J::String(REDACTED.to_string()),
            Value::Secret(v) => serde_json::json!({"$secret": v.to_json_with(false)}),
        }
    }

    /// Reads the stored form back.
    pub fn from_json(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
            J::String(s) => Value::String(s.clone()),
            J::Array(xs) => Value::List(xs.iter().map(Value::from_json).collect()),
            J::Object(m) => {
                if m.len() == 1 {
                    if let Some(inner) = m.get("$secret") {
                        return Value::from_json(inner).into_secret();
                    }
                    if m.get("$unknown") == Some(&J::Bool(true)) {
                        return Value::Unknown;
                    }
                }
                Value::Map(
                    m.iter()
                        .map(|(k, v)| (k.clone(), Value::from_json(v)))
                        .collect(),
                )
            }
        }
    }

    /// Short human rendering for plan output: strings quoted, secrets redacted,
    /// unknowns as `(known after apply)`.
    pub fn display(&self) -> String {
        match self {
            Value::Unknown => "(known after apply)".to_string(),
            Value::Secret(_) => REDACTED.to_string(),
            Value::String(s) => format!("{s:?}"),
            Value::Number(n) => number_to_json(*n).to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => "null".to_string(),
            Value::List(xs) => {
                let items: Vec<String> = xs.iter().map(Value::display).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Map(m) => {
                let items: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", v.display()))
                    .collect();
                format!("{{ {} }}", items.join(", "))
            }
        }
    }
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        serde_json::Value::deserialize(d).map(|j| Value::from_json(&j))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n as f64)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}
