//! `data aws.availability_zones`: the availability zones of the provider's region.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, OpContext, ProviderError, ResourceSchema};

use crate::common::{opt_str, sdk_error, string_list, t_str_list};
use crate::ec2::filter;
use crate::{Clients, DataSource};

/// The `aws.availability_zones` data source.
pub(crate) struct AvailabilityZones;

#[async_trait]
impl DataSource for AvailabilityZones {
    fn schema(&self) -> ResourceSchema {
        let mut a = BTreeMap::new();
        a.insert(
            "state".into(),
            AttributeSchema::optional(
                AttrType::String,
                "Only zones in this state, e.g. \"available\".",
            ),
        );
        a.insert(
            "names".into(),
            AttributeSchema::computed(t_str_list(), "Zone names, sorted (us-east-1a …)."),
        );
        a.insert(
            "zone_ids".into(),
            AttributeSchema::computed(t_str_list(), "Zone ids in the same order (use1-az1 …)."),
        );
        ResourceSchema {
            type_name: "aws.availability_zones".into(),
            description:
                "The availability zones of the region, read at plan time; names are sorted so that \
                          `slice`-style use is stable."
                    .into(),
            version: 1,
            attributes: a,
            example: "data aws.availability_zones available {\n  state = \"available\"\n}".into(),
        }
    }

    async fn read(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        args: &Value,
    ) -> Result<Value, ProviderError> {
        let mut call = clients.ec2.describe_availability_zones();
        if let Some(state) = opt_str(args, "state")? {
            call = call.filters(filter("state", [state]));
        }
        let out = call
            .send()
            .await
            .map_err(|e| sdk_error("DescribeAvailabilityZones", e))?;
        let mut zones: Vec<(String, String)> = out
            .availability_zones()
            .iter()
            .filter_map(|z| {
                Some((
                    z.zone_name()?.to_string(),
                    z.zone_id().unwrap_or_default().to_string(),
                ))
            })
            .collect();
        zones.sort();
        let mut m = args.as_map().cloned().unwrap_or_default();
        m.insert(
            "names".into(),
            string_list(zones.iter().map(|z| z.0.as_str())),
        );
        m.insert(
            "zone_ids".into(),
            string_list(zones.iter().map(|z| z.1.as_str())),
        );
        Ok(Value::Map(m))
    }
}
