//! Styled text: plain text plus ranges tagged with what they mean (a create, a delete, a
//! heading). The engine decides meaning; the CLI decides how a terminal shows it, so no
//! escape code is ever written here.

use std::fmt;
use std::ops::Range;

/// What a stretch of rendered text means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Style {
    /// Something is created (`+`).
    Create,
    /// Something changes in place (`~`).
    Update,
    /// Something is destroyed (`-`).
    Delete,
    /// Something is replaced (`-/+`, `+/-`).
    Replace,
    /// Of lesser importance (an unchanged or read marker).
    Muted,
    /// A heading or the summary line.
    Heading,
    /// A destructive warning that must stand out.
    Danger,
}

/// Text with styled ranges. Its [`fmt::Write`] implementation appends plain text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Styled {
    text: String,
    spans: Vec<(Range<usize>, Style)>,
}

impl Styled {
    /// An empty text.
    pub fn new() -> Styled {
        Styled::default()
    }

    /// The text without styles.
    pub fn plain(&self) -> &str {
        &self.text
    }

    /// The text without styles, owned.
    pub fn into_plain(self) -> String {
        self.text
    }

    /// The styled ranges, in order, not overlapping.
    pub fn spans(&self) -> &[(Range<usize>, Style)] {
        &self.spans
    }

    /// Appends plain text.
    pub fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Appends one plain character.
    pub fn push(&mut self, c: char) {
        self.text.push(c);
    }

    /// Appends `s` styled as `style`.
    pub fn push_styled(&mut self, style: Style, s: &str) {
        let start = self.text.len();
        self.text.push_str(s);
        if !s.is_empty() {
            self.spans.push((start..self.text.len(), style));
        }
    }

    /// The pieces of the text in order, each with its style (`None`: plain).
    pub fn pieces(&self) -> impl Iterator<Item = (&str, Option<Style>)> + '_ {
        let mut out = Vec::new();
        let mut at = 0;
        for (range, style) in &self.spans {
            if range.start > at {
                out.push((&self.text[at..range.start], None));
            }
            out.push((&self.text[range.clone()], Some(*style)));
            at = range.end;
        }
        if at < self.text.len() {
            out.push((&self.text[at..], None));
        }
        out.into_iter()
    }
}

impl fmt::Write for Styled {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.text.push_str(s);
        Ok(())
    }
}

impl fmt::Display for Styled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
