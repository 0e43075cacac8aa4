//! `aws.iam_instance_profile`: the container that hands an IAM role to EC2 instances.
//!
//! Refresh: one GetInstanceProfile per profile. `role` changes in place (remove the old
//! role, add the new one); delete removes the role first.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, ProviderError, UpdateRequest};

use crate::common::{ignore_not_found, opt_str, sdk_error};
use crate::iam::tag_value;
use crate::model::{computed, fetch_each, optional, Decl, Model, Naming, New};
use crate::tagging::{iam_tags, Tagging};
use crate::Clients;

/// The `aws.iam_instance_profile` resource type.
pub(crate) struct IamInstanceProfile;

#[async_trait]
impl Model for IamInstanceProfile {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.iam_instance_profile",
            description: "An instance profile: what `iam_instance_profile` on an instance or launch template \
                          names, carrying one IAM role to the instances. Changing `role` swaps it in place.",
            example: "resource aws.iam_instance_profile app {\n  name_prefix = \"app-\"\n  role        = aws.iam_role.app.name\n}",
            id: "instance profile name",
            attrs: vec![
                optional("role", AttrType::String, "The name of the role the instances get."),
                optional("path", AttrType::String, "The IAM path.").default("/").force_new(),
                computed("arn", AttrType::String, "The profile's ARN."),
                computed("unique_id", AttrType::String, "The stable id IAM assigns (AIPA…)."),
            ],
            tags: Some(Tagging::IamInstanceProfile),
            naming: Some(Naming { max_len: 128, derived: true, id_is_name: true }),
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
                .get_instance_profile()
                .instance_profile_name(&id)
                .send()
                .await
                .map_err(|e| sdk_error("GetInstanceProfile", e))?;
            let p = out
                .instance_profile()
                .ok_or_else(|| crate::common::not_found(format!("instance profile {id}")))?;
            Ok(crate::common::object([
                ("id", Value::str(p.instance_profile_name())),
                ("name", Value::str(p.instance_profile_name())),
                (
                    "role",
                    p.roles()
                        .first()
                        .map_or(Value::Null, |r| Value::str(r.role_name())),
                ),
                ("path", Value::str(p.path())),
                ("arn", Value::str(p.arn())),
                ("unique_id", Value::str(p.instance_profile_id())),
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
        let name = new.name.unwrap_or_default();
        clients
            .iam
            .create_instance_profile()
            .instance_profile_name(&name)
            .path(opt_str(new.planned, "path")?.unwrap_or("/"))
            .set_tags(Some(iam_tags(&new.tags)))
            .send()
            .await
            .map_err(|e| sdk_error("CreateInstanceProfile", e))?;
        new.ctx.created(&name);
        if let Some(role) = opt_str(new.planned, "role")? {
            add_role(clients, &name, role).await?;
        }
        Ok(name)
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        if let Some(old) = opt_str(req.prior, "role")? {
            remove_role(clients, req.id, old).await?;
        }
        if let Some(role) = opt_str(req.planned, "role")? {
            add_role(clients, req.id, role).await?;
        }
        Ok(())
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        // Remove whatever role IAM says is in the profile (state may be stale).
        let current = self.fetch(clients, vec![id.to_string()]).await?;
        let role = current
            .get(id)
            .and_then(|v| v.get("role"))
            .and_then(Value::as_str)
            .or(opt_str(prior, "role")?);
        if let Some(role) = role {
            remove_role(clients, id, role).await?;
        }
        clients
            .iam
            .delete_instance_profile()
            .instance_profile_name(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteInstanceProfile", e))
    }
}

async fn add_role(clients: &Clients, profile: &str, role: &str) -> Result<(), ProviderError> {
    clients
        .iam
        .add_role_to_instance_profile()
        .instance_profile_name(profile)
        .role_name(role)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| crate::common::on_attribute(sdk_error("AddRoleToInstanceProfile", e), "role"))
}

async fn remove_role(clients: &Clients, profile: &str, role: &str) -> Result<(), ProviderError> {
    ignore_not_found(
        clients
            .iam
            .remove_role_from_instance_profile()
            .instance_profile_name(profile)
            .role_name(role)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("RemoveRoleFromInstanceProfile", e)),
    )
}
