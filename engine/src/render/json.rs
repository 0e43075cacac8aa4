//! The machine plan (`gig plan --format json`), documented in docs/plan-json.md.

use gig_core::addr::Mode;
use gig_core::value::{Value, REDACTED};
use serde_json::{json, Map, Value as J};

use crate::model::{Action, AttrChange, OutputChange, Plan, ResourceChange};
use crate::recover::Resolution;

/// The version of the JSON layout; bumped on any incompatible change.
pub const FORMAT_VERSION: &str = "1.0";

/// Renders `plan` as the JSON document described in docs/plan-json.md. Secrets appear
/// only as `"(secret)"`.
pub fn json(plan: &Plan) -> J {
    json!({
        "format_version": FORMAT_VERSION,
        "stack": plan.stack,
        "env": plan.env,
        "destroy": plan.destroy,
        "resource_changes": plan.changes.iter().map(|c| resource_change(plan, c)).collect::<Vec<_>>(),
        "data": plan.data.iter().map(|(addr, v)| json!({
            "address": addr.to_string(),
            "value": v.to_json_redacted(),
        })).collect::<Vec<_>>(),
        "outputs": plan.outputs.iter().map(output).collect::<Vec<_>>(),
        "recovered": plan.recovered.iter().map(|(addr, r)| json!({
            "address": addr.to_string(),
            "adopted_id": match r {
                Resolution::Adopted(id) => Some(id),
                Resolution::Gone => None,
            },
        })).collect::<Vec<_>>(),
        "deposed": plan.deposed.iter().map(|d| json!({
            "address": d.addr.to_string(),
            "id": d.id,
            "since": d.since,
        })).collect::<Vec<_>>(),
        "summary": {
            "import": plan.imported.len(),
            "move": plan.moved.len(),
            "add": plan.summary.add,
            "change": plan.summary.change,
            "replace": plan.summary.replace,
            "destroy": plan.summary.destroy,
        },
        "diagnostics": plan.diagnostics.iter().map(|d| json!({
            "code": format!("gig::{}", d.code),
            "severity": d.severity,
            "summary": d.summary,
            "detail": d.detail,
            "help": d.help,
        })).collect::<Vec<_>>(),
    })
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::NoOp => "no_op",
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::Read => "read",
    }
}

fn resource_change(plan: &Plan, c: &ResourceChange) -> J {
    let mut unknown = Vec::new();
    if let Some(planned) = &c.planned {
        unknown_paths(planned, "", &mut unknown);
    }
    json!({
        "address": c.addr.to_string(),
        "module": c.addr.module,
        "mode": if c.addr.mode == Mode::Data { "data" } else { "managed" },
        "type": c.addr.rtype,
        "name": c.addr.name,
        "index": c.addr.key,
        "provider": c.provider,
        "action": action_name(c.action),
        "id": c.id,
        "before": c.prior.as_ref().map(known_json),
        "after": c.planned.as_ref().map(known_json),
        "after_unknown": unknown,
        "replace_because": c.replace_because,
        "deleted_outside": plan.deleted_outside.contains(&c.addr),
        "previous_address": plan.moved.get(&c.addr).map(ToString::to_string),
        "importing": plan.imported.get(&c.addr).map(|id| json!({ "id": id })),
        "create_before_destroy": c.lifecycle.create_before_destroy,
        "attributes": c.attributes.iter().map(attribute).collect::<Vec<_>>(),
        "dependencies": c.dependencies.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
    })
}

fn attribute(a: &AttrChange) -> J {
    let side = |v: &Option<Value>| match v {
        None => J::Null,
        Some(_) if a.secret => J::String(REDACTED.into()),
        Some(v) => known_json(v),
    };
    json!({
        "path": a.path.to_string(),
        "before": side(&a.before),
        "after": side(&a.after),
        "after_unknown": a.after.as_ref().is_some_and(Value::is_unknown),
        "forces_replacement": a.forces_replacement,
        "secret": a.secret,
    })
}

fn output(o: &OutputChange) -> J {
    let side = |v: &Option<Value>| match v {
        None => J::Null,
        Some(_) if o.secret => J::String(REDACTED.into()),
        Some(v) => known_json(v),
    };
    json!({
        "name": o.name,
        "before": side(&o.before),
        "after": side(&o.after),
        "after_unknown": o.after.as_ref().is_some_and(Value::is_unknown),
        "secret": o.secret,
    })
}

/// The redacted display form with unknowns as `null` (they are listed separately).
fn known_json(v: &Value) -> J {
    match v {
        Value::Unknown => J::Null,
        Value::Secret(_) => J::String(REDACTED.into()),
        Value::List(xs) => J::Array(xs.iter().map(known_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), known_json(v)))
                .collect::<Map<_, _>>(),
        ),
        other => other.to_json_redacted(),
    }
}

/// Paths of unknown values inside `v` (`id`, `tags.Name`, `ingress[0].id`). The inside
/// of a secret is not described.
fn unknown_paths(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Unknown => out.push(path.to_string()),
        Value::Secret(inner) if inner.is_unknown() => out.push(path.to_string()),
        Value::List(xs) => {
            for (i, x) in xs.iter().enumerate() {
                unknown_paths(x, &format!("{path}[{i}]"), out);
            }
        }
        Value::Map(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                unknown_paths(x, &p, out);
            }
        }
        _ => {}
    }
}
