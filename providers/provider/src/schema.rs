//! Schema types: the resource types a provider offers and their attributes.
//!
//! The planner relies on them for force-new (replace) decisions, computed attributes
//! (unknown until apply on create), defaults (so a fresh apply plans clean), set
//! semantics (order-insensitive comparison) and secrecy.

use std::collections::BTreeMap;

use gig_core::value::Value;
use serde::Serialize;

/// Everything a provider offers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProviderSchema {
    /// Provider name.
    pub name: String,
    /// Settings accepted in `provider NAME { … }`.
    pub settings: BTreeMap<String, AttributeSchema>,
    /// Managed resource types by full name (`aws.vpc`).
    pub resources: BTreeMap<String, ResourceSchema>,
    /// Data source types by full name (`aws.ami`).
    pub data_sources: BTreeMap<String, ResourceSchema>,
}

/// One resource or data-source type.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ResourceSchema {
    /// Full type name, e.g. `aws.vpc`.
    pub type_name: String,
    /// One paragraph for docs/resources/.
    pub description: String,
    /// Version of the stored attribute layout; bumped when it changes.
    pub version: u32,
    /// Attributes by name (nested blocks are attributes of list-of-object type).
    pub attributes: BTreeMap<String, AttributeSchema>,
    /// An example `.gig` block for the docs.
    pub example: String,
}

/// Type of an attribute.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttrType {
    /// A string.
    String,
    /// A number.
    Number,
    /// A bool.
    Bool,
    /// An ordered list.
    List(Box<AttrType>),
    /// An unordered collection: compared without regard to order.
    Set(Box<AttrType>),
    /// A map of strings to values of one type.
    Map(Box<AttrType>),
    /// A nested block / object with its own attributes.
    Object(BTreeMap<String, AttributeSchema>),
    /// Anything.
    Any,
}

/// One attribute.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttributeSchema {
    /// Its type.
    pub ty: AttrType,
    /// Must be set in config.
    pub required: bool,
    /// May be set in config.
    pub optional: bool,
    /// Set by the provider (possibly also settable, when not `required`).
    pub computed: bool,
    /// Changing it replaces the object.
    pub force_new: bool,
    /// Never shown.
    pub secret: bool,
    /// The value the cloud applies when it is not set.
    pub default: Option<Value>,
    /// A computed attribute the cloud assigns anew whenever the object changes in place
    /// (a version number, a revision): unknown in the plan of an update, so whatever
    /// depends on it is planned against the new value, not the Prior one.
    pub recomputed_on_update: bool,
    /// Plain text the provider base64-encodes itself (user data): a value that is
    /// already base64 would be encoded twice, and `gig validate` warns (E0317).
    pub encoded_by_provider: bool,
    /// One sentence for the docs.
    pub description: String,
}

impl AttributeSchema {
    /// An optional attribute of type `ty`.
    pub fn optional(ty: AttrType, description: &str) -> AttributeSchema {
        AttributeSchema {
            ty,
            required: false,
            optional: true,
            computed: false,
            force_new: false,
            secret: false,
            default: None,
            recomputed_on_update: false,
            encoded_by_provider: false,
            description: description.to_string(),
        }
    }

    /// A required attribute of type `ty`.
    pub fn required(ty: AttrType, description: &str) -> AttributeSchema {
        AttributeSchema {
            required: true,
            optional: false,
            ..AttributeSchema::optional(ty, description)
        }
    }

    /// A read-only attribute the provider sets.
    pub fn computed(ty: AttrType, description: &str) -> AttributeSchema {
        AttributeSchema {
            computed: true,
            optional: false,
            ..AttributeSchema::optional(ty, description)
        }
    }

    /// Marks it force-new.
    pub fn force_new(mut self) -> AttributeSchema {
        self.force_new = true;
        self
    }

    /// Marks it secret.
    pub fn secret(mut self) -> AttributeSchema {
        self.secret = true;
        self
    }

    /// Also computed: when unset in config the provider's value is kept (no diff).
    pub fn also_computed(mut self) -> AttributeSchema {
        self.computed = true;
        self
    }

    /// Marks a computed attribute as assigned anew by every update in place.
    pub fn recomputed_on_update(mut self) -> AttributeSchema {
        self.recomputed_on_update = true;
        self
    }

    /// Marks plain text the provider base64-encodes before sending it.
    pub fn encoded_by_provider(mut self) -> AttributeSchema {
        self.encoded_by_provider = true;
        self
    }

    /// Sets the default the cloud applies.
    pub fn default(mut self, value: impl Into<Value>) -> AttributeSchema {
        self.default = Some(value.into());
        self
    }

    /// Whether the user may set it.
    pub fn settable(&self) -> bool {
        self.required || self.optional
    }
}

/// The machine-readable form of provider schemas (`gig providers schema --format
/// json`), documented in docs/cli.md. Types are written as in the language's param
/// types (`list(string)`, `map(number)`, `object`), with an object's attributes nested.
pub fn schemas_json<'a>(
    schemas: impl IntoIterator<Item = &'a ProviderSchema>,
) -> serde_json::Value {
    let providers: serde_json::Map<String, serde_json::Value> = schemas
        .into_iter()
        .map(|p| {
            let types = |m: &BTreeMap<String, ResourceSchema>| -> serde_json::Value {
                m.iter()
                    .map(|(name, r)| {
                        (
                            name.clone(),
                            serde_json::json!({
                                "description": r.description,
                                "version": r.version,
                                "attributes": attributes_json(&r.attributes),
                            }),
                        )
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            };
            (
                p.name.clone(),
                serde_json::json!({
                    "settings": attributes_json(&p.settings),
                    "resources": types(&p.resources),
                    "data_sources": types(&p.data_sources),
                }),
            )
        })
        .collect();
    serde_json::json!({ "format_version": "1.0", "providers": providers })
}

fn attributes_json(attrs: &BTreeMap<String, AttributeSchema>) -> serde_json::Value {
    attrs
        .iter()
        .map(|(name, a)| {
            let mut j = serde_json::json!({
                "type": type_json(&a.ty),
                "description": a.description,
                "required": a.required,
                "optional": a.optional,
                "computed": a.computed,
                "force_new": a.force_new,
                "secret": a.secret,
                "default": a.default.as_ref().map(Value::to_json),
                "recomputed_on_update": a.recomputed_on_update,
                "encoded_by_provider": a.encoded_by_provider,
            });
            if let Some(nested) = object_attributes(&a.ty) {
                j["attributes"] = attributes_json(nested);
            }
            (name.clone(), j)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The attributes of an object type, or of the objects inside a list, set or map.
fn object_attributes(ty: &AttrType) -> Option<&BTreeMap<String, AttributeSchema>> {
    match ty {
        AttrType::Object(attrs) => Some(attrs),
        AttrType::List(t) | AttrType::Set(t) | AttrType::Map(t) => object_attributes(t),
        _ => None,
    }
}

fn type_json(ty: &AttrType) -> String {
    match ty {
        AttrType::String => "string".into(),
        AttrType::Number => "number".into(),
        AttrType::Bool => "bool".into(),
        AttrType::List(t) => format!("list({})", type_json(t)),
        AttrType::Set(t) => format!("set({})", type_json(t)),
        AttrType::Map(t) => format!("map({})", type_json(t)),
        AttrType::Object(_) => "object".into(),
        AttrType::Any => "any".into(),
    }
}
