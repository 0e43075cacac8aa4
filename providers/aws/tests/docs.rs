//! Every registered type's reference page in docs/resources/ is the page rendered from
//! its declaration; `UPDATE_EXPECT=1 cargo test -p gig-provider-aws --test docs`
//! rewrites them all.

mod support;

use gig_provider::ProviderFactory;
use gig_provider_aws::AwsFactory;

#[test]
fn every_registered_type_has_an_up_to_date_page() {
    let factory = AwsFactory::new();
    let schema = factory.schema();
    let mut pages = 0;
    for t in schema.resources.keys() {
        support::assert_doc_page_up_to_date(t);
        pages += 1;
    }
    for t in schema.data_sources.keys() {
        support::assert_doc_page_up_to_date(&format!("data.{t}"));
        pages += 1;
    }
    assert!(
        pages >= 30,
        "only {pages} pages: are types missing from the registry?"
    );
}

#[test]
fn every_attribute_is_described() {
    let factory = AwsFactory::new();
    for (t, r) in &factory.schema().resources {
        assert!(!r.description.is_empty(), "{t}");
        assert!(
            r.example.contains(&format!("resource {t} ")),
            "{t}: the example declares another type"
        );
        for (name, a) in &r.attributes {
            assert!(!a.description.is_empty(), "{t}.{name} has no description");
            assert!(
                !(a.required && a.default.is_some()),
                "{t}.{name} is required and has a default"
            );
        }
    }
}
