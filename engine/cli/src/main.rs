//! The gig command-line interface.
fn main() {}
