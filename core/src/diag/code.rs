//! The registry of diagnostic codes: every code gig can report, declared once.
//!
//! One table below lists each code with a short fixed title. The [`Code`] enum, its
//! string form, its title and the path of its documentation page are all generated
//! from that table, so a code cannot exist without a title, and the test in
//! `core/tests/codes.rs` holds the table and `docs/diagnostics/` together both ways:
//! every code has a page whose heading is `# CODE: title`, and every page is a code.
//!
//! Codes are grouped by the phase that reports them; the hundreds digit names the
//! phase (00xx parse, 01xx evaluation, functions and lowering, 02xx loading, 03xx
//! graph, schema checks, planning, saved plans and state, 04xx the provider, 0501–0509
//! policy, 0510–0529 shared state: locations and locks).
//! A code is never reused for another meaning once released.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares the registry: `CODE => "title",` lines, in ascending order.
macro_rules! codes {
    ($($code:ident => $title:literal,)*) => {
        /// A stable diagnostic code such as `E0101`, rendered to users as `gig::E0101`.
        ///
        /// Each variant's documentation is its title; its page is
        /// `docs/diagnostics/<code>.md`. Variants are declared in ascending order, so
        /// the derived ordering is the ordering of the code strings.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(
                #[doc = $title]
                $code,
            )*
        }

        impl Code {
            /// Every registered code, in ascending order.
            pub const ALL: &'static [Code] = &[$(Code::$code,)*];

            /// The code as written in docs and output, without the `gig::` prefix: `E0101`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }

            /// The short fixed title, as in the heading of the code's docs page.
            pub fn title(self) -> &'static str {
                match self {
                    $(Code::$code => $title,)*
                }
            }

            /// The code's docs page relative to the repository root:
            /// `docs/diagnostics/E0101.md`.
            pub fn docs_path(self) -> &'static str {
                match self {
                    $(Code::$code => concat!("docs/diagnostics/", stringify!($code), ".md"),)*
                }
            }
        }
    };
}

codes! {
    // Parsing: reading source files, scanning and the grammar.
    E0001 => "syntax error",
    E0002 => "unterminated string",
    E0003 => "invalid escape sequence",
    E0004 => "nesting too deep",
    E0005 => "source file too large",
    E0006 => "invalid UTF-8",
    E0007 => "invalid number",
    E0008 => "unclosed delimiter",
    E0009 => "mismatched or unexpected closing delimiter",
    E0010 => "unterminated block comment",
    E0011 => "invalid character",
    E0012 => "unknown type",
    E0013 => "block not allowed here",
    E0014 => "output value missing or given twice",
    E0015 => "module source must be a plain string",
    E0016 => "cannot read source file",
    E0017 => "too many syntax errors",
    E0018 => "unterminated heredoc",
    E0019 => "binary file, not source text",

    // Evaluation of expressions.
    E0101 => "operator cannot be applied to these types",
    E0102 => "condition is not a bool",
    E0103 => "index out of range",
    E0104 => "no such attribute",
    E0105 => "cannot index this value",
    E0106 => "division by zero",
    E0107 => "value cannot be interpolated",
    E0108 => "cannot iterate over this value",
    E0109 => "duplicate key in for-expression",
    E0110 => "unbound variable",
    E0119 => "evaluation too large",

    // The standard library's functions.
    E0120 => "unknown function",
    E0121 => "wrong number of arguments",
    E0122 => "wrong argument type",
    E0123 => "invalid function argument",
    E0124 => "cannot read file",
    E0125 => "unknown template variable",

    // Lowering: names, references, expansion and meta-arguments.
    E0150 => "undefined name",
    E0151 => "undefined resource",
    E0153 => "cycle between values",
    E0154 => "duplicate declaration",
    E0155 => "expansion not known at plan time",
    E0156 => "invalid expansion collection",
    E0157 => "duplicate instance key",
    E0158 => "invalid count",
    E0159 => "invalid depends_on",
    E0160 => "invalid lifecycle option",
    E0161 => "invalid provider argument",
    E0162 => "no such instance",
    E0163 => "instance key missing",
    E0164 => "resource refers to itself",
    E0165 => "malformed resource type",
    E0166 => "unknown provider alias",
    E0167 => "provider of another kind",

    // Lowering: modules.
    E0170 => "module directory not found",
    E0171 => "module includes itself",
    E0172 => "missing module argument",
    E0173 => "unknown module argument",
    E0174 => "undefined module",
    E0175 => "unknown module output",
    E0176 => "modules nested too deeply",

    // Lowering: params, environments, gigvars, providers and outputs.
    E0180 => "missing param value",
    E0181 => "unknown param",
    E0182 => "param value has the wrong type",
    E0183 => "cannot convert param value",
    E0184 => "unknown environment",
    E0185 => "invalid item in a gigvars file",
    E0186 => "gigvars sets an undeclared param",
    E0187 => "value must be a constant",
    E0188 => "assignment outside a gigvars file",
    E0189 => "invalid param option",
    E0190 => "provider settings not known",
    E0191 => "provider block in a module",
    E0192 => "duplicate attribute",
    E0193 => "map key not known",
    E0194 => "invalid output option",
    E0195 => "not a resource address",
    E0196 => "invalid moved or import block",
    E0197 => "import id not known",
    E0198 => "no such module instance",
    E0199 => "expansion over a data value not known while planning",

    // Loading a stack directory.
    E0200 => "no .gig files",
    E0201 => "cannot read stack directory",

    // The dependency graph.
    E0301 => "dependency cycle",
    E0302 => "dependency on an unknown resource",

    // Schema checks against the providers.
    E0310 => "unknown provider",
    E0311 => "unknown resource or data source type",
    E0312 => "unknown attribute",
    E0313 => "missing required attribute",
    E0314 => "attribute is set by the provider",
    E0315 => "value of the wrong type",
    E0316 => "unknown provider setting",
    E0317 => "value is already base64-encoded",

    // Planning.
    E0330 => "plan would destroy a protected resource",
    E0331 => "resource body is not an object",

    // Saved plan files; E0351 and E0352 are emitted by planfile.
    E0350 => "the saved plan is stale",
    E0351 => "the plan file was written by another gig version",
    E0352 => "the plan file is damaged or not a gig plan",
    E0353 => "a flag contradicts the saved plan",
    E0354 => "the plan file was changed after it was written",

    // The stack's identity: its declared name and the one its state records.
    E0355 => "invalid stack name",
    E0356 => "invalid stack block",
    E0357 => "the stack's identity differs from its state's",

    // State, as the CLI opens it for a stack and env.
    E0360 => "this stack has environments; choose one with --env",
    E0361 => "no state for this stack and environment",
    E0362 => "the state is damaged",
    E0370 => "the plan is partial",

    // Moved and import blocks, as the planner meets them against the state.
    E0380 => "moved between two recorded objects",
    E0381 => "moved or import target not declared",
    E0382 => "moved blocks form a cycle",
    E0383 => "moved from a declared resource",
    E0384 => "imported object not found",
    E0385 => "conflicting moved blocks",
    E0386 => "import of a recorded object skipped",

    // The provider: apply, refresh and data sources; E0403 and E0404 are emitted by
    // the engine's plan pipeline.
    E0401 => "the provider rejected a change",
    E0402 => "reading from the provider failed",
    E0403 => "a data source's arguments are not known at plan time",
    E0404 => "data sources depend on each other in a cycle",
    E0405 => "no credentials were found for a provider",
    E0406 => "a provider's endpoint cannot be reached",
    E0410 => "an interrupted create matches several objects",
    E0411 => "an interrupted create cannot be looked up",
    E0412 => "looking up an interrupted create failed",

    // Policy rules for the IAM and S3 types of issue 12.
    E0430 => "bucket open to public access",
    E0431 => "bucket without declared default encryption",
    E0432 => "IAM policy allows every action",

    // Policy: built-in security rules over the plan.
    E0501 => "security group open to the internet on a non-web port",
    E0502 => "data store without encryption",
    E0503 => "database reachable from the internet",
    E0504 => "data store in a subnet routed to the internet",
    E0505 => "database backups kept fewer than 7 days",
    E0506 => "instance metadata reachable without IMDSv2",
    E0507 => "production database without deletion protection",
    E0508 => "production database in a single availability zone",
    E0509 => "HTTP served in clear beside HTTPS",

    // Shared state: locations and locks.
    E0510 => "the state lock was lost",
    E0511 => "the state location is not valid",
    E0512 => "the state lock cannot be broken",
    E0513 => "the state was moved",
    E0514 => "the state cannot be migrated there",
    E0515 => "a state on S3 cannot be encrypted by gig yet",
    E0516 => "the KMS key cannot be used",
    E0517 => "invalid state block",
    E0518 => "a state setting is not a string",
    E0519 => "a state setting is not known before planning",

    // State and plan file encryption at rest (gig_state::crypt).
    E0530 => "the data is encrypted and no key is set",
    E0531 => "the key set does not decrypt the data",
    E0532 => "a value is encrypted under a key that is not set",
    E0533 => "a stored value fails its integrity check",
    E0534 => "no key is set to encrypt with",
}

impl fmt::Display for Code {
    /// Writes the bare code, `E0101`; callers add the `gig::` prefix where they show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a registered diagnostic code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCode(pub String);

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a gig diagnostic code", self.0)
    }
}

impl std::error::Error for UnknownCode {}

impl FromStr for Code {
    type Err = UnknownCode;

    /// Parses the bare form `E0101`.
    fn from_str(s: &str) -> Result<Code, UnknownCode> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCode(s.to_string()))
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Code, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms_round_trip() {
        assert_eq!(Code::E0101.as_str(), "E0101");
        assert_eq!(Code::E0101.to_string(), "E0101");
        assert_eq!(Code::E0101.docs_path(), "docs/diagnostics/E0101.md");
        assert_eq!("E0402".parse::<Code>(), Ok(Code::E0402));
        assert_eq!(
            "gig::E0402".parse::<Code>(),
            Err(UnknownCode("gig::E0402".to_string()))
        );
        assert!("E9999".parse::<Code>().is_err());
    }

    #[test]
    fn serde_uses_the_bare_string() {
        let json = serde_json::to_string(&Code::E0315).expect("serialize");
        assert_eq!(json, "\"E0315\"");
        let back: Code = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, Code::E0315);
        assert!(serde_json::from_str::<Code>("\"E0000\"").is_err());
    }
}
