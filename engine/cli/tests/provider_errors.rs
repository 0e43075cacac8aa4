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

/// Two VPCs and a subnet in state, for plans that must read them back.
const SMALL: &str = r#"provider aws {
  region = "us-east-1"
}

resource aws.vpc main {
  cidr_block = "10.50.0.0/16"
}

resource aws.vpc other {
  cidr_block = "10.51.0.0/16"
}

resource aws.subnet a {
  vpc_id     = aws.vpc.main.id
  cidr_block = "10.50.1.0/24"
}
"#;

/// Regression: with no credentials, a plan with state printed one E0402 per resource,
/// each with the SDK's `Debug` dump, after retrying every read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_are_one_error_saying_where_gig_looked() {
    let emu = support::Emu::start().await;
    let home = tempfile::tempdir().expect("temp home");
    let empty = home.path().join("empty");
    std::fs::write(&empty, "").expect("empty AWS file");
    let empty = empty.to_str().expect("UTF-8 path");
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let dir = stack(&[("main.gig", SMALL)]);
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let mut no_credentials = gig
        .env("HOME", home.path().to_str().expect("UTF-8 path"))
        .env("AWS_CONFIG_FILE", empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", empty)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for key in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        no_credentials = no_credentials.unset(key);
    }
    let started = std::time::Instant::now();
    let run = no_credentials
        .run_in(dir.path(), &["plan", "."])
        .expect_code(1);
    assert_eq!(run.stderr.matches("gig::E").count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("gig::E0405"), "{}", run.stderr);
    for place in [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "instance metadata",
    ] {
        assert!(run.stderr.contains(place), "names {place}: {}", run.stderr);
    }
    assert!(run.stderr.contains("3 read(s) failed"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("DispatchFailure") && !run.stderr.contains("WARN"),
        "no SDK dump and no per-call warnings: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "no plan output: {}", run.stdout);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "not retried: {:?}",
        started.elapsed()
    );
}

/// Regression: a plan against an endpoint where nothing listens retried every read for
/// about 48 s, then printed one error per resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_endpoint_is_one_error_naming_it() {
    let emu = support::Emu::start().await;
    let dir = stack(&[("main.gig", SMALL)]);
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("its address").port()
    };
    let dead = format!("http://127.0.0.1:{closed}");
    let started = std::time::Instant::now();
    for args in [&["plan", "."][..], &["drift", "."][..]] {
        let run = gig
            .run_in_with(dir.path(), args, &[("AWS_ENDPOINT_URL", &dead)])
            .expect_code(1);
        assert_eq!(run.stderr.matches("gig::E").count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains("gig::E0406"), "{}", run.stderr);
        assert!(
            run.stderr.contains(&dead),
            "names the endpoint: {}",
            run.stderr
        );
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "fails fast: {:?}",
        started.elapsed()
    );
}

/// The configuration `--rollback-on-failure` returns to.
const BEFORE_ROLLBACK: &str = r#"provider aws {
  region = "us-east-1"
}

resource aws.vpc main {
  cidr_block = "10.41.0.0/16"
  tags       = { Team = "before" }
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_on_failure_undoes_the_apply_and_the_old_config_plans_no_change() {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let dir = stack(&[("main.gig", BEFORE_ROLLBACK)]);
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);

    // The VPC's tags change, a subnet is made, and an overlapping subnet fails.
    let after = BEFORE_ROLLBACK.replace("before", "after")
        + r#"
resource aws.subnet a {
  vpc_id     = aws.vpc.main.id
  cidr_block = "10.41.1.0/24"
}

resource aws.subnet overlapping {
  vpc_id     = aws.vpc.main.id
  cidr_block = "10.41.1.0/25"
  depends_on = [aws.subnet.a]
}
"#;
    std::fs::write(dir.path().join("main.gig"), after).expect("write the new config");
    let run = gig
        .run_in(
            dir.path(),
            &["apply", ".", "--auto-approve", "--rollback-on-failure"],
        )
        .expect_code(1);
    let out = &run.stdout;
    assert!(
        run.stderr.contains("InvalidSubnet.Conflict"),
        "{}",
        run.stderr
    );
    assert!(out.contains("undone: aws.subnet.a (deleted)"), "{out}");
    assert!(
        out.contains("undone: aws.vpc.main (restored to its Prior value)"),
        "{out}"
    );
    assert!(
        out.contains("Rollback complete: 2 undone, 0 not undone."),
        "{out}"
    );

    std::fs::write(dir.path().join("main.gig"), BEFORE_ROLLBACK).expect("write the old config");
    let plan = gig
        .run_in(dir.path(), &["plan", ".", "--detailed-exitcode"])
        .expect_code(0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    let history = gig
        .run_in(dir.path(), &["state", "history", "."])
        .expect_code(0);
    let ops: Vec<&str> = history
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        ops[ops.len() - 2..],
        ["apply", "rollback"],
        "{}",
        history.stdout
    );
}
