//! IAM resource types (roles, managed policies, their attachments, instance profiles)
//! on the declarative model, plus what they share: tag maps and policy documents.

pub(crate) mod instance_profile;
pub(crate) mod policy;
pub(crate) mod role;
pub(crate) mod role_policy_attachment;

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use gig_core::value::Value;

/// IAM tags as the `tags` value (every key: the driver drops gig's own).
pub(crate) fn tag_value(tags: &[Tag]) -> Value {
    Value::Map(
        tags.iter()
            .map(|t| (t.key().to_string(), Value::str(t.value())))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A policy document as IAM returns it: URL-encoded on the wire (RFC 3986), plain when
/// the endpoint already decoded it. Text that does not decode to JSON is kept as is.
pub(crate) fn policy_text(raw: &str) -> String {
    if serde_json::from_str::<serde_json::Value>(raw).is_ok() || !raw.contains('%') {
        return raw.to_string();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(text) if serde_json::from_str::<serde_json::Value>(&text).is_ok() => text,
        _ => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::policy_text;

    #[test]
    fn policy_documents_are_url_decoded() {
        let raw = "%7B%22Version%22%3A%222012-10-17%22%7D";
        assert_eq!(policy_text(raw), r#"{"Version":"2012-10-17"}"#);
        assert_eq!(policy_text(r#"{"a":"50%"}"#), r#"{"a":"50%"}"#);
        assert_eq!(policy_text("%zz"), "%zz");
    }
}
