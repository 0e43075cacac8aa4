//! KMS resource types (keys and aliases) on the declarative model.

pub(crate) mod alias;
pub(crate) mod key;
