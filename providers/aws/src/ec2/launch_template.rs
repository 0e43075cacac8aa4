//! `aws.launch_template`: an EC2 launch template.
//!
//! Launch templates are versioned: an update of any launch setting creates a new version
//! from the planned value and makes it the default, so Auto Scaling groups using
//! `$Default` pick it up for new instances. The value shows the default version's
//! settings. Refresh: one DescribeLaunchTemplates per chunk of 50 (by id; should one of
//! them be gone AWS fails the call and the chunk is described id by id), plus one
//! DescribeLaunchTemplateVersions per template (AWS reads versions of one template per
//! call).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    RequestLaunchTemplateData, ResourceType as Ec2ResourceType,
};
use base64::Engine as _;
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, Lookup, OpContext, ProviderError, ReadRequest, ResourceSchema,
    UpdateRequest,
};

use crate::common::{
    all_tags, batched_read, block, changed, client_token, has_code, id_schema, ignore_not_found,
    on_attribute, opt_i32, opt_str, read_back, sdk_error, sorted_string_list, str_list, t_str_set,
    tags_schema, tags_value,
};
use crate::ec2::{metadata_options_value, sync_tags, tag_map, tag_spec};
use crate::{Clients, ReadResults, ResourceType};

/// The template's name: the planned one, else one derived from the address, so that a
/// lookup after an interrupted create knows it too.
fn template_name(ctx: &OpContext, planned: &Value) -> Result<String, ProviderError> {
    Ok(match opt_str(planned, "name")? {
        Some(n) => n.to_string(),
        None => format!(
            "gig-{}",
            &client_token(ctx, &Value::Null, "launch-template-name")[..16]
        ),
    })
}

/// The `aws.launch_template` resource type.
pub(crate) struct LaunchTemplate;

/// The attributes that make up a version's launch data.
const DATA_ATTRS: &[&str] = &[
    "image_id",
    "instance_type",
    "user_data",
    "vpc_security_group_ids",
    "metadata_options",
    "iam_instance_profile",
    "key_name",
];

fn metadata_schema() -> AttrType {
    let mut r = BTreeMap::new();
    r.insert(
        "http_tokens".into(),
        AttributeSchema::optional(
            AttrType::String,
            "\"required\" enforces IMDSv2; \"optional\" allows IMDSv1.",
        ),
    );
    r.insert(
        "http_endpoint".into(),
        AttributeSchema::optional(AttrType::String, "\"enabled\" or \"disabled\"."),
    );
    r.insert(
        "http_put_response_hop_limit".into(),
        AttributeSchema::optional(
            AttrType::Number,
            "Hop limit of metadata PUT responses (1–64).",
        ),
    );
    AttrType::List(Box::new(AttrType::Object(r)))
}

#[async_trait]
impl ResourceType for LaunchTemplate {
    fn schema(&self) -> ResourceSchema {
        let mut a = BTreeMap::new();
        a.insert("id".into(), id_schema("launch template"));
        a.insert(
            "name".into(),
            AttributeSchema::optional(
                AttrType::String,
                "The template name; derived from the stack and address when unset.",
            )
            .also_computed()
            .force_new(),
        );
        a.insert(
            "image_id".into(),
            AttributeSchema::optional(AttrType::String, "The AMI instances launch from."),
        );
        a.insert(
            "instance_type".into(),
            AttributeSchema::optional(AttrType::String, "The instance type."),
        );
        a.insert(
            "user_data".into(),
            AttributeSchema::optional(
                AttrType::String,
                "Plain-text user data (gig base64-encodes it).",
            )
            .encoded_by_provider(),
        );
        a.insert(
            "vpc_security_group_ids".into(),
            AttributeSchema::optional(t_str_set(), "Security group ids."),
        );
        a.insert(
            "metadata_options".into(),
            AttributeSchema::optional(
                metadata_schema(),
                "Instance metadata service options (one block).",
            ),
        );
        a.insert(
            "iam_instance_profile".into(),
            AttributeSchema::optional(AttrType::String, "Instance profile name."),
        );
        a.insert(
            "key_name".into(),
            AttributeSchema::optional(AttrType::String, "EC2 key pair name."),
        );
        a.insert("tags".into(), tags_schema());
        a.insert(
            "latest_version".into(),
            AttributeSchema::computed(AttrType::Number, "The newest version number.")
                .recomputed_on_update(),
        );
        a.insert(
            "default_version".into(),
            AttributeSchema::computed(
                AttrType::Number,
                "The default version (gig keeps it equal to the latest).",
            )
            .recomputed_on_update(),
        );
        a.insert(
            "arn".into(),
            AttributeSchema::computed(AttrType::String, "The template's ARN."),
        );
        ResourceSchema {
            type_name: "aws.launch_template".into(),
            description: "An EC2 launch template. Changing a launch setting creates a new template version and \
                          makes it the default; `latest_version` reports it. Only the name forces a new template."
                .into(),
            version: 1,
            attributes: a,
            example: "resource aws.launch_template app {\n  name                   = \"app\"\n  image_id               = data.aws.ami.al2023.id\n  \
                      instance_type          = \"t3.small\"\n  vpc_security_group_ids = [aws.security_group.app.id]\n  \
                      metadata_options {\n    http_tokens = \"required\"\n  }\n}"
                .into(),
        }
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        batched_read(requests, |ids| read_templates(clients, ids)).await
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let name = template_name(ctx, planned)?;
        let tags = all_tags(planned, ctx)?;
        let out = clients
            .ec2
            .create_launch_template()
            .launch_template_name(&name)
            .launch_template_data(launch_data(planned)?)
            .client_token(client_token(ctx, planned, ""))
            .tag_specifications(tag_spec(Ec2ResourceType::LaunchTemplate, &tags))
            .send()
            .await
            .map_err(|e| {
                let e = sdk_error("CreateLaunchTemplate", e);
                if has_code(&e, "InvalidLaunchTemplateName.AlreadyExistsException") {
                    on_attribute(e, "name")
                } else {
                    e
                }
            })?;
        let id = out
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .unwrap_or_default()
            .to_string();
        if id.is_empty() {
            return Err(ProviderError::permanent(
                "CreateLaunchTemplate returned no id",
            ));
        }
        ctx.created(&id);
        read_back("launch template", &id, |ids| read_templates(clients, ids)).await
    }

    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        // By its unique name, then its tags.
        let name = template_name(ctx, planned)?;
        let out = clients
            .ec2
            .describe_launch_templates()
            .launch_template_names(name)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeLaunchTemplates", e));
        let out = match out {
            Ok(out) => out,
            Err(e) if has_code(&e, "InvalidLaunchTemplateName.NotFoundException") => {
                return Ok(Lookup::Found(Vec::new()))
            }
            Err(e) => return Err(e),
        };
        Ok(crate::common::owned_by(
            out.launch_templates()
                .iter()
                .filter_map(|t| Some((t.launch_template_id()?.to_string(), tag_map(t.tags())))),
            ctx,
        ))
    }

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        req: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        if DATA_ATTRS.iter().any(|a| changed(req.changed, a)) {
            let out = clients
                .ec2
                .create_launch_template_version()
                .launch_template_id(req.id)
                .launch_template_data(launch_data(req.planned)?)
                .send()
                .await
                .map_err(|e| sdk_error("CreateLaunchTemplateVersion", e))?;
            let version = out
                .launch_template_version()
                .and_then(|v| v.version_number())
                .ok_or_else(|| {
                    ProviderError::permanent("CreateLaunchTemplateVersion returned no version")
                })?;
            clients
                .ec2
                .modify_launch_template()
                .launch_template_id(req.id)
                .default_version(version.to_string())
                .send()
                .await
                .map_err(|e| sdk_error("ModifyLaunchTemplate", e))?;
        }
        if changed(req.changed, "tags") {
            sync_tags(clients, req.id, req.prior, req.planned).await?;
        }
        read_back("launch template", req.id, |ids| {
            read_templates(clients, ids)
        })
        .await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        let r = clients
            .ec2
            .delete_launch_template()
            .launch_template_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteLaunchTemplate", e));
        match r {
            Err(e) if has_code(&e, "InvalidLaunchTemplateId.Malformed") => Err(e),
            other => ignore_not_found(other),
        }
    }
}

fn launch_data(planned: &Value) -> Result<RequestLaunchTemplateData, ProviderError> {
    let mut d = RequestLaunchTemplateData::builder()
        .set_image_id(opt_str(planned, "image_id")?.map(str::to_string))
        .set_instance_type(opt_str(planned, "instance_type")?.map(InstanceType::from))
        .set_key_name(opt_str(planned, "key_name")?.map(str::to_string));
    let groups = str_list(planned, "vpc_security_group_ids")?;
    if !groups.is_empty() {
        d = d.set_security_group_ids(Some(groups));
    }
    if let Some(data) = opt_str(planned, "user_data")? {
        d = d.user_data(base64::engine::general_purpose::STANDARD.encode(data));
    }
    if let Some(p) = opt_str(planned, "iam_instance_profile")? {
        d = d.iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .name(p)
                .build(),
        );
    }
    if let Some(m) = block(planned, "metadata_options")? {
        d = d.metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .set_http_tokens(
                    opt_str(m, "http_tokens")?.map(LaunchTemplateHttpTokensState::from),
                )
                .set_http_endpoint(
                    opt_str(m, "http_endpoint")?
                        .map(LaunchTemplateInstanceMetadataEndpointState::from),
                )
                .set_http_put_response_hop_limit(opt_i32(m, "http_put_response_hop_limit")?)
                .build(),
        );
    }
    Ok(d.build())
}

/// Reads up to 50 launch templates by id, each with its default version's data.
pub(crate) async fn read_templates(
    clients: &Clients,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    // DescribeLaunchTemplates has no id filter, and with ids it fails as a whole when one
    // of them is gone; only then are the ids described one by one.
    let describe = |ids: Vec<String>| async move {
        clients
            .ec2
            .describe_launch_templates()
            .set_launch_template_ids(Some(ids))
            .send()
            .await
            .map(|o| o.launch_templates().to_vec())
            .map_err(|e| sdk_error("DescribeLaunchTemplates", e))
    };
    let templates = match describe(ids.clone()).await {
        Ok(t) => t,
        Err(e) if e.class == gig_provider::ErrorClass::NotFound && ids.len() > 1 => {
            let mut all = Vec::new();
            for id in ids {
                match describe(vec![id]).await {
                    Ok(t) => all.extend(t),
                    Err(e) if e.class == gig_provider::ErrorClass::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            all
        }
        Err(e) if e.class == gig_provider::ErrorClass::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut result = BTreeMap::new();
    for t in &templates {
        let Some(id) = t.launch_template_id() else {
            continue;
        };
        let versions = clients
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(id)
            .versions("$Default")
            .send()
            .await
            .map_err(|e| sdk_error("DescribeLaunchTemplateVersions", e));
        let versions = match versions {
            Ok(v) => v,
            Err(e) if e.class == gig_provider::ErrorClass::NotFound => continue,
            Err(e) => return Err(e),
        };
        let data = versions
            .launch_template_versions()
            .first()
            .and_then(|v| v.launch_template_data());
        let user_data = data
            .and_then(|d| d.user_data())
            .and_then(|u| base64::engine::general_purpose::STANDARD.decode(u).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .map_or(Value::Null, Value::String);
        let metadata = data.and_then(|d| d.metadata_options()).map(|m| {
            metadata_options_value(
                m.http_tokens().map(|t| t.as_str()),
                m.http_endpoint().map(|e| e.as_str()),
                m.http_put_response_hop_limit(),
            )
        });
        let profile = data
            .and_then(|d| d.iam_instance_profile())
            .and_then(|p| {
                p.name().map(str::to_string).or_else(|| {
                    p.arn()
                        .and_then(|a| a.rsplit('/').next())
                        .map(str::to_string)
                })
            })
            .map_or(Value::Null, Value::String);
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::str(id));
        m.insert(
            "name".to_string(),
            t.launch_template_name().map_or(Value::Null, Value::str),
        );
        m.insert(
            "image_id".to_string(),
            data.and_then(|d| d.image_id())
                .map_or(Value::Null, Value::str),
        );
        m.insert(
            "instance_type".to_string(),
            data.and_then(|d| d.instance_type())
                .map_or(Value::Null, |t| Value::str(t.as_str())),
        );
        m.insert("user_data".to_string(), user_data);
        m.insert(
            "vpc_security_group_ids".to_string(),
            sorted_string_list(data.map(|d| d.security_group_ids()).unwrap_or_default()),
        );
        m.insert(
            "metadata_options".to_string(),
            metadata.map_or(Value::List(vec![]), |b| Value::List(vec![b])),
        );
        m.insert("iam_instance_profile".to_string(), profile);
        m.insert(
            "key_name".to_string(),
            data.and_then(|d| d.key_name())
                .map_or(Value::Null, Value::str),
        );
        m.insert("tags".to_string(), tags_value(tag_map(t.tags())));
        m.insert(
            "latest_version".to_string(),
            t.latest_version_number().map_or(Value::Null, Value::from),
        );
        m.insert(
            "default_version".to_string(),
            t.default_version_number().map_or(Value::Null, Value::from),
        );
        m.insert(
            "arn".to_string(),
            match clients.region.as_deref() {
                Some(region) => Value::String(format!(
                    "arn:aws:ec2:{region}:{}:launch-template/{id}",
                    owner(t.created_by())
                )),
                None => Value::Null,
            },
        );
        result.insert(id.to_string(), Value::Map(m));
    }
    Ok(result)
}

/// The account id in a `created_by` ARN (`arn:aws:iam::123456789012:user/x`).
fn owner(created_by: Option<&str>) -> &str {
    created_by.and_then(|c| c.split(':').nth(4)).unwrap_or("")
}
