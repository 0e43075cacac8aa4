//! Provider aliases through the binary, against the AWS API emulator: one stack puts
//! resources in two regions (`provider aws.west { region = … }` and
//! `provider = aws.west`), and each object lands in the region its provider names.

mod common;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;

use common::Gig;

const STACK: &str = r#"
stack {
  name = "aliases"
}

provider aws {
  region = "us-east-1"
}

provider aws.west {
  region = "us-west-2"
}

resource aws.vpc east {
  cidr_block = "10.0.0.0/16"
}

resource aws.vpc west {
  provider   = aws.west
  cidr_block = "10.1.0.0/16"
}

resource aws.subnet west {
  provider   = aws.west
  vpc_id     = aws.vpc.west.id
  cidr_block = "10.1.1.0/24"
}
"#;

/// The gig:address tags of the stack's objects in `region`.
fn addresses_in(endpoint: &str, region: &str) -> BTreeSet<String> {
    let filters = r#"[{"Key":"gig:stack","Values":["aliases"]}]"#;
    common::tagged_objects(endpoint, region, filters)
        .into_iter()
        .map(|(_, address)| address)
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_object_lands_in_the_region_of_its_provider_alias() {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let dir = common::stack(&[("main.gig", STACK)]);
    let at = dir.path();

    gig.run_in(at, &["apply", ".", "--auto-approve"])
        .expect_code(0);
    assert_eq!(
        addresses_in(&emu.endpoint, "us-east-1"),
        set(&["aws.vpc.east"])
    );
    assert_eq!(
        addresses_in(&emu.endpoint, "us-west-2"),
        set(&["aws.subnet.west", "aws.vpc.west"])
    );
    // Refresh reads each object through its own alias: nothing has drifted.
    gig.run_in(at, &["plan", ".", "--detailed-exitcode"])
        .expect_code(0);
    let list = gig.run_in(at, &["state", "list", "."]).expect_code(0);
    assert!(list.stdout.contains("aws.vpc.west"), "{}", list.all());

    // Dropping the alias block while state holds its resources is refused: a default
    // configuration would look for them in the wrong region.
    let without_alias = STACK.replace("provider aws.west {\n  region = \"us-west-2\"\n}\n", "");
    let without_alias = without_alias
        .split("resource aws.vpc west")
        .next()
        .expect("stack text")
        .to_string();
    std::fs::write(at.join("main.gig"), &without_alias).expect("write stack");
    let refused = gig.run_in(at, &["plan", "."]).expect_code(1);
    assert!(
        refused.stderr.contains("provider `aws.west`"),
        "{}",
        refused.all()
    );

    std::fs::write(at.join("main.gig"), STACK).expect("write stack");
    gig.run_in(at, &["destroy", ".", "--auto-approve"])
        .expect_code(0);
    assert!(addresses_in(&emu.endpoint, "us-west-2").is_empty());
    assert!(addresses_in(&emu.endpoint, "us-east-1").is_empty());
}

#[test]
fn an_undeclared_alias_is_a_located_error() {
    let gig = Gig::new();
    let dir = common::stack(&[(
        "main.gig",
        "resource aws.vpc main {\n  provider   = aws.east\n  cidr_block = \"10.0.0.0/16\"\n}\n",
    )]);
    let run = gig.run_in(dir.path(), &["validate", "."]).expect_code(1);
    assert!(run.stderr.contains("E0166"), "{}", run.all());
    assert!(run.stderr.contains("main.gig:2:16"), "{}", run.all());
}
