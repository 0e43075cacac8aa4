//! The reference pages docs/resources/aws.<type>.md of the EC2 / Auto Scaling types and
//! data sources are generated from their schemas; this test fails when one is out of
//! date. `UPDATE_DOCS=1 cargo test -p gig-provider-aws --test ec2_docs` rewrites them.

use std::path::PathBuf;

use gig_provider::docs::{doc_file_name, render_data_source_docs, render_resource_docs};
use gig_provider::ProviderFactory;
use gig_provider_aws::AwsFactory;

const RESOURCES: &[&str] = &[
    "aws.vpc",
    "aws.subnet",
    "aws.internet_gateway",
    "aws.eip",
    "aws.nat_gateway",
    "aws.route_table",
    "aws.route_table_association",
    "aws.security_group",
    "aws.instance",
    "aws.launch_template",
    "aws.autoscaling_group",
];
const DATA_SOURCES: &[&str] = &["aws.ami", "aws.availability_zones"];

#[test]
fn ec2_resource_pages_match_the_schemas() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/resources");
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    let factory = AwsFactory::new();
    let schema = factory.schema();
    let mut stale = Vec::new();
    let pages = RESOURCES
        .iter()
        .map(|t| {
            (
                doc_file_name(t, false),
                render_resource_docs(&schema.resources[*t]),
            )
        })
        .chain(DATA_SOURCES.iter().map(|t| {
            (
                doc_file_name(t, true),
                render_data_source_docs(&schema.data_sources[*t]),
            )
        }));
    for (file, want) in pages {
        let path = dir.join(&file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &want).unwrap();
            } else {
                stale.push(file);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; run with UPDATE_DOCS=1 to regenerate"
    );
}

#[test]
fn every_ec2_type_has_a_description_and_an_example() {
    let factory = AwsFactory::new();
    let schema = factory.schema();
    for t in RESOURCES {
        let r = &schema.resources[*t];
        assert!(
            !r.description.is_empty() && r.example.contains(&format!("resource {t} ")),
            "{t}"
        );
        assert!(r.attributes.contains_key("id"), "{t}");
        for (name, a) in &r.attributes {
            assert!(!a.description.is_empty(), "{t}.{name} has no description");
            assert!(
                !(a.required && a.default.is_some()),
                "{t}.{name} is required and has a default"
            );
        }
    }
    for t in DATA_SOURCES {
        let d = &schema.data_sources[*t];
        assert!(d.example.contains(&format!("data {t} ")), "{t}");
    }
}
