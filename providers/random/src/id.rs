//! `random.id`: random bytes rendered as base64url, base64, hex and decimal.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, ProviderError, ResourceSchema};
use rand::RngCore as _;

use crate::{opt_count, opt_string};

/// The resource type name.
pub(crate) const TYPE: &str = "random.id";

/// Attributes the provider sets.
pub(crate) const COMPUTED: &[&str] = &["id", "hex", "b64_url", "b64_std", "dec"];

/// The largest `byte_length` accepted (a guard against absurd allocations).
const MAX_BYTES: u64 = 1024;

/// The schema of `random.id`.
pub(crate) fn schema() -> ResourceSchema {
    let mut a = BTreeMap::new();
    a.insert(
        "byte_length".to_string(),
        AttributeSchema::required(
            AttrType::Number,
            "Number of random bytes to generate (1 to 1024).",
        )
        .force_new(),
    );
    a.insert(
        "keepers".to_string(),
        AttributeSchema::optional(
            AttrType::Map(Box::new(AttrType::String)),
            "Arbitrary values that, when changed, force a new id to be generated.",
        )
        .force_new(),
    );
    a.insert(
        "prefix".to_string(),
        AttributeSchema::optional(
            AttrType::String,
            "Text put in front of `id`, `hex`, `b64_url`, `b64_std` and `dec` (not counted in `byte_length`).",
        )
        .force_new(),
    );
    a.insert(
        "id".to_string(),
        AttributeSchema::computed(
            AttrType::String,
            "The prefix followed by the bytes in unpadded base64url.",
        ),
    );
    a.insert(
        "b64_url".to_string(),
        AttributeSchema::computed(
            AttrType::String,
            "The prefix followed by the bytes in unpadded base64url.",
        ),
    );
    a.insert(
        "b64_std".to_string(),
        AttributeSchema::computed(
            AttrType::String,
            "The prefix followed by the bytes in padded standard base64.",
        ),
    );
    a.insert(
        "hex".to_string(),
        AttributeSchema::computed(
            AttrType::String,
            "The prefix followed by the bytes in lowercase hexadecimal.",
        ),
    );
    a.insert(
        "dec".to_string(),
        AttributeSchema::computed(
            AttrType::String,
            "The prefix followed by the bytes read as one big-endian unsigned integer, in decimal.",
        ),
    );
    ResourceSchema {
        type_name: TYPE.to_string(),
        description: "Random bytes generated once on create and kept in state, for unique names and \
                      suffixes. The bytes come from the operating system's entropy. Every argument is \
                      force-new: change `keepers` to generate a new id (and so replace whatever uses it)."
            .to_string(),
        version: 0,
        attributes: a,
        example: "param env: string = \"staging\"\n\n\
                  resource random.id suffix {\n  byte_length = 4\n  prefix      = \"app-\"\n  \
                  keepers     = { env = env }\n}\n\n\
                  // For example \"app-deadbeef\"; a new one only when `env` changes.\n\
                  output app_name = random.id.suffix.hex\n"
            .to_string(),
    }
}

/// Generates the bytes and returns the New value.
pub(crate) fn create(inputs: &BTreeMap<String, Value>) -> Result<Value, ProviderError> {
    let n = match opt_count(inputs, "byte_length")? {
        Some(n) if (1..=MAX_BYTES).contains(&n) => n as usize,
        _ => {
            return Err(ProviderError::invalid_attribute(
                "byte_length",
                format!("`byte_length` must be a whole number from 1 to {MAX_BYTES}"),
            ))
        }
    };
    let prefix = opt_string(inputs, "prefix")?;
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    Ok(render(inputs.clone(), prefix.as_deref(), &bytes))
}

/// Rebuilds a value from an id in unpadded base64url (the `id` attribute without prefix).
pub(crate) fn import(id: &str) -> Result<Value, ProviderError> {
    let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| {
        ProviderError::permanent(
            "a random.id is imported by its unpadded base64url `id` (without prefix)",
        )
    })?;
    if bytes.is_empty() {
        return Err(ProviderError::permanent("a random.id cannot be empty"));
    }
    let mut inputs = BTreeMap::new();
    inputs.insert("byte_length".to_string(), Value::from(bytes.len() as i64));
    Ok(render(inputs, None, &bytes))
}

fn render(mut value: BTreeMap<String, Value>, prefix: Option<&str>, bytes: &[u8]) -> Value {
    let prefix = prefix.unwrap_or("");
    let b64_url = URL_SAFE_NO_PAD.encode(bytes);
    value.insert(
        "id".to_string(),
        Value::String(format!("{prefix}{b64_url}")),
    );
    value.insert(
        "b64_url".to_string(),
        Value::String(format!("{prefix}{b64_url}")),
    );
    value.insert(
        "b64_std".to_string(),
        Value::String(format!("{prefix}{}", STANDARD.encode(bytes))),
    );
    value.insert(
        "hex".to_string(),
        Value::String(format!("{prefix}{}", hex::encode(bytes))),
    );
    value.insert(
        "dec".to_string(),
        Value::String(format!("{prefix}{}", to_decimal(bytes))),
    );
    Value::Map(value)
}

/// The big-endian unsigned integer in `bytes`, in decimal, by repeated division by 10.
fn to_decimal(bytes: &[u8]) -> String {
    let mut num: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if num.is_empty() {
        return "0".to_string();
    }
    let mut digits = Vec::new();
    while !num.is_empty() {
        let mut rem: u32 = 0;
        let mut next = Vec::with_capacity(num.len());
        for b in &num {
            let cur = (rem << 8) | u32::from(*b);
            let q = cur / 10;
            rem = cur % 10;
            if !(next.is_empty() && q == 0) {
                next.push(q as u8);
            }
        }
        digits.push(b'0' + rem as u8);
        num = next;
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
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

    #[test]
    fn lengths_and_encodings_agree() {
        for n in [1i64, 4, 8, 16, 33] {
            let v = create(&inputs(&[("byte_length", Value::from(n))])).unwrap();
            let hex = v.get("hex").and_then(Value::as_str).unwrap();
            assert_eq!(hex.len(), 2 * n as usize);
            let bytes = hex::decode(hex).unwrap();
            let url = v.get("b64_url").and_then(Value::as_str).unwrap();
            assert_eq!(URL_SAFE_NO_PAD.decode(url).unwrap(), bytes);
            assert_eq!(v.get("id").and_then(Value::as_str), Some(url));
            let std = v.get("b64_std").and_then(Value::as_str).unwrap();
            assert_eq!(STANDARD.decode(std).unwrap(), bytes);
            let dec = v.get("dec").and_then(Value::as_str).unwrap();
            assert!(dec.bytes().all(|b| b.is_ascii_digit()));
            assert!(!v.is_secret());
        }
    }

    #[test]
    fn prefix_goes_in_front_of_every_rendering() {
        let v = create(&inputs(&[
            ("byte_length", Value::from(4i64)),
            ("prefix", Value::from("app-")),
        ]))
        .unwrap();
        for k in COMPUTED {
            assert!(
                v.get(k)
                    .and_then(Value::as_str)
                    .unwrap()
                    .starts_with("app-"),
                "{k}"
            );
        }
        assert_eq!(v.get("prefix").and_then(Value::as_str), Some("app-"));
    }

    #[test]
    fn two_creates_differ() {
        let i = inputs(&[("byte_length", Value::from(16i64))]);
        assert_ne!(
            create(&i).unwrap().get("hex"),
            create(&i).unwrap().get("hex")
        );
    }

    #[test]
    fn bad_byte_length_is_an_attribute_error() {
        for bad in [
            Value::from(0i64),
            Value::from(-3i64),
            Value::from(1.5),
            Value::from("8"),
            Value::from(5000i64),
        ] {
            let err = create(&inputs(&[("byte_length", bad)])).unwrap_err();
            assert_eq!(err.attribute.as_deref(), Some("byte_length"));
        }
        assert!(create(&BTreeMap::new()).is_err());
    }

    #[test]
    fn decimal_rendering_is_exact() {
        assert_eq!(to_decimal(&[0]), "0");
        assert_eq!(to_decimal(&[0, 0, 1]), "1");
        assert_eq!(to_decimal(&[0xde, 0xad, 0xbe, 0xef]), "3735928559");
        assert_eq!(to_decimal(&[0xff; 8]), u64::MAX.to_string());
        assert_eq!(
            to_decimal(&[1, 0, 0, 0, 0, 0, 0, 0, 0]),
            "18446744073709551616"
        );
    }
}
