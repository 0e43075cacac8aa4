//! `aws.ssm_parameter`: a Systems Manager Parameter Store parameter (a named string,
//! list of strings or KMS-encrypted secret that instances read at boot).
//!
//! The id is the parameter's name. Attributes follow Terraform's `aws_ssm_parameter`.
//!
//! **Secrecy:** `value` is a secret attribute whatever the type. It is read back (with
//! decryption) so drift is seen, is returned wrapped in [`Value::Secret`], is never
//! logged, and every error of a call that carried it has the value replaced by
//! `(secret)` before it leaves this module ([`scrub`]). The SDK's own `Debug` output
//! of the requests and responses redacts it too.
//!
//! **Writes:** create is PutParameter with `Overwrite=false` and all tags (a name that is
//! taken fails with `ParameterAlreadyExists`). Value, description, tier, key and allowed
//! pattern change in place with PutParameter `Overwrite=true` (AWS forbids tags on an
//! overwrite, so tags change through AddTagsToResource / RemoveTagsFromResource);
//! every overwrite makes a new version. Name, type and data type replace the parameter.
//! A removed description or allowed pattern is cleared by sending an empty one.
//!
//! **Read cost** for N parameters: `ceil(N / 10)` GetParameters calls (ten names per
//! call is the AWS limit; `WithDecryption=true` for the value, ARN, version and data
//! type), then one paginated DescribeParameters per 50 found names (a `Name` filter
//! takes at most 50 values) for description, tier, key and allowed pattern, then one
//! ListTagsForResource per found parameter — SSM has no batched tag read. Names that
//! GetParameters does not know are gone and cost nothing more.
//!
//! **Intelligent-Tiering** is a tier *policy*: AWS stores the parameter as Standard or
//! Advanced. When the Prior value says `Intelligent-Tiering`, a read keeps saying so,
//! so the plan stays clean.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_ssm::types::{
    Parameter, ParameterMetadata, ParameterStringFilter, ParameterTier, ParameterType, Tag,
};
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, ErrorClass, Lookup, OpContext, ProviderError, ReadRequest,
    ResourceSchema, UpdateRequest,
};

use crate::common::{self, sdk_error};
use crate::ssm::{list_tags, to_sdk_tags, update_tags};
use crate::{Clients, ReadResults, ResourceType};

const TYPE_NAME: &str = "aws.ssm_parameter";
/// The most names one GetParameters call accepts.
pub(crate) const GET_BATCH: usize = 10;
/// The most values one DescribeParameters `Name` filter accepts (and its largest page).
pub(crate) const DESCRIBE_BATCH: usize = 50;
/// The parameter types AWS knows.
const TYPES: [&str; 3] = ["String", "StringList", "SecureString"];
/// The tiers AWS knows.
const TIERS: [&str; 3] = ["Standard", "Advanced", "Intelligent-Tiering"];
const INTELLIGENT_TIERING: &str = "Intelligent-Tiering";
/// The KMS key AWS uses for a SecureString when none is given.
pub(crate) const DEFAULT_KEY_ID: &str = "alias/aws/ssm";
/// Attributes that an overwrite (PutParameter `Overwrite=true`) changes in place.
const OVERWRITTEN: [&str; 5] = ["value", "description", "tier", "key_id", "allowed_pattern"];

/// The `aws.ssm_parameter` resource type.
pub(crate) struct SsmParameter;

#[async_trait]
impl ResourceType for SsmParameter {
    fn schema(&self) -> ResourceSchema {
        use AttrType::{Number, String as Str};
        let mut a = BTreeMap::new();
        a.insert(
            "id".into(),
            AttributeSchema::computed(Str, "The parameter name."),
        );
        a.insert(
            "name".into(),
            AttributeSchema::required(
                Str,
                "Name of the parameter; a hierarchy starts with `/` (`/giggatek/db/password`).",
            )
            .force_new(),
        );
        a.insert(
            "type".into(),
            AttributeSchema::required(Str, "`String`, `StringList` or `SecureString`.").force_new(),
        );
        a.insert(
            "value".into(),
            AttributeSchema::required(
                Str,
                "The value (a comma-separated list for `StringList`), whatever the type; AWS error \
                 messages that quote it have it replaced by `(secret)`.",
            )
            .secret(),
        );
        a.insert(
            "description".into(),
            AttributeSchema::optional(Str, "Description of the parameter."),
        );
        a.insert(
            "tier".into(),
            AttributeSchema::optional(
                Str,
                "`Standard` (values up to 4 KB), `Advanced` (up to 8 KB) or `Intelligent-Tiering`. \
                 AWS refuses to move an Advanced parameter back to Standard.",
            )
            .default("Standard"),
        );
        a.insert(
            "key_id".into(),
            AttributeSchema::optional(
                Str,
                "KMS key (id, ARN or alias) that encrypts a `SecureString`; AWS uses the managed \
                 key `alias/aws/ssm` when unset. Only for `SecureString`.",
            )
            .also_computed(),
        );
        a.insert(
            "data_type".into(),
            AttributeSchema::optional(
                Str,
                "`text`, `aws:ec2:image` (AWS checks the value is an AMI id) or `aws:ssm:integration`.",
            )
            .default("text")
            .force_new(),
        );
        a.insert(
            "allowed_pattern".into(),
            AttributeSchema::optional(Str, "A regular expression the value must match."),
        );
        a.insert("tags".into(), common::tags_schema());
        a.insert(
            "arn".into(),
            AttributeSchema::computed(Str, "ARN of the parameter."),
        );
        a.insert(
            "version".into(),
            AttributeSchema::computed(
                Number,
                "Version of the parameter; every change of value, description, tier, key or \
                 pattern makes a new one.",
            ),
        );
        ResourceSchema {
            type_name: TYPE_NAME.into(),
            description: "A Systems Manager Parameter Store parameter: a named string, list of strings or \
                          KMS-encrypted `SecureString` that instances and applications read at run time \
                          (for example a database password, kept out of user data). The value, description, \
                          tier, key and allowed pattern change in place (each change makes a new version); \
                          a new name, type or data type replaces it. The value is always treated as a secret. \
                          Reading N parameters costs ceil(N/10) GetParameters calls, one DescribeParameters \
                          page per 50 and one ListTagsForResource per parameter."
                .into(),
            version: 1,
            attributes: a,
            example: r#"resource aws.ssm_parameter db_password {
  name        = "/giggatek/${env}/db/password"
  type        = "SecureString"
  value       = random.password.db.result
  description = "Master password of the giggatek database"
  tags        = { Environment = env }
}"#
            .into(),
        }
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        read_many(clients, requests).await
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let spec = Spec::from_value(planned)?;
        let tags = to_sdk_tags(common::all_tags(planned, ctx)?)?;
        let version = put(clients, &spec, Put::Create { tags }).await?;
        ctx.created(spec.name);
        read_after_write(clients, spec.name, version, planned).await
    }

    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        let name = common::req_str(planned, "name")?;
        let out = common::unless_not_found(
            clients
                .ssm
                .list_tags_for_resource()
                .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
                .resource_id(name)
                .send()
                .await
                .map_err(|e| {
                    let e = common::sdk_error("ListTagsForResource", e);
                    // A parameter that does not exist is an invalid resource id here.
                    if common::has_code(&e, "InvalidResourceId") {
                        ProviderError::new(gig_provider::ErrorClass::NotFound, e.code, e.message)
                    } else {
                        e
                    }
                }),
        )?;
        let Some(out) = out else {
            return Ok(Lookup::Found(Vec::new()));
        };
        let tags = out
            .tag_list()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        Ok(common::owned_by([(name.to_string(), tags)], ctx))
    }

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let planned = request.planned;
        let spec = Spec {
            name: request.id,
            ..Spec::from_value(planned)?
        };
        let mut version = common::opt_i64(request.prior, "version")
            .ok()
            .flatten()
            .unwrap_or(0);
        if OVERWRITTEN
            .iter()
            .any(|a| common::changed(request.changed, a))
        {
            let clear_description = spec.description.is_none()
                && common::opt_str(request.prior, "description")?.is_some_and(|d| !d.is_empty());
            let clear_pattern = spec.allowed_pattern.is_none()
                && common::opt_str(request.prior, "allowed_pattern")?
                    .is_some_and(|p| !p.is_empty());
            version = put(
                clients,
                &spec,
                Put::Overwrite {
                    clear_description,
                    clear_pattern,
                },
            )
            .await?;
        }
        if common::changed(request.changed, "tags") {
            update_tags(clients, request.id, request.prior, planned).await?;
        }
        read_after_write(clients, request.id, version, planned).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        let result = clients.ssm.delete_parameter().name(id).send().await;
        common::ignore_not_found(
            result
                .map(|_| ())
                .map_err(|e| ssm_error("DeleteParameter", e)),
        )
    }
}

/// The settable attributes of a parameter, checked before any call.
struct Spec<'a> {
    name: &'a str,
    ptype: &'a str,
    value: &'a str,
    description: Option<&'a str>,
    tier: &'a str,
    key_id: Option<&'a str>,
    data_type: Option<&'a str>,
    allowed_pattern: Option<&'a str>,
}

impl<'a> Spec<'a> {
    /// Reads and checks a Planned value. Messages name attributes, never the value.
    fn from_value(planned: &'a Value) -> Result<Spec<'a>, ProviderError> {
        let name = common::req_str(planned, "name")?;
        if name.is_empty() {
            return Err(ProviderError::invalid_attribute(
                "name",
                "`name` must not be empty",
            ));
        }
        let ptype = common::req_str(planned, "type")?;
        if !TYPES.contains(&ptype) {
            return Err(ProviderError::invalid_attribute(
                "type",
                format!("`type` must be String, StringList or SecureString, got {ptype:?}"),
            ));
        }
        let value = common::req_str(planned, "value")?;
        let tier = common::opt_str(planned, "tier")?.unwrap_or("Standard");
        if !TIERS.contains(&tier) {
            return Err(ProviderError::invalid_attribute(
                "tier",
                format!("`tier` must be Standard, Advanced or Intelligent-Tiering, got {tier:?}"),
            ));
        }
        let key_id = common::opt_str(planned, "key_id")?;
        if key_id.is_some() && ptype != "SecureString" {
            return Err(ProviderError::invalid_attribute(
                "key_id",
                "`key_id` can only be set for a SecureString parameter",
            ));
        }
        Ok(Spec {
            name,
            ptype,
            value,
            description: common::opt_str(planned, "description")?,
            tier,
            key_id,
            data_type: common::opt_str(planned, "data_type")?,
            allowed_pattern: common::opt_str(planned, "allowed_pattern")?,
        })
    }
}

/// How a PutParameter call is made.
enum Put {
    /// A new parameter, with its tags.
    Create { tags: Vec<Tag> },
    /// A new version of an existing one; removed optional strings are sent empty.
    Overwrite {
        clear_description: bool,
        clear_pattern: bool,
    },
}

/// One PutParameter call; returns the version it made. Errors never hold the value.
async fn put(clients: &Clients, spec: &Spec<'_>, how: Put) -> Result<i64, ProviderError> {
    let mut req = clients
        .ssm
        .put_parameter()
        .name(spec.name)
        .value(spec.value)
        .r#type(ParameterType::from(spec.ptype))
        .tier(ParameterTier::from(spec.tier))
        .set_key_id(spec.key_id.map(str::to_string))
        .set_data_type(spec.data_type.map(str::to_string));
    let (clear_description, clear_pattern) = match how {
        Put::Create { tags } => {
            req = req.overwrite(false).set_tags(Some(tags));
            (false, false)
        }
        Put::Overwrite {
            clear_description,
            clear_pattern,
        } => {
            req = req.overwrite(true);
            (clear_description, clear_pattern)
        }
    };
    match spec.description {
        Some(d) => req = req.description(d),
        None if clear_description => req = req.description(""),
        None => {}
    }
    match spec.allowed_pattern {
        Some(p) => req = req.allowed_pattern(p),
        None if clear_pattern => req = req.allowed_pattern(""),
        None => {}
    }
    let out = req
        .send()
        .await
        .map_err(|e| scrub(ssm_error("PutParameter", e), spec.value))?;
    Ok(out.version)
}

/// Reads one parameter after a write: retried while AWS does not show it yet, or shows
/// a version older than the one just written. `planned` stands in for the Prior value
/// (it says whether the tier is Intelligent-Tiering).
async fn read_after_write(
    clients: &Clients,
    name: &str,
    version: i64,
    planned: &Value,
) -> Result<Value, ProviderError> {
    let request = ReadRequest {
        address: String::new(),
        id: name.to_string(),
        prior: planned.clone(),
    };
    let mut call = || async {
        let mut out = read_many(clients, std::slice::from_ref(&request)).await?;
        match out.pop() {
            Some(Ok(Some(v))) if common::opt_i64(&v, "version")?.unwrap_or(0) >= version => Ok(v),
            Some(Err(e)) => Err(e),
            _ => Err(common::not_found(format!(
                "SSM parameter {name} version {version} is not visible yet"
            ))),
        }
    };
    common::retry_on(
        &mut call,
        |e| common::is_not_found(e) || e.is_retryable(),
        6,
    )
    .await
}

/// The batched read; see the module docs for its cost.
async fn read_many(
    clients: &Clients,
    requests: &[ReadRequest],
) -> Result<ReadResults, ProviderError> {
    let names: Vec<String> = requests
        .iter()
        .map(|r| r.id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let params = get_parameters(clients, &names).await?;
    let found: Vec<String> = params.keys().cloned().collect();
    let meta = describe_parameters(clients, &found).await?;
    let intelligent: BTreeSet<&str> = requests
        .iter()
        .filter(|r| common::opt_str(&r.prior, "tier").ok().flatten() == Some(INTELLIGENT_TIERING))
        .map(|r| r.id.as_str())
        .collect();
    let mut values: BTreeMap<&str, Result<Option<Value>, ProviderError>> = BTreeMap::new();
    for (name, p) in &params {
        let entry = match meta.get(name) {
            None => Err(ProviderError::new(
                ErrorClass::Retryable,
                None,
                format!("SSM parameter {name} is not listed by DescribeParameters yet"),
            )),
            Some(m) => match list_tags(clients, name).await {
                Ok(tags) => Ok(Some(to_value(
                    p,
                    m,
                    &tags,
                    intelligent.contains(name.as_str()),
                ))),
                // Deleted between the two calls.
                Err(e) if common::is_not_found(&e) || common::has_code(&e, "InvalidResourceId") => {
                    Ok(None)
                }
                Err(e) => Err(e),
            },
        };
        values.insert(name, entry);
    }
    Ok(requests
        .iter()
        .map(|r| values.get(r.id.as_str()).cloned().unwrap_or(Ok(None)))
        .collect())
}

/// GetParameters (with decryption) in batches of [`GET_BATCH`]; unknown names are absent.
async fn get_parameters(
    clients: &Clients,
    names: &[String],
) -> Result<BTreeMap<String, Parameter>, ProviderError> {
    let mut out = BTreeMap::new();
    for chunk in common::chunks(names, GET_BATCH) {
        let resp = clients
            .ssm
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| ssm_error("GetParameters", e))?;
        for p in resp.parameters() {
            if let Some(name) = p.name() {
                out.insert(name.to_string(), p.clone());
            }
        }
    }
    Ok(out)
}

/// DescribeParameters with a `Name` filter of up to [`DESCRIBE_BATCH`] names per call,
/// following pages.
async fn describe_parameters(
    clients: &Clients,
    names: &[String],
) -> Result<BTreeMap<String, ParameterMetadata>, ProviderError> {
    let mut out = BTreeMap::new();
    for chunk in common::chunks(names, DESCRIBE_BATCH) {
        let filter = ParameterStringFilter::builder()
            .key("Name")
            .option("Equals")
            .set_values(Some(chunk.to_vec()))
            .build()
            .map_err(|e| {
                ProviderError::permanent(format!("building a DescribeParameters filter: {e}"))
            })?;
        let mut pages = clients
            .ssm
            .describe_parameters()
            .parameter_filters(filter)
            .max_results(DESCRIBE_BATCH as i32)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ssm_error("DescribeParameters", e))?;
            for m in page.parameters() {
                if let Some(name) = m.name() {
                    out.insert(name.to_string(), m.clone());
                }
            }
        }
    }
    Ok(out)
}

/// The attribute map of one parameter.
fn to_value(
    p: &Parameter,
    m: &ParameterMetadata,
    tags: &BTreeMap<String, String>,
    keep_intelligent_tiering: bool,
) -> Value {
    let name = p.name().unwrap_or_default();
    let ptype = p.r#type().or(m.r#type()).map(|t| t.as_str().to_string());
    let tier = match m.tier().map(ParameterTier::as_str) {
        _ if keep_intelligent_tiering => INTELLIGENT_TIERING,
        Some(t) => t,
        None => "Standard",
    };
    let key_id = if ptype.as_deref() == Some("SecureString") {
        non_empty(m.key_id()).or(Some(DEFAULT_KEY_ID))
    } else {
        None
    };
    let mut v = BTreeMap::new();
    v.insert("id".to_string(), Value::str(name));
    v.insert("name".to_string(), Value::str(name));
    v.insert("type".to_string(), ptype.map_or(Value::Null, Value::String));
    v.insert(
        "value".to_string(),
        Value::str(p.value().unwrap_or_default()).into_secret(),
    );
    v.insert(
        "description".to_string(),
        common::opt_string(non_empty(m.description())),
    );
    v.insert("tier".to_string(), Value::str(tier));
    v.insert("key_id".to_string(), common::opt_string(key_id));
    v.insert(
        "data_type".to_string(),
        Value::str(
            non_empty(p.data_type())
                .or(non_empty(m.data_type()))
                .unwrap_or("text"),
        ),
    );
    v.insert(
        "allowed_pattern".to_string(),
        common::opt_string(non_empty(m.allowed_pattern())),
    );
    v.insert("tags".to_string(), common::tags_value(tags));
    v.insert(
        "arn".to_string(),
        common::opt_string(non_empty(p.arn()).or(non_empty(m.arn()))),
    );
    v.insert("version".to_string(), Value::from(p.version()));
    Value::Map(v)
}

/// `s` unless it is empty.
fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// Maps an SSM error: as [`sdk_error`], plus `TooManyUpdates` (concurrent changes of one
/// parameter) as throttling, so the engine backs off and retries.
fn ssm_error<E>(
    op: &str,
    err: aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> ProviderError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    let mut e = sdk_error(op, err);
    if common::has_code(&e, "TooManyUpdates") {
        e.class = ErrorClass::Throttled;
    }
    e
}

/// Replaces every occurrence of `secret` in an error's message with `(secret)`.
fn scrub(mut e: ProviderError, secret: &str) -> ProviderError {
    if !secret.is_empty() {
        e.message = e.message.replace(secret, gig_core::value::REDACTED);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_every_copy_of_the_value() {
        let e = ProviderError::new(
            ErrorClass::Permanent,
            Some("ValidationException".into()),
            "Value 'hunter2' at 'value' failed; hunter2 again",
        );
        let e = scrub(e, "hunter2");
        assert_eq!(e.code.as_deref(), Some("ValidationException"));
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        assert!(e.message.contains("(secret)"), "{}", e.message);
        // An empty value scrubs nothing (and does not loop).
        assert_eq!(scrub(ProviderError::permanent("x"), "").message, "x");
    }

    #[test]
    fn spec_checks_name_attributes_not_values() {
        let v = common::object([
            ("name", Value::str("/a")),
            ("type", Value::str("Secret")),
            ("value", Value::str("hunter2").into_secret()),
        ]);
        let e = Spec::from_value(&v).err().expect("bad type refused");
        assert_eq!(e.attribute.as_deref(), Some("type"));
        assert!(!e.message.contains("hunter2"));
        let v = common::object([
            ("name", Value::str("/a")),
            ("type", Value::str("String")),
            ("value", Value::str("hunter2")),
            ("key_id", Value::str("alias/x")),
        ]);
        let e = Spec::from_value(&v)
            .err()
            .expect("key_id on a String refused");
        assert_eq!(e.attribute.as_deref(), Some("key_id"));
        let v = common::object([
            ("name", Value::str("/a")),
            ("type", Value::str("SecureString")),
            ("value", Value::str("hunter2").into_secret()),
        ]);
        let s = Spec::from_value(&v).expect("valid");
        assert_eq!((s.value, s.tier, s.key_id), ("hunter2", "Standard", None));
    }
}
