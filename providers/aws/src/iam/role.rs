//! `aws.iam_role`: an IAM role with its trust (assume-role) policy.
//!
//! Refresh: one GetRole per role (IAM has no batched read). The trust policy is a JSON
//! string compared by meaning, so `jsonencode({…})` plans clean against IAM's own
//! spelling. Description, session length and trust policy change in place.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError, UpdateRequest};

use crate::common::{changed, opt_i32, opt_str, opt_string, req_str, sdk_error};
use crate::iam::{policy_text, tag_value};
use crate::model::{computed, fetch_each, optional, required, Decl, Model, Naming, New};
use crate::tagging::{iam_tags, Tagging};
use crate::Clients;

/// The `aws.iam_role` resource type.
pub(crate) struct IamRole;

#[async_trait]
impl Model for IamRole {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.iam_role",
            description: "An IAM role: an identity that EC2 instances, services or other accounts assume. \
                          `assume_role_policy` says who may assume it, as a JSON document (write it with \
                          `jsonencode`); it is compared by meaning, not spelling. Deleting a role that still \
                          has policies attached or sits in an instance profile is retried while gig removes those.",
            example: "resource aws.iam_role app {\n  name_prefix = \"app-\"\n  assume_role_policy = jsonencode({\n    Version = \"2012-10-17\"\n    Statement = [{ Effect = \"Allow\", Action = \"sts:AssumeRole\", Principal = { Service = \"ec2.amazonaws.com\" } }]\n  })\n}",
            id: "role name",
            attrs: vec![
                required("assume_role_policy", AttrType::String, "The trust policy (JSON): who may assume the role.").json(),
                optional("description", AttrType::String, "What the role is for."),
                optional("path", AttrType::String, "The IAM path.").default("/").force_new(),
                optional("max_session_duration", AttrType::Number, "Longest session, in seconds (3600–43200).").default(3600i64),
                computed("arn", AttrType::String, "The role's ARN."),
                computed("unique_id", AttrType::String, "The stable id IAM assigns (AROA…)."),
            ],
            tags: Some(Tagging::IamRole),
            naming: Some(Naming { max_len: 64, derived: true, id_is_name: true }),
            busy: &["DeleteConflict"],
            delete_attempts: 6,
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        fetch_each(ids, |id| async move {
            let out = clients
                .iam
                .get_role()
                .role_name(&id)
                .send()
                .await
                .map_err(|e| sdk_error("GetRole", e))?;
            let r = out
                .role()
                .ok_or_else(|| crate::common::not_found(format!("role {id}")))?;
            Ok(role_value(r))
        })
        .await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let name = new.name.unwrap_or_default();
        clients
            .iam
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(req_str(new.planned, "assume_role_policy")?)
            .path(opt_str(new.planned, "path")?.unwrap_or("/"))
            .set_description(opt_str(new.planned, "description")?.map(str::to_string))
            .set_max_session_duration(opt_i32(new.planned, "max_session_duration")?)
            .set_tags(Some(iam_tags(&new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateRole", e))?;
        new.ctx.created(&name);
        Ok(name)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        if changed(req.changed, "assume_role_policy") {
            clients
                .iam
                .update_assume_role_policy()
                .role_name(req.id)
                .policy_document(req_str(req.planned, "assume_role_policy")?)
                .send()
                .await
                .map_err(|e| sdk_error("UpdateAssumeRolePolicy", e))?;
        }
        if changed(req.changed, "description") || changed(req.changed, "max_session_duration") {
            clients
                .iam
                .update_role()
                .role_name(req.id)
                .description(opt_str(req.planned, "description")?.unwrap_or_default())
                .set_max_session_duration(opt_i32(req.planned, "max_session_duration")?)
                .send()
                .await
                .map_err(|e| sdk_error("UpdateRole", e))?;
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
        clients
            .iam
            .delete_role()
            .role_name(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteRole", e))
    }
}

fn role_value(r: &aws_sdk_iam::types::Role) -> Value {
    let description = r.description().filter(|d| !d.is_empty());
    crate::common::object([
        ("id", Value::str(r.role_name())),
        ("name", Value::str(r.role_name())),
        (
            "assume_role_policy",
            opt_string(r.assume_role_policy_document().map(policy_text).as_deref()),
        ),
        ("description", opt_string(description)),
        ("path", Value::str(r.path())),
        (
            "max_session_duration",
            Value::from(i64::from(r.max_session_duration().unwrap_or(3600))),
        ),
        ("arn", Value::str(r.arn())),
        ("unique_id", Value::str(r.role_id())),
        ("tags", tag_value(r.tags())),
    ])
}
