//! Diagnostics: user mistakes with a stable code, spans and full-sentence detail.
//!
//! A summary never embeds user text (names, values); those go into `detail`, labels
//! and `help`. Every phase returns its result together with *all* diagnostics it found.

use serde::{Deserialize, Serialize};

use crate::span::{SourceMap, Span};

mod code;

pub use code::{Code, UnknownCode};

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the command.
    Error,
    /// Reported, does not fail the command.
    Warning,
    /// Informational.
    Advice,
}

/// A secondary span with a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is there, as a sentence fragment.
    pub message: String,
}

/// One user-facing problem found in the sources (or in the plan, for policy findings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Stable code such as `E0101`; rendered as `gig::E0101`.
    pub code: Code,
    /// Error, warning or advice.
    pub severity: Severity,
    /// Short fixed summary; never contains user text.
    pub summary: String,
    /// One or more full sentences explaining the problem; may name user items.
    pub detail: String,
    /// The primary location.
    pub span: Span,
    /// Message shown at the primary location.
    pub label: String,
    /// Further locations.
    pub labels: Vec<Label>,
    /// A suggestion such as "did you mean `vpc_id`?".
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with the given code, summary and primary span.
    pub fn error(code: Code, summary: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            summary: summary.into(),
            detail: String::new(),
            span,
            label: String::new(),
            labels: Vec::new(),
            help: None,
        }
    }

    /// A warning with the given code, summary and primary span.
    pub fn warning(code: Code, summary: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, summary, span)
        }
    }

    /// Sets the detail sentence(s).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Diagnostic {
        self.detail = detail.into();
        self
    }

    /// Sets the message at the primary span.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// Adds a secondary labelled span.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Whether this diagnostic fails the command.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Whether any diagnostic in the list is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// A diagnostic flattened for machine output (`--format json`): code, severity, file,
/// 1-based line and column, message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticRecord {
    /// `gig::E0101`.
    pub code: String,
    /// error / warning / advice.
    pub severity: Severity,
    /// File path, empty when the diagnostic has no file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// 1-based end line.
    pub end_line: usize,
    /// 1-based end column.
    pub end_column: usize,
    /// Summary followed by detail.
    pub message: String,
    /// The help line, if any.
    pub help: Option<String>,
}

impl DiagnosticRecord {
    /// Flattens `d` against the sources it points into.
    pub fn new(d: &Diagnostic, sources: &SourceMap) -> DiagnosticRecord {
        let (file, (line, column), (end_line, end_column)) = match sources.get(d.span.file) {
            Some(f) => (
                f.path.display().to_string(),
                sources.line_col(d.span.file, d.span.start),
                sources.line_col(d.span.file, d.span.end),
            ),
            None => (String::new(), (0, 0), (0, 0)),
        };
        let message = if d.detail.is_empty() {
            d.summary.clone()
        } else {
            format!("{}: {}", d.summary, d.detail)
        };
        DiagnosticRecord {
            code: format!("gig::{}", d.code),
            severity: d.severity,
            file,
            line,
            column,
            end_line,
            end_column,
            message,
            help: d.help.clone(),
        }
    }
}

/// The closest candidate to `name` by edit distance, for "did you mean …?" help.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, c)| *score > 0.8 && *c != name)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
