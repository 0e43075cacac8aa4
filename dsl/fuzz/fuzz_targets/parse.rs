//! Fuzz target: the scanner, parser and formatter on arbitrary bytes.
//!
//! Nothing may panic or overflow the stack. Whatever formats must format again to the
//! same text (idempotence) and must still parse.

#![no_main]

use std::path::Path;

use gig_dsl::fmt::format_source;
use gig_dsl::parse::parse_file;
use gig_dsl::source::source_from_bytes;
use gig_core::span::{FileId, SourceMap};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut sources = SourceMap::new();
    let _ = source_from_bytes(&mut sources, Path::new("fuzz.gig"), data.to_vec());
    let text = String::from_utf8_lossy(data);
    let (_file, _diags) = parse_file(FileId(0), &text);
    if let Ok(once) = format_source(FileId(0), &text) {
        match format_source(FileId(0), &once) {
            Ok(twice) => assert_eq!(once, twice, "formatting is not idempotent"),
            Err(diags) => panic!("formatted output does not parse: {diags:?}\n{once}"),
        }
    }
});
