//! `aws.lb_listener_rule`: a rule of a listener — conditions on the request and the
//! actions taken when they all match.
//!
//! The id is the rule ARN. Conditions and actions change in place (ModifyRule), the
//! priority too (SetRulePriorities); a new listener replaces the rule. Without a
//! `priority`, the rule gets the listener's highest priority plus one. The listener ARN
//! is not reported by DescribeRules; it is derived from the rule ARN.
//!
//! Read cost: DescribeRules and DescribeTags take 20 ARNs per call.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Rule, RulePriorityPair};
use gig_core::value::Value;
use gig_provider::{AttrType, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{self, sdk_error};
use crate::elbv2::actions::{
    action_schema, condition_schema, from_sdk_actions, from_sdk_conditions, to_sdk_actions,
    to_sdk_conditions,
};
use crate::elbv2::{describe_by_arns, describe_tags, tags_of, to_sdk_tags};
use crate::model::{attr, computed, optional, required, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.lb_listener_rule` resource type.
pub(crate) struct ListenerRuleType;

#[async_trait]
impl Model for ListenerRuleType {
    fn decl(&self) -> Decl {
        use AttrType::{Number, String as Str};
        Decl {
            type_name: "aws.lb_listener_rule",
            description: "A listener rule: when all its conditions match a request (path pattern, host header, HTTP \
                          method, source IP), its actions run. Conditions, actions and priority change in place.",
            example: r#"resource aws.lb_listener_rule api {
  listener_arn = aws.lb_listener.https.arn
  priority     = 10
  condition {
    path_pattern { values = ["/api/*"] }
  }
  action {
    type             = "forward"
    target_group_arn = aws.lb_target_group.api.arn
  }
}"#,
            id: "rule ARN",
            attrs: vec![
                required("listener_arn", Str, "The listener the rule belongs to.").force_new(),
                optional("priority", Number, "1 to 50000, lower first; unset: after the listener's last rule. Changes in place.")
                    .also_computed(),
                attr("action", action_schema("What to do with matching requests. Changes in place.")),
                attr("condition", condition_schema()),
                computed("arn", Str, "ARN of the rule (same as `id`)."),
            ],
            tags: Some(Tagging::Elbv2),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let found = describe(clients, &ids).await?;
        let arns: Vec<String> = found.keys().cloned().collect();
        let tags = describe_tags(clients, &arns).await?;
        Ok(found
            .iter()
            .map(|(arn, rule)| (arn.clone(), to_value(rule, &tags)))
            .collect())
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let planned = new.planned;
        let listener = common::req_str(planned, "listener_arn")?;
        let priority = match common::opt_i32(planned, "priority")? {
            Some(p) => p,
            None => next_priority(clients, listener).await?,
        };
        let out = clients
            .elbv2
            .create_rule()
            .listener_arn(listener)
            .priority(priority)
            .set_conditions(Some(to_sdk_conditions(planned)?))
            .set_actions(Some(to_sdk_actions(planned, "action")?))
            .set_tags(Some(to_sdk_tags(new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateRule", e))?;
        let arn = out
            .rules()
            .first()
            .and_then(|r| r.rule_arn.clone())
            .ok_or_else(|| ProviderError::permanent("CreateRule returned no rule"))?;
        new.ctx.created(&arn);
        Ok(arn)
    }

    async fn find_created(
        &self,
        clients: &Clients,
        _decl: &Decl,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let listener = common::req_str(planned, "listener_arn")?;
        let mut arns = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = common::unless_not_found(
                clients
                    .elbv2
                    .describe_rules()
                    .listener_arn(listener)
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(|e| sdk_error("DescribeRules", e)),
            )?;
            let Some(out) = out else { break };
            arns.extend(
                out.rules()
                    .iter()
                    .filter(|r| r.is_default != Some(true))
                    .filter_map(|r| r.rule_arn.clone()),
            );
            match out.next_marker {
                Some(m) if !m.is_empty() => marker = Some(m),
                _ => break,
            }
        }
        crate::elbv2::find_owned(clients, ctx, arns).await
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let (arn, planned) = (req.id, req.planned);
        let has = |k: &str| common::changed(req.changed, k);
        if has("priority") {
            if let Some(p) = common::opt_i32(planned, "priority")? {
                clients
                    .elbv2
                    .set_rule_priorities()
                    .rule_priorities(
                        RulePriorityPair::builder()
                            .rule_arn(arn)
                            .priority(p)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| sdk_error("SetRulePriorities", e))?;
            }
        }
        if has("condition") || has("action") {
            let mut call = clients.elbv2.modify_rule().rule_arn(arn);
            if has("condition") {
                call = call.set_conditions(Some(to_sdk_conditions(planned)?));
            }
            if has("action") {
                call = call.set_actions(Some(to_sdk_actions(planned, "action")?));
            }
            call.send().await.map_err(|e| sdk_error("ModifyRule", e))?;
        }
        Ok(())
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        let result = clients.elbv2.delete_rule().rule_arn(id).send().await;
        result.map(|_| ()).map_err(|e| sdk_error("DeleteRule", e))
    }
}

/// One more than the highest priority among the listener's rules (1 when it has none).
async fn next_priority(clients: &Clients, listener: &str) -> Result<i32, ProviderError> {
    let mut highest = 0;
    let mut marker: Option<String> = None;
    loop {
        let out = clients
            .elbv2
            .describe_rules()
            .listener_arn(listener)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| sdk_error("DescribeRules", e))?;
        for rule in out.rules() {
            if let Some(p) = rule.priority.as_deref().and_then(|p| p.parse::<i32>().ok()) {
                highest = highest.max(p);
            }
        }
        match out.next_marker {
            Some(m) if !m.is_empty() => marker = Some(m),
            _ => return Ok(highest + 1),
        }
    }
}

async fn describe(
    clients: &Clients,
    arns: &[String],
) -> Result<BTreeMap<String, Rule>, ProviderError> {
    let found = describe_by_arns(arns, |chunk| async move {
        let out = clients
            .elbv2
            .describe_rules()
            .set_rule_arns(Some(chunk))
            .send()
            .await
            .map_err(|e| sdk_error("DescribeRules", e))?;
        Ok(out.rules.unwrap_or_default())
    })
    .await?;
    Ok(found
        .into_iter()
        .filter_map(|r| Some((r.rule_arn.clone()?, r)))
        .collect())
}

/// The listener ARN a rule ARN belongs to:
/// `…:listener-rule/app/NAME/LB/LISTENER/RULE` → `…:listener/app/NAME/LB/LISTENER`.
fn listener_of(rule_arn: &str) -> Option<String> {
    let (head, rest) = rule_arn.split_once(":listener-rule/")?;
    let (listener, _) = rest.rsplit_once('/')?;
    Some(format!("{head}:listener/{listener}"))
}

fn to_value(rule: &Rule, tags: &BTreeMap<String, BTreeMap<String, String>>) -> Value {
    let arn = rule.rule_arn.clone().unwrap_or_default();
    let priority = rule
        .priority
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .map_or(Value::Null, Value::from);
    common::object([
        ("id", Value::from(arn.clone())),
        (
            "listener_arn",
            common::opt_string(listener_of(&arn).as_deref()),
        ),
        ("priority", priority),
        ("action", from_sdk_actions(rule.actions())),
        ("condition", from_sdk_conditions(rule.conditions())),
        ("tags", tags_of(tags, &arn)),
        ("arn", Value::from(arn)),
    ])
}

#[cfg(test)]
mod tests {
    use super::listener_of;

    #[test]
    fn listener_arn_from_rule_arn() {
        let rule = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc/f2f7/9683";
        assert_eq!(
            listener_of(rule).as_deref(),
            Some("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc/f2f7")
        );
        assert_eq!(
            listener_of("arn:aws:elasticloadbalancing:x:listener/app/web/1/2"),
            None
        );
    }
}
