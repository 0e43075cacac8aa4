//! The `action` / `default_action` and `condition` blocks of listeners and listener
//! rules: their schema, and conversion between gig values and the SDK's types.
//!
//! An action is `{ type, target_group_arn, redirect, fixed_response }`: `forward` needs
//! `target_group_arn`, `redirect` a `redirect` block, `fixed-response` a
//! `fixed_response` block. A condition holds one of `path_pattern`, `host_header`,
//! `http_request_method` or `source_ip`, each a block with a set of `values`. Read values
//! give null for blocks AWS does not report, so configurations that leave them out plan
//! clean.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, HostHeaderConditionConfig,
    HttpRequestMethodConditionConfig, PathPatternConditionConfig, RedirectActionConfig,
    RedirectActionStatusCodeEnum, RuleCondition, SourceIpConditionConfig,
};
use gig_core::value::Value;
use gig_provider::{AttrType, AttributeSchema, ProviderError};

use crate::common;

/// Condition kinds: (attribute name, AWS field name, description).
const CONDITIONS: &[(&str, &str, &str)] = &[
    (
        "path_pattern",
        "path-pattern",
        "Match the request path against patterns (`*` and `?` wildcards).",
    ),
    (
        "host_header",
        "host-header",
        "Match the Host header against patterns (`*` and `?` wildcards).",
    ),
    (
        "http_request_method",
        "http-request-method",
        "Match the HTTP method (`GET`, `POST` …).",
    ),
    (
        "source_ip",
        "source-ip",
        "Match the client address against CIDR blocks.",
    ),
];

fn object(attrs: &[(&str, AttributeSchema)]) -> AttrType {
    AttrType::Object(
        attrs
            .iter()
            .map(|(k, s)| (k.to_string(), s.clone()))
            .collect(),
    )
}

fn block(attrs: &[(&str, AttributeSchema)], description: &str) -> AttributeSchema {
    AttributeSchema::optional(AttrType::List(Box::new(object(attrs))), description)
}

/// The schema of an action block list (`default_action` of a listener, `action` of a rule).
pub(crate) fn action_schema(description: &str) -> AttributeSchema {
    use AttrType::String as Str;
    let opt = AttributeSchema::optional;
    let redirect = block(
        &[
            ("host", opt(Str, "Host to redirect to.").default("#{host}")),
            ("path", opt(Str, "Path to redirect to.").default("/#{path}")),
            ("port", opt(Str, "Port to redirect to.").default("#{port}")),
            (
                "protocol",
                opt(Str, "`HTTP`, `HTTPS` or `#{protocol}`.").default("#{protocol}"),
            ),
            (
                "query",
                opt(Str, "Query string to redirect to.").default("#{query}"),
            ),
            (
                "status_code",
                AttributeSchema::required(Str, "`HTTP_301` or `HTTP_302`."),
            ),
        ],
        "For `type = \"redirect\"`: where to send the client.",
    );
    let fixed = block(
        &[
            ("content_type", AttributeSchema::required(Str, "`text/plain`, `text/css`, `text/html`, `application/javascript` or `application/json`.")),
            ("message_body", opt(Str, "Body of the response.")),
            ("status_code", opt(Str, "HTTP status code, e.g. `503`.").also_computed()),
        ],
        "For `type = \"fixed-response\"`: the response to send.",
    );
    let action = object(&[
        (
            "type",
            AttributeSchema::required(Str, "`forward`, `redirect` or `fixed-response`."),
        ),
        (
            "target_group_arn",
            opt(Str, "For `type = \"forward\"`: the target group."),
        ),
        ("redirect", redirect),
        ("fixed_response", fixed),
    ]);
    AttributeSchema::required(AttrType::List(Box::new(action)), description)
}

/// The schema of a rule's `condition` blocks.
pub(crate) fn condition_schema() -> AttributeSchema {
    let values = || {
        block(
            &[(
                "values",
                AttributeSchema::required(
                    AttrType::Set(Box::new(AttrType::String)),
                    "Values to match (any of them).",
                ),
            )],
            "",
        )
    };
    let mut attrs = BTreeMap::new();
    for (name, _, description) in CONDITIONS {
        let mut b = values();
        b.description = description.to_string();
        attrs.insert(name.to_string(), b);
    }
    AttributeSchema::required(
        AttrType::Set(Box::new(AttrType::Object(attrs))),
        "Conditions, all of which must match; each holds one of path_pattern, host_header, http_request_method, source_ip.",
    )
}

/// The SDK actions from an action block list.
pub(crate) fn to_sdk_actions(v: &Value, attr: &str) -> Result<Vec<Action>, ProviderError> {
    let mut out = Vec::new();
    for (i, a) in common::list(v, attr)?.iter().enumerate() {
        let kind = common::req_str(a, "type").map_err(|e| common::on_attribute(e, attr))?;
        let mut b = Action::builder()
            .r#type(ActionTypeEnum::from(kind))
            .order(i as i32 + 1);
        if let Some(tg) = common::opt_str(a, "target_group_arn")? {
            b = b.target_group_arn(tg);
        }
        if let Some(r) = common::block(a, "redirect")? {
            let s = |k: &str, d: &str| -> Result<String, ProviderError> {
                Ok(common::opt_str(r, k)?.unwrap_or(d).to_string())
            };
            b = b.redirect_config(
                RedirectActionConfig::builder()
                    .host(s("host", "#{host}")?)
                    .path(s("path", "/#{path}")?)
                    .port(s("port", "#{port}")?)
                    .protocol(s("protocol", "#{protocol}")?)
                    .query(s("query", "#{query}")?)
                    .status_code(RedirectActionStatusCodeEnum::from(common::req_str(
                        r,
                        "status_code",
                    )?))
                    .build(),
            );
        }
        if let Some(f) = common::block(a, "fixed_response")? {
            b = b.fixed_response_config(
                FixedResponseActionConfig::builder()
                    .content_type(common::req_str(f, "content_type")?)
                    .set_message_body(common::opt_str(f, "message_body")?.map(str::to_string))
                    .set_status_code(common::opt_str(f, "status_code")?.map(str::to_string))
                    .build(),
            );
        }
        out.push(b.build());
    }
    if out.is_empty() {
        return Err(ProviderError::invalid_attribute(
            attr,
            format!("`{attr}` needs at least one block"),
        ));
    }
    Ok(out)
}

/// An action block list from the SDK's actions (sorted by their order).
pub(crate) fn from_sdk_actions(actions: &[Action]) -> Value {
    let mut sorted: Vec<&Action> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order.unwrap_or(i32::MAX));
    Value::List(
        sorted
            .into_iter()
            .map(|a| {
                let tg = a.target_group_arn.clone().or_else(|| {
                    let groups = a
                        .forward_config
                        .as_ref()
                        .map(|f| f.target_groups())
                        .unwrap_or_default();
                    match groups {
                        [only] => only.target_group_arn.clone(),
                        _ => None,
                    }
                });
                let redirect = a.redirect_config.as_ref().map_or(Value::Null, |r| {
                    Value::List(vec![common::object([
                        ("host", common::opt_string(r.host.as_deref())),
                        ("path", common::opt_string(r.path.as_deref())),
                        ("port", common::opt_string(r.port.as_deref())),
                        ("protocol", common::opt_string(r.protocol.as_deref())),
                        ("query", common::opt_string(r.query.as_deref())),
                        (
                            "status_code",
                            common::opt_string(r.status_code.as_ref().map(|c| c.as_str())),
                        ),
                    ])])
                });
                let fixed = a.fixed_response_config.as_ref().map_or(Value::Null, |f| {
                    Value::List(vec![common::object([
                        (
                            "content_type",
                            common::opt_string(f.content_type.as_deref()),
                        ),
                        (
                            "message_body",
                            common::opt_string(f.message_body.as_deref()),
                        ),
                        ("status_code", common::opt_string(f.status_code.as_deref())),
                    ])])
                });
                common::object([
                    (
                        "type",
                        common::opt_string(a.r#type.as_ref().map(|t| t.as_str())),
                    ),
                    ("target_group_arn", common::opt_string(tg.as_deref())),
                    ("redirect", redirect),
                    ("fixed_response", fixed),
                ])
            })
            .collect(),
    )
}

/// The SDK conditions from the `condition` blocks.
pub(crate) fn to_sdk_conditions(v: &Value) -> Result<Vec<RuleCondition>, ProviderError> {
    let mut out = Vec::new();
    for c in common::list(v, "condition")? {
        let mut kinds =
            CONDITIONS
                .iter()
                .filter_map(|(name, field, _)| match common::block(c, name) {
                    Ok(Some(b)) => {
                        Some(common::str_list(b, "values").map(|vals| (*name, *field, vals)))
                    }
                    Ok(None) => None,
                    Err(e) => Some(Err(e)),
                });
        let (name, field, values) = match (kinds.next(), kinds.next()) {
            (Some(one), None) => one?,
            _ => {
                return Err(ProviderError::invalid_attribute(
                    "condition",
                    "each `condition` block holds exactly one of path_pattern, host_header, http_request_method, source_ip",
                ))
            }
        };
        let b = RuleCondition::builder().field(field);
        let values = Some(values);
        out.push(
            match name {
                "path_pattern" => b.path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(values)
                        .build(),
                ),
                "host_header" => b.host_header_config(
                    HostHeaderConditionConfig::builder()
                        .set_values(values)
                        .build(),
                ),
                "http_request_method" => b.http_request_method_config(
                    HttpRequestMethodConditionConfig::builder()
                        .set_values(values)
                        .build(),
                ),
                _ => b.source_ip_config(
                    SourceIpConditionConfig::builder()
                        .set_values(values)
                        .build(),
                ),
            }
            .build(),
        );
    }
    if out.is_empty() {
        return Err(ProviderError::invalid_attribute(
            "condition",
            "a rule needs at least one `condition` block",
        ));
    }
    Ok(out)
}

/// The `condition` blocks from the SDK's conditions (values sorted; blocks sorted).
pub(crate) fn from_sdk_conditions(conditions: &[RuleCondition]) -> Value {
    let mut blocks: Vec<Value> = conditions
        .iter()
        .filter_map(|c| {
            let field = c.field.as_deref()?;
            let (name, _, _) = CONDITIONS.iter().find(|(_, f, _)| *f == field)?;
            let configured = match *name {
                "path_pattern" => c.path_pattern_config.as_ref().map(|x| x.values().to_vec()),
                "host_header" => c.host_header_config.as_ref().map(|x| x.values().to_vec()),
                "http_request_method" => c
                    .http_request_method_config
                    .as_ref()
                    .map(|x| x.values().to_vec()),
                _ => c.source_ip_config.as_ref().map(|x| x.values().to_vec()),
            };
            let values = configured
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| c.values().to_vec());
            let mut m: BTreeMap<String, Value> = CONDITIONS
                .iter()
                .map(|(n, _, _)| (n.to_string(), Value::Null))
                .collect();
            m.insert(
                name.to_string(),
                Value::List(vec![common::object([(
                    "values",
                    common::sorted_string_list(values),
                )])]),
            );
            Some(Value::Map(m))
        })
        .collect();
    blocks.sort_by_key(|b| b.to_json().to_string());
    Value::List(blocks)
}
