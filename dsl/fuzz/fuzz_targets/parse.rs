//! Fuzz target: the scanner, parser and formatter on arbitrary bytes.
//!
//! Nothing may panic or overflow the stack. Whatever formats must format again to the
//! same text (idempotence) and must still parse. The checks are `gig_dsl::fuzz::parse`,
//! which `dsl/tests/fuzz_budget.rs` also runs on a fixed budget of generated inputs.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gig_dsl::fuzz::parse(data));
