//! Reading source files: size limit, UTF-8 check, registration in the [`SourceMap`].
//!
//! A file larger than [`MAX_SOURCE_BYTES`] is rejected after reading at most one byte
//! more than the limit, so pointing gig at a huge file fails fast (E0005). A binary file
//! (a NUL byte in its first 8 KiB) is one short E0019 that does not show
//! the file. Malformed UTF-8 is reported at the first bad byte (E0006); the file is
//! registered with its text decoded lossily, so the diagnostic renders against it.

use std::io::Read;
use std::path::Path;

use gig_core::diag::{Code, Diagnostic};
use gig_core::span::{FileId, SourceMap, Span};

/// Largest source file gig reads: 8 MiB, far beyond any hand-written configuration,
/// small enough that parsing stays well under a second.
pub const MAX_SOURCE_BYTES: usize = 8 * 1024 * 1024;

/// Reads `path` into `sources` under the name `display_path`.
///
/// On success returns the new file's id. On failure returns the diagnostic; the file
/// is still registered (with its lossily decoded text, or empty when it could not be
/// read or is too large), so the diagnostic's span renders with the file's name. A
/// file that failed should not be parsed.
// The diagnostic is the error callers report as is; boxing it would only add a step.
#[allow(clippy::result_large_err)]
pub fn read_source(
    sources: &mut SourceMap,
    path: &Path,
    display_path: &Path,
) -> Result<FileId, Diagnostic> {
    let bytes = match read_limited(path) {
        Ok(ReadOutcome::Bytes(bytes)) => bytes,
        Ok(ReadOutcome::TooLarge(len)) => {
            let id = sources.add(display_path, String::new());
            return Err(too_large(Span::new(id, 0, 0), len));
        }
        Err(err) => {
            let id = sources.add(display_path, String::new());
            return Err(Diagnostic::error(
                Code::E0016,
                "cannot read source file",
                Span::new(id, 0, 0),
            )
            .with_label("this file")
            .with_detail(format!(
                "Reading `{}` failed: {err}.",
                display_path.display()
            ))
            .with_help("check that the file exists and is readable"));
        }
    };
    source_from_bytes(sources, display_path, bytes)
}

/// Registers `bytes` as the source named `display_path`, applying the same checks as
/// [`read_source`] (size, then UTF-8).
#[allow(clippy::result_large_err)]
pub fn source_from_bytes(
    sources: &mut SourceMap,
    display_path: &Path,
    bytes: Vec<u8>,
) -> Result<FileId, Diagnostic> {
    if bytes.len() > MAX_SOURCE_BYTES {
        let id = sources.add(display_path, String::new());
        return Err(too_large(Span::new(id, 0, 0), bytes.len() as u64));
    }
    if let Some(at) = binary_marker(&bytes) {
        // Binary text rendered as a source snippet is kilobytes of junk on a terminal; the
        // file is registered empty so the diagnostic names it without showing it.
        let id = sources.add(display_path, String::new());
        return Err(Diagnostic::error(Code::E0019, "binary file, not source text", Span::new(id, 0, 0))
            .with_label("this file")
            .with_detail(format!(
                "`{}` has a NUL byte at offset {at}, so it is not a text file; source files are UTF-8 text.",
                display_path.display()
            ))
            .with_help("remove the file from the stack directory, or rename it so it does not end in `.gig`"));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(sources.add(display_path, text)),
        Err(err) => {
            let bad = err.utf8_error().valid_up_to();
            let bad_len = err.utf8_error().error_len().unwrap_or(1);
            let bytes = err.into_bytes();
            let shown: Vec<String> = bytes[bad..(bad + bad_len).min(bytes.len())]
                .iter()
                .map(|b| format!("0x{b:02X}"))
                .collect();
            // Lossy decoding keeps every valid byte before the first bad one in place,
            // so `bad` is the offset of the replacement character in the stored text.
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let id = sources.add(display_path, text);
            let span = Span::new(id, bad, bad + '\u{fffd}'.len_utf8());
            Err(Diagnostic::error(Code::E0006, "invalid UTF-8", span)
                .with_label("not UTF-8")
                .with_detail(format!(
                    "Source files must be UTF-8; the byte sequence {} is not.",
                    shown.join(" ")
                ))
                .with_help("save the file as UTF-8"))
        }
    }
}

/// How far into a file [`binary_marker`] looks, as git does to tell binary files.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// The offset of the first NUL byte in the first [`BINARY_SNIFF_BYTES`]: no text file
/// has one, nearly every binary file does. (Other control characters in text are
/// reported where they stand, E0011.)
fn binary_marker(bytes: &[u8]) -> Option<usize> {
    bytes.iter().take(BINARY_SNIFF_BYTES).position(|&b| b == 0)
}

/// The E0005 diagnostic for a file of `len` bytes.
pub(crate) fn too_large(span: Span, len: u64) -> Diagnostic {
    let detail = if len > MAX_SOURCE_BYTES as u64 + 1 {
        format!("The file has {len} bytes; source files may have at most {MAX_SOURCE_BYTES} bytes (8 MiB).")
    } else {
        format!("Source files may have at most {MAX_SOURCE_BYTES} bytes (8 MiB).")
    };
    Diagnostic::error(Code::E0005, "source file too large", span)
        .with_label("this file")
        .with_detail(detail)
        .with_help("split the configuration into several files, or move data into a file read with `file(…)`")
}

/// What reading a file gave.
enum ReadOutcome {
    Bytes(Vec<u8>),
    TooLarge(u64),
}

/// Reads the file, or only its size when that is over the limit. Never reads more than
/// one byte past the limit, even when the size reported up front was wrong.
fn read_limited(path: &Path) -> std::io::Result<ReadOutcome> {
    let file = std::fs::File::open(path)?;
    let len_hint = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len_hint > MAX_SOURCE_BYTES as u64 {
        return Ok(ReadOutcome::TooLarge(len_hint));
    }
    let mut bytes = Vec::with_capacity(len_hint as usize);
    file.take(MAX_SOURCE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(ReadOutcome::Bytes(bytes))
}
