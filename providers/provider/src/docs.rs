//! Reference pages for docs/resources/, generated from resource schemas.
//!
//! Every provider's docs come from the same generator so that the pages always say what
//! the code does: a test in each provider crate calls [`sync_docs`] and fails when a page
//! is out of date (set `UPDATE_DOCS=1` to rewrite the pages instead).
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

/// Compares (or, with `update`, rewrites) the pages of every type of `schema` in `dir`.
/// Pages named after the provider (`<name>.*.md`, `data.<name>.*.md`) that no type
/// produces any more are stale too (and removed on update). Returns the stale paths,
/// sorted; with `update` they have been rewritten or removed.
pub fn sync_docs(
    dir: &Path,
    schema: &ProviderSchema,
    update: bool,
) -> std::io::Result<Vec<PathBuf>> {
    let mut pages: BTreeMap<String, String> = BTreeMap::new();
    for (name, r) in &schema.resources {
        pages.insert(doc_file_name(name, false), render_resource_docs(r));
    }
    for (name, d) in &schema.data_sources {
        pages.insert(doc_file_name(name, true), render_data_source_docs(d));
    }
    let mut stale = Vec::new();
    for (file, text) in &pages {
        let path = dir.join(file);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() != Some(text.as_str()) {
            if update {
                std::fs::create_dir_all(dir)?;
                std::fs::write(&path, text)?;
            }
            stale.push(path);
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        let prefixes = [
            format!("{}.", schema.name),
            format!("data.{}.", schema.name),
        ];
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().to_string();
            let ours =
                prefixes.iter().any(|p| file.starts_with(p.as_str())) && file.ends_with(".md");
            if ours && !pages.contains_key(&file) {
                if update {
                    std::fs::remove_file(entry.path())?;
                }
                stale.push(entry.path());
            }
        }
    }
    stale.sort();
    Ok(stale)
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
    let _ = writeln!(out, "<!-- Generated from the provider schema; do not edit. Run the provider's docs test with UPDATE_DOCS=1 to refresh. -->\n");
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
    fn sync_reports_and_rewrites_stale_pages() {
        let dir = std::env::temp_dir().join(format!("gig-docs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut schema = ProviderSchema {
            name: "x".to_string(),
            ..ProviderSchema::default()
        };
        schema.resources.insert("x.thing".to_string(), sample());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("x.gone.md"), "old").unwrap();
        std::fs::write(dir.join("other.page.md"), "not ours").unwrap();
        let stale = sync_docs(&dir, &schema, false).unwrap();
        assert_eq!(stale, vec![dir.join("x.gone.md"), dir.join("x.thing.md")]);
        let stale = sync_docs(&dir, &schema, true).unwrap();
        assert_eq!(stale.len(), 2);
        assert!(sync_docs(&dir, &schema, false).unwrap().is_empty());
        assert!(dir.join("other.page.md").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
