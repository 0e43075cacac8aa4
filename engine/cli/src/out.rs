//! Printing that never panics. `println!` panics when stdout is closed ("Broken pipe":
//! `gig apply | head`, a CI log collector that went away), which would end an apply in
//! the middle of its calls; these macros drop what cannot be written instead, so the
//! apply runs to its end and records every result.

use std::fmt;
use std::io::{self, Write as _};

/// `println!` that ignores a closed stdout.
macro_rules! outln {
    () => {
        $crate::out::stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that ignores a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` that ignores a closed stderr.
macro_rules! errln {
    () => {
        $crate::out::stderr(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes to stdout; a write error (the reader is gone) is dropped.
pub fn stdout(args: fmt::Arguments<'_>) {
    let _ = io::stdout().lock().write_fmt(args);
}

/// Writes to stderr; a write error is dropped.
pub fn stderr(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}
