//! `data aws.ami`: finds an AMI by owners and filters, read at plan time.
//!
//! With `most_recent = true` the newest match (by creation date) wins; otherwise more
//! than one match is an error, so a stack never silently picks an arbitrary image.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, OpContext, ProviderError, ResourceSchema};

use crate::common::{list, opt_bool, req_str, sdk_error, str_list, t_str_list};
use crate::ec2::filter;
use crate::{Clients, DataSource};

/// The `aws.ami` data source.
pub(crate) struct Ami;

fn filter_schema() -> AttrType {
    let mut f = BTreeMap::new();
    f.insert(
        "name".into(),
        AttributeSchema::required(
            AttrType::String,
            "An EC2 DescribeImages filter name, e.g. name or architecture.",
        ),
    );
    f.insert(
        "values".into(),
        AttributeSchema::required(t_str_list(), "Accepted values; `*` and `?` are wildcards."),
    );
    AttrType::List(Box::new(AttrType::Object(f)))
}

#[async_trait]
impl DataSource for Ami {
    fn schema(&self) -> ResourceSchema {
        let mut a = BTreeMap::new();
        a.insert(
            "owners".into(),
            AttributeSchema::optional(
                t_str_list(),
                "Owner account ids or aliases (amazon, self, aws-marketplace).",
            ),
        );
        a.insert(
            "most_recent".into(),
            AttributeSchema::optional(
                AttrType::Bool,
                "Pick the newest match instead of failing on several.",
            )
            .default(false),
        );
        a.insert(
            "filter".into(),
            AttributeSchema::optional(
                filter_schema(),
                "Filters (blocks), all of which must match.",
            ),
        );
        a.insert(
            "id".into(),
            AttributeSchema::computed(AttrType::String, "The AMI id."),
        );
        a.insert(
            "name".into(),
            AttributeSchema::computed(AttrType::String, "The AMI name."),
        );
        a.insert(
            "creation_date".into(),
            AttributeSchema::computed(AttrType::String, "When it was created (ISO 8601)."),
        );
        a.insert(
            "architecture".into(),
            AttributeSchema::computed(AttrType::String, "x86_64 or arm64."),
        );
        a.insert(
            "owner_id".into(),
            AttributeSchema::computed(AttrType::String, "The owning account."),
        );
        a.insert(
            "root_device_name".into(),
            AttributeSchema::computed(AttrType::String, "The root device, e.g. /dev/xvda."),
        );
        a.insert(
            "description".into(),
            AttributeSchema::computed(AttrType::String, "The AMI description."),
        );
        ResourceSchema {
            type_name: "aws.ami".into(),
            description: "Looks up an AMI at plan time by owners and DescribeImages filters (names accept `*` \
                          wildcards). More than one match is an error unless `most_recent = true`."
                .into(),
            version: 1,
            attributes: a,
            example: "data aws.ami al2023 {\n  owners      = [\"amazon\"]\n  most_recent = true\n  filter {\n    \
                      name   = \"name\"\n    values = [\"al2023-ami-2023.*-x86_64\"]\n  }\n}"
                .into(),
        }
    }

    async fn read(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        args: &Value,
    ) -> Result<Value, ProviderError> {
        let mut call = clients.ec2.describe_images();
        let owners = str_list(args, "owners")?;
        if !owners.is_empty() {
            call = call.set_owners(Some(owners));
        }
        for f in list(args, "filter")? {
            call = call.filters(filter(req_str(f, "name")?, str_list(f, "values")?));
        }
        let out = call
            .send()
            .await
            .map_err(|e| sdk_error("DescribeImages", e))?;
        let mut images: Vec<_> = out
            .images()
            .iter()
            .filter(|i| i.image_id().is_some())
            .collect();
        if images.is_empty() {
            return Err(ProviderError::permanent(
                "no AMI matches the given owners and filters",
            ));
        }
        images.sort_by(|a, b| {
            (a.creation_date().unwrap_or_default(), a.image_id())
                .cmp(&(b.creation_date().unwrap_or_default(), b.image_id()))
        });
        if images.len() > 1 && !opt_bool(args, "most_recent")?.unwrap_or(false) {
            return Err(ProviderError::permanent(format!(
                "{} AMIs match; narrow the filters or set most_recent = true",
                images.len()
            )));
        }
        let Some(img) = images.last() else {
            return Err(ProviderError::permanent(
                "no AMI matches the given owners and filters",
            ));
        };
        let mut m = args.as_map().cloned().unwrap_or_default();
        let s = |x: Option<&str>| x.map_or(Value::Null, Value::str);
        m.insert("id".into(), s(img.image_id()));
        m.insert("name".into(), s(img.name()));
        m.insert("creation_date".into(), s(img.creation_date()));
        m.insert(
            "architecture".into(),
            s(img.architecture().map(|a| a.as_str())),
        );
        m.insert("owner_id".into(), s(img.owner_id()));
        m.insert("root_device_name".into(), s(img.root_device_name()));
        m.insert("description".into(), s(img.description()));
        Ok(Value::Map(m))
    }
}
