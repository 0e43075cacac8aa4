//! gig's language front end: `.gig` source → parsed [`ast`] → lowered [`config::Config`].
//!
//! Data flow: [`load::load_dir`] reads every `.gig` file of a stack directory into a
//! [`gig_core::span::SourceMap`], [`parse`] turns each into an [`ast::File`] (pest stays inside
//! the parser), and [`lower`] resolves params, lets, modules and expansions into a
//! [`config::Config`] whose expressions are folded to constants where known.
//! Every phase returns its result together with all [`gig_core::diag::Diagnostic`]s it found.
//!
//! This crate does no network I/O and knows nothing of providers, state or terminals.

#![warn(missing_docs)]

pub mod ast;
pub mod config;
pub mod eval;
pub mod expansion;
pub mod fmt;
pub mod functions;
#[doc(hidden)]
pub mod fuzz;
pub mod load;
pub mod lower;
pub mod parse;
pub mod source;
