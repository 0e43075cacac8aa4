//! `aws.lb_target_group_attachment`: one target (instance, IP address, Lambda function or
//! ALB) registered with a target group.
//!
//! Every attribute replaces the attachment. Its id is composite,
//! `TARGET_GROUP_ARN,TARGET_ID` or `TARGET_GROUP_ARN,TARGET_ID,PORT`, which is also the
//! form `gig import` takes. A target counts as gone when AWS reports it
//! `Target.NotRegistered` or `Target.DeregistrationInProgress`, when its target group is
//! gone, or when AWS no longer knows the target (`InvalidTarget`).
//!
//! Read cost: one DescribeTargetHealth per target group, naming all of that group's
//! requested targets (a call that fails with `InvalidTarget` is repeated per target).
//! An id that is not in that form fails the read it is part of.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthReasonEnum};
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError};

use crate::common::{self, sdk_error};
use crate::model::{optional, required, Decl, Model, New};
use crate::Clients;

/// The `aws.lb_target_group_attachment` resource type.
pub(crate) struct TargetGroupAttachment;

/// The parts of an attachment id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Attachment {
    target_group_arn: String,
    target_id: String,
    port: Option<i32>,
}

impl Attachment {
    fn parse(id: &str) -> Result<Attachment, ProviderError> {
        let parts: Vec<&str> = id.split(',').collect();
        let bad = || {
            ProviderError::permanent(format!(
                "attachment id {id:?} is not TARGET_GROUP_ARN,TARGET_ID or TARGET_GROUP_ARN,TARGET_ID,PORT"
            ))
        };
        let (tg, target, port) = match parts.as_slice() {
            [tg, target] => (tg, target, None),
            [tg, target, port] => (tg, target, Some(port.parse::<i32>().map_err(|_| bad())?)),
            _ => return Err(bad()),
        };
        if tg.is_empty() || target.is_empty() {
            return Err(bad());
        }
        Ok(Attachment {
            target_group_arn: tg.to_string(),
            target_id: target.to_string(),
            port,
        })
    }

    fn id(&self) -> String {
        match self.port {
            Some(p) => format!("{},{},{p}", self.target_group_arn, self.target_id),
            None => format!("{},{}", self.target_group_arn, self.target_id),
        }
    }

    fn target(&self, availability_zone: Option<String>) -> TargetDescription {
        TargetDescription::builder()
            .id(&self.target_id)
            .set_port(self.port)
            .set_availability_zone(availability_zone)
            .build()
    }

    fn value(&self, availability_zone: Value) -> Value {
        common::object([
            ("id", Value::from(self.id())),
            (
                "target_group_arn",
                Value::from(self.target_group_arn.clone()),
            ),
            ("target_id", Value::from(self.target_id.clone())),
            ("port", common::opt_num(self.port)),
            ("availability_zone", availability_zone),
        ])
    }
}

#[async_trait]
impl Model for TargetGroupAttachment {
    fn decl(&self) -> Decl {
        use AttrType::{Number, String as Str};
        Decl {
            type_name: "aws.lb_target_group_attachment",
            description: "Registers one target with a load balancer target group. Any change replaces the attachment \
                          (deregister, register).",
            example: r#"resource aws.lb_target_group_attachment app {
  target_group_arn = aws.lb_target_group.app.arn
  target_id        = aws.instance.app.id
  port             = 8080
}"#,
            id: "attachment id",
            id_doc: "`TARGET_GROUP_ARN,TARGET_ID[,PORT]`.",
            attrs: vec![
                required("target_group_arn", Str, "The target group.").force_new(),
                required("target_id", Str, "Instance id, IP address, Lambda function ARN or ALB ARN.").force_new(),
                optional("port", Number, "Port the target receives traffic on (default: the group's).").force_new(),
                // Carried from state: DescribeTargetHealth is not asked for it.
                optional("availability_zone", Str, "For IP targets outside the VPC: `all` or a zone.")
                    .force_new()
                    .setting(),
            ],
            // Registering a target is idempotent and its id is made of its arguments:
            // sending it again cannot make a second object.
            repeatable_create: true,
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let mut by_group: BTreeMap<String, Vec<Attachment>> = BTreeMap::new();
        for id in &ids {
            let a = Attachment::parse(id)?;
            by_group
                .entry(a.target_group_arn.clone())
                .or_default()
                .push(a);
        }
        let mut registered = Vec::new();
        for (group, targets) in &mut by_group {
            targets.sort();
            targets.dedup();
            match registered_of(clients, group, targets).await {
                Ok(found) => registered.extend(found),
                Err(e) if common::has_code(&e, "InvalidTarget") => {
                    for t in targets.iter() {
                        match registered_of(clients, group, std::slice::from_ref(t)).await {
                            Ok(found) => registered.extend(found),
                            Err(e) if common::has_code(&e, "InvalidTarget") => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(registered
            .into_iter()
            .map(|a| (a.id(), a.value(Value::Null)))
            .collect())
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let planned = new.planned;
        let a = Attachment {
            target_group_arn: common::req_str(planned, "target_group_arn")?.to_string(),
            target_id: common::req_str(planned, "target_id")?.to_string(),
            port: common::opt_i32(planned, "port")?,
        };
        let zone = common::opt_str(planned, "availability_zone")?.map(str::to_string);
        clients
            .elbv2
            .register_targets()
            .target_group_arn(&a.target_group_arn)
            .targets(a.target(zone))
            .send()
            .await
            .map_err(|e| sdk_error("RegisterTargets", e))?;
        new.ctx.created(&a.id());
        Ok(a.id())
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        let a = Attachment::parse(id)?;
        let zone = common::opt_str(prior, "availability_zone")?.map(str::to_string);
        let result = clients
            .elbv2
            .deregister_targets()
            .target_group_arn(&a.target_group_arn)
            .targets(a.target(zone))
            .send()
            .await;
        match result
            .map(|_| ())
            .map_err(|e| sdk_error("DeregisterTargets", e))
        {
            Err(e) if common::has_code(&e, "InvalidTarget") => Ok(()),
            other => other,
        }
    }
}

/// The attachments among `targets` that are registered with `group` (all absent when the
/// group is gone).
async fn registered_of(
    clients: &Clients,
    group: &str,
    targets: &[Attachment],
) -> Result<Vec<Attachment>, ProviderError> {
    let result = clients
        .elbv2
        .describe_target_health()
        .target_group_arn(group)
        .set_targets(Some(targets.iter().map(|t| t.target(None)).collect()))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeTargetHealth", e));
    let out = match result {
        Ok(out) => out,
        Err(e) if common::is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for d in out.target_health_descriptions() {
        let reason = d.target_health.as_ref().and_then(|h| h.reason.as_ref());
        if matches!(
            reason,
            Some(
                TargetHealthReasonEnum::NotRegistered
                    | TargetHealthReasonEnum::DeregistrationInProgress
            )
        ) {
            continue;
        }
        let Some(t) = &d.target else { continue };
        // Match what was asked for: an attachment without a port matches any port.
        for want in targets {
            if t.id.as_deref() == Some(want.target_id.as_str())
                && (want.port.is_none() || want.port == t.port)
            {
                found.push(want.clone());
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::Attachment;

    #[test]
    fn ids_round_trip() {
        let a =
            Attachment::parse("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg/1,i-1,8080")
                .unwrap();
        assert_eq!(a.port, Some(8080));
        assert_eq!(
            a.id(),
            "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg/1,i-1,8080"
        );
        let b = Attachment::parse("arn:x,10.0.0.1").unwrap();
        assert_eq!((b.target_id.as_str(), b.port), ("10.0.0.1", None));
        for bad in ["arn:x", "arn:x,i-1,http", ",i-1", "a,b,1,2"] {
            assert!(Attachment::parse(bad).is_err(), "{bad}");
        }
    }
}
