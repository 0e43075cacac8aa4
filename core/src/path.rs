//! Attribute paths: where inside a resource's value a difference is, as data.
//!
//! A path is a top-level attribute name followed by map keys and list indexes:
//! `tags.Name`, `ingress[0].port`, `tags["cost center"]`. Code that acts on a path reads
//! its steps; the display form is for people only and is never parsed back.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One step into a value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Step {
    /// An attribute or map key.
    Key(String),
    /// A list element.
    Index(usize),
}

/// A path from a resource's top-level attribute into its value.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttrPath(Vec<Step>);

impl AttrPath {
    /// The path of a top-level attribute.
    pub fn attribute(name: &str) -> AttrPath {
        AttrPath(vec![Step::Key(name.to_string())])
    }

    /// This path extended by a map key.
    pub fn key(&self, key: &str) -> AttrPath {
        let mut steps = self.0.clone();
        steps.push(Step::Key(key.to_string()));
        AttrPath(steps)
    }

    /// This path extended by a list index.
    pub fn index(&self, index: usize) -> AttrPath {
        let mut steps = self.0.clone();
        steps.push(Step::Index(index));
        AttrPath(steps)
    }

    /// The steps, outermost first.
    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    /// The top-level attribute this path is in.
    pub fn attribute_name(&self) -> Option<&str> {
        match self.0.first() {
            Some(Step::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Whether this path is `prefix` or inside it (`tags.Name` is inside `tags`).
    pub fn starts_with(&self, prefix: &AttrPath) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

impl From<Vec<Step>> for AttrPath {
    fn from(steps: Vec<Step>) -> AttrPath {
        AttrPath(steps)
    }
}

impl fmt::Display for AttrPath {
    /// `tags.Name`, `ingress[0].port`, or `tags["a b"]` for a key that is not a plain name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Key(k) if i == 0 => f.write_str(k)?,
                Step::Key(k) if is_plain_name(k) => write!(f, ".{k}")?,
                Step::Key(k) => write!(f, "[{k:?}]")?,
            }
        }
        Ok(())
    }
}

fn is_plain_name(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !key.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_keys_indexes_and_quoted_keys() {
        let p = AttrPath::attribute("ingress").index(0).key("port");
        assert_eq!(p.to_string(), "ingress[0].port");
        assert_eq!(
            AttrPath::attribute("tags").key("cost center").to_string(),
            "tags[\"cost center\"]"
        );
        assert_eq!(p.attribute_name(), Some("ingress"));
        assert!(p.starts_with(&AttrPath::attribute("ingress")));
        assert!(!p.starts_with(&AttrPath::attribute("ingres")));
    }

    #[test]
    fn serializes_as_a_list_of_keys_and_indexes() {
        let p = AttrPath::attribute("ingress").index(2).key("port");
        let j = serde_json::to_string(&p).unwrap();
        assert_eq!(j, r#"["ingress",2,"port"]"#);
        assert_eq!(serde_json::from_str::<AttrPath>(&j).unwrap(), p);
    }
}
