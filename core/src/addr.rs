//! Resource addresses: `aws.subnet.private["us-east-1a"]`, `module.edge.aws.lb.main`,
//! `data.aws.ami.app`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Managed resource or data source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `resource TYPE NAME { … }`: created, updated and deleted by gig.
    Managed,
    /// `data TYPE NAME { … }`: read at plan time.
    Data,
}

/// The key of one instance of an expanded resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InstanceKey {
    /// `count = N` instances: `[0]`, `[1]` …
    Index(i64),
    /// `for k, v in MAP` / `for i, x in LIST`: `["us-east-1a"]`.
    Name(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::Index(i) => write!(f, "[{i}]"),
            InstanceKey::Name(s) => write!(f, "[{s:?}]"),
        }
    }
}

/// The address of one resource instance, or of a whole resource when `key` is `None`
/// and the resource is not expanded.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceAddr {
    /// Module path from the root: `["edge"]` for `module.edge.…`.
    pub module: Vec<String>,
    /// Managed or data.
    pub mode: Mode,
    /// Full type name including the provider: `aws.subnet`.
    pub rtype: String,
    /// The name after the type: `private`.
    pub name: String,
    /// The instance key of an expanded resource.
    pub key: Option<InstanceKey>,
}

impl ResourceAddr {
    /// A managed, root-module, unexpanded address.
    pub fn managed(rtype: impl Into<String>, name: impl Into<String>) -> ResourceAddr {
        ResourceAddr {
            module: Vec::new(),
            mode: Mode::Managed,
            rtype: rtype.into(),
            name: name.into(),
            key: None,
        }
    }

    /// The same address with an instance key.
    pub fn with_key(mut self, key: InstanceKey) -> ResourceAddr {
        self.key = Some(key);
        self
    }

    /// The provider name: the first segment of the type (`aws` for `aws.subnet`).
    pub fn provider(&self) -> &str {
        self.rtype.split('.').next().unwrap_or(&self.rtype)
    }

    /// The address without its instance key (the resource block it came from).
    pub fn group(&self) -> ResourceAddr {
        ResourceAddr {
            key: None,
            ..self.clone()
        }
    }

    /// Parses the display form back. Returns `None` when malformed.
    pub fn parse(s: &str) -> Option<ResourceAddr> {
        let (head, key) = match s.find('[') {
            Some(i) if s.ends_with(']') => {
                let inner = &s[i + 1..s.len() - 1];
                let key = if let Ok(n) = inner.parse::<i64>() {
                    InstanceKey::Index(n)
                } else {
                    InstanceKey::Name(serde_json::from_str::<String>(inner).ok()?)
                };
                (&s[..i], Some(key))
            }
            Some(_) => return None,
            None => (s, None),
        };
        let mut parts: Vec<&str> = head.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let mut module = Vec::new();
        while parts.len() > 2 && parts[0] == "module" {
            module.push(parts[1].to_string());
            parts.drain(..2);
        }
        let mode = if parts.first() == Some(&"data") {
            parts.remove(0);
            Mode::Data
        } else {
            Mode::Managed
        };
        if parts.len() != 3 {
            return None;
        }
        Some(ResourceAddr {
            module,
            mode,
            rtype: format!("{}.{}", parts[0], parts[1]),
            name: parts[2].to_string(),
            key,
        })
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.module {
            write!(f, "module.{m}.")?;
        }
        if self.mode == Mode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.rtype, self.name)?;
        if let Some(k) = &self.key {
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

/// The provider a provider key names: `aws` for both the default `aws` and its
/// alias `aws.west` (a `provider aws.west { … }` block).
pub fn provider_kind(key: &str) -> &str {
    key.split_once('.').map_or(key, |(kind, _)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        for s in [
            "aws.vpc.main",
            "aws.subnet.private[\"us-east-1a\"]",
            "aws.instance.web[3]",
            "module.edge.aws.lb.main",
            "module.a.module.b.data.aws.ami.app",
        ] {
            let a = ResourceAddr::parse(s).unwrap();
            assert_eq!(a.to_string(), s);
        }
        assert!(ResourceAddr::parse("aws.vpc").is_none());
        assert!(ResourceAddr::parse("aws..vpc.x").is_none());
    }
}
