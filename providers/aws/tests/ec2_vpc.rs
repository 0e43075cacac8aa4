//! `aws.vpc` against the emulator: create, read round-trip, update in place, import,
//! delete, and gig's own tags kept out of `tags`.

mod support;

use serde_json::json;
use support::{assert_plans_clean, s, val, with_defaults, Emu};

#[tokio::test]
async fn vpc_lifecycle() {
    let emu = Emu::start().await;
    let desired = val(json!({
        "cidr_block": "10.10.0.0/16",
        "enable_dns_hostnames": true,
        "tags": {"Name": "main", "team": "core"}
    }));
    let planned = with_defaults("aws.vpc", &desired);
    let created = emu.create("aws.vpc", &planned).await;
    assert!(s(&created, "id").starts_with("vpc-"));
    assert!(s(&created, "default_security_group_id").starts_with("sg-"));
    assert!(s(&created, "main_route_table_id").starts_with("rtb-"));
    assert!(s(&created, "arn").ends_with(&format!(":vpc/{}", s(&created, "id"))));

    // Read round-trips every settable attribute (and applies the defaults).
    let read = emu.read("aws.vpc", &created).await.expect("vpc exists");
    assert_eq!(read, created);
    let compared = assert_plans_clean("aws.vpc", &desired, &read);
    assert_eq!(compared.len(), 5, "{compared:?}");

    // gig's tags are written to AWS but not shown in `tags`.
    let raw = emu.clients().await;
    let described = raw
        .ec2
        .describe_vpcs()
        .vpc_ids(s(&created, "id"))
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = described.vpcs()[0]
        .tags()
        .iter()
        .filter_map(|t| t.key())
        .collect();
    assert!(
        keys.contains(&"gig:address") && keys.contains(&"gig:stack") && keys.contains(&"gig:env"),
        "{keys:?}"
    );

    // Update in place: DNS attributes and tags.
    let desired2 = val(json!({
        "cidr_block": "10.10.0.0/16",
        "enable_dns_support": false,
        "enable_dns_hostnames": false,
        "tags": {"Name": "main2"}
    }));
    let planned2 = with_defaults("aws.vpc", &desired2);
    let mut planned2_full = planned2.as_map().unwrap().clone();
    planned2_full.insert("id".into(), created.get("id").unwrap().clone());
    let updated = emu
        .update(
            "aws.vpc",
            &created,
            &gig_core::value::Value::Map(planned2_full),
        )
        .await;
    assert_eq!(updated.get("id"), created.get("id"));
    let read2 = emu.read("aws.vpc", &updated).await.expect("vpc exists");
    assert_plans_clean("aws.vpc", &desired2, &read2);
    let described = raw
        .ec2
        .describe_vpcs()
        .vpc_ids(s(&created, "id"))
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = described.vpcs()[0]
        .tags()
        .iter()
        .filter_map(|t| t.key())
        .collect();
    assert!(
        !keys.contains(&"team") && keys.contains(&"gig:address"),
        "{keys:?}"
    );

    // Import by id gives the same value as a read.
    let imported = emu
        .provider()
        .import(
            &support::ctx("aws.vpc.imported"),
            "aws.vpc",
            &s(&created, "id"),
        )
        .await;
    assert_eq!(imported.unwrap(), Some(read2.clone()));

    // Delete; reading afterwards says gone; deleting again is success.
    emu.delete("aws.vpc", &read2).await;
    assert_eq!(emu.read("aws.vpc", &read2).await, None);
    emu.delete("aws.vpc", &read2).await;
}

#[tokio::test]
async fn vpc_schema_marks_force_new_and_defaults() {
    let schema = support::schema("aws.vpc", false);
    let a = &schema.attributes;
    assert!(a["cidr_block"].force_new && a["cidr_block"].required);
    assert!(a["instance_tenancy"].force_new);
    assert!(!a["enable_dns_support"].force_new && !a["enable_dns_hostnames"].force_new);
    assert_eq!(a["enable_dns_support"].default, Some(true.into()));
    assert_eq!(a["enable_dns_hostnames"].default, Some(false.into()));
    assert!(a["id"].computed && a["default_security_group_id"].computed);
}

#[tokio::test]
async fn vpc_bad_cidr_surfaces_the_aws_code() {
    let emu = Emu::start().await;
    let planned = with_defaults("aws.vpc", &val(json!({"cidr_block": "10.0.0.0/33"})));
    let err = emu
        .provider()
        .create(&support::ctx("aws.vpc.bad"), "aws.vpc", &planned)
        .await
        .expect_err("invalid CIDR");
    assert_eq!(
        err.code.as_deref(),
        Some("InvalidParameterValue"),
        "{err:?}"
    );
    assert_eq!(err.class, gig_provider::ErrorClass::Permanent);
}

#[tokio::test]
async fn vpc_refresh_is_batched() {
    let emu = Emu::start().await;
    let mut made = Vec::new();
    for i in 0..3 {
        let planned = with_defaults(
            "aws.vpc",
            &val(json!({"cidr_block": format!("10.{i}.0.0/16")})),
        );
        made.push(emu.create("aws.vpc", &planned).await);
    }
    emu.recorder().clear();
    let requests: Vec<gig_provider::ReadRequest> = made
        .iter()
        .map(|v| gig_provider::ReadRequest {
            address: "aws.vpc.x".into(),
            id: s(v, "id"),
            prior: v.clone(),
        })
        .chain(std::iter::once(gig_provider::ReadRequest {
            address: "aws.vpc.gone".into(),
            id: "vpc-0123456789abcdef0".into(),
            prior: gig_core::value::Value::Null,
        }))
        .collect();
    let out = emu.provider().read("aws.vpc", &requests).await.unwrap();
    assert_eq!(out.len(), 4);
    assert!(out[..3].iter().all(|r| matches!(r, Ok(Some(_)))));
    assert_eq!(out[3], Ok(None));
    assert_eq!(emu.recorder().count("DescribeVpcs"), 1);
    assert_eq!(emu.recorder().count("DescribeSecurityGroups"), 1);
    assert_eq!(emu.recorder().count("DescribeRouteTables"), 1);
    assert_eq!(
        emu.recorder().count("DescribeVpcAttribute"),
        6,
        "two per VPC: AWS has no batched form"
    );
}
