//! CloudWatch resource types (metric alarms) on the declarative model.

pub(crate) mod metric_alarm;
