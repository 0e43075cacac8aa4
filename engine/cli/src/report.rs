//! Rendering for the terminal: gig diagnostics with miette (the edge where plain-data
//! spans become `NamedSource`/`SourceSpan`), their JSON form for editors and CI, and
//! the engine's styled text in ANSI colours.

use std::fmt;
use std::io::Write;

use gig_core::diag::{Diagnostic, DiagnosticRecord, Severity};
use gig_core::span::{SourceMap, Span};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

/// A gig diagnostic bound to its source text, ready for miette.
struct Rendered {
    code: Option<String>,
    severity: Severity,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered {}

impl miette::Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Advice => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.source.is_none() || self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
}

fn source_span(span: Span) -> SourceSpan {
    SourceSpan::new((span.start as usize).into(), span.len())
}

fn bind(d: &Diagnostic, sources: &SourceMap) -> Rendered {
    let mut message = d.summary.clone();
    let file = sources.get(d.span.file);
    let mut labels = Vec::new();
    let mut elsewhere = Vec::new();
    if file.is_some() {
        let text = if d.label.is_empty() {
            None
        } else {
            Some(d.label.clone())
        };
        labels.push(LabeledSpan::new_primary_with_span(
            text,
            source_span(d.span),
        ));
    }
    for l in &d.labels {
        if l.span.file == d.span.file && file.is_some() {
            labels.push(LabeledSpan::new_with_span(
                Some(l.message.clone()),
                source_span(l.span),
            ));
        } else if let Some(other) = sources.get(l.span.file) {
            let (line, col) = sources.line_col(l.span.file, l.span.start);
            elsewhere.push(format!(
                "{}:{line}:{col}: {}",
                other.path.display(),
                l.message
            ));
        }
    }
    if !d.detail.is_empty() {
        message.push_str("\n  ");
        message.push_str(&d.detail);
    }
    for e in elsewhere {
        message.push_str("\n  also at ");
        message.push_str(&e);
    }
    Rendered {
        code: Some(format!("gig::{}", d.code)),
        severity: d.severity,
        message,
        help: d.help.clone(),
        source: file.map(|f| NamedSource::new(f.path.display().to_string(), f.text.clone())),
        labels,
    }
}

fn handler(color: bool) -> GraphicalReportHandler {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme).with_width(110)
}

/// Writes an error that is not about the sources (a typed failure: state, plan file,
/// provider set-up, usage) in the same form as diagnostics, to `out`.
pub fn error(message: &str, color: bool, out: &mut dyn Write) {
    let rendered = Rendered {
        code: None,
        severity: Severity::Error,
        message: message.to_string(),
        help: None,
        source: None,
        labels: Vec::new(),
    };
    let mut s = String::new();
    if handler(color).render_report(&mut s, &rendered).is_err() {
        s = format!("error: {message}\n");
    }
    let _ = writeln!(out, "{s}");
}

/// A command's refusal that has a diagnostic code but no source span (no state for this
/// env, damaged state): returned through `anyhow` and rendered by `main` as a diagnostic.
#[derive(Debug)]
pub struct Refusal(pub Diagnostic);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.summary)
    }
}

impl std::error::Error for Refusal {}

/// A command's refusal with diagnostics placed in source files (a stack whose `state`
/// block cannot be read): rendered by `main` against its sources.
#[derive(Debug)]
pub struct SourcedRefusal {
    /// The diagnostics, errors first.
    pub diagnostics: Vec<Diagnostic>,
    /// The files they point into.
    pub sources: SourceMap,
}

impl fmt::Display for SourcedRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.diagnostics.first() {
            Some(d) => write!(f, "{}: {}", d.code, d.summary),
            None => f.write_str("the stack cannot be loaded"),
        }
    }
}

impl std::error::Error for SourcedRefusal {}

/// Writes every diagnostic, rendered against its source, to `out`.
pub fn render(diags: &[Diagnostic], sources: &SourceMap, color: bool, out: &mut dyn Write) {
    let handler = handler(color);
    let mut sorted: Vec<&Diagnostic> = diags.iter().collect();
    sorted.sort_by(|a, b| {
        (a.span.file, a.span.start, a.code).cmp(&(b.span.file, b.span.start, b.code))
    });
    sorted.dedup_by(|a, b| a == b);
    for d in sorted {
        let mut s = String::new();
        if handler.render_report(&mut s, &bind(d, sources)).is_err() {
            s = format!("{}: {}\n", d.code, d.summary);
        }
        let _ = writeln!(out, "{s}");
    }
}

/// Writes every diagnostic as one JSON line (a record with `"level"`, like the JSON log
/// lines around it) to `out`: `--log-format json`.
pub fn json_lines(diags: &[Diagnostic], sources: &SourceMap, out: &mut dyn Write) {
    for d in diags {
        let mut record = serde_json::to_value(DiagnosticRecord::new(d, sources))
            .unwrap_or(serde_json::Value::Null);
        if let Some(map) = record.as_object_mut() {
            map.insert("level".into(), serde_json::json!(level(d.severity)));
            map.insert("kind".into(), serde_json::json!("diagnostic"));
        }
        let _ = writeln!(out, "{record}");
    }
}

/// Writes an error that is not about the sources as one JSON line to `out`.
pub fn error_json_line(message: &str, out: &mut dyn Write) {
    let record = serde_json::json!({ "level": "ERROR", "kind": "error", "message": message });
    let _ = writeln!(out, "{record}");
}

/// A severity as the log level tracing's JSON lines use.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "ERROR",
        Severity::Warning => "WARN",
        Severity::Advice => "INFO",
    }
}

/// The JSON form of diagnostics: an array of records.
pub fn to_json(diags: &[Diagnostic], sources: &SourceMap) -> serde_json::Value {
    let records: Vec<DiagnosticRecord> = diags
        .iter()
        .map(|d| DiagnosticRecord::new(d, sources))
        .collect();
    serde_json::json!({ "diagnostics": records })
}

/// The engine's styled text for a terminal: ANSI colours when `color`, plain otherwise.
pub fn styled(text: &gig_engine::render::Styled, color: bool) -> String {
    use gig_engine::render::Style;
    if !color {
        return text.plain().to_string();
    }
    let mut out = String::with_capacity(text.plain().len() + 64);
    for (piece, style) in text.pieces() {
        let code = match style {
            None => {
                out.push_str(piece);
                continue;
            }
            Some(Style::Create) => "\x1b[32m",
            Some(Style::Update) => "\x1b[33m",
            Some(Style::Delete) => "\x1b[31m",
            Some(Style::Replace) => "\x1b[35m",
            Some(Style::Muted) => "\x1b[2m",
            Some(Style::Heading) => "\x1b[1m",
            Some(Style::Danger) => "\x1b[1m\x1b[31m",
        };
        out.push_str(code);
        out.push_str(piece);
        out.push_str("\x1b[0m");
    }
    out
}
