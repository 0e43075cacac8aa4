//! Drift detection end to end: apply the reference stack, change the cloud behind gig's
//! back with a separate AWS client (an SG rule, a tag, the DB backup retention, a
//! terminated instance), and check that `gig drift` reports exactly those changes — and
//! the target group attachment the termination took with it — in every format (golden
//! files under `tests/drift/`; `UPDATE_EXPECT=1` rewrites them), that `gig apply`
//! repairs them, and that `gig drift` is then clean.
//!
//! The emulator is seeded (`/moto-api/seed`) so its ids, and so the golden files, are the
//! same on every run; the check timestamp and duration are masked.

mod common;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use std::path::PathBuf;

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Tag};
use common::Gig;
use expect_test::expect_file;

const STACK: &str = "stacks/giggatek";

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/drift")
}

fn mask(format: &str, out: &str) -> String {
    if format != "prometheus" {
        return out.to_string();
    }
    out.lines()
        .map(|l| {
            if l.starts_with("gig_drift_last_check_timestamp_seconds{")
                || l.starts_with("gig_drift_check_duration_seconds{")
            {
                format!("{} <masked>", l.rsplit_once(' ').map_or(l, |(k, _)| k))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

async fn one_id(ec2: &aws_sdk_ec2::Client, kind: &str, address: &str) -> String {
    let filter = Filter::builder()
        .name("tag:gig:address")
        .values(address)
        .build();
    match kind {
        "vpc" => ec2
            .describe_vpcs()
            .filters(filter)
            .send()
            .await
            .unwrap()
            .vpcs()[0]
            .vpc_id()
            .unwrap()
            .to_string(),
        "sg" => ec2
            .describe_security_groups()
            .filters(filter)
            .send()
            .await
            .unwrap()
            .security_groups()[0]
            .group_id()
            .unwrap()
            .to_string(),
        _ => {
            let out = ec2
                .describe_instances()
                .filters(filter)
                .send()
                .await
                .unwrap();
            out.reservations()[0].instances()[0]
                .instance_id()
                .unwrap()
                .to_string()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_reports_exactly_the_out_of_band_changes_and_apply_repairs_them() {
    let emu = support::Emu::start().await;
    common::emulator_request(&emu.endpoint, "/moto-api/seed?a=42", "moto", None, "");
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    // One call at a time, so the seeded emulator hands out the same ids on every run.
    gig.run(&[
        "apply",
        STACK,
        "--env",
        "staging",
        "--auto-approve",
        "--parallelism",
        "1",
    ])
    .expect_code(0);
    let clean = gig
        .run(&["drift", STACK, "--env", "staging"])
        .expect_code(0);
    assert!(clean.stdout.starts_with("No drift"), "{}", clean.stdout);

    // The generated database password never appears in any output or log.
    let password = {
        let dir = gig.only_state_dir("staging");
        let store = gig_state::Store::open(
            &dir,
            gig_state::LockInfo::current("test: read the password"),
        )
        .expect("state opens");
        let raw = store.export_json_raw().expect("raw export");
        raw["resources"]["random.password.db"]["value"]["result"]["$secret"]
            .as_str()
            .expect("the generated password in raw state")
            .to_string()
    };
    assert!(password.len() >= 32);
    for args in [
        &["plan", STACK, "--env", "staging"][..],
        &["plan", STACK, "--env", "staging", "--format", "json"],
        &["plan", STACK, "--env", "staging", "--format", "markdown"],
        &[
            "plan",
            STACK,
            "--env",
            "staging",
            "--destroy",
            "--format",
            "json",
        ],
        &["--log-format", "json", "plan", STACK, "--env", "staging"],
        &["output", STACK, "--env", "staging"],
        &["output", STACK, "--env", "staging", "--json"],
        &["state", "export", STACK, "--env", "staging"],
        &[
            "state",
            "show",
            "random.password.db",
            STACK,
            "--env",
            "staging",
        ],
        &[
            "state",
            "show",
            "aws.db_instance.main",
            STACK,
            "--env",
            "staging",
        ],
        &["drift", STACK, "--env", "staging", "--format", "json"],
    ] {
        let out = gig.run_logged(args);
        assert!(out.len() > 10, "{args:?} printed something");
        assert!(
            !out.contains(&password),
            "the generated password leaked from {args:?}"
        );
    }

    // Someone changes four things by hand.
    let clients = emu.clients().await;
    let ec2 = &clients.ec2;
    let sg = one_id(ec2, "sg", "aws.security_group.app").await;
    ec2.authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(8443)
                .to_port(8443)
                .ip_ranges(IpRange::builder().cidr_ip("10.99.0.0/16").build())
                .build(),
        )
        .send()
        .await
        .expect("add an SG rule");
    let vpc = one_id(ec2, "vpc", "aws.vpc.main").await;
    ec2.create_tags()
        .resources(&vpc)
        .tags(Tag::builder().key("Name").value("renamed-by-hand").build())
        .send()
        .await
        .expect("retag the VPC");
    clients
        .rds
        .modify_db_instance()
        .db_instance_identifier("giggatek-staging-mysql")
        .backup_retention_period(3)
        .apply_immediately(true)
        .send()
        .await
        .expect("shorten DB backups");
    let instance = one_id(ec2, "instance", "aws.instance.app[\"frontend\"]").await;
    ec2.terminate_instances()
        .instance_ids(&instance)
        .send()
        .await
        .expect("terminate an instance");

    // Exactly those four, exit 2, in every format.
    for (format, file) in [
        ("text", "drift.txt"),
        ("json", "drift.json"),
        ("markdown", "drift.md"),
        ("prometheus", "drift.prom"),
    ] {
        let run = gig
            .run(&["drift", STACK, "--env", "staging", "--format", format])
            .expect_code(2);
        expect_file![golden_dir().join(file)].assert_eq(&mask(format, &run.stdout));
    }
    let json = gig
        .run(&["drift", STACK, "--env", "staging", "--format", "json"])
        .expect_code(2);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let mut drifted: Vec<(String, String)> = report["drifted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["address"].as_str().unwrap().to_string(),
                d["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    drifted.sort();
    assert_eq!(
        drifted,
        [
            ("aws.db_instance.main".to_string(), "changed".to_string()),
            (
                "aws.instance.app[\"frontend\"]".to_string(),
                "deleted".to_string()
            ),
            // Terminating an instance deregisters it from its target group (on AWS as
            // well): the attachment is gone too, and drift says so.
            (
                "aws.lb_target_group_attachment.app[\"frontend\"]".to_string(),
                "deleted".to_string()
            ),
            ("aws.security_group.app".to_string(), "changed".to_string()),
            ("aws.vpc.main".to_string(), "changed".to_string()),
        ]
    );

    // The metrics file is written atomically where the collector reads it.
    let prom = gig.state_root.path().join("gig_drift.prom");
    gig.run(&[
        "drift",
        STACK,
        "--env",
        "staging",
        "--format",
        "prometheus",
        "--out",
        prom.to_str().unwrap(),
    ])
    .expect_code(2);
    assert!(std::fs::read_to_string(&prom)
        .unwrap()
        .contains("gig_drift_resources{stack=\"giggatek\",env=\"staging\",type=\"aws.vpc\"} 1"));

    // Apply brings the cloud back to the configuration; drift is clean again.
    gig.run(&["apply", STACK, "--env", "staging", "--auto-approve"])
        .expect_code(0);
    let run = gig.run(&["drift", STACK, "--env", "staging"]);
    assert_eq!(run.code, 0, "after repair:\n{}", run.all());
    gig.run(&["plan", STACK, "--env", "staging", "--detailed-exitcode"])
        .expect_code(0);

    // Adopting drift instead: `apply --refresh-only` records the cloud's values in state
    // without changing the cloud; drift is then clean, and the plan shows the way back to
    // the configuration.
    ec2.create_tags()
        .resources(&vpc)
        .tags(Tag::builder().key("Name").value("adopted").build())
        .send()
        .await
        .expect("retag the VPC");
    let run = gig
        .run(&[
            "apply",
            STACK,
            "--env",
            "staging",
            "--refresh-only",
            "--auto-approve",
        ])
        .expect_code(0);
    assert!(
        run.stdout.contains("tags.Name") && run.stdout.contains("Recorded 1 resource"),
        "{}",
        run.stdout
    );
    gig.run(&["drift", STACK, "--env", "staging"])
        .expect_code(0);
    let plan = gig
        .run(&["plan", STACK, "--env", "staging", "--detailed-exitcode"])
        .expect_code(2);
    assert!(
        plan.stdout
            .contains("~ tags.Name = \"adopted\" -> \"giggatek-staging\""),
        "{}",
        plan.stdout
    );
}

/// The plan says why a resource is created again when refresh found it deleted outside
/// gig, in text and in JSON (`deleted_outside`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_says_when_it_recreates_what_was_deleted_outside_gig() {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let dir = common::stack(&[(
        "main.gig",
        "provider aws {\n  region = \"us-east-1\"\n}\n\n\
         resource aws.vpc main {\n  cidr_block = \"10.60.0.0/16\"\n}\n\n\
         resource aws.vpc kept {\n  cidr_block = \"10.61.0.0/16\"\n}\n",
    )]);
    gig.run_in(dir.path(), &["apply", ".", "--auto-approve"])
        .expect_code(0);
    let raw = emu.clients().await;
    let id = one_id(&raw.ec2, "vpc", "aws.vpc.main").await;
    raw.ec2.delete_vpc().vpc_id(&id).send().await.unwrap();

    let text = gig
        .run_in_with(dir.path(), &["plan", "."], &[("GIG_LOG", "debug")])
        .expect_code(0);
    assert!(
        text.stderr.contains("provider call succeeded"),
        "GIG_LOG=debug shows gig's own events: {}",
        text.stderr
    );
    assert!(
        !text.stderr.contains("aws_smithy") && !text.stderr.contains("hyper"),
        "but not the SDK's wire chatter: {}",
        text.stderr
    );
    assert!(
        text.stdout
            .contains("# aws.vpc.main will be created (it was deleted outside gig)"),
        "{}",
        text.stdout
    );
    let json = gig
        .run_in(dir.path(), &["plan", ".", "--format", "json"])
        .expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    let flags: Vec<(String, bool)> = plan["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_string(),
                c["deleted_outside"].as_bool().expect("deleted_outside"),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("aws.vpc.kept".to_string(), false),
            ("aws.vpc.main".to_string(), true)
        ]
    );
}
