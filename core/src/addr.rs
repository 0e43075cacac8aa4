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
    ///
    /// Module segments may carry an instance key (`module.net["a"].aws.subnet.x`); the
    /// key is kept in the segment as displayed (`net["a"]`).
    pub fn parse(s: &str) -> Option<ResourceAddr> {
        let words = split_words(s)?;
        let mut rest = words.as_slice();
        let mut module = Vec::new();
        while rest.len() > 3 && rest[0] == ("module", None) {
            let (name, key) = &rest[1];
            module.push(match key {
                Some(k) => format!("{name}{k}"),
                None => name.to_string(),
            });
            rest = &rest[2..];
        }
        let mode = if rest
            .first()
            .is_some_and(|(w, k)| *w == "data" && k.is_none())
        {
            rest = &rest[1..];
            Mode::Data
        } else {
            Mode::Managed
        };
        let [(provider, None), (rtype, None), (name, key)] = rest else {
            return None;
        };
        Some(ResourceAddr {
            module,
            mode,
            rtype: format!("{provider}.{rtype}"),
            name: name.to_string(),
            key: key.clone(),
        })
    }
}

/// The dot-separated words of an address, each with the instance key written after it.
fn split_words(s: &str) -> Option<Vec<(&str, Option<InstanceKey>)>> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let word = &rest[..end];
        if word.is_empty() {
            return None;
        }
        rest = &rest[end..];
        let mut key = None;
        if let Some(inner) = rest.strip_prefix('[') {
            let close = key_end(inner)?;
            let text = &inner[..close];
            key = Some(match text.parse::<i64>() {
                Ok(n) => InstanceKey::Index(n),
                Err(_) => InstanceKey::Name(serde_json::from_str::<String>(text).ok()?),
            });
            rest = &inner[close + 1..];
        }
        out.push((word, key));
        match rest.strip_prefix('.') {
            Some(r) => rest = r,
            None if rest.is_empty() => return Some(out),
            None => return None,
        }
    }
}

/// Where the `]` closing an instance key is in `s` (the text after `[`): after a quoted
/// string (which may hold `]`, `.` and escaped quotes), or at the first `]`.
fn key_end(s: &str) -> Option<usize> {
    if !s.starts_with('"') {
        return s.find(']');
    }
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return s[i + 1..].starts_with(']').then_some(i + 1),
            _ => {}
        }
    }
    None
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
            "module.net[\"a.b]\"].aws.subnet.x[0]",
            "module.net[2].module.inner.aws.subnet.x[\"k\\\"q\"]",
        ] {
            let a = ResourceAddr::parse(s).unwrap();
            assert_eq!(a.to_string(), s);
        }
        assert!(ResourceAddr::parse("aws.vpc").is_none());
        assert!(ResourceAddr::parse("aws..vpc.x").is_none());
        assert!(ResourceAddr::parse("aws.vpc[0].x").is_none());
        assert!(ResourceAddr::parse("aws.vpc.x[\"a\"").is_none());
        assert!(ResourceAddr::parse("module.net[\"a\"]x.aws.vpc.x").is_none());
    }
}
