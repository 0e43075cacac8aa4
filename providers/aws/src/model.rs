//! The declarative resource model: one [`Decl`] per resource type says what the type is
//! (attributes, naming, tags, waits, delete retries) and a generic driver, [`Modeled`],
//! runs the steps every type shares.
//!
//! A type module implements [`Model`]: its declaration, a batched `fetch` of objects by
//! id, `create` (returning the id it reported through [`OpContext::created`]), `update`
//! of what changed besides tags, and `delete`. Everything else is derived here:
//!
//! - the [`ResourceSchema`] (and so the docs page): the declared attributes plus `id`,
//!   `tags` when the type is taggable, `name`/`name_prefix` when it is named and
//!   `timeouts` when it waits;
//! - **reads**: batched through [`batched_read`]; absent ids are gone; gig's own tags are
//!   dropped from `tags`; secret attributes are marked secret; JSON documents that mean
//!   the same as the Prior (or Planned) text keep that text, so `jsonencode` output and
//!   AWS's re-serialised policy never show as drift;
//! - **names**: `name`, else `name_prefix` plus a suffix fixed per create (from the
//!   create's token), else, when the declaration allows it, a name derived from stack,
//!   env and address;
//! - **create**: user tags plus gig's tags are handed to the type, and the object is read
//!   back (retrying while AWS does not show it yet);
//! - **update**: the type's `update` (or `update_with_id`, when an update in place
//!   gives the object a new id) sees only the changes other than tags; tags go
//!   through one implementation per tagging API ([`Tagging`]); a change no update
//!   handles is a permanent error rather than silently ignored;
//! - **delete**: an object already gone is deleted; the declared "still in use" codes are
//!   retried with backoff; a type that declares `waits` is then awaited until gone;
//! - **find_created**: a named type whose id is its name looks the name up and keeps it
//!   only when it carries this create's gig tags.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use gig_core::value::Value;
use gig_provider::{
    AttrType, AttributeSchema, Lookup, OpContext, ProviderError, ReadRequest, ResourceSchema,
    UpdateRequest,
};

use crate::common::{
    all_tags, batched_read, gig_tags, has_code, ignore_not_found, is_not_found, not_found,
    retry_not_found, retry_on, tag_diff, tags_schema, timeout_setting, timeouts_schema,
    user_tags_of, wait_until, Poll, GIG_TAG_PREFIX,
};
use crate::tagging::Tagging;
use crate::{Clients, ReadResults, ResourceType};

/// What a resource type is, declared once.
#[derive(Default)]
pub(crate) struct Decl {
    /// Full type name, `aws.iam_role`.
    pub type_name: &'static str,
    /// The docs paragraph.
    pub description: &'static str,
    /// An example block for the docs.
    pub example: &'static str,
    /// Version of the stored attribute layout.
    pub version: u32,
    /// What the id is, for its description ("role name" gives "The role name.").
    pub id: &'static str,
    /// The whole description of `id`, when "The {id}." does not read well (a composite
    /// id's format); empty otherwise.
    pub id_doc: &'static str,
    /// The type's own attributes.
    pub attrs: Vec<Attr>,
    /// How tags are written, when the type has tags.
    pub tags: Option<Tagging>,
    /// How the AWS name is chosen, when the type has one.
    pub naming: Option<Naming>,
    /// The longest `name_prefix` accepted, when AWS's (or Terraform's) rule is tighter
    /// than "room for an 8-character suffix" (load balancers: 6, so the prefix plus
    /// Terraform's 26-character suffix fits 32); 0 when there is no such rule.
    pub name_prefix_max: usize,
    /// Default waiting limits, when the type waits (adds `timeouts { … }`).
    pub waits: Option<Waits>,
    /// AWS codes that mean "still in use, try again" on delete (besides
    /// `DependencyViolation`), and how many attempts a delete gets.
    pub busy: &'static [&'static str],
    /// Attempts of a delete that meets a busy code (1 when unset).
    pub delete_attempts: u32,
    /// The attribute whose value is the id, for types named by an attribute of their own
    /// (`cluster_id`, or a required `name` without [`Naming`]): `find_created` looks that
    /// value up.
    pub id_attr: Option<&'static str>,
    /// Sending the create again makes nothing new (an attach, a put that replaces the
    /// object of that name), so an interrupted create needs no lookup.
    pub repeatable_create: bool,
    /// For EC2 objects tagged on create: DescribeTags' name of the object's type (`vpc`,
    /// `subnet`); `find_created` then looks the create's gig tags up.
    pub ec2_tagged: Option<&'static str>,
}

/// One declared attribute.
pub(crate) struct Attr {
    name: &'static str,
    schema: AttributeSchema,
    /// When set, a string read back that means the same as the reference string (by
    /// this comparison) keeps the reference's spelling.
    same: Option<fn(&str, &str) -> bool>,
    /// A gig setting AWS does not hold: carried from the Prior or Planned value (the
    /// default on import).
    setting: bool,
    /// AWS gives it only through a call per object: carried from the Prior or Planned
    /// value, read through [`Model::fetch_on_import`] when there is none (an import).
    on_import: bool,
    /// Null or empty read back means "not reported", never "none": the reference's value
    /// is kept.
    kept_when_unreported: bool,
    /// AWS takes it but never returns it (a master password): carried from the Prior or
    /// Planned value like a setting, yet still sent to the type's `update` when it changes.
    write_only: bool,
}

/// The key under which a fetched value may carry the object's lifecycle state for
/// [`Model::pending`] without declaring it as an attribute.
pub(crate) const STATUS: &str = "status";

/// An optional attribute.
pub(crate) fn optional(name: &'static str, ty: AttrType, description: &str) -> Attr {
    attr(name, AttributeSchema::optional(ty, description))
}

/// A required attribute.
pub(crate) fn required(name: &'static str, ty: AttrType, description: &str) -> Attr {
    attr(name, AttributeSchema::required(ty, description))
}

/// An attribute whose schema is built elsewhere (a shared block such as ELBv2's actions).
pub(crate) fn attr(name: &'static str, schema: AttributeSchema) -> Attr {
    Attr {
        name,
        schema,
        same: None,
        setting: false,
        on_import: false,
        kept_when_unreported: false,
        write_only: false,
    }
}

/// A read-only attribute AWS sets.
pub(crate) fn computed(name: &'static str, ty: AttrType, description: &str) -> Attr {
    attr(name, AttributeSchema::computed(ty, description))
}

impl Attr {
    /// Changing it replaces the object.
    pub fn force_new(self) -> Attr {
        Attr {
            schema: self.schema.force_new(),
            ..self
        }
    }

    /// The value AWS applies when it is unset.
    pub fn default(self, value: impl Into<Value>) -> Attr {
        Attr {
            schema: self.schema.default(value),
            ..self
        }
    }

    /// When unset, AWS's value is kept (no diff).
    pub fn also_computed(self) -> Attr {
        Attr {
            schema: self.schema.also_computed(),
            ..self
        }
    }

    /// A secret: read back marked secret, so it never appears in output, JSON or logs.
    pub fn secret(self) -> Attr {
        Attr {
            schema: self.schema.secret(),
            ..self
        }
    }

    /// A JSON document given as a string: compared by meaning, not spelling.
    pub fn json(self) -> Attr {
        self.same_as(same_json)
    }

    /// Read-back text equal to the reference by `same` keeps the reference's spelling
    /// (a key id against the key's ARN, a JSON document against its re-serialisation).
    pub fn same_as(self, same: fn(&str, &str) -> bool) -> Attr {
        Attr {
            same: Some(same),
            ..self
        }
    }

    /// A computed value AWS assigns anew on every update in place (a template's
    /// latest version): unknown in the plan of an update.
    pub fn recomputed_on_update(self) -> Attr {
        Attr {
            schema: self.schema.recomputed_on_update(),
            ..self
        }
    }

    /// Plain text the type base64-encodes before sending it (user data).
    pub fn encoded_by_provider(self) -> Attr {
        Attr {
            schema: self.schema.encoded_by_provider(),
            ..self
        }
    }

    /// A value AWS shows only through a call per object (an instance's user data): a
    /// read keeps the Prior value, an import reads it with [`Model::fetch_on_import`].
    pub fn read_on_import(self) -> Attr {
        Attr {
            on_import: true,
            ..self
        }
    }

    /// AWS may leave it out of a description although it always has a value (the
    /// security groups of a VPC cache cluster): read back null or empty, the Prior (or
    /// Planned) value is kept instead of showing a change nobody made.
    pub fn kept_when_unreported(self) -> Attr {
        Attr {
            kept_when_unreported: true,
            ..self
        }
    }

    /// A secret AWS accepts but never returns (a DB instance's master password): read
    /// back from the Prior (or Planned) value, marked secret, and, unlike a
    /// [`setting`](Attr::setting), handed to the type's `update` when it changes.
    pub fn write_only(self) -> Attr {
        Attr {
            schema: self.schema.secret(),
            write_only: true,
            ..self
        }
    }

    /// A gig setting AWS does not store (how long a deleted key waits): carried from
    /// state, the declared default on import.
    pub fn setting(self) -> Attr {
        Attr {
            setting: true,
            ..self
        }
    }
}

/// How a named type's AWS name is chosen.
pub(crate) struct Naming {
    /// The longest name AWS accepts.
    pub max_len: usize,
    /// Whether a name is derived from stack, env and address when neither `name` nor
    /// `name_prefix` is set; otherwise `name` or `name_prefix` is required.
    pub derived: bool,
    /// Whether the object's id is its name (then `find_created` looks the name up).
    pub id_is_name: bool,
}

/// Default waiting limits per operation; the user's `timeouts { … }` override them.
#[derive(Clone, Copy)]
pub(crate) struct Waits {
    /// Waiting for a create.
    pub create: Duration,
    /// Waiting for an update.
    pub update: Duration,
    /// Waiting for a delete.
    pub delete: Duration,
}

impl Decl {
    /// The schema produced from the declaration.
    pub fn schema(&self) -> ResourceSchema {
        let mut a: BTreeMap<String, AttributeSchema> = self
            .attrs
            .iter()
            .map(|x| (x.name.to_string(), x.schema.clone()))
            .collect();
        let id_doc = match self.id_doc {
            "" => format!("The {}.", self.id),
            doc => doc.to_string(),
        };
        a.insert(
            "id".into(),
            AttributeSchema::computed(AttrType::String, &id_doc),
        );
        if self.tags.is_some() {
            a.insert("tags".into(), tags_schema());
        }
        a.extend(self.naming_attributes());
        if self.waits.is_some() {
            a.insert("timeouts".into(), timeouts_schema());
        }
        ResourceSchema {
            type_name: self.type_name.to_string(),
            description: self.description.to_string(),
            version: self.version.max(1),
            attributes: a,
            example: self.example.to_string(),
        }
    }

    /// `name` and `name_prefix` as a named type declares them (none when unnamed); also
    /// used by hand-written types that share the naming rules.
    pub fn naming_attributes(&self) -> Vec<(String, AttributeSchema)> {
        let Some(n) = &self.naming else {
            return Vec::new();
        };
        let fallback = if n.derived {
            "When neither `name` nor `name_prefix` is set, gig derives a stable lower-case name from stack, env and address."
        } else {
            "One of `name` and `name_prefix` must be set."
        };
        let prefix_limit = match self.name_prefix_max {
            0 => String::new(),
            max => format!(" At most {max} characters."),
        };
        vec![
            (
                "name".into(),
                AttributeSchema::optional(
                    AttrType::String,
                    &format!(
                        "The AWS name (at most {} characters). {fallback}",
                        n.max_len
                    ),
                )
                .also_computed()
                .force_new(),
            ),
            (
                "name_prefix".into(),
                AttributeSchema::optional(
                    AttrType::String,
                    &format!("A name prefix: gig appends a suffix fixed for each create, so a create-before-destroy replacement gets a new name.{prefix_limit}"),
                )
                .force_new(),
            ),
        ]
    }

    /// The wait limit for `op` (`create`, `update`, `delete`): the user's setting in
    /// `value`, else the declared default (five minutes when the type declares none).
    pub fn timeout(&self, value: &Value, op: &str) -> Duration {
        let default = self.waits.map_or(Duration::from_secs(300), |w| match op {
            "create" => w.create,
            "update" => w.update,
            _ => w.delete,
        });
        timeout_setting(value, op, default)
    }

    /// The AWS name for a create of `planned`: see the module docs.
    pub fn resolve_name(
        &self,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Option<String>, ProviderError> {
        let Some(n) = &self.naming else {
            return Ok(None);
        };
        let set = |attr| {
            planned
                .get(attr)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if let Some(name) = set("name") {
            return Ok(Some(name));
        }
        if let Some(prefix) = set("name_prefix") {
            if self.name_prefix_max > 0 && prefix.chars().count() > self.name_prefix_max {
                return Err(ProviderError::invalid_attribute(
                    "name_prefix",
                    format!(
                        "`name_prefix` has at most {} characters (the suffix takes the rest of the {} a name may have)",
                        self.name_prefix_max, n.max_len
                    ),
                ));
            }
            return prefixed_name(ctx, planned, &prefix, n.max_len).map(Some);
        }
        if !n.derived {
            return Err(ProviderError::invalid_attribute(
                "name",
                "`name` or `name_prefix` is required",
            ));
        }
        let label: String = format!("{}-{}-{}", ctx.stack, ctx.env, local_name(&ctx.address))
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let hash = digest(&format!("{}\0{}\0{}", ctx.stack, ctx.env, ctx.address));
        let keep = n.max_len.saturating_sub(9).min(label.len());
        Ok(Some(format!("{}-{}", &label[..keep], &hash[..8])))
    }
}

/// `prefix` plus a suffix fixed for this create (from its token, so a retried create
/// reuses the name and a create-before-destroy replacement gets a new one), within
/// `max_len` characters.
pub(crate) fn prefixed_name(
    ctx: &OpContext,
    planned: &Value,
    prefix: &str,
    max_len: usize,
) -> Result<String, ProviderError> {
    let seed = ctx
        .token
        .clone()
        .unwrap_or_else(|| crate::common::client_token(ctx, planned, "name"));
    let room = max_len.saturating_sub(prefix.len()).min(26);
    if room < 8 {
        return Err(ProviderError::invalid_attribute(
            "name_prefix",
            format!(
                "`name_prefix` leaves no room for the unique suffix: names have at most {max_len} characters and the suffix takes 8"
            ),
        ));
    }
    Ok(format!("{prefix}{}", &digest(&seed)[..room]))
}

/// The part of an address after the type: `app` of `aws.iam_role.app`.
fn local_name(address: &str) -> &str {
    address.splitn(3, '.').nth(2).unwrap_or(address)
}

fn digest(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// A create, as the driver hands it to a type.
pub(crate) struct New<'a> {
    /// Who asks; report the id through `ctx.created` the moment AWS returns it.
    pub ctx: &'a OpContext,
    /// The Planned value.
    pub planned: &'a Value,
    /// The resolved AWS name, for named types.
    pub name: Option<String>,
    /// User tags plus gig's own, to write with the create.
    pub tags: BTreeMap<String, String>,
}

/// The AWS calls and mapping specific to one resource type.
#[async_trait]
pub(crate) trait Model: Send + Sync + 'static {
    /// The declaration.
    fn decl(&self) -> Decl;

    /// Reads up to 50 objects by id; ids not found are simply absent. The `tags` of each
    /// value are every tag AWS has (gig's included: the driver drops them).
    async fn fetch(
        &self,
        clients: &Clients,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Value>, ProviderError>;

    /// Creates the object and returns its id (already reported through `ctx.created`).
    async fn create(
        &self,
        clients: &Clients,
        decl: &Decl,
        new: New<'_>,
    ) -> Result<String, ProviderError>;

    /// Updates in place what changed besides `tags` (`req.changed` lists only those).
    /// By default nothing can change in place.
    async fn update(
        &self,
        clients: &Clients,
        decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<(), ProviderError> {
        let _ = (clients, decl);
        Err(ProviderError::invalid_attribute(
            req.changed.first().map_or("id", String::as_str),
            format!(
                "`{}` cannot change in place",
                req.changed.first().map_or("", String::as_str)
            ),
        ))
    }

    /// Updates in place like `update` and returns the object's new id when the update
    /// gave it one (ReplaceRouteTableAssociation answers with a new association id);
    /// `None` keeps the id. By default it is `update`, which keeps the id. The driver
    /// calls this one, so a type overrides either.
    async fn update_with_id(
        &self,
        clients: &Clients,
        decl: &Decl,
        req: UpdateRequest<'_>,
    ) -> Result<Option<String>, ProviderError> {
        self.update(clients, decl, req).await.map(|()| None)
    }

    /// Deletes the object (a NotFound answer counts as deleted).
    async fn delete(
        &self,
        clients: &Clients,
        decl: &Decl,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError>;

    /// For a read without a Prior value (an import) of a type that declares attributes
    /// `.read_on_import()`: those attributes of object `id`, which `fetch` leaves out.
    async fn fetch_on_import(
        &self,
        clients: &Clients,
        id: &str,
    ) -> Result<BTreeMap<String, Value>, ProviderError> {
        let _ = (clients, id);
        Ok(BTreeMap::new())
    }

    /// Whether a fetched object is still settling: the state to report (`creating`,
    /// `modifying`), `None` when ready. Consulted only for types that declare `waits`.
    /// A fetch may put the state under [`STATUS`] for this; the driver drops that key from
    /// read values unless the type declares an attribute of that name.
    fn pending(&self, value: &Value) -> Option<String> {
        let _ = value;
        None
    }

    /// A fetched value made presentable against `reference` (the Prior or Planned
    /// value), before the driver's own settling: a type whose read-back shape depends on
    /// how the configuration wrote it (rules grouped into the configured blocks) does that
    /// here. By default the value as fetched.
    fn present(&self, read: Value, reference: &Value) -> Value {
        let _ = reference;
        read
    }

    /// Whether a fetched object will never settle (`create-failed`): the reason, ending
    /// the wait with a permanent error instead of waiting out the timeout.
    fn failed(&self, value: &Value) -> Option<String> {
        let _ = value;
        None
    }

    /// What the tagging API names the object by: its id unless overridden. Not asked
    /// for APIs that name objects by their `arn` attribute ([`Tagging::by_arn`]).
    fn tag_target(&self, id: &str, value: &Value) -> String {
        let _ = value;
        id.to_string()
    }

    /// Finds an object an interrupted create may have made. By default a create the
    /// declaration calls repeatable needs no lookup, an EC2 object declared
    /// `ec2_tagged` is found by its gig tags, and a type whose id is its name (or its
    /// `id_attr`) is looked up by the name this create would use.
    async fn find_created(
        &self,
        clients: &Clients,
        decl: &Decl,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        if decl.repeatable_create {
            return Ok(Lookup::Repeatable);
        }
        if let Some(kind) = decl.ec2_tagged {
            return crate::ec2::find_tagged(clients, ctx, kind).await;
        }
        let id = match (&decl.naming, decl.id_attr) {
            (_, Some(attr)) => crate::common::req_str(planned, attr)?.to_string(),
            (Some(n), None) if n.id_is_name => match decl.resolve_name(ctx, planned)? {
                Some(name) => name,
                None => return Ok(Lookup::Unsupported),
            },
            _ => return Ok(Lookup::Unsupported),
        };
        let found = self.fetch(clients, vec![id]).await?;
        Ok(owned(found, ctx))
    }
}

/// The ids of `found` (values as `fetch` returns them) that carry every gig tag of `ctx`.
pub(crate) fn owned(found: BTreeMap<String, Value>, ctx: &OpContext) -> Lookup {
    let marks = gig_tags(ctx);
    Lookup::Found(
        found
            .into_iter()
            .filter(|(_, v)| {
                marks.iter().all(|(k, want)| {
                    v.get("tags").and_then(|t| t.get(k)).and_then(Value::as_str) == Some(want)
                })
            })
            .map(|(id, _)| id)
            .collect(),
    )
}

/// A [`Model`] as the provider's [`ResourceType`]: the generic driver.
pub(crate) struct Modeled<M: Model> {
    model: M,
    decl: Decl,
}

impl<M: Model> Modeled<M> {
    /// The driver for `model`.
    pub fn new(model: M) -> Modeled<M> {
        let decl = model.decl();
        Modeled { model, decl }
    }

    /// `read` with the `.read_on_import()` attributes that `prior` does not hold read
    /// from AWS (one call per object, so only on import).
    async fn complete(
        &self,
        clients: &Clients,
        id: &str,
        mut read: Value,
        prior: &Value,
    ) -> Result<Value, ProviderError> {
        let missing = self
            .decl
            .attrs
            .iter()
            .any(|a| a.on_import && prior.as_map().is_none_or(|p| !p.contains_key(a.name)));
        if missing {
            let extra = self.model.fetch_on_import(clients, id).await?;
            if let Value::Map(m) = &mut read {
                m.extend(extra);
            }
        }
        Ok(read)
    }

    /// Whether a change of `name` goes to the type's `update`: its declared settable
    /// attributes (write-only ones included), not gig settings (kept in state only), tags
    /// (the driver's) or `timeouts`; a computed attribute is AWS's to change, never the
    /// user's.
    fn sent_on_update(&self, name: &str) -> bool {
        self.decl
            .attrs
            .iter()
            .any(|a| a.name == name && a.schema.settable() && !a.setting)
    }

    /// `read` made presentable against `reference` (the Prior or Planned value).
    fn settle(&self, read: Value, reference: &Value) -> Value {
        let mut read = self.model.present(read, reference);
        let Value::Map(m) = &mut read else {
            return read;
        };
        if let Some(Value::Map(tags)) = m.get_mut("tags") {
            tags.retain(|k, _| !k.starts_with(GIG_TAG_PREFIX));
        }
        // A fetch may report the object's lifecycle state under `status` for `pending`;
        // it is no attribute unless the type declares one of that name.
        if !self.decl.attrs.iter().any(|a| a.name == STATUS) {
            m.remove(STATUS);
        }
        for a in &self.decl.attrs {
            if a.setting || a.write_only {
                let carried = reference
                    .get(a.name)
                    .filter(|v| !v.is_null())
                    .cloned()
                    .or_else(|| a.schema.default.clone())
                    .unwrap_or(Value::Null);
                m.insert(a.name.to_string(), carried);
            }
            if a.on_import {
                match reference.as_map().and_then(|r| r.get(a.name)) {
                    Some(v) => {
                        m.insert(a.name.to_string(), v.clone());
                    }
                    None => {
                        m.entry(a.name.to_string()).or_insert(Value::Null);
                    }
                }
            }
            if a.kept_when_unreported {
                let unreported = m.get(a.name).is_none_or(|v| match v {
                    Value::List(xs) => xs.is_empty(),
                    v => v.is_null(),
                });
                if let Some(recorded) = reference.get(a.name).filter(|v| !v.is_null()) {
                    if unreported {
                        m.insert(a.name.to_string(), recorded.clone());
                    }
                }
            }
            let Some(x) = m.get_mut(a.name) else { continue };
            if let Some(same) = a.same {
                if let (Some(now), Some(before)) = (
                    x.as_str(),
                    reference
                        .get(a.name)
                        .map(Value::reveal)
                        .and_then(Value::as_str),
                ) {
                    if same(now, before) {
                        *x = Value::str(before);
                    }
                }
            }
            if a.schema.secret && !x.is_null() && !x.is_secret() {
                *x = x.clone().into_secret();
            }
        }
        // Carry the gig-only settings that AWS does not hold.
        for key in ["timeouts", "name_prefix"] {
            if let Some(v) = reference.get(key) {
                if !m.contains_key(key) || m.get(key).is_some_and(Value::is_null) {
                    m.insert(key.to_string(), v.clone());
                }
            }
        }
        read
    }

    /// Reads one object after `op` (`create` or `update`) until AWS shows it and the
    /// type says it is ready; types that declare `waits` poll up to the user's timeout,
    /// others retry briefly for eventual consistency only.
    async fn read_one(
        &self,
        clients: &Clients,
        id: &str,
        reference: &Value,
        op: &str,
    ) -> Result<Value, ProviderError> {
        let what = format!("{} {id}", self.decl.type_name);
        let fetch_one = || async {
            let mut found = self.model.fetch(clients, vec![id.to_string()]).await?;
            found
                .remove(id)
                .ok_or_else(|| not_found(format!("{what} is not visible yet")))
        };
        let v = match self.decl.waits {
            None => retry_not_found(fetch_one).await?,
            Some(_) => {
                wait_until(
                    &what,
                    self.decl.timeout(reference, op),
                    Duration::from_secs(15),
                    || async {
                        match fetch_one().await {
                            Ok(v) => match (self.model.failed(&v), self.model.pending(&v)) {
                                (Some(reason), _) => {
                                    Err(ProviderError::permanent(format!("{what}: {reason}")))
                                }
                                (None, None) => Ok(Poll::Done(v)),
                                (None, Some(state)) => Ok(Poll::Pending(state)),
                            },
                            Err(e) if is_not_found(&e) => {
                                Ok(Poll::Pending("not visible yet".into()))
                            }
                            Err(e) => Err(e),
                        }
                    },
                )
                .await?
            }
        };
        Ok(self.settle(v, reference))
    }
}

/// Whether two key references name the same key: equal, or one is an ARN ending in
/// `/<the other>` (`arn:aws:kms:…:key/1234…` against `1234…`).
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    a == b || a.ends_with(&format!("/{b}")) || b.ends_with(&format!("/{a}"))
}

/// Whether two JSON texts mean the same document (text that is not JSON compares as is).
pub(crate) fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[async_trait]
impl<M: Model> ResourceType for Modeled<M> {
    fn schema(&self) -> ResourceSchema {
        self.decl.schema()
    }

    async fn read(
        &self,
        clients: &Clients,
        requests: &[ReadRequest],
    ) -> Result<ReadResults, ProviderError> {
        let results = batched_read(requests, |ids| self.model.fetch(clients, ids)).await?;
        let mut out = Vec::with_capacity(requests.len());
        for (r, req) in results.into_iter().zip(requests) {
            let v = match r {
                Ok(Some(v)) => Ok(Some(self.complete(clients, &req.id, v, &req.prior).await?)),
                other => other,
            };
            out.push(v.map(|v| v.map(|v| self.settle(v, &req.prior))));
        }
        Ok(out)
    }

    async fn create(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let name = self.decl.resolve_name(ctx, planned)?;
        let tags = if self.decl.tags.is_some() {
            all_tags(planned, ctx)?
        } else {
            BTreeMap::new()
        };
        let new = New {
            ctx,
            planned,
            name,
            tags,
        };
        let id = self.model.create(clients, &self.decl, new).await?;
        self.read_one(clients, &id, planned, "create").await
    }

    async fn find_created(
        &self,
        clients: &Clients,
        ctx: &OpContext,
        planned: &Value,
    ) -> Result<Lookup, ProviderError> {
        self.model
            .find_created(clients, &self.decl, ctx, planned)
            .await
    }

    async fn update(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        req: UpdateRequest<'_>,
    ) -> Result<Value, ProviderError> {
        let rest: Vec<String> = req
            .changed
            .iter()
            .filter(|c| self.sent_on_update(c))
            .cloned()
            .collect();
        let mut id = req.id.to_string();
        if !rest.is_empty() {
            let inner = UpdateRequest {
                changed: &rest,
                ..req
            };
            if let Some(new) = self
                .model
                .update_with_id(clients, &self.decl, inner)
                .await?
            {
                id = new;
            }
        }
        if let Some(tagging) = &self.decl.tags {
            if crate::common::changed(req.changed, "tags") {
                let (set, remove) =
                    tag_diff(&user_tags_of(req.prior)?, &user_tags_of(req.planned)?);
                let target = if tagging.by_arn() {
                    crate::common::req_str(req.prior, "arn")?.to_string()
                } else {
                    self.model.tag_target(&id, req.prior)
                };
                tagging.sync(clients, &target, &set, &remove).await?;
            }
        }
        self.read_one(clients, &id, req.planned, "update").await
    }

    async fn delete(
        &self,
        clients: &Clients,
        _ctx: &OpContext,
        id: &str,
        prior: &Value,
    ) -> Result<(), ProviderError> {
        let busy = self.decl.busy;
        let mut call = || self.model.delete(clients, &self.decl, id, prior);
        ignore_not_found(
            retry_on(
                &mut call,
                |e| has_code(e, "DependencyViolation") || busy.iter().any(|c| has_code(e, c)),
                self.decl.delete_attempts.max(1),
            )
            .await,
        )?;
        if self.decl.waits.is_none() {
            return Ok(());
        }
        // A type that waits also waits for the object to be gone, within the user's
        // `timeouts { delete }`.
        wait_until(
            &format!("{} {id} to be deleted", self.decl.type_name),
            self.decl.timeout(prior, "delete"),
            Duration::from_secs(15),
            || async {
                let mut found = self.model.fetch(clients, vec![id.to_string()]).await?;
                Ok(match found.remove(id) {
                    Some(v) => Poll::Pending(self.model.pending(&v).unwrap_or_default()),
                    None => Poll::Done(()),
                })
            },
        )
        .await
    }
}

/// One new or changed parameter: its name, its value and its whole block.
pub(crate) type ParameterChange<'a> = (&'a str, &'a str, &'a Value);

/// The `parameter` set of parameter groups (blocks with a `name`, a `value` and any
/// other settings) compared by name from `prior` to `planned`: the names dropped, and
/// each block of `planned` that is new or changed as `(name, value, block)`.
pub(crate) fn parameter_changes<'a>(
    prior: &'a Value,
    planned: &'a Value,
) -> Result<(Vec<String>, Vec<ParameterChange<'a>>), ProviderError> {
    let before = parameter_blocks(prior)?;
    let after = parameter_blocks(planned)?;
    let dropped = before
        .keys()
        .filter(|n| !after.contains_key(*n))
        .map(|n| n.to_string())
        .collect();
    let changed = after
        .into_iter()
        .filter(|(n, (_, block))| before.get(n).map(|(_, b)| *b) != Some(*block))
        .map(|(n, (value, block))| (n, value, block))
        .collect();
    Ok((dropped, changed))
}

/// The `parameter` blocks of a value by name, with their values.
pub(crate) fn parameter_blocks(v: &Value) -> Result<BTreeMap<&str, (&str, &Value)>, ProviderError> {
    let mut out = BTreeMap::new();
    for p in crate::common::list(v, "parameter")? {
        let field = |f| {
            crate::common::req_str(p, f).map_err(|e| crate::common::on_attribute(e, "parameter"))
        };
        out.insert(field("name")?, (field("value")?, p));
    }
    Ok(out)
}

/// A `tags` value from tags as AWS lists them.
pub(crate) fn tags_map(tags: BTreeMap<String, String>) -> Value {
    Value::Map(
        tags.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

/// Describes the objects of a fetch through an API that takes one id or none
/// (DescribeDBSubnetGroups, DescribeCacheSubnetGroups): `one` for a single id, where
/// NotFound means none, else `all`, the whole listing. The caller keeps what it asked for.
pub(crate) async fn one_or_all<T, One, OneFut, All, AllFut>(
    ids: &[String],
    one: One,
    all: All,
) -> Result<Vec<T>, ProviderError>
where
    One: FnOnce(String) -> OneFut,
    OneFut: std::future::Future<Output = Result<Vec<T>, ProviderError>>,
    All: FnOnce() -> AllFut,
    AllFut: std::future::Future<Output = Result<Vec<T>, ProviderError>>,
{
    match ids {
        [only] => match one(only.clone()).await {
            Err(e) if is_not_found(&e) => Ok(Vec::new()),
            found => found,
        },
        _ => all().await,
    }
}

/// The Planned value of `attr` (read by `get`) when `attr` is among the changes, else
/// `None`: a modify call then sends only what changed.
pub(crate) fn if_changed<'a, T>(
    req: &UpdateRequest<'a>,
    attr: &str,
    get: impl Fn(&'a Value, &str) -> Result<Option<T>, ProviderError>,
) -> Result<Option<T>, ProviderError> {
    if crate::common::changed(req.changed, attr) {
        get(req.planned, attr)
    } else {
        Ok(None)
    }
}

/// Answers a batched fetch with one lookup per id, for APIs that describe one object at
/// a time (IAM's Get calls): NotFound answers leave the id out.
pub(crate) async fn fetch_each<F, Fut>(
    ids: Vec<String>,
    mut get: F,
) -> Result<BTreeMap<String, Value>, ProviderError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<Value, ProviderError>>,
{
    let mut out = BTreeMap::new();
    for id in ids {
        match get(id.clone()).await {
            Ok(v) => {
                out.insert(id, v);
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(derived: bool) -> Decl {
        Decl {
            type_name: "aws.thing",
            id: "thing name",
            naming: Some(Naming {
                max_len: 32,
                derived,
                id_is_name: true,
            }),
            ..Decl::default()
        }
    }

    fn ctx(token: Option<&str>) -> OpContext {
        OpContext {
            token: token.map(str::to_string),
            ..OpContext::new("aws.thing.app[\"x\"]", "shop", "prod")
        }
    }

    #[test]
    fn names_come_from_name_then_prefix_then_derivation() {
        let d = decl(true);
        let named = Value::Map(BTreeMap::from([("name".into(), Value::str("given"))]));
        assert_eq!(
            d.resolve_name(&ctx(None), &named).unwrap().as_deref(),
            Some("given")
        );

        let prefixed = Value::Map(BTreeMap::from([("name_prefix".into(), Value::str("app-"))]));
        let a = d
            .resolve_name(&ctx(Some("t1")), &prefixed)
            .unwrap()
            .unwrap();
        let b = d
            .resolve_name(&ctx(Some("t2")), &prefixed)
            .unwrap()
            .unwrap();
        assert!(a.starts_with("app-") && a.len() <= 32, "{a}");
        assert_ne!(a, b, "each create gets its own suffix");
        assert_eq!(
            a,
            d.resolve_name(&ctx(Some("t1")), &prefixed)
                .unwrap()
                .unwrap()
        );

        let derived = d
            .resolve_name(&ctx(None), &Value::Map(BTreeMap::new()))
            .unwrap()
            .unwrap();
        assert!(derived.starts_with("shop-prod-app--x--"), "{derived}");
        assert!(derived.len() <= 32, "{derived}");

        let e = decl(false)
            .resolve_name(&ctx(None), &Value::Map(BTreeMap::new()))
            .unwrap_err();
        assert_eq!(e.attribute.as_deref(), Some("name"));
        let long = Value::Map(BTreeMap::from([(
            "name_prefix".into(),
            Value::str("a-very-long-prefix-for-a-name-"),
        )]));
        assert_eq!(
            d.resolve_name(&ctx(None), &long)
                .unwrap_err()
                .attribute
                .as_deref(),
            Some("name_prefix")
        );
    }

    /// A model that is only declared (with these attributes): its calls are never made by
    /// the tests below.
    struct Declared(fn() -> Vec<Attr>);

    #[async_trait]
    impl Model for Declared {
        fn decl(&self) -> Decl {
            Decl {
                type_name: "aws.thing",
                id: "thing id",
                attrs: (self.0)(),
                ..Decl::default()
            }
        }

        async fn fetch(
            &self,
            _clients: &Clients,
            _ids: Vec<String>,
        ) -> Result<BTreeMap<String, Value>, ProviderError> {
            Err(ProviderError::permanent("not called"))
        }

        async fn create(
            &self,
            _clients: &Clients,
            _decl: &Decl,
            _new: New<'_>,
        ) -> Result<String, ProviderError> {
            Err(ProviderError::permanent("not called"))
        }

        async fn delete(
            &self,
            _clients: &Clients,
            _decl: &Decl,
            _id: &str,
            _prior: &Value,
        ) -> Result<(), ProviderError> {
            Err(ProviderError::permanent("not called"))
        }
    }

    #[test]
    fn attributes_read_on_import_come_from_the_reference_when_there_is_one() {
        let driver = Modeled::new(Declared(|| {
            vec![optional("user_data", AttrType::String, "Text.").read_on_import()]
        }));
        let map = |pairs: &[(&str, Value)]| {
            Value::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            )
        };
        let fetched = map(&[("id", Value::str("t-1"))]);
        let prior = map(&[("user_data", Value::str("echo hi"))]);
        let read = driver.settle(fetched.clone(), &prior);
        assert_eq!(read.get("user_data"), Some(&Value::str("echo hi")));

        let unset = driver.settle(fetched, &map(&[]));
        assert_eq!(unset.get("user_data"), Some(&Value::Null));

        let imported = map(&[("user_data", Value::str("from AWS"))]);
        let read = driver.settle(imported, &Value::Null);
        assert_eq!(read.get("user_data"), Some(&Value::str("from AWS")));
    }

    #[test]
    fn write_only_secrets_come_from_the_reference_and_still_reach_update() {
        let driver = Modeled::new(Declared(|| {
            vec![
                optional("password", AttrType::String, "Secret.").write_only(),
                optional("apply_immediately", AttrType::Bool, "Setting.")
                    .default(true)
                    .setting(),
            ]
        }));
        let fetched = Value::Map(BTreeMap::from([("id".into(), Value::str("db-1"))]));
        let prior = Value::Map(BTreeMap::from([(
            "password".into(),
            Value::str("hunter2").into_secret(),
        )]));
        let read = driver.settle(fetched.clone(), &prior);
        let password = read.get("password").expect("carried from the Prior value");
        assert!(password.is_secret());
        assert_eq!(password.reveal().as_str(), Some("hunter2"));
        assert_eq!(
            driver.settle(fetched, &Value::Null).get("password"),
            Some(&Value::Null),
            "an import has no password to show"
        );
        assert!(driver.schema().attributes["password"].secret);
        assert!(driver.sent_on_update("password"));
        assert!(!driver.sent_on_update("apply_immediately"));
    }

    #[test]
    fn a_declared_prefix_limit_is_enforced_and_documented() {
        let d = Decl {
            name_prefix_max: 6,
            ..decl(true)
        };
        let prefixed =
            |p: &str| Value::Map(BTreeMap::from([("name_prefix".into(), Value::str(p))]));
        let name = d
            .resolve_name(&ctx(Some("t")), &prefixed("web-"))
            .unwrap()
            .unwrap();
        assert_eq!(name.len(), 4 + 26, "{name}");
        let e = d
            .resolve_name(&ctx(Some("t")), &prefixed("web-app"))
            .unwrap_err();
        assert_eq!(e.attribute.as_deref(), Some("name_prefix"));
        let s = d.schema();
        assert!(s.attributes["name_prefix"]
            .description
            .ends_with("At most 6 characters."));
        assert!(!decl(true).schema().attributes["name_prefix"]
            .description
            .contains("At most"));
    }

    #[test]
    fn json_documents_compare_by_meaning() {
        assert!(same_json(r#"{"a": 1, "b": [2]}"#, r#"{"b":[2],"a":1}"#));
        assert!(!same_json(r#"{"a": 1}"#, r#"{"a": 2}"#));
        assert!(same_json("not json", "not json"));
    }

    #[test]
    fn schema_adds_id_tags_names_and_timeouts() {
        let mut d = decl(true);
        d.tags = Some(Tagging::Kms);
        d.waits = Some(Waits {
            create: Duration::from_secs(60),
            update: Duration::from_secs(60),
            delete: Duration::from_secs(90),
        });
        d.attrs = vec![required("size", AttrType::Number, "A size.").force_new()];
        let s = d.schema();
        let keys: Vec<&str> = s.attributes.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["id", "name", "name_prefix", "size", "tags", "timeouts"]
        );
        assert!(s.attributes["size"].force_new);
        let v = Value::from_json(&serde_json::json!({"timeouts": [{"delete": "2m"}]}));
        assert_eq!(d.timeout(&v, "delete"), Duration::from_secs(120));
        assert_eq!(d.timeout(&v, "create"), Duration::from_secs(60));
    }
}
