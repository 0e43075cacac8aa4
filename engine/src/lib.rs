//! gig's engine: resource graph, pure planner, apply executor and renderers.

#![warn(missing_docs)]

pub mod graph;
pub mod model;
pub mod planfile;
pub mod policy;
