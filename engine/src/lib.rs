//! gig's engine: resource graph, pure planner, apply executor and renderers.

#![warn(missing_docs)]

pub mod apply;
pub mod check;
pub mod drift;
pub mod events;
pub mod graph;
pub mod identity;
pub mod import;
pub mod model;
pub mod moved;
pub mod pipeline;
pub mod plan;
pub mod planfile;
pub mod policy;
pub mod recover;
pub mod refresh;
pub mod render;
pub mod rollback;
pub mod values;
