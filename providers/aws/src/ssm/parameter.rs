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
//! Advanced. When the Prior value says `Intelligent-Tiering`, a read keeps saying so
//! ([`same_tier`]), so the plan stays clean.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ssm::types::{
    Parameter, ParameterMetadata, ParameterStringFilter, ParameterTier, ParameterType, Tag,
};
use gig_core::value::Value;
use gig_provider::{AttrType, ErrorClass, ProviderError, UpdateRequest};

use crate::common::{self, has_code, is_not_found, not_found, opt_str, retry_on, sdk_error};
use crate::model::{computed, optional, required, tags_map, Decl, Model, New};
use crate::ssm::{list_tags, to_sdk_tags};
use crate::tagging::Tagging;
use crate::Clients;

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

/// The `aws.ssm_parameter` resource type.
pub(crate) struct SsmParameter;

#[async_trait]
impl Model for SsmParameter {
    fn decl(&self) -> Decl {
        use AttrType::{Number, String as Str};
        Decl {
            type_name: "aws.ssm_parameter",
            description: "A Systems Manager Parameter Store parameter: a named string, list of strings or \
                          KMS-encrypted `SecureString` that instances and applications read at run time \
                          (for example a database password, kept out of user data). The value, description, \
                          tier, key and allowed pattern change in place (each change makes a new version); \
                          a new name, type or data type replaces it. The value is always treated as a secret. \
                          Reading N parameters costs ceil(N/10) GetParameters calls, one DescribeParameters \
                          page per 50 and one ListTagsForResource per parameter.",
            example: "resource aws.ssm_parameter db_password {\n  name        = \"/giggatek/${env}/db/password\"\n  type        = \"SecureString\"\n  value       = random.password.db.result\n  description = \"Master password of the giggatek database\"\n  tags        = { Environment = env }\n}",
            id: "parameter name",
            id_attr: Some("name"),
            attrs: vec![
                required("name", Str, "Name of the parameter; a hierarchy starts with `/` (`/giggatek/db/password`).").force_new(),
                required("type", Str, "`String`, `StringList` or `SecureString`.").force_new(),
                required("value", Str, "The value (a comma-separated list for `StringList`), whatever the type; AWS error \
                 messages that quote it have it replaced by `(secret)`.").secret(),
                optional("description", Str, "Description of the parameter."),
                optional("tier", Str, "`Standard` (values up to 4 KB), `Advanced` (up to 8 KB) or `Intelligent-Tiering`. \
                 AWS refuses to move an Advanced parameter back to Standard.").default("Standard").same_as(same_tier),
                optional("key_id", Str, "KMS key (id, ARN or alias) that encrypts a `SecureString`; AWS uses the managed \
                 key `alias/aws/ssm` when unset. Only for `SecureString`.").also_computed(),
                optional("data_type", Str, "`text`, `aws:ec2:image` (AWS checks the value is an AMI id) or `aws:ssm:integration`.").default("text").force_new(),
                optional("allowed_pattern", Str, "A regular expression the value must match."),
                computed("arn", Str, "ARN of the parameter."),
                computed("version", Number, "Version of the parameter; every change of value, description, tier, key or \
                 pattern makes a new one."),
            ],
            tags: Some(Tagging::SsmParameter),
            ..Decl::default()
        }
    }

    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let params = get_parameters(clients, &ids).await?;
        let found: Vec<String> = params.keys().cloned().collect();
        let meta = describe_parameters(clients, &found).await?;
        let mut out = BTreeMap::new();
        for (name, p) in &params {
            let Some(m) = meta.get(name) else {
                return Err(ProviderError::new(
                    ErrorClass::Retryable,
                    None,
                    format!("SSM parameter {name} is not listed by DescribeParameters yet"),
                ));
            };
            match list_tags(clients, name).await {
                Ok(tags) => {
                    out.insert(name.clone(), to_value(p, m, &tags));
                }
                // Deleted between the two calls.
                Err(e) if is_not_found(&e) || has_code(&e, "InvalidResourceId") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn create(
        &self,
        clients: &Clients,
        _decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError> {
        let spec = Spec::from_value(new.planned)?;
        let tags = to_sdk_tags(new.tags)?;
        let version = put(clients, &spec, Put::Create { tags }).await?;
        new.ctx.created(spec.name);
        shows_version(clients, spec.name, version).await?;
        Ok(spec.name.to_string())
    }

    async fn update(
        &self,
        clients: &Clients,
        _decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let spec = Spec {
            name: req.id,
            ..Spec::from_value(req.planned)?
        };
        let clear_description = spec.description.is_none()
            && opt_str(req.prior, "description")?.is_some_and(|d| !d.is_empty());
        let clear_pattern = spec.allowed_pattern.is_none()
            && opt_str(req.prior, "allowed_pattern")?.is_some_and(|p| !p.is_empty());
        let how = Put::Overwrite {
            clear_description,
            clear_pattern,
        };
        let version = put(clients, &spec, how).await?;
        shows_version(clients, req.id, version).await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _decl: &Decl,
        id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        clients
            .ssm
            .delete_parameter()
            .name(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ssm_error("DeleteParameter", e))
    }
}

/// Intelligent-Tiering is a tier policy: AWS reports the tier it chose (Standard or
/// Advanced), which means the same as the policy asked for.
fn same_tier(now: &str, before: &str) -> bool {
    now == before || (before == INTELLIGENT_TIERING && ["Standard", "Advanced"].contains(&now))
}

/// Waits (briefly) until GetParameters shows `version` or a newer one of `name`, so the
/// read-back after a write never shows the version before it.
async fn shows_version(clients: &Clients, name: &str, version: i64) -> Result<(), ProviderError> {
    let mut call = || async {
        match get_parameters(clients, &[name.to_string()])
            .await?
            .get(name)
        {
            Some(p) if p.version() >= version => Ok(()),
            _ => Err(not_found(format!(
                "SSM parameter {name} version {version} is not visible yet"
            ))),
        }
    };
    retry_on(&mut call, |e| is_not_found(e) || e.is_retryable(), 6).await
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
fn to_value(p: &Parameter, m: &ParameterMetadata, tags: &BTreeMap<String, String>) -> Value {
    let name = p.name().unwrap_or_default();
    let ptype = p.r#type().or(m.r#type()).map(|t| t.as_str().to_string());
    let tier = m.tier().map_or("Standard", ParameterTier::as_str);
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
    v.insert("tags".to_string(), tags_map(tags.clone()));
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
