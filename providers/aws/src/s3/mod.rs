//! S3 resource types on the declarative model.

pub(crate) mod bucket;
