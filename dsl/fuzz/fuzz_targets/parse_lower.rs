//! Fuzz target: parsing and lowering of one in-memory file on arbitrary bytes.
//!
//! Nothing may panic or overflow the stack, whatever the input. The check is
//! `gig_dsl::fuzz::parse_lower`, which `dsl/tests/fuzz_budget.rs` also runs on a fixed
//! budget of generated inputs.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gig_dsl::fuzz::parse_lower(data));
