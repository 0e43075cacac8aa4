//! gig's `random` provider: ids and passwords generated locally, kept in state.
//!
//! Nothing here talks to a cloud. A value is generated once, on create, from the
//! operating system's entropy (through `rand`'s thread-local CSPRNG, which is seeded
//! from the OS) and then lives only in state: `read` returns the Prior value unchanged,
//! `delete` forgets it, and there is nothing to update in place — every input is
//! force-new, so changing `keepers` (or anything else) replaces the resource and a fresh
//! value is generated.
//!
//! Resource types:
//! - `random.id`: `byte_length` random bytes, rendered as base64url (`id`, `b64_url`),
//!   base64 (`b64_std`), hex (`hex`) and decimal (`dec`), each with an optional `prefix`.
//! - `random.password`: a password of `length` characters drawn from the enabled
//!   classes (upper, lower, numeric, special) with per-class minimum counts. `result`
//!   is always wrapped in [`Value::Secret`], so it is never shown or logged.

#![warn(missing_docs)]

mod id;
mod password;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{
    ErrorClass, Lookup, OpContext, Provider, ProviderError, ProviderFactory, ProviderSchema,
    ReadRequest, UpdateRequest,
};

/// The `random` provider's factory: register it in the CLI's [`gig_provider::Registry`].
pub struct RandomFactory {
    schema: ProviderSchema,
}

impl RandomFactory {
    /// A factory with the full schema of `random.id` and `random.password`.
    pub fn new() -> RandomFactory {
        let mut resources = BTreeMap::new();
        resources.insert(id::TYPE.to_string(), id::schema());
        resources.insert(password::TYPE.to_string(), password::schema());
        RandomFactory {
            schema: ProviderSchema {
                name: "random".to_string(),
                settings: BTreeMap::new(),
                resources,
                data_sources: BTreeMap::new(),
            },
        }
    }
}

impl Default for RandomFactory {
    fn default() -> RandomFactory {
        RandomFactory::new()
    }
}

#[async_trait]
impl ProviderFactory for RandomFactory {
    fn name(&self) -> &'static str {
        "random"
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    async fn configure(&self, settings: &Value) -> Result<Arc<dyn Provider>, ProviderError> {
        if let Some(map) = settings.as_map() {
            if let Some(key) = map.keys().next() {
                return Err(ProviderError::invalid_attribute(
                    key,
                    format!("the random provider takes no settings, but `{key}` was given"),
                ));
            }
        }
        Ok(Arc::new(RandomProvider))
    }
}

/// The configured provider; stateless.
struct RandomProvider;

#[async_trait]
impl Provider for RandomProvider {
    async fn read(
        &self,
        rtype: &str,
        requests: &[ReadRequest],
    ) -> Result<Vec<Result<Option<Value>, ProviderError>>, ProviderError> {
        check_type(rtype)?;
        Ok(requests
            .iter()
            .map(|r| {
                if r.prior.is_null() {
                    // An import: only `random.id` can be rebuilt from its id.
                    import(rtype, &r.id).map(Some)
                } else {
                    Ok(Some(r.prior.clone()))
                }
            })
            .collect())
    }

    /// A random value lives only in state: a create whose result was lost made nothing
    /// anywhere else, and making a new value is safe.
    async fn find_created(
        &self,
        _ctx: &OpContext,
        _rtype: &str,
        _planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Repeatable)
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        rtype: &str,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let inputs = planned.as_map().ok_or_else(|| {
            ProviderError::permanent(format!("{rtype}: the planned value is not an object"))
        })?;
        match rtype {
            id::TYPE => id::create(inputs),
            password::TYPE => password::create(inputs),
            other => Err(unknown_type(other)),
        }
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        rtype: &str,
        request: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        check_type(rtype)?;
        // Every input is force-new, so an update can only carry attributes that do not
        // change the generated value; keep the Prior value (with its computed results)
        // and take the settable attributes from the Planned value.
        let mut value = request.prior.as_map().cloned().unwrap_or_default();
        if let Some(planned) = request.planned.as_map() {
            for (k, v) in planned {
                if v.is_known() && !is_computed(rtype, k) {
                    value.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(Value::Map(value))
    }

    async fn delete(
        &self,
        _ctx: &OpContext,
        rtype: &str,
        _id: &str,
        _prior: &Value,
    ) -> Result<(), ProviderError> {
        check_type(rtype)
    }
}

fn is_computed(rtype: &str, attr: &str) -> bool {
    match rtype {
        id::TYPE => id::COMPUTED.contains(&attr),
        password::TYPE => password::COMPUTED.contains(&attr),
        _ => false,
    }
}

fn import(rtype: &str, id: &str) -> Result<Value, ProviderError> {
    match rtype {
        id::TYPE => id::import(id),
        _ => Err(ProviderError::new(
            ErrorClass::Permanent,
            None,
            format!("{rtype} cannot be imported: its value exists only in state"),
        )),
    }
}

fn check_type(rtype: &str) -> Result<(), ProviderError> {
    match rtype {
        id::TYPE | password::TYPE => Ok(()),
        other => Err(unknown_type(other)),
    }
}

fn unknown_type(rtype: &str) -> ProviderError {
    ProviderError::permanent(format!("the random provider has no resource type {rtype}"))
}

/// Reads an optional whole-number attribute; `Ok(None)` when absent or null.
fn opt_count(inputs: &BTreeMap<String, Value>, name: &str) -> Result<Option<u64>, ProviderError> {
    match inputs.get(name) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 0 => Ok(Some(n as u64)),
            _ => Err(ProviderError::invalid_attribute(
                name,
                format!("`{name}` must be a whole number of at least 0"),
            )),
        },
    }
}

/// Reads an optional bool attribute with a default.
fn opt_bool(
    inputs: &BTreeMap<String, Value>,
    name: &str,
    default: bool,
) -> Result<bool, ProviderError> {
    match inputs.get(name) {
        None => Ok(default),
        Some(v) if v.is_null() => Ok(default),
        Some(v) => v.as_bool().ok_or_else(|| {
            ProviderError::invalid_attribute(name, format!("`{name}` must be a bool"))
        }),
    }
}

/// Reads an optional string attribute.
fn opt_string(
    inputs: &BTreeMap<String, Value>,
    name: &str,
) -> Result<Option<String>, ProviderError> {
    match inputs.get(name) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => v.as_str().map(|s| Some(s.to_string())).ok_or_else(|| {
            ProviderError::invalid_attribute(name, format!("`{name}` must be a string"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> OpContext {
        OpContext {
            address: "random.id.x".into(),
            stack: "s".into(),
            env: "default".into(),
            ..OpContext::default()
        }
    }

    #[tokio::test]
    async fn factory_rejects_settings_and_configures_with_none() {
        let f = RandomFactory::new();
        assert_eq!(f.name(), "random");
        let settings = Value::Map([("x".to_string(), Value::from(1i64))].into());
        assert!(f.configure(&settings).await.is_err());
        assert!(f.configure(&Value::Map(BTreeMap::new())).await.is_ok());
        assert!(f.configure(&Value::Null).await.is_ok());
    }

    #[tokio::test]
    async fn read_returns_prior_unchanged_and_delete_is_a_no_op() {
        let p = RandomFactory::new().configure(&Value::Null).await.unwrap();
        let planned = Value::Map([("byte_length".to_string(), Value::from(8i64))].into());
        let created = p.create(&ctx(), "random.id", &planned).await.unwrap();
        let id = created
            .get("id")
            .and_then(Value::as_str)
            .unwrap()
            .to_string();
        let req = ReadRequest {
            address: "random.id.x".into(),
            id: id.clone(),
            prior: created.clone(),
        };
        let out = p.read("random.id", &[req]).await.unwrap();
        assert_eq!(out, vec![Ok(Some(created.clone()))]);
        p.delete(&ctx(), "random.id", &id, &created).await.unwrap();
    }

    #[tokio::test]
    async fn import_rebuilds_an_id_from_its_base64url_form() {
        let p = RandomFactory::new().configure(&Value::Null).await.unwrap();
        let imported = p
            .import(&ctx(), "random.id", "3q2-7w")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            imported.get("hex").and_then(Value::as_str),
            Some("deadbeef")
        );
        assert_eq!(imported.get("byte_length").and_then(Value::as_i64), Some(4));
        assert!(p
            .import(&ctx(), "random.password", "hunter2")
            .await
            .is_err());
    }

    #[tokio::test]
    async fn update_keeps_the_generated_values() {
        let p = RandomFactory::new().configure(&Value::Null).await.unwrap();
        let planned = Value::Map([("length".to_string(), Value::from(12i64))].into());
        let prior = p.create(&ctx(), "random.password", &planned).await.unwrap();
        let mut changed = planned.as_map().unwrap().clone();
        changed.insert("result".into(), Value::Unknown);
        let changed = Value::Map(changed);
        let req = UpdateRequest {
            id: "none",
            prior: &prior,
            planned: &changed,
            changed: &[],
        };
        let new = p.update(&ctx(), "random.password", req).await.unwrap();
        assert_eq!(new.get("result"), prior.get("result"));
    }

    #[tokio::test]
    async fn unknown_types_are_permanent_errors() {
        let p = RandomFactory::new().configure(&Value::Null).await.unwrap();
        let err = p
            .create(&ctx(), "random.uuid", &Value::Map(BTreeMap::new()))
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Permanent);
    }

    /// docs/resources/random.*.md are generated from the schema; `UPDATE_EXPECT=1`
    /// rewrites them. A page whose type is gone must be deleted by hand.
    #[test]
    fn docs_pages_match_the_schema() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/resources");
        let factory = RandomFactory::new();
        let schema = factory.schema();
        for (file, page) in gig_provider::docs::pages(schema) {
            expect_test::expect_file![dir.join(file)].assert_eq(&page);
        }
        let orphans = gig_provider::docs::orphan_pages(&dir, schema);
        assert!(orphans.is_empty(), "pages of no type: {orphans:?}");
    }

    #[test]
    fn every_schema_has_descriptions_and_an_example() {
        let f = RandomFactory::new();
        for (name, r) in &f.schema().resources {
            assert!(!r.description.is_empty(), "{name}");
            assert!(r.example.contains(&format!("resource {name} ")), "{name}");
            for (attr, a) in &r.attributes {
                assert!(!a.description.is_empty(), "{name}.{attr}");
                assert!(
                    a.computed || a.force_new,
                    "{name}.{attr} must be computed or force-new"
                );
            }
            assert!(r.attributes.get("id").is_some_and(|a| a.computed));
        }
    }
}
