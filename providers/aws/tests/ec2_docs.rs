//! The reference pages docs/resources/aws.<type>.md of the EC2 / Auto Scaling types and
//! data sources are generated from their schemas; this test fails when one is out of
//! date. `UPDATE_EXPECT=1 cargo test -p gig-provider-aws --test ec2_docs` rewrites them.
//! The other types' pages are checked by their own test files.

mod support;

use std::path::PathBuf;

use gig_provider::docs::orphan_pages;
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
fn docs_pages_match_the_schemas() {
    for t in RESOURCES {
        support::assert_doc_page_up_to_date(t);
    }
    for t in DATA_SOURCES {
        support::assert_doc_page_up_to_date(&format!("data.{t}"));
    }
}

/// A page left behind by a type that no longer exists must be deleted by hand.
#[test]
fn no_docs_page_outlives_its_type() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/resources");
    let factory = AwsFactory::new();
    let orphans = orphan_pages(&dir, factory.schema());
    assert!(orphans.is_empty(), "pages of no type: {orphans:?}");
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
