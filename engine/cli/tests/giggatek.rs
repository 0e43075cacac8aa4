//! The reference stack's whole lifecycle through the `gig` binary against the AWS API
//! emulator: plan on empty state, apply, a clean re-plan, a param change planned and
//! applied exactly, destroy verified by listing the emulator's resources by tag, and the
//! production environment beside staging in its own state.

mod common;
#[path = "../../../providers/aws/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;

use common::{Gig, Run};
use serde_json::Value as J;

const STACK: &str = "stacks/giggatek";

/// (address, action, changed attribute paths) of every change that is not a no-op.
fn changes(plan: &J) -> BTreeSet<(String, String, Vec<String>)> {
    plan["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| {
            let mut paths: Vec<String> = c["attributes"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x["path"].as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            paths.sort();
            (c["address"].as_str().unwrap_or_default().to_string(), c["action"].as_str().unwrap_or_default().to_string(), paths)
        })
        .collect()
}

fn plan_json(gig: &Gig, args: &[&str], code: i32) -> (J, Run) {
    let mut all = vec!["plan", STACK, "--format", "json", "--detailed-exitcode"];
    all.extend_from_slice(args);
    let run = gig.run(&all).expect_code(code);
    (serde_json::from_str(&run.stdout).expect("plan JSON"), run)
}

/// One JSON-protocol call to the emulator (it accepts any signature), returning the body.
fn emulator_call(endpoint: &str, service: &str, target: &str, body: &str) -> J {
    use std::io::{Read, Write};
    let port: u16 = endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    let req = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Amz-Target: {target}\r\n\
         Content-Type: application/x-amz-json-1.1\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the emulator");
    s.write_all(req.as_bytes()).expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let json = resp.split("\r\n\r\n").nth(1).expect("HTTP body");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{target}: {e}: {resp}"))
}

/// Every resource the emulator holds with `gig:stack = giggatek` and `gig:env = env`, by ARN.
fn tagged(endpoint: &str, env: &str) -> Vec<String> {
    let body = format!(
        r#"{{"TagFilters":[{{"Key":"gig:stack","Values":["giggatek"]}},{{"Key":"gig:env","Values":["{env}"]}}]}}"#
    );
    let v = emulator_call(endpoint, "tagging", "ResourceGroupsTaggingAPI_20170126.GetResources", &body);
    v["ResourceTagMappingList"]
        .as_array()
        .expect("mappings")
        .iter()
        .map(|m| m["ResourceARN"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giggatek_staging_and_production_lifecycle() {
    let emu = support::Emu::start().await;
    let gig = Gig::new().with_endpoint(&emu.endpoint);
    let staging = ["--env", "staging"];

    // 1. Empty state: every resource is a create, exit 2.
    let (plan, _) = plan_json(&gig, &staging, 2);
    let all = changes(&plan);
    assert!(all.len() > 30, "the staging stack has {} resources", all.len());
    assert!(all.iter().all(|(_, action, _)| action == "create"), "{all:#?}");

    // 2. Apply: everything created, outputs printed.
    let run = gig.run(&["apply", STACK, "--env", "staging", "--auto-approve"]).expect_code(0);
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    assert!(run.stdout.contains("url = \"http://"), "outputs printed: {}", run.stdout);
    assert!(run.stdout.contains("db_password = (secret)"), "{}", run.stdout);

    // 3. A second plan is clean: no spurious diffs from defaults, ordering or normalisation.
    let (plan, _) = plan_json(&gig, &staging, 0);
    assert!(changes(&plan).is_empty(), "spurious changes: {:#?}", changes(&plan));

    // 4. Param changes show exactly the attributes they touch.
    let changed = [
        "--param", "db_instance_class=db.t3.small",
        "--param", "backup_retention_days=14",
        "--param", "admin_cidr=198.51.100.0/24",
        "--param", "instance_type=t3.medium",
        "--param", "extra_tags={ CostCenter = \"shop\" }",
    ];
    let mut args = staging.to_vec();
    args.extend_from_slice(&changed);
    let (plan, _) = plan_json(&gig, &args, 2);
    let planned = changes(&plan);
    let find = |addr: &str| planned.iter().find(|(a, _, _)| a == addr).cloned();
    let db = find("aws.db_instance.main").expect("db change");
    assert_eq!(db.1, "update", "{db:?}");
    assert!(db.2.contains(&"instance_class".to_string()) && db.2.contains(&"backup_retention_period".to_string()), "{db:?}");
    let sg = find("aws.security_group.app").expect("app SG change");
    assert_eq!(sg.1, "update", "SG rules change in place: {sg:?}");
    let web = find("aws.instance.app[\"frontend\"]").expect("instance change");
    assert_eq!(web.1, "update", "instance type changes in place (stop/modify/start): {web:?}");
    assert!(web.2.contains(&"instance_type".to_string()), "{web:?}");
    assert!(planned.iter().all(|(_, action, _)| action == "update"), "only in-place updates: {planned:#?}");
    assert!(find("aws.vpc.main").is_some_and(|c| c.2 == ["tags.CostCenter"]), "{planned:#?}");
    let mut apply = vec!["apply", STACK, "--auto-approve"];
    apply.extend_from_slice(&args);
    gig.run(&apply).expect_code(0);
    let (plan, _) = plan_json(&gig, &args, 0);
    assert!(changes(&plan).is_empty(), "after the change: {:#?}", changes(&plan));

    // 5. Production beside staging, in its own state, without touching staging. Its HTTPS
    //    listener needs a certificate that exists.
    let cert = emulator_call(
        &emu.endpoint,
        "acm",
        "CertificateManager.RequestCertificate",
        r#"{"DomainName":"shop.giggatek.example","ValidationMethod":"DNS"}"#,
    );
    let cert_param = format!("certificate_arn={}", cert["CertificateArn"].as_str().expect("certificate ARN"));
    let production = ["--env", "production", "--param", cert_param.as_str()];
    let (plan, _) = plan_json(&gig, &production, 2);
    assert!(changes(&plan).iter().all(|(_, a, _)| a == "create"));
    let mut apply = vec!["apply", STACK, "--auto-approve"];
    apply.extend_from_slice(&production);
    gig.run(&apply).expect_code(0);
    plan_json(&gig, &production, 0);
    plan_json(&gig, &args, 0);
    let prod_tagged = tagged(&emu.endpoint, "production");
    assert!(!prod_tagged.is_empty());

    // 6. Destroy staging: nothing tagged for staging is left; production is untouched.
    let mut destroy = vec!["destroy", STACK, "--auto-approve"];
    destroy.extend_from_slice(&args);
    gig.run(&destroy).expect_code(0);
    let left = tagged(&emu.endpoint, "staging");
    assert!(left.is_empty(), "left behind after destroy: {left:#?}");
    assert_eq!(tagged(&emu.endpoint, "production"), prod_tagged);
    let run = gig.run(&["state", "list", STACK, "--env", "staging"]).expect_code(0);
    assert!(run.stdout.trim().is_empty(), "staging state is empty: {}", run.stdout);
}
