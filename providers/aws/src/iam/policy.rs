//! `aws.iam_policy`: a customer-managed IAM policy.
//!
//! The id is the policy ARN. Refresh: GetPolicy and GetPolicyVersion (of the default
//! version) per policy. A changed document becomes a new default version; IAM keeps at
//! most five, so the oldest other version is deleted first when five exist. Delete
//! removes the other versions, then the policy.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{not_found, opt_str, opt_string, req_str, sdk_error};
use crate::iam::{policy_text, tag_value};
use crate::model::{computed, fetch_each, optional, owned, required, Decl, Model, Naming, New};
use crate::tagging::{iam_tags, Tagging};
use crate::Clients;

/// The `aws.iam_policy` resource type.
pub(crate) struct IamPolicy;

#[async_trait]
impl Model for IamPolicy {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.iam_policy",
            description: "A customer-managed IAM policy. `policy` is the JSON document (write it with \
                          `jsonencode`), compared by meaning; changing it publishes a new default version \
                          in place.",
            example: "resource aws.iam_policy read_params {\n  name = \"app-read-params\"\n  policy = jsonencode({\n    Version = \"2012-10-17\"\n    Statement = [{ Effect = \"Allow\", Action = [\"ssm:GetParameter\"], Resource = \"arn:aws:ssm:*:*:parameter/app/*\" }]\n  })\n}",
            id: "policy ARN",
            attrs: vec![
                required("policy", AttrType::String, "The policy document (JSON).").json(),
                optional("description", AttrType::String, "What the policy is for.").force_new(),
                optional("path", AttrType::String, "The IAM path.").default("/").force_new(),
                computed("arn", AttrType::String, "The policy's ARN (the same as `id`)."),
                computed("policy_id", AttrType::String, "The stable id IAM assigns (ANPA…)."),
            ],
            tags: Some(Tagging::IamPolicy),
            naming: Some(Naming { max_len: 128, derived: true, id_is_name: false }),
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
        fetch_each(ids, |arn| async move {
            let out = clients
                .iam
                .get_policy()
                .policy_arn(&arn)
                .send()
                .await
                .map_err(|e| sdk_error("GetPolicy", e))?;
            let p = out
                .policy()
                .ok_or_else(|| not_found(format!("policy {arn}")))?;
            let version = clients
                .iam
                .get_policy_version()
                .policy_arn(&arn)
                .version_id(p.default_version_id().unwrap_or("v1"))
                .send()
                .await
                .map_err(|e| sdk_error("GetPolicyVersion", e))?;
            let document = version
                .policy_version()
                .and_then(|v| v.document())
                .map(policy_text);
            Ok(crate::common::object([
                ("id", Value::str(&arn)),
                ("arn", Value::str(&arn)),
                ("name", opt_string(p.policy_name())),
                ("policy", opt_string(document.as_deref())),
                (
                    "description",
                    opt_string(p.description().filter(|d| !d.is_empty())),
                ),
                ("path", opt_string(p.path())),
                ("policy_id", opt_string(p.policy_id())),
                ("tags", tag_value(p.tags())),
            ]))
        })
        .await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let out = clients
            .iam
            .create_policy()
            .policy_name(new.name.unwrap_or_default())
            .policy_document(req_str(new.planned, "policy")?)
            .path(opt_str(new.planned, "path")?.unwrap_or("/"))
            .set_description(opt_str(new.planned, "description")?.map(str::to_string))
            .set_tags(Some(iam_tags(&new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreatePolicy", e))?;
        let arn = out
            .policy()
            .and_then(|p| p.arn())
            .unwrap_or_default()
            .to_string();
        if arn.is_empty() {
            return Err(ProviderError::permanent("CreatePolicy returned no ARN"));
        }
        new.ctx.created(&arn);
        Ok(arn)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let versions = clients
            .iam
            .list_policy_versions()
            .policy_arn(req.id)
            .send()
            .await
            .map_err(|e| sdk_error("ListPolicyVersions", e))?;
        let mut others: Vec<_> = versions
            .versions()
            .iter()
            .filter(|v| !v.is_default_version())
            .collect();
        if versions.versions().len() >= 5 {
            others.sort_by_key(|v| v.create_date().map(|d| d.secs()));
            if let Some(oldest) = others.first().and_then(|v| v.version_id()) {
                clients
                    .iam
                    .delete_policy_version()
                    .policy_arn(req.id)
                    .version_id(oldest)
                    .send()
                    .await
                    .map_err(|e| sdk_error("DeletePolicyVersion", e))?;
            }
        }
        clients
            .iam
            .create_policy_version()
            .policy_arn(req.id)
            .policy_document(req_str(req.planned, "policy")?)
            .set_as_default(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("CreatePolicyVersion", e))
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        let versions = clients
            .iam
            .list_policy_versions()
            .policy_arn(id)
            .send()
            .await
            .map_err(|e| sdk_error("ListPolicyVersions", e))?;
        for v in versions
            .versions()
            .iter()
            .filter(|v| !v.is_default_version())
        {
            clients
                .iam
                .delete_policy_version()
                .policy_arn(id)
                .set_version_id(v.version_id().map(str::to_string))
                .send()
                .await
                .map_err(|e| sdk_error("DeletePolicyVersion", e))?;
        }
        clients
            .iam
            .delete_policy()
            .policy_arn(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeletePolicy", e))
    }

    /// The policy of this create's name among the account's local policies, when it
    /// carries this create's gig tags.
    async fn find_created(
        &self,
        clients: &Clients,
        decl: &Decl,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let Some(name) = decl.resolve_name(ctx, planned)? else {
            return Ok(Lookup::Unsupported);
        };
        let mut marker = None;
        let mut arns = Vec::new();
        loop {
            let page = clients
                .iam
                .list_policies()
                .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| sdk_error("ListPolicies", e))?;
            arns.extend(
                page.policies()
                    .iter()
                    .filter(|p| p.policy_name() == Some(name.as_str()))
                    .filter_map(|p| p.arn().map(str::to_string)),
            );
            match page.marker() {
                Some(m) if page.is_truncated() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(owned(self.fetch(clients, arns).await?, ctx))
    }
}
