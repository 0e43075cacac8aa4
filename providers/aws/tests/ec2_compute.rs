//! Compute resources against the emulator: `aws.instance`, `aws.launch_template`,
//! `aws.autoscaling_group`, and the `aws.ami` / `aws.availability_zones` data sources.

mod support;

use gig_core::value::Value;
use serde_json::json;
use support::{a, assert_plans_clean, ctx, planned_for, s, val, with_defaults, Emu};

/// Amazon Linux 2023 x86_64 in moto's us-east-1 image list.
const AMI: &str = "ami-0820d0c589175bc01";

struct Net {
    vpc: Value,
    subnet: Value,
    sg: Value,
    sg2: Value,
}

async fn network(emu: &Emu) -> Net {
    let vpc = emu
        .create(
            "aws.vpc",
            &with_defaults("aws.vpc", &val(json!({"cidr_block": "10.30.0.0/16"}))),
        )
        .await;
    let subnet = emu
        .create(
            "aws.subnet",
            &with_defaults(
                "aws.subnet",
                &val(json!({"vpc_id": s(&vpc, "id"), "cidr_block": "10.30.1.0/24", "availability_zone": "us-east-1a"})),
            ),
        )
        .await;
    let sg = emu
        .create(
            "aws.security_group",
            &with_defaults(
                "aws.security_group",
                &val(json!({"name": "one", "vpc_id": s(&vpc, "id")})),
            ),
        )
        .await;
    let sg2 = emu
        .create(
            "aws.security_group",
            &with_defaults(
                "aws.security_group",
                &val(json!({"name": "two", "vpc_id": s(&vpc, "id")})),
            ),
        )
        .await;
    Net {
        vpc,
        subnet,
        sg,
        sg2,
    }
}

#[tokio::test]
async fn instance_lifecycle() {
    let emu = Emu::start().await;
    let net = network(&emu).await;
    let desired = json!({
        "ami": AMI,
        "instance_type": "t3.micro",
        "subnet_id": s(&net.subnet, "id"),
        "vpc_security_group_ids": [s(&net.sg, "id")],
        "user_data": "#!/bin/sh\necho hello\n",
        "metadata_options": [{"http_tokens": "required"}],
        "root_block_device": [{"volume_size": 20, "volume_type": "gp3"}],
        "tags": {"Name": "web"}
    });
    let inst = emu
        .create(
            "aws.instance",
            &with_defaults("aws.instance", &val(desired.clone())),
        )
        .await;
    assert!(s(&inst, "id").starts_with("i-"));
    assert!(s(&inst, "private_ip").starts_with("10.30.1."));
    assert_eq!(s(&inst, "availability_zone"), "us-east-1a");
    let read = emu.read("aws.instance", &inst).await.expect("exists");
    assert_eq!(read, inst);
    assert_plans_clean("aws.instance", &val(desired), &read);

    // Import reads user_data back from AWS (base64-decoded).
    let imported = emu
        .provider()
        .import(&ctx("aws.instance.x"), "aws.instance", &s(&inst, "id"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s(&imported, "user_data"), "#!/bin/sh\necho hello\n");
    assert_eq!(imported, read);

    // In place: type (stop/modify/start), security groups, metadata options, tags.
    let desired2 = json!({
        "ami": AMI,
        "instance_type": "t3.small",
        "subnet_id": s(&net.subnet, "id"),
        "vpc_security_group_ids": [s(&net.sg, "id"), s(&net.sg2, "id")],
        "user_data": "#!/bin/sh\necho hello\n",
        "metadata_options": [{"http_tokens": "optional"}],
        "root_block_device": [{"volume_size": 20, "volume_type": "gp3"}],
        "tags": {"Name": "web2"}
    });
    emu.recorder().clear();
    let updated = emu
        .update(
            "aws.instance",
            &read,
            &planned_for("aws.instance", desired2.clone(), &a(&inst, "id")),
        )
        .await;
    assert_eq!(s(&updated, "id"), s(&inst, "id"));
    assert_plans_clean("aws.instance", &val(desired2), &updated);
    let ops = emu.recorder().operations();
    let pos = |op: &str| {
        ops.iter()
            .position(|o| o == op)
            .unwrap_or_else(|| panic!("{op} not in {ops:?}"))
    };
    assert!(
        pos("StopInstances") < pos("ModifyInstanceAttribute")
            && pos("ModifyInstanceAttribute") < pos("StartInstances")
    );
    let md = a(&updated, "metadata_options");
    assert_eq!(
        md.as_list().unwrap()[0].get("http_endpoint"),
        Some(&Value::str("enabled")),
        "other options kept"
    );

    let schema = support::schema("aws.instance", false);
    for attr in ["ami", "subnet_id", "user_data", "key_name"] {
        assert!(schema.attributes[attr].force_new, "{attr}");
    }
    for attr in [
        "instance_type",
        "vpc_security_group_ids",
        "metadata_options",
        "tags",
    ] {
        assert!(!schema.attributes[attr].force_new, "{attr}");
    }

    // Refresh of several instances: one DescribeInstances and one DescribeVolumes.
    let other = emu
        .create(
            "aws.instance",
            &with_defaults(
                "aws.instance",
                &val(json!({"ami": AMI, "instance_type": "t3.nano"})),
            ),
        )
        .await;
    emu.recorder().clear();
    let requests: Vec<gig_provider::ReadRequest> = [&updated, &other]
        .iter()
        .map(|v| gig_provider::ReadRequest {
            address: "aws.instance.x".into(),
            id: s(v, "id"),
            prior: (*v).clone(),
        })
        .collect();
    let out = emu
        .provider()
        .read("aws.instance", &requests)
        .await
        .unwrap();
    assert!(out.iter().all(|r| matches!(r, Ok(Some(_)))));
    assert_eq!(
        emu.recorder().operations(),
        vec!["DescribeInstances", "DescribeVolumes"]
    );

    // Bad input keeps AWS's code: a nonexistent subnet.
    let err = emu
        .provider()
        .create(
            &ctx("aws.instance.bad"),
            "aws.instance",
            &with_defaults("aws.instance", &val(json!({"ami": AMI, "instance_type": "t3.micro", "subnet_id": "subnet-0000000000000000f"}))),
        )
        .await
        .expect_err("no subnet");
    assert_eq!(
        err.code.as_deref(),
        Some("InvalidSubnetID.NotFound"),
        "{err:?}"
    );
    assert_eq!(err.attribute.as_deref(), Some("subnet_id"));

    // Delete waits for termination; a terminated instance reads as gone.
    emu.delete("aws.instance", &updated).await;
    assert_eq!(emu.read("aws.instance", &updated).await, None);
    emu.delete("aws.instance", &updated).await;
    emu.delete("aws.instance", &other).await;
    let _ = net.vpc;
}

#[tokio::test]
async fn launch_template_versions_and_autoscaling_group() {
    let emu = Emu::start().await;
    let net = network(&emu).await;
    let desired = json!({
        "name": "app",
        "image_id": AMI,
        "instance_type": "t3.small",
        "user_data": "echo app",
        "vpc_security_group_ids": [s(&net.sg, "id")],
        "metadata_options": [{"http_tokens": "required"}],
        "tags": {"Name": "app"}
    });
    let lt = emu
        .create(
            "aws.launch_template",
            &with_defaults("aws.launch_template", &val(desired.clone())),
        )
        .await;
    assert!(s(&lt, "id").starts_with("lt-"));
    assert_eq!(a(&lt, "latest_version"), Value::from(1i64));
    let read = emu.read("aws.launch_template", &lt).await.expect("exists");
    assert_eq!(read, lt);
    assert_plans_clean("aws.launch_template", &val(desired), &read);

    // An update makes version 2 and the default.
    let desired2 = json!({
        "name": "app",
        "image_id": AMI,
        "instance_type": "t3.medium",
        "user_data": "echo app v2",
        "vpc_security_group_ids": [s(&net.sg, "id"), s(&net.sg2, "id")],
        "metadata_options": [{"http_tokens": "required"}],
        "tags": {"Name": "app"}
    });
    let lt2 = emu
        .update(
            "aws.launch_template",
            &read,
            &planned_for("aws.launch_template", desired2.clone(), &a(&lt, "id")),
        )
        .await;
    assert_eq!(s(&lt2, "id"), s(&lt, "id"));
    assert_eq!(a(&lt2, "latest_version"), Value::from(2i64));
    assert_eq!(a(&lt2, "default_version"), Value::from(2i64));
    assert_plans_clean("aws.launch_template", &val(desired2), &lt2);
    assert!(support::schema("aws.launch_template", false).attributes["name"].force_new);
    let imported = emu
        .provider()
        .import(
            &ctx("aws.launch_template.x"),
            "aws.launch_template",
            &s(&lt, "id"),
        )
        .await
        .unwrap();
    assert_eq!(imported.as_ref(), Some(&lt2));

    // Auto Scaling group from a template. (A template with user_data makes moto's
    // CreateAutoScalingGroup crash, see docs/notes/emulator-gaps.md, so the group uses
    // one without.)
    let lt = emu
        .create(
            "aws.launch_template",
            &with_defaults(
                "aws.launch_template",
                &val(json!({"name": "asg", "image_id": AMI, "instance_type": "t3.micro"})),
            ),
        )
        .await;
    let asg_desired = json!({
        "name": "app",
        "min_size": 1,
        "max_size": 3,
        "desired_capacity": 2,
        "vpc_zone_identifier": [s(&net.subnet, "id")],
        "launch_template": [{"id": s(&lt, "id"), "version": "$Latest"}],
        "tags": {"team": "core"}
    });
    let asg = emu
        .create(
            "aws.autoscaling_group",
            &with_defaults("aws.autoscaling_group", &val(asg_desired.clone())),
        )
        .await;
    assert_eq!(s(&asg, "id"), "app");
    let asg_read = emu
        .read("aws.autoscaling_group", &asg)
        .await
        .expect("exists");
    assert_plans_clean("aws.autoscaling_group", &val(asg_desired), &asg_read);

    let asg_desired2 = json!({
        "name": "app",
        "min_size": 0,
        "max_size": 5,
        "desired_capacity": 1,
        "vpc_zone_identifier": [s(&net.subnet, "id")],
        "launch_template": [{"id": s(&lt, "id")}],
        "health_check_grace_period": 120,
        "tags": {"team": "platform"}
    });
    let asg2 = emu
        .update(
            "aws.autoscaling_group",
            &asg_read,
            &planned_for(
                "aws.autoscaling_group",
                asg_desired2.clone(),
                &a(&asg, "id"),
            ),
        )
        .await;
    assert_plans_clean("aws.autoscaling_group", &val(asg_desired2), &asg2);
    assert!(support::schema("aws.autoscaling_group", false).attributes["name"].force_new);
    let imported = emu
        .provider()
        .import(
            &ctx("aws.autoscaling_group.x"),
            "aws.autoscaling_group",
            "app",
        )
        .await
        .unwrap();
    assert_eq!(imported.as_ref(), Some(&asg2));

    emu.delete("aws.autoscaling_group", &asg2).await;
    assert_eq!(emu.read("aws.autoscaling_group", &asg2).await, None);
    emu.delete("aws.autoscaling_group", &asg2).await;
    emu.delete("aws.launch_template", &lt).await;
    emu.delete("aws.launch_template", &lt2).await;
    assert_eq!(emu.read("aws.launch_template", &lt2).await, None);
}

#[tokio::test]
async fn data_sources_read_at_plan_time() {
    let emu = Emu::start().await;
    let args = val(json!({
        "owners": ["137112412989"],
        "most_recent": true,
        "filter": [
            {"name": "name", "values": ["al2023-ami-2023.*-kernel-6.1-x86_64"]},
            {"name": "architecture", "values": ["x86_64"]}
        ]
    }));
    let ami = emu
        .provider()
        .read_data(&ctx("data.aws.ami.al2023"), "aws.ami", &args)
        .await
        .unwrap();
    assert_eq!(s(&ami, "id"), AMI);
    assert_eq!(s(&ami, "architecture"), "x86_64");
    assert!(s(&ami, "name").starts_with("al2023-ami-2023"));
    assert!(!s(&ami, "creation_date").is_empty());

    let many =
        val(json!({"owners": ["137112412989"], "filter": [{"name": "name", "values": ["*"]}]}));
    let err = emu
        .provider()
        .read_data(&ctx("data.aws.ami.any"), "aws.ami", &many)
        .await
        .expect_err("several");
    assert!(err.message.contains("most_recent"), "{err}");
    let none = val(json!({"filter": [{"name": "name", "values": ["no-such-image-*"]}]}));
    assert!(emu
        .provider()
        .read_data(&ctx("data.aws.ami.none"), "aws.ami", &none)
        .await
        .is_err());

    let zones = emu
        .provider()
        .read_data(
            &ctx("data.aws.availability_zones.a"),
            "aws.availability_zones",
            &val(json!({"state": "available"})),
        )
        .await
        .unwrap();
    let names = a(&zones, "names");
    let names: Vec<&str> = names
        .as_list()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(names.contains(&"us-east-1a"), "{names:?}");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(a(&zones, "zone_ids").as_list().unwrap().len(), names.len());
}
