//! Fuzz target: the hand-written parser against pest on arbitrary bytes.
//!
//! `parse_file` (hand-written parser first, pest for what it declines) and
//! `parse_file_reference` (pest alone) must return the same file and diagnostics.

#![no_main]

use gig_dsl::parse::{parse_file, parse_file_reference};
use gig_core::span::FileId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let fast = parse_file(FileId(0), &text);
    let reference = parse_file_reference(FileId(0), &text);
    assert!(fast == reference, "the parsers disagree on {text:?}");
});
