//! CloudWatch Logs resource types on the declarative model.

pub(crate) mod log_group;
