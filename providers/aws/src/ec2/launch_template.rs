//! `aws.launch_template`: an EC2 launch template, declared on the resource model.
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
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData,
    ResourceType as Ec2ResourceType,
};
use base64::Engine as _;
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{
    block, client_token, has_code, list, object, on_attribute, opt_bool, opt_i32, opt_str,
    sdk_error, sorted_string_list, str_list, str_map, t_str_set, tags_value,
};
use crate::ec2::{ec2_tags, metadata_options_value, tag_map, tag_spec};
use crate::model::{computed, optional, prefixed_name, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The longest launch template name AWS accepts.
const NAME_MAX: usize = 128;

/// The resource types a `tag_specifications` block may tag.
const TAGGED_AT_LAUNCH: &[&str] = &["instance", "volume", "network-interface"];

/// The template's name: the planned one, else `name_prefix` plus a suffix fixed for this
/// create, else one derived from the address, so that a lookup after an interrupted
/// create knows it too.
fn template_name(ctx: &OpContext, planned: &Value) -> Result<String, ProviderError> {
    if let Some(n) = opt_str(planned, "name")? {
        return Ok(n.to_string());
    }
    if let Some(prefix) = opt_str(planned, "name_prefix")? {
        return prefixed_name(ctx, planned, prefix, NAME_MAX);
    }
    Ok(format!(
        "gig-{}",
        &client_token(ctx, &Value::Null, "launch-template-name")[..16]
    ))
}

/// The `aws.launch_template` resource type.
pub(crate) struct LaunchTemplate;

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

fn network_interfaces_schema() -> AttrType {
    let field = |ty, text: &str| AttributeSchema::optional(ty, text);
    AttrType::List(Box::new(AttrType::Object(BTreeMap::from([
        (
            "associate_public_ip_address".into(),
            field(
                AttrType::Bool,
                "Whether the interface gets a public IPv4 address.",
            ),
        ),
        (
            "delete_on_termination".into(),
            field(
                AttrType::Bool,
                "Whether the interface is deleted with the instance.",
            ),
        ),
        (
            "device_index".into(),
            field(
                AttrType::Number,
                "The device index (0 is the primary interface).",
            ),
        ),
        (
            "security_groups".into(),
            field(t_str_set(), "Security group ids of the interface."),
        ),
        (
            "subnet_id".into(),
            field(AttrType::String, "The subnet the interface is created in."),
        ),
        (
            "description".into(),
            field(AttrType::String, "A description of the interface."),
        ),
    ]))))
}

fn tag_specifications_schema() -> AttrType {
    AttrType::List(Box::new(AttrType::Object(BTreeMap::from([
        (
            "resource_type".into(),
            AttributeSchema::required(
                AttrType::String,
                "What launches with the tags: \"instance\", \"volume\" or \"network-interface\".",
            ),
        ),
        (
            "tags".into(),
            AttributeSchema::optional(AttrType::Map(Box::new(AttrType::String)), "The tags.")
                .default(Value::Map(BTreeMap::new())),
        ),
    ]))))
}

#[async_trait]
impl Model for LaunchTemplate {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.launch_template",
            description: "An EC2 launch template. Changing a launch setting creates a new template version and \
                          makes it the default; `latest_version` reports it. Only the name forces a new template.",
            example: "resource aws.launch_template app {\n  name                   = \"app\"\n  image_id               = data.aws.ami.al2023.id\n  \
                      instance_type          = \"t3.small\"\n  vpc_security_group_ids = [aws.security_group.app.id]\n  \
                      metadata_options {\n    http_tokens = \"required\"\n  }\n}",
            id: "launch template id",
            attrs: vec![
                optional(
                    "name",
                    AttrType::String,
                    "The template name; when neither it nor `name_prefix` is set, derived from the stack and address.",
                )
                .also_computed()
                .force_new(),
                optional(
                    "name_prefix",
                    AttrType::String,
                    "A name prefix: gig appends a suffix fixed for each create, so a create-before-destroy replacement gets a new name.",
                )
                .force_new(),
                optional("image_id", AttrType::String, "The AMI instances launch from."),
                optional("instance_type", AttrType::String, "The instance type."),
                optional(
                    "user_data",
                    AttrType::String,
                    "Plain-text user data (gig base64-encodes it).",
                )
                .encoded_by_provider(),
                optional("vpc_security_group_ids", t_str_set(), "Security group ids."),
                optional(
                    "metadata_options",
                    metadata_schema(),
                    "Instance metadata service options (one block).",
                ),
                optional(
                    "network_interfaces",
                    network_interfaces_schema(),
                    "Network interfaces of launched instances (blocks); security groups then go here rather than in `vpc_security_group_ids`.",
                ),
                optional(
                    "tag_specifications",
                    tag_specifications_schema(),
                    "Tags for what an instance launches with (blocks): the instance, its volumes, its network interfaces.",
                ),
                optional("iam_instance_profile", AttrType::String, "Instance profile name."),
                optional("key_name", AttrType::String, "EC2 key pair name."),
                computed("latest_version", AttrType::Number, "The newest version number.")
                    .recomputed_on_update(),
                computed(
                    "default_version",
                    AttrType::Number,
                    "The default version (gig keeps it equal to the latest).",
                )
                .recomputed_on_update(),
                computed("arn", AttrType::String, "The template's ARN."),
            ],
            tags: Some(Tagging::Ec2),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        read_templates(clients, ids).await
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let name = template_name(new.ctx, new.planned)?;
        let out = clients
            .ec2
            .create_launch_template()
            .launch_template_name(&name)
            .launch_template_data(launch_data(new.planned)?)
            .client_token(client_token(new.ctx, new.planned, ""))
            .tag_specifications(tag_spec(Ec2ResourceType::LaunchTemplate, &new.tags))
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
        new.ctx.created(&id);
        Ok(id)
    }

    async fn find_created(
        &self,
        clients: &Clients,
        _decl: &Decl,
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
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        // Every settable attribute but the name (which forces a new template) and the
        // tags (synced by the driver) is launch data: a new version, made the default.
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
            .map(|_| ())
            .map_err(|e| sdk_error("ModifyLaunchTemplate", e))
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        clients
            .ec2
            .delete_launch_template()
            .launch_template_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteLaunchTemplate", e))
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
    let interfaces = list(planned, "network_interfaces")?
        .iter()
        .map(network_interface)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| on_attribute(e, "network_interfaces"))?;
    if !interfaces.is_empty() {
        d = d.set_network_interfaces(Some(interfaces));
    }
    let specs = list(planned, "tag_specifications")?
        .iter()
        .map(tag_specification)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| on_attribute(e, "tag_specifications"))?;
    if !specs.is_empty() {
        d = d.set_tag_specifications(Some(specs));
    }
    Ok(d.build())
}

fn network_interface(
    b: &Value,
) -> Result<LaunchTemplateInstanceNetworkInterfaceSpecificationRequest, ProviderError> {
    let groups = str_list(b, "security_groups")?;
    Ok(
        LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
            .set_associate_public_ip_address(opt_bool(b, "associate_public_ip_address")?)
            .set_delete_on_termination(opt_bool(b, "delete_on_termination")?)
            .set_device_index(opt_i32(b, "device_index")?)
            .set_groups((!groups.is_empty()).then_some(groups))
            .set_subnet_id(opt_str(b, "subnet_id")?.map(str::to_string))
            .set_description(opt_str(b, "description")?.map(str::to_string))
            .build(),
    )
}

fn tag_specification(b: &Value) -> Result<LaunchTemplateTagSpecificationRequest, ProviderError> {
    let rtype = crate::common::req_str(b, "resource_type")?;
    if !TAGGED_AT_LAUNCH.contains(&rtype) {
        return Err(ProviderError::invalid_attribute(
            "tag_specifications",
            format!(
                "`resource_type` must be one of {}, got {rtype:?}",
                TAGGED_AT_LAUNCH.join(", ")
            ),
        ));
    }
    Ok(LaunchTemplateTagSpecificationRequest::builder()
        .resource_type(Ec2ResourceType::from(rtype))
        .set_tags(Some(ec2_tags(&str_map(b, "tags")?)))
        .build())
}

/// The `network_interfaces` blocks of a version's launch data.
fn network_interfaces_value(
    interfaces: &[aws_sdk_ec2::types::LaunchTemplateInstanceNetworkInterfaceSpecification],
) -> Value {
    let opt = |b: Option<bool>| b.map_or(Value::Null, Value::Bool);
    Value::List(
        interfaces
            .iter()
            .map(|n| {
                object([
                    (
                        "associate_public_ip_address",
                        opt(n.associate_public_ip_address()),
                    ),
                    ("delete_on_termination", opt(n.delete_on_termination())),
                    (
                        "device_index",
                        n.device_index()
                            .map_or(Value::Null, |i| Value::from(i64::from(i))),
                    ),
                    ("security_groups", sorted_string_list(n.groups())),
                    ("subnet_id", n.subnet_id().map_or(Value::Null, Value::str)),
                    (
                        "description",
                        n.description().map_or(Value::Null, Value::str),
                    ),
                ])
            })
            .collect(),
    )
}

/// The `tag_specifications` blocks of a version's launch data, for the resource types
/// gig lets a block name (the emulator also lists the template's own tags here).
fn tag_specifications_value(specs: &[aws_sdk_ec2::types::LaunchTemplateTagSpecification]) -> Value {
    Value::List(
        specs
            .iter()
            .filter(|t| {
                t.resource_type()
                    .is_some_and(|r| TAGGED_AT_LAUNCH.contains(&r.as_str()))
            })
            .map(|t| {
                object([
                    (
                        "resource_type",
                        t.resource_type()
                            .map_or(Value::Null, |r| Value::str(r.as_str())),
                    ),
                    ("tags", tags_value(tag_map(t.tags()))),
                ])
            })
            .collect(),
    )
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
        m.insert(
            "network_interfaces".to_string(),
            network_interfaces_value(data.map(|d| d.network_interfaces()).unwrap_or_default()),
        );
        m.insert(
            "tag_specifications".to_string(),
            tag_specifications_value(data.map(|d| d.tag_specifications()).unwrap_or_default()),
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
