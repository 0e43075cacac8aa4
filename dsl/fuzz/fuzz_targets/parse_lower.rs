//! Fuzz target: parsing and lowering of one in-memory file on arbitrary bytes.
//!
//! Nothing may panic or overflow the stack, whatever the input.

#![no_main]

use gig_dsl::load::{load_str, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = load_str("fuzz.gig", &text, &LoadOptions::default());
});
