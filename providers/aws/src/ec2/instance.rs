//! `aws.instance`: an EC2 instance, declared on the resource model.
//!
//! **Create** runs one instance with a ClientToken derived from the stack, env, address
//! and planned value: a create retried after a crash returns the instance made the
//! first time instead of a second one. Should AWS hand back an already terminated
//! instance for that token (a deliberate re-create of an identical value), the call is
//! repeated once with a token salted by that instance's id. gig then waits until the
//! instance is `running`.
//!
//! **Update in place:** `instance_type` (stop, modify, start), `vpc_security_group_ids`,
//! `metadata_options`, `root_block_device.volume_size` / `volume_type` (ModifyVolume),
//! `iam_instance_profile` (associate / replace / disassociate) and tags. `ami`,
//! `subnet_id`, `key_name`, `user_data` and `root_block_device.encrypted` force a new
//! instance. `user_data` forces a new instance because cloud-init runs it only on first
//! boot: changing it in place (possible while stopped) would silently do nothing.
//!
//! **Refresh:** one DescribeInstances and one DescribeVolumes (root volumes) per chunk of
//! 50 instances. `user_data` is kept from Prior rather than read back (reading it costs
//! one call per instance: it is declared `.read_on_import()`); an import reads it with
//! DescribeInstanceAttribute.
//! Terminated and shutting-down instances count as gone.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeValue, BlockDeviceMapping, EbsBlockDevice, HttpTokensState,
    IamInstanceProfileSpecification, InstanceMetadataEndpointState, InstanceMetadataOptionsRequest,
    InstanceStateName, InstanceType, ResourceType as Ec2ResourceType, VolumeType,
};
use base64::Engine as _;
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, Lookup, OpContext, ProviderError, UpdateRequest};

use crate::common::{
    block, client_token, object, on_attribute, opt_bool, opt_i32, opt_str, req_str,
    retry_not_found, sdk_error, sorted_string_list, str_list, t_str_set, tags_value, wait_until,
    Poll,
};
use crate::ec2::{arn, filter, metadata_options_value, tag_map, tag_spec};
use crate::model::{computed, optional, required, Decl, Model, New};
use crate::tagging::Tagging;
use crate::Clients;

/// The `aws.instance` resource type.
pub(crate) struct Instance;

fn root_block_schema() -> AttrType {
    let mut r = BTreeMap::new();
    r.insert(
        "volume_size".into(),
        AttributeSchema::optional(
            AttrType::Number,
            "Size in GiB; the AMI's size when unset. Grows in place.",
        )
        .also_computed(),
    );
    r.insert(
        "volume_type".into(),
        AttributeSchema::optional(
            AttrType::String,
            "gp3, gp2, io1, io2, st1, sc1 or standard; changed in place.",
        )
        .also_computed(),
    );
    r.insert(
        "encrypted".into(),
        AttributeSchema::optional(AttrType::Bool, "Whether the root volume is encrypted.")
            .also_computed()
            .force_new(),
    );
    r.insert(
        "volume_id".into(),
        AttributeSchema::computed(AttrType::String, "The root volume's id."),
    );
    r.insert(
        "device_name".into(),
        AttributeSchema::computed(AttrType::String, "The root device name."),
    );
    AttrType::List(Box::new(AttrType::Object(r)))
}

fn metadata_schema() -> AttrType {
    let mut r = BTreeMap::new();
    r.insert(
        "http_tokens".into(),
        AttributeSchema::optional(
            AttrType::String,
            "\"required\" enforces IMDSv2; \"optional\" allows IMDSv1.",
        )
        .also_computed(),
    );
    r.insert(
        "http_endpoint".into(),
        AttributeSchema::optional(AttrType::String, "\"enabled\" or \"disabled\".").also_computed(),
    );
    r.insert(
        "http_put_response_hop_limit".into(),
        AttributeSchema::optional(
            AttrType::Number,
            "Hop limit of metadata PUT responses (1–64).",
        )
        .also_computed(),
    );
    AttrType::List(Box::new(AttrType::Object(r)))
}

#[async_trait]
impl Model for Instance {
    fn decl(&self) -> Decl {
        Decl {
            type_name: "aws.instance",
            description: "An EC2 instance. gig waits until it is running (and on delete until terminated). The \
                          instance type, security groups, metadata options, root volume size/type and instance \
                          profile change in place (a type change stops and restarts the instance); the AMI, \
                          subnet, key pair, user data and root volume encryption force a new instance.",
            example: "resource aws.instance web {\n  ami                    = data.aws.ami.al2023.id\n  \
                      instance_type          = \"t3.micro\"\n  subnet_id              = aws.subnet.private[\"us-east-1a\"].id\n  \
                      vpc_security_group_ids = [aws.security_group.app.id]\n  user_data              = file(\"cloud-init.yaml\")\n  \
                      metadata_options {\n    http_tokens = \"required\"\n  }\n  root_block_device {\n    volume_size = 20\n    \
                      encrypted   = true\n  }\n}",
            id: "instance id",
            attrs: vec![
                required("ami", AttrType::String, "The AMI to launch.").force_new(),
                required(
                    "instance_type",
                    AttrType::String,
                    "The instance type; changed by stopping, modifying and starting.",
                ),
                optional("subnet_id", AttrType::String, "The subnet; a default subnet when unset.")
                    .also_computed()
                    .force_new(),
                optional("vpc_security_group_ids", t_str_set(), "Security group ids; changed in place.")
                    .also_computed(),
                optional(
                    "user_data",
                    AttrType::String,
                    "Plain-text user data (gig base64-encodes it). Forces a new instance.",
                )
                .force_new()
                .encoded_by_provider()
                .read_on_import(),
                optional("root_block_device", root_block_schema(), "The root volume (one block).")
                    .also_computed(),
                optional(
                    "metadata_options",
                    metadata_schema(),
                    "Instance metadata service options (one block); changed in place.",
                )
                .also_computed(),
                optional(
                    "iam_instance_profile",
                    AttrType::String,
                    "Name of the instance profile; changed in place.",
                ),
                optional("key_name", AttrType::String, "Name of the EC2 key pair.").force_new(),
                computed("availability_zone", AttrType::String, "The availability zone."),
                computed("private_ip", AttrType::String, "The private IPv4 address."),
                computed("public_ip", AttrType::String, "The public IPv4 address, if any."),
                computed("private_dns", AttrType::String, "The private DNS name."),
                computed("public_dns", AttrType::String, "The public DNS name, if any."),
                computed("arn", AttrType::String, "The instance's ARN."),
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
        read_instances(clients, ids).await
    }

    async fn fetch_on_import(
        &self,
        clients: &Clients,
        id: &str,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        Ok(BTreeMap::from([(
            "user_data".to_string(),
            read_user_data(clients, id).await?,
        )]))
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let (ctx, planned) = (new.ctx, new.planned);
        let mut id = run(clients, ctx, planned, &new.tags, "").await?;
        ctx.created(&id);
        if let Some(state) = state_of(clients, &id).await? {
            if matches!(
                state,
                InstanceStateName::Terminated | InstanceStateName::ShuttingDown
            ) {
                id = run(clients, ctx, planned, &new.tags, &id).await?;
                ctx.created(&id);
            }
        }
        wait_state(clients, &id, InstanceStateName::Running).await?;
        Ok(id)
    }

    async fn find_created(
        &self,
        clients: &Clients,
        _decl: &Decl,
        ctx: &OpContext,
        _planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        // Instances that are not terminated and carry a gig address tag, compared here.
        let mut candidates = Vec::new();
        let mut pages = clients
            .ec2
            .describe_instances()
            .filters(filter("tag-key", [crate::common::TAG_ADDRESS]))
            .filters(filter(
                "instance-state-name",
                ["pending", "running", "stopping", "stopped"],
            ))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("DescribeInstances", e))?;
            for i in page.reservations().iter().flat_map(|r| r.instances()) {
                if let Some(id) = i.instance_id() {
                    candidates.push((id.to_string(), tag_map(i.tags())));
                }
            }
        }
        Ok(crate::common::owned_by(candidates, ctx))
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let id = req.id;
        let planned = req.planned;
        let changed = |a: &str| crate::common::changed(req.changed, a);
        if changed("instance_type") {
            change_type(clients, id, req_str(planned, "instance_type")?).await?;
        }
        if changed("vpc_security_group_ids") {
            let groups = str_list(planned, "vpc_security_group_ids")?;
            if !groups.is_empty() {
                clients
                    .ec2
                    .modify_instance_attribute()
                    .instance_id(id)
                    .set_groups(Some(groups))
                    .send()
                    .await
                    .map_err(|e| {
                        on_attribute(
                            sdk_error("ModifyInstanceAttribute", e),
                            "vpc_security_group_ids",
                        )
                    })?;
            }
        }
        if changed("metadata_options") {
            if let Some(m) = block(planned, "metadata_options")? {
                modify_metadata_options(clients, id, m, block(req.prior, "metadata_options")?)
                    .await?;
            }
        }
        if changed("root_block_device") {
            modify_root_volume(clients, req.prior, planned).await?;
        }
        if changed("iam_instance_profile") {
            set_profile(clients, id, opt_str(planned, "iam_instance_profile")?).await?;
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
            .ec2
            .terminate_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| sdk_error("TerminateInstances", e))?;
        wait_state(clients, id, InstanceStateName::Terminated).await
    }
}

/// Changes the instance type: stop, modify, start, waiting for each state.
async fn change_type(clients: &Clients, id: &str, new_type: &str) -> Result<(), ProviderError> {
    clients
        .ec2
        .stop_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(|e| sdk_error("StopInstances", e))?;
    wait_state(clients, id, InstanceStateName::Stopped).await?;
    clients
        .ec2
        .modify_instance_attribute()
        .instance_id(id)
        .instance_type(AttributeValue::builder().value(new_type).build())
        .send()
        .await
        .map_err(|e| on_attribute(sdk_error("ModifyInstanceAttribute", e), "instance_type"))?;
    clients
        .ec2
        .start_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(|e| sdk_error("StartInstances", e))?;
    wait_state(clients, id, InstanceStateName::Running).await
}

/// Sets the metadata options of block `m`, sending every field: one left out would be
/// reset to its default, so unset fields keep their `current` values.
async fn modify_metadata_options(
    clients: &Clients,
    id: &str,
    m: &Value,
    current: Option<&Value>,
) -> Result<(), ProviderError> {
    let pick = |k: &str| -> Result<Option<String>, ProviderError> {
        Ok(match opt_str(m, k)? {
            Some(v) => Some(v.to_string()),
            None => current
                .and_then(|c| c.get(k))
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    };
    let hops = match opt_i32(m, "http_put_response_hop_limit")? {
        Some(n) => Some(n),
        None => current
            .and_then(|c| c.get("http_put_response_hop_limit"))
            .and_then(Value::as_i64)
            .map(|n| n as i32),
    };
    clients
        .ec2
        .modify_instance_metadata_options()
        .instance_id(id)
        .set_http_tokens(pick("http_tokens")?.map(|t| HttpTokensState::from(t.as_str())))
        .set_http_endpoint(
            pick("http_endpoint")?.map(|t| InstanceMetadataEndpointState::from(t.as_str())),
        )
        .set_http_put_response_hop_limit(hops)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            on_attribute(
                sdk_error("ModifyInstanceMetadataOptions", e),
                "metadata_options",
            )
        })
}

/// RunInstances with the planned settings; returns the instance id.
async fn run(
    clients: &Clients,
    ctx: &OpContext,
    planned: &Value,
    tags: &BTreeMap<String, String>,
    salt: &str,
) -> Result<String, ProviderError> {
    let ami = req_str(planned, "ami")?;
    let mut call = clients
        .ec2
        .run_instances()
        .image_id(ami)
        .instance_type(InstanceType::from(req_str(planned, "instance_type")?))
        .min_count(1)
        .max_count(1)
        .client_token(client_token(ctx, planned, salt))
        .set_subnet_id(opt_str(planned, "subnet_id")?.map(str::to_string))
        .set_key_name(opt_str(planned, "key_name")?.map(str::to_string))
        .tag_specifications(tag_spec(Ec2ResourceType::Instance, tags))
        .tag_specifications(tag_spec(Ec2ResourceType::Volume, tags));
    let groups = str_list(planned, "vpc_security_group_ids")?;
    if !groups.is_empty() {
        call = call.set_security_group_ids(Some(groups));
    }
    if let Some(data) = opt_str(planned, "user_data")? {
        call = call.user_data(base64::engine::general_purpose::STANDARD.encode(data));
    }
    if let Some(profile) = opt_str(planned, "iam_instance_profile")? {
        call = call.iam_instance_profile(
            IamInstanceProfileSpecification::builder()
                .name(profile)
                .build(),
        );
    }
    if let Some(m) = block(planned, "metadata_options")? {
        call = call.metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .set_http_tokens(opt_str(m, "http_tokens")?.map(HttpTokensState::from))
                .set_http_endpoint(
                    opt_str(m, "http_endpoint")?.map(InstanceMetadataEndpointState::from),
                )
                .set_http_put_response_hop_limit(opt_i32(m, "http_put_response_hop_limit")?)
                .build(),
        );
    }
    if let Some(root) = block(planned, "root_block_device")? {
        let size = opt_i32(root, "volume_size")?;
        let vtype = opt_str(root, "volume_type")?;
        let encrypted = opt_bool(root, "encrypted")?;
        if size.is_some() || vtype.is_some() || encrypted.is_some() {
            let device = root_device_name(clients, ami).await?;
            call = call.block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name(device)
                    .ebs(
                        EbsBlockDevice::builder()
                            .set_volume_size(size)
                            .set_volume_type(vtype.map(VolumeType::from))
                            .set_encrypted(encrypted)
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            );
        }
    }
    let out = call.send().await.map_err(|e| {
        let e = sdk_error("RunInstances", e);
        match e.code.as_deref() {
            Some("InvalidAMIID.NotFound" | "InvalidAMIID.Malformed") => on_attribute(e, "ami"),
            Some("InvalidSubnetID.NotFound") => on_attribute(e, "subnet_id"),
            Some("InvalidGroup.NotFound") => on_attribute(e, "vpc_security_group_ids"),
            Some("InvalidKeyPair.NotFound") => on_attribute(e, "key_name"),
            Some("InvalidParameterValue") if e.message.contains("instance type") => {
                on_attribute(e, "instance_type")
            }
            _ => e,
        }
    })?;
    out.instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(str::to_string)
        .ok_or_else(|| ProviderError::permanent("RunInstances returned no instance"))
}

async fn root_device_name(clients: &Clients, ami: &str) -> Result<String, ProviderError> {
    let out = clients
        .ec2
        .describe_images()
        .image_ids(ami)
        .send()
        .await
        .map_err(|e| on_attribute(sdk_error("DescribeImages", e), "ami"))?;
    Ok(out
        .images()
        .first()
        .and_then(|i| i.root_device_name())
        .unwrap_or("/dev/xvda")
        .to_string())
}

async fn state_of(clients: &Clients, id: &str) -> Result<Option<InstanceStateName>, ProviderError> {
    let out = retry_not_found(|| async {
        clients
            .ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeInstances", e))
    })
    .await?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find(|i| i.instance_id() == Some(id))
        .and_then(|i| i.state())
        .and_then(|s| s.name())
        .cloned())
}

/// Waits until the instance reaches `want`; waiting for `terminated` also ends when the
/// instance is no longer listed.
async fn wait_state(
    clients: &Clients,
    id: &str,
    want: InstanceStateName,
) -> Result<(), ProviderError> {
    let what = format!("instance {id} to become {}", want.as_str());
    wait_until(
        &what,
        Duration::from_secs(900),
        Duration::from_secs(10),
        || async {
            let state = match state_of(clients, id).await {
                Ok(s) => s,
                Err(e)
                    if e.class == gig_provider::ErrorClass::NotFound
                        && want == InstanceStateName::Terminated =>
                {
                    return Ok(Poll::Done(()))
                }
                Err(e) => return Err(e),
            };
            match state {
                None if want == InstanceStateName::Terminated => Ok(Poll::Done(())),
                Some(s) if s == want => Ok(Poll::Done(())),
                Some(InstanceStateName::Terminated) => Err(ProviderError::permanent(format!(
                    "instance {id} terminated while waiting for it to become {}",
                    want.as_str()
                ))),
                Some(s) => Ok(Poll::Pending(s.as_str().to_string())),
                None => Ok(Poll::Pending("not visible yet".into())),
            }
        },
    )
    .await
}

async fn modify_root_volume(
    clients: &Clients,
    prior: &Value,
    planned: &Value,
) -> Result<(), ProviderError> {
    let (Some(old), Some(new)) = (
        block(prior, "root_block_device")?,
        block(planned, "root_block_device")?,
    ) else {
        return Ok(());
    };
    let Some(volume) = opt_str(old, "volume_id")? else {
        return Ok(());
    };
    let size = opt_i32(new, "volume_size")?
        .filter(|s| Some(*s) != opt_i32(old, "volume_size").ok().flatten());
    let vtype = opt_str(new, "volume_type")?
        .filter(|t| Some(*t) != opt_str(old, "volume_type").ok().flatten());
    if size.is_none() && vtype.is_none() {
        return Ok(());
    }
    clients
        .ec2
        .modify_volume()
        .volume_id(volume)
        .set_size(size)
        .set_volume_type(vtype.map(VolumeType::from))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| on_attribute(sdk_error("ModifyVolume", e), "root_block_device"))
}

async fn set_profile(
    clients: &Clients,
    id: &str,
    profile: Option<&str>,
) -> Result<(), ProviderError> {
    let out = clients
        .ec2
        .describe_iam_instance_profile_associations()
        .filters(filter("instance-id", [id]))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeIamInstanceProfileAssociations", e))?;
    let current = out
        .iam_instance_profile_associations()
        .iter()
        .find(|a| {
            a.state()
                .is_none_or(|s| matches!(s.as_str(), "associated" | "associating"))
        })
        .and_then(|a| a.association_id());
    let spec = |name: &str| {
        IamInstanceProfileSpecification::builder()
            .name(name)
            .build()
    };
    let r = match (current, profile) {
        (Some(assoc), Some(name)) => clients
            .ec2
            .replace_iam_instance_profile_association()
            .association_id(assoc)
            .iam_instance_profile(spec(name))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("ReplaceIamInstanceProfileAssociation", e)),
        (Some(assoc), None) => clients
            .ec2
            .disassociate_iam_instance_profile()
            .association_id(assoc)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DisassociateIamInstanceProfile", e)),
        (None, Some(name)) => clients
            .ec2
            .associate_iam_instance_profile()
            .instance_id(id)
            .iam_instance_profile(spec(name))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("AssociateIamInstanceProfile", e)),
        (None, None) => Ok(()),
    };
    r.map_err(|e| on_attribute(e, "iam_instance_profile"))
}

async fn read_user_data(clients: &Clients, id: &str) -> Result<Value, ProviderError> {
    let out = clients
        .ec2
        .describe_instance_attribute()
        .instance_id(id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
        .send()
        .await;
    let out = match out.map_err(|e| sdk_error("DescribeInstanceAttribute", e)) {
        Ok(o) => o,
        Err(e) if e.class == gig_provider::ErrorClass::NotFound => return Ok(Value::Null),
        Err(e) => return Err(e),
    };
    let encoded = out.user_data().and_then(|u| u.value()).unwrap_or_default();
    if encoded.is_empty() {
        return Ok(Value::Null);
    }
    Ok(base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map_or(Value::Null, Value::String))
}

/// Reads up to 50 instances by id (root volumes with one DescribeVolumes); terminated
/// and shutting-down instances are missing from the result. `user_data` is not set.
pub(crate) async fn read_instances(
    clients: &Clients,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let mut instances = Vec::new();
    let mut pages = clients
        .ec2
        .describe_instances()
        .filters(filter("instance-id", ids))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("DescribeInstances", e))?;
        for r in page.reservations() {
            for i in r.instances() {
                let gone = i.state().and_then(|s| s.name()).is_some_and(|n| {
                    matches!(
                        n,
                        InstanceStateName::Terminated | InstanceStateName::ShuttingDown
                    )
                });
                if !gone && i.instance_id().is_some() {
                    instances.push(i.clone());
                }
            }
        }
    }
    // Root volumes, in one call for the chunk.
    let mut root: BTreeMap<String, (String, String)> = BTreeMap::new();
    for i in &instances {
        let device = i.root_device_name().unwrap_or_default();
        if let Some(vol) = i
            .block_device_mappings()
            .iter()
            .find(|m| m.device_name() == Some(device))
            .and_then(|m| m.ebs())
            .and_then(|e| e.volume_id())
        {
            root.insert(
                i.instance_id().unwrap_or_default().to_string(),
                (vol.to_string(), device.to_string()),
            );
        }
    }
    let mut volumes = BTreeMap::new();
    if !root.is_empty() {
        let out = clients
            .ec2
            .describe_volumes()
            .filters(filter("volume-id", root.values().map(|(v, _)| v.clone())))
            .send()
            .await
            .map_err(|e| sdk_error("DescribeVolumes", e))?;
        for v in out.volumes() {
            if let Some(id) = v.volume_id() {
                volumes.insert(id.to_string(), v.clone());
            }
        }
    }
    let mut result = BTreeMap::new();
    for i in instances {
        let id = i.instance_id().unwrap_or_default().to_string();
        let root_block = root.get(&id).map(|(vol, device)| {
            let v = volumes.get(vol);
            object([
                ("volume_id", Value::str(vol)),
                ("device_name", Value::str(device)),
                (
                    "volume_size",
                    v.and_then(|v| v.size())
                        .map_or(Value::Null, |s| Value::from(i64::from(s))),
                ),
                (
                    "volume_type",
                    v.and_then(|v| v.volume_type())
                        .map_or(Value::Null, |t| Value::str(t.as_str())),
                ),
                (
                    "encrypted",
                    Value::Bool(v.and_then(|v| v.encrypted()).unwrap_or(false)),
                ),
            ])
        });
        let metadata = i.metadata_options().map(|m| {
            metadata_options_value(
                m.http_tokens().map(|t| t.as_str()),
                m.http_endpoint().map(|e| e.as_str()),
                m.http_put_response_hop_limit(),
            )
        });
        let profile = i
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .and_then(|arn| arn.rsplit('/').next())
            .map_or(Value::Null, Value::str);
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::str(&id));
        m.insert(
            "ami".to_string(),
            i.image_id().map_or(Value::Null, Value::str),
        );
        m.insert(
            "instance_type".to_string(),
            i.instance_type()
                .map_or(Value::Null, |t| Value::str(t.as_str())),
        );
        m.insert(
            "subnet_id".to_string(),
            i.subnet_id().map_or(Value::Null, Value::str),
        );
        m.insert(
            "vpc_security_group_ids".to_string(),
            sorted_string_list(i.security_groups().iter().filter_map(|g| g.group_id())),
        );
        m.insert(
            "root_block_device".to_string(),
            root_block.map_or(Value::List(vec![]), |b| Value::List(vec![b])),
        );
        m.insert(
            "metadata_options".to_string(),
            metadata.map_or(Value::List(vec![]), |b| Value::List(vec![b])),
        );
        m.insert("iam_instance_profile".to_string(), profile);
        m.insert(
            "key_name".to_string(),
            i.key_name().map_or(Value::Null, Value::str),
        );
        m.insert("tags".to_string(), tags_value(tag_map(i.tags())));
        m.insert(
            "availability_zone".to_string(),
            i.placement()
                .and_then(|p| p.availability_zone())
                .map_or(Value::Null, Value::str),
        );
        m.insert(
            "private_ip".to_string(),
            i.private_ip_address().map_or(Value::Null, Value::str),
        );
        m.insert(
            "public_ip".to_string(),
            i.public_ip_address().map_or(Value::Null, Value::str),
        );
        m.insert(
            "private_dns".to_string(),
            i.private_dns_name()
                .filter(|s| !s.is_empty())
                .map_or(Value::Null, Value::str),
        );
        m.insert(
            "public_dns".to_string(),
            i.public_dns_name()
                .filter(|s| !s.is_empty())
                .map_or(Value::Null, Value::str),
        );
        m.insert(
            "arn".to_string(),
            arn(clients, owner_of(&i), "instance", &id),
        );
        result.insert(id, Value::Map(m));
    }
    Ok(result)
}

/// The owner account of an instance, from its network interface.
fn owner_of(i: &aws_sdk_ec2::types::Instance) -> Option<&str> {
    i.network_interfaces()
        .first()
        .and_then(|n| n.owner_id())
        .filter(|o| !o.is_empty())
}
