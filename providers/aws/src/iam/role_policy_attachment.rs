//! `aws.iam_role_policy_attachment`: a managed policy attached to a role.
//!
//! The id is `<role>/<policy ARN>` (the form `gig import` takes). Refresh: one
//! ListAttachedRolePolicies per role. Both attributes force a new attachment.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError};

use crate::common::{object, req_str, sdk_error};
use crate::model::{fetch_each, required, Decl, Model, New};
use crate::Clients;

/// The `aws.iam_role_policy_attachment` resource type.
pub(crate) struct IamRolePolicyAttachment;

#[async_trait]
impl Model for IamRolePolicyAttachment {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.iam_role_policy_attachment",
            description: "Attaches a managed IAM policy (AWS's or an `aws.iam_policy`) to a role. The id is \
                          `<role name>/<policy ARN>`, which is also what `gig import` takes.",
            example: "resource aws.iam_role_policy_attachment app_params {\n  role       = aws.iam_role.app.name\n  policy_arn = aws.iam_policy.read_params.arn\n}",
            id: "role name and policy ARN joined by `/`",
            attrs: vec![
                required("role", AttrType::String, "The role's name.").force_new(),
                required("policy_arn", AttrType::String, "The policy's ARN.").force_new(),
            ],
            // Attaching again is a no-op for IAM.
            repeatable_create: true,
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        fetch_each(ids, |id| async move {
            let (role, arn) = split_id(&id)?;
            let mut marker = None;
            loop {
                let page = clients
                    .iam
                    .list_attached_role_policies()
                    .role_name(role)
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(|e| sdk_error("ListAttachedRolePolicies", e))?;
                if page
                    .attached_policies()
                    .iter()
                    .any(|p| p.policy_arn() == Some(arn))
                {
                    return Ok(object([
                        ("id", Value::str(&id)),
                        ("role", Value::str(role)),
                        ("policy_arn", Value::str(arn)),
                    ]));
                }
                match page.marker() {
                    Some(m) if page.is_truncated() => marker = Some(m.to_string()),
                    _ => return Err(crate::common::not_found(format!("attachment {id}"))),
                }
            }
        })
        .await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let role = req_str(new.planned, "role")?;
        let arn = req_str(new.planned, "policy_arn")?;
        clients
            .iam
            .attach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| sdk_error("AttachRolePolicy", e))?;
        let id = format!("{role}/{arn}");
        new.ctx.created(&id);
        Ok(id)
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        let (role, arn) = split_id(id)?;
        clients
            .iam
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DetachRolePolicy", e))
    }
}

/// `(role, policy ARN)` of an id: the role name ends at the first `/` (role names have
/// none; the ARN has several).
fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once('/')
        .filter(|(role, arn)| !role.is_empty() && arn.starts_with("arn:"))
        .ok_or_else(|| {
            ProviderError::invalid_attribute(
                "id",
                format!("an attachment id is `<role name>/<policy ARN>`, got {id:?}"),
            )
        })
}
