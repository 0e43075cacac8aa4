//! Reference pages for docs/resources/, generated from resource schemas.
//!
//! Every provider's docs come from the same generator so that the pages always say what
//! the code does: a test in each provider crate compares the [`pages`] of its schema with
//! the files in docs/resources/ as expect-test goldens (`UPDATE_EXPECT=1` rewrites them)
//! and fails on any [`orphan_pages`] left behind by a type that no longer exists.
//!
//! Page layout: title, description, example, an argument table (type, required,
//! default, force-new), one table per nested block, and the read-only attributes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::schema::{AttrType, AttributeSchema, ProviderSchema, ResourceSchema};

/// The file name of a page: `aws.vpc.md` for a resource, `data.aws.ami.md` for a data source.
pub fn doc_file_name(type_name: &str, data: bool) -> String {
    if data {
        format!("data.{type_name}.md")
    } else {
        format!("{type_name}.md")
    }
}

/// Renders the page of a managed resource type.
pub fn render_resource_docs(schema: &ResourceSchema) -> String {
    render(schema, false)
}

/// Renders the page of a data source.
pub fn render_data_source_docs(schema: &ResourceSchema) -> String {
    render(schema, true)
}

/// Every page of `schema`, resources and data sources alike: file name → text.
pub fn pages(schema: &ProviderSchema) -> BTreeMap<String, String> {
    let mut pages = BTreeMap::new();
    for (name, r) in &schema.resources {
        pages.insert(doc_file_name(name, false), render_resource_docs(r));
    }
    for (name, d) in &schema.data_sources {
        pages.insert(doc_file_name(name, true), render_data_source_docs(d));
    }
    pages
}

/// The pages in `dir` named after the provider (`<name>.*.md`, `data.<name>.*.md`) that
/// no type of `schema` produces any more, sorted. A directory that cannot be read has
/// none.
pub fn orphan_pages(dir: &Path, schema: &ProviderSchema) -> Vec<PathBuf> {
    let pages = pages(schema);
    let prefixes = [
        format!("{}.", schema.name),
        format!("data.{}.", schema.name),
    ];
    let mut orphans: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            let file = entry.file_name().to_string_lossy().to_string();
            let ours =
                prefixes.iter().any(|p| file.starts_with(p.as_str())) && file.ends_with(".md");
            ours && !pages.contains_key(&file)
        })
        .map(|entry| entry.path())
        .collect();
    orphans.sort();
    orphans
}

/// A short name for a type: `string`, `list(string)`, `set(object)`.
pub fn type_name(ty: &AttrType) -> String {
    match ty {
        AttrType::String => "string".to_string(),
        AttrType::Number => "number".to_string(),
        AttrType::Bool => "bool".to_string(),
        AttrType::List(t) => format!("list({})", type_name(t)),
        AttrType::Set(t) => format!("set({})", type_name(t)),
        AttrType::Map(t) => format!("map({})", type_name(t)),
        AttrType::Object(_) => "block".to_string(),
        AttrType::Any => "any".to_string(),
    }
}

fn render(schema: &ResourceSchema, data: bool) -> String {
    let mut out = String::new();
    let heading = if data {
        format!("data {}", schema.type_name)
    } else {
        schema.type_name.clone()
    };
    let _ = writeln!(out, "# {heading}\n");
    let _ = writeln!(out, "<!-- Generated from the provider schema; do not edit. Run the provider's docs test with UPDATE_EXPECT=1 to refresh. -->\n");
    if !schema.description.trim().is_empty() {
        let _ = writeln!(out, "{}\n", schema.description.trim());
    }
    if !schema.example.trim().is_empty() {
        let _ = writeln!(
            out,
            "## Example\n\n```gig\n{}\n```\n",
            schema.example.trim_end()
        );
    }
    let args: BTreeMap<&String, &AttributeSchema> = schema
        .attributes
        .iter()
        .filter(|(_, a)| a.settable())
        .collect();
    let attrs: BTreeMap<&String, &AttributeSchema> = schema
        .attributes
        .iter()
        .filter(|(_, a)| !a.settable())
        .collect();
    let _ = writeln!(out, "## Arguments\n");
    if args.is_empty() {
        let _ = writeln!(out, "None.\n");
    } else {
        argument_table(&mut out, &args, data);
    }
    let mut blocks = Vec::new();
    for (name, a) in &schema.attributes {
        collect_blocks(name, &a.ty, &mut blocks);
    }
    for (path, fields) in blocks {
        let _ = writeln!(out, "### `{path}` block\n");
        let settable: BTreeMap<&String, &AttributeSchema> =
            fields.iter().filter(|(_, a)| a.settable()).collect();
        let read_only: BTreeMap<&String, &AttributeSchema> =
            fields.iter().filter(|(_, a)| !a.settable()).collect();
        if !settable.is_empty() {
            argument_table(&mut out, &settable, data);
        }
        if !read_only.is_empty() {
            let _ = writeln!(out, "Read-only fields:\n");
            attribute_table(&mut out, &read_only);
        }
    }
    let _ = writeln!(out, "## Attributes\n");
    let _ = writeln!(
        out,
        "Every argument above can be referenced, as well as these read-only attributes:\n"
    );
    if attrs.is_empty() {
        let _ = writeln!(out, "None.");
    } else {
        attribute_table(&mut out, &attrs);
    }
    out
}

fn collect_blocks(
    path: &str,
    ty: &AttrType,
    out: &mut Vec<(String, BTreeMap<String, AttributeSchema>)>,
) {
    match ty {
        AttrType::List(t) | AttrType::Set(t) | AttrType::Map(t) => collect_blocks(path, t, out),
        AttrType::Object(fields) => {
            out.push((path.to_string(), fields.clone()));
            for (name, a) in fields {
                collect_blocks(&format!("{path}.{name}"), &a.ty, out);
            }
        }
        _ => {}
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn describe(a: &AttributeSchema) -> String {
    let mut d = a.description.trim().to_string();
    if a.secret {
        if !d.is_empty() {
            d.push(' ');
        }
        d.push_str("Secret: never shown in plans, logs or output.");
    }
    if a.computed && a.settable() && a.default.is_none() {
        if !d.is_empty() {
            d.push(' ');
        }
        d.push_str("When unset, the cloud's value is kept.");
    }
    cell(&d)
}

fn argument_table(out: &mut String, args: &BTreeMap<&String, &AttributeSchema>, data: bool) {
    if data {
        let _ = writeln!(out, "| Name | Type | Required | Default | Description |");
        let _ = writeln!(out, "|---|---|---|---|---|");
    } else {
        let _ = writeln!(
            out,
            "| Name | Type | Required | Default | Forces replacement | Description |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
    }
    for (name, a) in args {
        let required = if a.required { "yes" } else { "no" };
        let default = match &a.default {
            Some(v) => format!("`{}`", cell(&v.to_json().to_string())),
            None => String::new(),
        };
        if data {
            let _ = writeln!(
                out,
                "| `{name}` | {} | {required} | {default} | {} |",
                type_name(&a.ty),
                describe(a)
            );
        } else {
            let force = if a.force_new { "yes" } else { "no" };
            let _ = writeln!(
                out,
                "| `{name}` | {} | {required} | {default} | {force} | {} |",
                type_name(&a.ty),
                describe(a)
            );
        }
    }
    out.push('\n');
}

fn attribute_table(out: &mut String, attrs: &BTreeMap<&String, &AttributeSchema>) {
    let _ = writeln!(out, "| Name | Type | Description |");
    let _ = writeln!(out, "|---|---|---|");
    for (name, a) in attrs {
        let _ = writeln!(out, "| `{name}` | {} | {} |", type_name(&a.ty), describe(a));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ResourceSchema {
        let mut rule = BTreeMap::new();
        rule.insert(
            "port".to_string(),
            AttributeSchema::optional(AttrType::Number, "The port."),
        );
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "cidr_block".to_string(),
            AttributeSchema::required(AttrType::String, "The CIDR | block.").force_new(),
        );
        attributes.insert(
            "ingress".to_string(),
            AttributeSchema::optional(AttrType::Set(Box::new(AttrType::Object(rule))), "Rules."),
        );
        attributes.insert(
            "id".to_string(),
            AttributeSchema::computed(AttrType::String, "The id."),
        );
        ResourceSchema {
            type_name: "x.thing".to_string(),
            description: "A thing.".to_string(),
            version: 1,
            attributes,
            example: "resource x.thing a {\n  cidr_block = \"10.0.0.0/16\"\n}".to_string(),
        }
    }

    #[test]
    fn page_has_arguments_blocks_and_attributes() {
        let page = render_resource_docs(&sample());
        assert!(page.starts_with("# x.thing\n"));
        assert!(
            page.contains("| `cidr_block` | string | yes |  | yes | The CIDR \\| block. |"),
            "{page}"
        );
        assert!(page.contains("### `ingress` block"), "{page}");
        assert!(
            page.contains("| `port` | number | no |  | no | The port. |"),
            "{page}"
        );
        assert!(page.contains("| `id` | string | The id. |"), "{page}");
        assert!(page.contains("```gig\nresource x.thing a {"), "{page}");
    }

    #[test]
    fn every_type_has_a_page_and_pages_of_gone_types_are_orphans() {
        let dir = std::env::temp_dir().join(format!("gig-docs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut schema = ProviderSchema {
            name: "x".to_string(),
            ..ProviderSchema::default()
        };
        schema.resources.insert("x.thing".to_string(), sample());
        schema.data_sources.insert("x.thing".to_string(), sample());
        let pages = pages(&schema);
        assert_eq!(
            pages.keys().collect::<Vec<_>>(),
            ["data.x.thing.md", "x.thing.md"]
        );
        assert!(pages["data.x.thing.md"].starts_with("# data x.thing\n"));
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["x.gone.md", "data.x.gone.md", "x.thing.md", "other.page.md"] {
            std::fs::write(dir.join(file), "text").unwrap();
        }
        assert_eq!(
            orphan_pages(&dir, &schema),
            vec![dir.join("data.x.gone.md"), dir.join("x.gone.md")]
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert!(orphan_pages(&dir, &schema).is_empty());
    }
}
