//! SNS resource types (topics and subscriptions) on the declarative model.

pub(crate) mod subscription;
pub(crate) mod topic;
