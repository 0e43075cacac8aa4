//! gig's shared vocabulary: the types every other crate speaks.
//!
//! [`value::Value`] (with *unknown until apply* and secret markers), resource addresses
//! ([`addr::ResourceAddr`]), plain-data source spans ([`span::Span`], [`span::SourceMap`])
//! and user-facing [`diag::Diagnostic`]s with their code registry ([`diag::Code`]).
//!
//! This crate sits below the language front end, the engine, state and providers, so
//! none of them needs another's internals to exchange these values. It does no I/O
//! and has no dependencies beyond serde and a string-distance helper.

#![warn(missing_docs)]

pub mod addr;
pub mod diag;
pub mod path;
pub mod span;
pub mod value;
