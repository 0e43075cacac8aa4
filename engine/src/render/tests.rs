//! Renderer behaviour on plans made by the planner from hand-built configurations.

use gig_core::value::Value;

use super::{json, markdown, text, MarkdownOptions, Style};
use crate::model::Plan;
use crate::plan::tests::{
    c, config, network_config, network_value, obj, resource, run, server_config, server_value,
    state,
};

const SECRET: &str = "correct-horse-battery-staple";

/// A plan with one replace (forced), one update (with a secret), one delete, one create.
fn mixed_plan() -> Plan {
    let mut net = network_config();
    net.body = resource("lab.network.main", vec![("cidr", c("10.1.0.0/16"))]).body;
    let web = resource(
        "lab.server.web",
        vec![
            ("network_id", c("net-1")),
            ("size", c("large")),
            ("password", c(Value::str(SECRET))),
        ],
    );
    let fresh = resource("lab.server.fresh", vec![("network_id", c("net-1"))]);
    let cfg = config(vec![net, web, fresh]);
    let mut web_prior = server_value("net-1");
    if let Value::Map(m) = &mut web_prior {
        // Stored without the secret wrapper: the schema alone must keep it hidden.
        m.insert("password".into(), Value::str(format!("old-{SECRET}")));
    }
    let prior = state(&[
        ("lab.network.main", network_value("net-1")),
        ("lab.server.web", web_prior),
        (
            "lab.server.old",
            obj(vec![
                ("id", Value::str("srv-9")),
                ("network_id", Value::str("net-1")),
            ]),
        ),
    ]);
    let (p, diags) = run(&cfg, &prior, None, false);
    assert!(diags.is_empty(), "{diags:?}");
    p
}

#[test]
fn text_shows_actions_reasons_and_summary() {
    let out = text(&mixed_plan()).into_plain();
    let expected = r#"gig will perform the following actions. Symbols:
    + create
    ~ update in place
  -/+ replace (destroy, then create)
    - destroy

# lab.network.main must be replaced, forced by `cidr` (destroy before create)
-/+ lab.network.main (id "net-1")
      ~ cidr  = "10.0.0.0/16" -> "10.1.0.0/16" # forces replacement
      - tags  = { Name = "main" }
      - zones = ["a", "b"]

# lab.server.fresh will be created
  + lab.server.fresh
      + id         = (known after apply)
      + ip         = (known after apply)
      + network_id = "net-1"
      + size       = "small"

# lab.server.old will be destroyed
  - lab.server.old (id "srv-9")
      - network_id = "net-1"

# lab.server.web will be updated in place
  ~ lab.server.web (id "srv-1")
      ~ password = (secret) -> (secret)
      ~ size     = "small" -> "large"

Destructive changes (check these before applying):
  -/+ lab.network.main (replace)
    - lab.server.old (destroy)

Plan: 1 to add, 1 to change, 1 to replace, 1 to destroy.
"#;
    assert_eq!(out, expected);
}

#[test]
fn text_without_changes_says_so_and_colour_is_opt_in() {
    let cfg = config(vec![network_config(), server_config()]);
    let prior = state(&[
        ("lab.network.main", network_value("net-1")),
        ("lab.server.web", server_value("net-1")),
    ]);
    let (p, _) = run(&cfg, &prior, None, false);
    assert_eq!(
        text(&p).into_plain(),
        "No changes. Infrastructure matches the configuration.\n"
    );
    let rendered = text(&mixed_plan());
    assert!(
        !rendered.plain().contains('\x1b'),
        "the engine writes no escape codes"
    );
    let deleted: Vec<&str> = rendered
        .pieces()
        .filter(|(_, style)| *style == Some(Style::Delete))
        .map(|(piece, _)| piece)
        .collect();
    assert!(
        deleted.contains(&"  -"),
        "the delete symbol is styled: {deleted:?}"
    );
}

#[test]
fn no_renderer_prints_a_secret() {
    let mut p = mixed_plan();
    // Also a secret output, before and after.
    p.outputs.push(crate::model::OutputChange {
        name: "pw".into(),
        before: Some(Value::str(SECRET).into_secret()),
        after: Some(Value::str(format!("{SECRET}2")).into_secret()),
        expr: None,
        secret: true,
    });
    let web = p
        .changes
        .iter()
        .find(|c| c.addr.name == "web")
        .expect("web change");
    assert!(
        web.attributes
            .iter()
            .any(|a| a.path.to_string() == "password")
            || web
                .attributes
                .iter()
                .all(|a| a.path.to_string() != "password")
    );
    for out in [
        text(&p).into_plain(),
        serde_json::to_string(&json(&p)).expect("json"),
        markdown(&p, &MarkdownOptions::default()),
        markdown(&p, &MarkdownOptions { max_chars: 800 }),
    ] {
        assert!(!out.contains(SECRET), "secret leaked:\n{out}");
        assert!(!out.contains("correct-horse"), "secret leaked:\n{out}");
    }
}

#[test]
fn json_has_documented_fields() {
    let j = json(&mixed_plan());
    assert_eq!(j["format_version"], "1.0");
    let changes = j["resource_changes"].as_array().expect("array");
    let net = &changes[0];
    assert_eq!(net["address"], "lab.network.main");
    assert_eq!(net["type"], "lab.network");
    assert_eq!(net["name"], "main");
    assert_eq!(net["index"], serde_json::Value::Null);
    assert_eq!(net["previous_address"], serde_json::Value::Null);
    assert_eq!(net["importing"], serde_json::Value::Null);
    assert_eq!(net["action"], "replace");
    assert_eq!(net["replace_because"], serde_json::json!(["cidr"]));
    assert_eq!(net["after"]["id"], serde_json::Value::Null);
    assert!(net["after_unknown"]
        .as_array()
        .expect("array")
        .contains(&serde_json::json!("id")));
    assert_eq!(
        j["summary"],
        serde_json::json!({"import": 0, "move": 0, "add": 1, "change": 1, "replace": 1, "destroy": 1})
    );
    let web = changes.iter().find(|c| c["name"] == "web").expect("web");
    assert_eq!(web["after"]["password"], "(secret)");
}

#[test]
fn markdown_puts_destroys_first_and_cuts_least_important() {
    let p = mixed_plan();
    let full = markdown(&p, &MarkdownOptions::default());
    let pos = |s: &str| {
        full.find(s)
            .unwrap_or_else(|| panic!("{s} missing in\n{full}"))
    };
    assert!(pos("lab.server.old") < pos("lab.network.main"));
    assert!(pos("lab.network.main") < pos("lab.server.web"));
    assert!(pos("lab.server.web") < pos("lab.server.fresh"));
    assert!(full.contains("```diff\n  id = \"net-1\"\n- cidr = \"10.0.0.0/16\"\n+ cidr = \"10.1.0.0/16\"   # forces replacement\n"), "{full}");
    assert!(full.contains("**Plan: 1 to add, 1 to change, 1 to replace, 1 to destroy.**"));
    assert_eq!(
        full,
        markdown(&p, &MarkdownOptions::default()),
        "deterministic"
    );

    let max_chars = full.len() - 50;
    let cut = markdown(&p, &MarkdownOptions { max_chars });
    assert!(cut.len() <= max_chars, "{}", cut.len());
    assert!(cut.contains("**Plan: 1 to add"));
    assert!(cut.contains("lab.server.old"), "{cut}");
    assert!(!cut.contains("lab.server.fresh"), "{cut}");
    assert!(cut.contains("more change(s) not shown"), "{cut}");
}
