//! Language features that read the cloud while planning, through the binary against
//! the AWS emulator: resources expanded over a data source, and `import` blocks.

mod common;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use common::Gig;

const PROVIDER: &str = "provider aws {\n  region = \"us-east-1\"\n}\n\n";

/// A `for` and a `count` over `data.aws.availability_zones` expand once the data source
/// is read while planning; the instances apply and plan clean afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_expand_over_a_data_source_read_while_planning() {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let main = format!(
        "{PROVIDER}data aws.availability_zones all {{}}\n\n\
         resource aws.vpc main {{\n  cidr_block = \"10.70.0.0/16\"\n}}\n\n\
         resource aws.subnet per_az for i, az in slice(data.aws.availability_zones.all.names, 0, 2) {{\n\
         \x20 vpc_id            = aws.vpc.main.id\n\
         \x20 availability_zone = az\n\
         \x20 cidr_block        = cidrsubnet(\"10.70.0.0/16\", 8, i)\n}}\n\n\
         resource aws.route_table extra {{\n\
         \x20 count  = length(slice(data.aws.availability_zones.all.names, 0, 2))\n\
         \x20 vpc_id = aws.vpc.main.id\n}}\n"
    );
    let dir = common::stack(&[("main.gig", &main)]);
    let plan = gig.run_in(dir.path(), &["plan", "."]).expect_code(0);
    for created in [
        "# aws.subnet.per_az[\"us-east-1a\"] will be created",
        "# aws.subnet.per_az[\"us-east-1b\"] will be created",
        "# aws.route_table.extra[1] will be created",
    ] {
        assert!(plan.stdout.contains(created), "{created}:\n{}", plan.stdout);
    }
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let listed = gig
        .run_in(dir.path(), &["state", "list", "."])
        .expect_code(0);
    assert!(
        listed
            .stdout
            .contains("aws.subnet.per_az[\"us-east-1b\"]\tsubnet-"),
        "{}",
        listed.stdout
    );
    let again = gig
        .run_in(dir.path(), &["plan", ".", "--detailed-exitcode"])
        .expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

/// An `import` block adopts a VPC made outside gig: the plan reads it and shows the
/// import with the update that makes it match, apply records it without a create, and
/// the block then does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_block_adopts_an_object_made_outside_gig() {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let raw = emu.clients().await;
    let made = raw
        .ec2
        .create_vpc()
        .cidr_block("10.71.0.0/16")
        .send()
        .await
        .expect("create a VPC outside gig");
    let id = made
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let main = format!(
        "{PROVIDER}param vpc_id: string = \"{id}\"\n\n\
         resource aws.vpc main {{\n  cidr_block = \"10.71.0.0/16\"\n  tags       = {{ Name = \"adopted\" }}\n}}\n\n\
         import {{\n  to = aws.vpc.main\n  id = vpc_id\n}}\n"
    );
    let dir = common::stack(&[("main.gig", &main)]);
    let plan = gig.run_in(dir.path(), &["plan", "."]).expect_code(0);
    assert!(
        plan.stdout
            .contains(&format!("+ aws.vpc.main will be imported (id \"{id}\")")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("will be updated in place"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 1 to import, 0 to add, 1 to change"),
        "{}",
        plan.stdout
    );
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let listed = gig
        .run_in(dir.path(), &["state", "list", "."])
        .expect_code(0);
    assert_eq!(listed.stdout, format!("aws.vpc.main\t{id}\n"));
    let vpcs = raw.ec2.describe_vpcs().send().await.expect("describe");
    let with_cidr = vpcs
        .vpcs()
        .iter()
        .filter(|v| v.cidr_block() == Some("10.71.0.0/16"))
        .count();
    assert_eq!(with_cidr, 1, "no second VPC was made");
    let again = gig.run_in(dir.path(), &["plan", "."]).expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert!(again.stderr.contains("gig::E0386"), "{}", again.stderr);

    let missing = main.replace(&format!("\"{id}\""), "\"vpc-00000000000000000\"");
    let dir = common::stack(&[("main.gig", &missing)]);
    let run = gig.run_in(dir.path(), &["plan", "."]).expect_code(1);
    assert!(run.stderr.contains("gig::E0384"), "{}", run.stderr);
}
