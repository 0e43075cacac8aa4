//! `random.password`: a password drawn from chosen character classes with minimum counts.
//!
//! Generation: first draw each class's minimum count from that class, then fill the
//! rest of `length` from the union of the enabled classes, then shuffle the whole so
//! the guaranteed characters are not at fixed positions. Every draw is uniform over its
//! set from a CSPRNG.

use std::collections::BTreeMap;

use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, ProviderError, ResourceSchema};
use rand::seq::SliceRandom as _;
use rand::Rng as _;

use crate::{opt_bool, opt_count, opt_string};

/// The resource type name.
pub(crate) const TYPE: &str = "random.password";

/// Attributes the provider sets.
pub(crate) const COMPUTED: &[&str] = &["id", "result"];

/// Characters used for `special` unless `override_special` is set.
pub(crate) const DEFAULT_SPECIAL: &str = "!@#$%&*()-_=+[]{}<>:?";

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const NUMERIC: &str = "0123456789";

/// The longest password accepted (a guard against absurd allocations).
const MAX_LENGTH: u64 = 4096;

/// The schema of `random.password`.
pub(crate) fn schema() -> ResourceSchema {
    let mut a = BTreeMap::new();
    a.insert(
        "length".to_string(),
        AttributeSchema::required(AttrType::Number, "Number of characters (1 to 4096).")
            .force_new(),
    );
    for (name, what) in [
        ("upper", "upper-case letters (A-Z)"),
        ("lower", "lower-case letters (a-z)"),
        ("numeric", "digits (0-9)"),
        ("special", "special characters (see `override_special`)"),
    ] {
        a.insert(
            name.to_string(),
            AttributeSchema::optional(AttrType::Bool, &format!("Whether {what} may be used."))
                .force_new()
                .default(true),
        );
        a.insert(
            format!("min_{name}"),
            AttributeSchema::optional(
                AttrType::Number,
                &format!("The least number of {what} in the result."),
            )
            .force_new()
            .default(0i64),
        );
    }
    a.insert(
        "override_special".to_string(),
        AttributeSchema::optional(
            AttrType::String,
            &format!("The special characters to use instead of the default `{DEFAULT_SPECIAL}`."),
        )
        .force_new(),
    );
    a.insert(
        "keepers".to_string(),
        AttributeSchema::optional(
            AttrType::Map(Box::new(AttrType::String)),
            "Arbitrary values that, when changed, force a new password to be generated.",
        )
        .force_new(),
    );
    a.insert(
        "result".to_string(),
        AttributeSchema::computed(AttrType::String, "The generated password.").secret(),
    );
    a.insert(
        "id".to_string(),
        AttributeSchema::computed(
            AttrType::String,
            "Always `none`; the password itself is not an id.",
        ),
    );
    ResourceSchema {
        type_name: TYPE.to_string(),
        description: "A password generated once on create from the operating system's entropy and kept \
                      in state as a secret: `result` is never shown in plans, output or logs. Every \
                      argument is force-new: change `keepers` to rotate the password."
            .to_string(),
        version: 0,
        attributes: a,
        example: "resource random.password db {\n  length           = 24\n  min_upper        = 2\n  \
                  min_numeric      = 2\n  override_special = \"!#%*-_\"\n  \
                  keepers          = { rotation = \"2024-q1\" }\n}\n\n\
                  // `result` is secret, so this output is never printed.\n\
                  output db_password = random.password.db.result\n"
            .to_string(),
    }
}

/// The settings that drive generation, validated.
struct Settings {
    length: usize,
    /// Enabled classes with their minimum counts.
    classes: Vec<(Vec<char>, usize)>,
}

fn settings(inputs: &BTreeMap<String, Value>) -> Result<Settings, ProviderError> {
    let length = match opt_count(inputs, "length")? {
        Some(n) if (1..=MAX_LENGTH).contains(&n) => n as usize,
        _ => {
            return Err(ProviderError::invalid_attribute(
                "length",
                format!("`length` must be a whole number from 1 to {MAX_LENGTH}"),
            ))
        }
    };
    let special =
        opt_string(inputs, "override_special")?.unwrap_or_else(|| DEFAULT_SPECIAL.to_string());
    let mut classes = Vec::new();
    let mut total_min = 0usize;
    for (name, chars) in [
        ("upper", UPPER),
        ("lower", LOWER),
        ("numeric", NUMERIC),
        ("special", special.as_str()),
    ] {
        let enabled = opt_bool(inputs, name, true)?;
        let min_name = format!("min_{name}");
        let min = opt_count(inputs, &min_name)?.unwrap_or(0).min(MAX_LENGTH) as usize;
        if !enabled {
            if min > 0 {
                return Err(ProviderError::invalid_attribute(
                    &min_name,
                    format!("`{min_name}` is {min} but `{name}` is false"),
                ));
            }
            continue;
        }
        let mut set: Vec<char> = chars.chars().collect();
        set.sort_unstable();
        set.dedup();
        if set.is_empty() {
            if min > 0 {
                return Err(ProviderError::invalid_attribute(
                    "override_special",
                    "`override_special` is empty but `min_special` asks for special characters",
                ));
            }
            continue;
        }
        total_min += min;
        classes.push((set, min));
    }
    if classes.is_empty() {
        return Err(ProviderError::permanent(
            "random.password needs at least one of `upper`, `lower`, `numeric` or `special`",
        ));
    }
    if total_min > length {
        return Err(ProviderError::invalid_attribute(
            "length",
            format!("`length` is {length} but the minimum counts add up to {total_min}"),
        ));
    }
    Ok(Settings { length, classes })
}

/// Generates the password and returns the New value.
pub(crate) fn create(inputs: &BTreeMap<String, Value>) -> Result<Value, ProviderError> {
    let s = settings(inputs)?;
    let password = generate(&s);
    let mut value = inputs.clone();
    value.insert("result".to_string(), Value::String(password).into_secret());
    value.insert("id".to_string(), Value::from("none"));
    Ok(Value::Map(value))
}

fn generate(s: &Settings) -> String {
    let mut rng = rand::rng();
    let mut out: Vec<char> = Vec::with_capacity(s.length);
    for (set, min) in &s.classes {
        for _ in 0..*min {
            out.push(set[rng.random_range(0..set.len())]);
        }
    }
    let all: Vec<char> = s
        .classes
        .iter()
        .flat_map(|(set, _)| set.iter().copied())
        .collect();
    while out.len() < s.length {
        out.push(all[rng.random_range(0..all.len())]);
    }
    out.shuffle(&mut rng);
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn result(v: &Value) -> String {
        match v.get("result") {
            Some(Value::Secret(inner)) => inner.as_str().unwrap().to_string(),
            other => panic!(
                "result is not a secret string: {}",
                other.map(Value::display).unwrap_or_default()
            ),
        }
    }

    #[test]
    fn length_is_honoured_and_result_is_secret() {
        for n in [1i64, 8, 32, 200] {
            let v = create(&inputs(&[("length", Value::from(n))])).unwrap();
            assert!(matches!(v.get("result"), Some(Value::Secret(_))));
            assert!(v.is_secret());
            assert_eq!(result(&v).chars().count(), n as usize);
            assert_eq!(v.get("id").and_then(Value::as_str), Some("none"));
            // The redacted rendering shows the marker in place of the password.
            assert_eq!(
                v.to_json_redacted()["result"],
                serde_json::json!(gig_core::value::REDACTED)
            );
        }
    }

    #[test]
    fn disabled_classes_never_appear() {
        let v = create(&inputs(&[
            ("length", Value::from(400i64)),
            ("upper", Value::from(false)),
            ("special", Value::from(false)),
        ]))
        .unwrap();
        let r = result(&v);
        assert!(
            r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{r}"
        );
        // With 400 characters both enabled classes show up.
        assert!(r.chars().any(|c| c.is_ascii_lowercase()));
        assert!(r.chars().any(|c| c.is_ascii_digit()));
    }

    #[test]
    fn override_special_replaces_the_special_set() {
        let v = create(&inputs(&[
            ("length", Value::from(300i64)),
            ("upper", Value::from(false)),
            ("lower", Value::from(false)),
            ("numeric", Value::from(false)),
            ("override_special", Value::from("#-")),
        ]))
        .unwrap();
        let r = result(&v);
        assert!(r.chars().all(|c| c == '#' || c == '-'), "{r}");
    }

    #[test]
    fn min_counts_are_honoured() {
        for _ in 0..50 {
            let v = create(&inputs(&[
                ("length", Value::from(10i64)),
                ("min_upper", Value::from(3i64)),
                ("min_numeric", Value::from(3i64)),
                ("min_special", Value::from(2i64)),
                ("min_lower", Value::from(2i64)),
            ]))
            .unwrap();
            let r = result(&v);
            assert!(
                r.chars().filter(char::is_ascii_uppercase).count() >= 3,
                "{r}"
            );
            assert!(r.chars().filter(char::is_ascii_digit).count() >= 3, "{r}");
            assert!(
                r.chars().filter(char::is_ascii_lowercase).count() >= 2,
                "{r}"
            );
            assert!(
                r.chars().filter(|c| DEFAULT_SPECIAL.contains(*c)).count() >= 2,
                "{r}"
            );
        }
    }

    #[test]
    fn impossible_settings_are_attribute_errors() {
        let too_short = create(&inputs(&[
            ("length", Value::from(3i64)),
            ("min_upper", Value::from(4i64)),
        ]));
        assert_eq!(too_short.unwrap_err().attribute.as_deref(), Some("length"));
        let contradictory = create(&inputs(&[
            ("length", Value::from(8i64)),
            ("upper", Value::from(false)),
            ("min_upper", Value::from(1i64)),
        ]));
        assert_eq!(
            contradictory.unwrap_err().attribute.as_deref(),
            Some("min_upper")
        );
        let nothing = create(&inputs(&[
            ("length", Value::from(8i64)),
            ("upper", Value::from(false)),
            ("lower", Value::from(false)),
            ("numeric", Value::from(false)),
            ("special", Value::from(false)),
        ]));
        assert!(nothing.is_err());
        assert!(create(&inputs(&[("length", Value::from(0i64))])).is_err());
        assert!(create(&BTreeMap::new()).is_err());
    }
}
