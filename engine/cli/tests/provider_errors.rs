//! AWS errors reach the user as compile-style diagnostics: the AWS code and message kept
//! intact, rendered at the resource block that caused them; independent resources still
//! finish and state keeps every success.

mod common;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use common::{stack, Gig};

const STACK: &str = r#"provider aws {
  region = "us-east-1"
}

resource aws.vpc main {
  cidr_block = "10.40.0.0/16"
}

resource aws.subnet a {
  vpc_id     = aws.vpc.main.id
  cidr_block = "10.40.1.0/24"
}

resource aws.subnet overlapping {
  vpc_id     = aws.vpc.main.id
  cidr_block = "10.40.1.0/25"
  depends_on = [aws.subnet.a]
}

resource aws.db_subnet_group ghost {
  name       = "ghost"
  subnet_ids = ["subnet-00000000000000000", "subnet-11111111111111111"]
}

resource aws.security_group after_overlap {
  name   = "after-overlap"
  vpc_id = aws.subnet.overlapping.vpc_id
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_errors_are_shown_at_the_resource_block_with_their_code() {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let dir = stack(&[("main.gig", STACK)]);
    let run = gig
        .run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(1);
    let err = &run.stderr;
    assert!(err.contains("gig::E0401"), "{err}");
    assert!(
        err.contains("InvalidSubnet.Conflict"),
        "the AWS code is kept: {err}"
    );
    assert!(
        err.contains("main.gig:14:1]"),
        "rendered at the overlapping subnet's block: {err}"
    );
    assert!(err.contains("aws.subnet.overlapping failed here"), "{err}");
    assert!(
        err.contains("InvalidSubnetID.NotFound"),
        "nonexistent subnet: {err}"
    );
    assert!(
        err.contains("main.gig:20:1]"),
        "rendered at the subnet group's block: {err}"
    );
    assert!(
        err.contains("skipped aws.security_group.after_overlap"),
        "dependents are skipped and listed: {err}"
    );
    let list = gig
        .run_in(dir.path(), &["state", "list", "."])
        .expect_code(0);
    let mut recorded: Vec<&str> = list
        .stdout
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    recorded.sort();
    assert_eq!(
        recorded,
        ["aws.subnet.a", "aws.vpc.main"],
        "state keeps every success"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_db_identifier_is_reported_at_the_second_block() {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let db = |name: &str| {
        format!(
            "resource aws.db_instance {name} {{\n  identifier          = \"shop\"\n  engine              = \"mysql\"\n  instance_class      = \"db.t3.micro\"\n  allocated_storage   = 20\n  username            = \"admin\"\n  password            = db_password\n  storage_encrypted   = true\n  skip_final_snapshot = true\n  backup_retention_period = 7\n}}\n"
        )
    };
    let provider = "provider aws {\n  region = \"us-east-1\"\n}\nparam db_password: string { secret = true }\n";
    let gig = gig.env("GIG_PARAM_db_password", "correct-horse-battery");
    let first = stack(&[("main.gig", &db("first")), ("provider.gig", provider)]);
    gig.run_in(first.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let second = stack(&[("db.gig", &db("second")), ("provider.gig", provider)]);
    let run = gig
        .run_in(second.path(), &["apply", ".", "--auto-approve"])
        .expect_code(1);
    assert!(
        run.stderr.contains("DBInstanceAlreadyExists"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("db.gig:1:1]"), "{}", run.stderr);
    assert!(
        !run.all().contains("correct-horse-battery"),
        "the password is never shown: {}",
        run.all()
    );
}

/// Regression: without a region every call failed with a retryable "missing signing
/// region" dispatch failure, retried five times, with an SDK debug dump as the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_region_is_one_clear_error() {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let dir = stack(&[(
        "main.gig",
        "resource aws.vpc main {\n  cidr_block = \"10.0.0.0/16\"\n}\n",
    )]);
    let run = gig
        .run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(1);
    assert!(
        run.stderr.contains("no AWS region is configured"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("attempt=2"),
        "not retried: {}",
        run.stderr
    );
}
