//! Fuzz target: the hand-written parser against pest on arbitrary bytes.
//!
//! `parse_file` (hand-written parser first, pest for what it declines) and
//! `parse_file_reference` (pest alone) must return the same file and diagnostics. The
//! checks are `gig_dsl::fuzz::parse_fast`, which `dsl/tests/fuzz_budget.rs` also runs on
//! a fixed budget of generated inputs.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gig_dsl::fuzz::parse_fast(data));
