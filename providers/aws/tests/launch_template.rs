//! `aws.launch_template` settings against the emulator: `name_prefix`,
//! `network_interfaces` and `tag_specifications` (create, read-back, update to a new
//! version, import, drift, delete).

mod support;

use aws_sdk_ec2::types::{
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType, Tag,
};
use gig_core::value::Value;
use gig_provider::OpContext;
use serde_json::json;
use support::{a, assert_plans_clean, ctx, planned_for, s, val, with_defaults, Emu};

const LT: &str = "aws.launch_template";

/// Amazon Linux 2023 x86_64 in moto's us-east-1 image list.
const AMI: &str = "ami-0820d0c589175bc01";

async fn subnet_and_group(emu: &Emu) -> (String, String) {
    let vpc = support::vpc(emu, "10.40.0.0/16").await;
    let subnet = emu
        .create(
            "aws.subnet",
            &with_defaults(
                "aws.subnet",
                &val(json!({"vpc_id": s(&vpc, "id"), "cidr_block": "10.40.1.0/24"})),
            ),
        )
        .await;
    let sg = emu
        .create(
            "aws.security_group",
            &with_defaults(
                "aws.security_group",
                &val(json!({"name": "lt", "vpc_id": s(&vpc, "id")})),
            ),
        )
        .await;
    (s(&subnet, "id"), s(&sg, "id"))
}

#[tokio::test]
async fn network_interfaces_and_tag_specifications_round_trip() {
    let emu = Emu::start().await;
    let (subnet, sg) = subnet_and_group(&emu).await;
    let desired = json!({
        "name_prefix": "app-",
        "image_id": AMI,
        "instance_type": "t3.micro",
        "network_interfaces": [{
            "associate_public_ip_address": false,
            "delete_on_termination": true,
            "device_index": 0,
            "security_groups": [sg],
            "subnet_id": subnet,
            "description": "primary"
        }],
        "tag_specifications": [
            {"resource_type": "instance", "tags": {"Name": "app", "tier": "web"}},
            {"resource_type": "volume", "tags": {"Name": "app-disk"}}
        ]
    });
    let made = emu
        .create(LT, &with_defaults(LT, &val(desired.clone())))
        .await;
    let name = s(&made, "name");
    assert!(name.starts_with("app-") && name.len() == 30, "{name}");
    assert_eq!(a(&made, "name_prefix"), Value::str("app-"));
    let read = emu.read(LT, &made).await.expect("exists");
    assert_eq!(read, made);
    assert_plans_clean(LT, &val(desired), &read);

    // A create-before-destroy replacement (another create token) gets another name.
    let other = OpContext {
        token: Some("second".into()),
        ..ctx("aws.launch_template.test")
    };
    let planned = with_defaults(LT, &val(json!({"name_prefix": "app-", "image_id": AMI})));
    let second = emu.provider().create(&other, LT, &planned).await.unwrap();
    assert_ne!(s(&second, "name"), name);
    assert!(s(&second, "name").starts_with("app-"));

    // An update writes a new version with the new blocks and makes it the default.
    let desired2 = json!({
        "name_prefix": "app-",
        "image_id": AMI,
        "instance_type": "t3.micro",
        "network_interfaces": [{
            "associate_public_ip_address": true,
            "device_index": 0,
            "security_groups": [sg],
            "subnet_id": subnet
        }],
        "tag_specifications": [
            {"resource_type": "network-interface", "tags": {"Name": "app-eni"}}
        ]
    });
    let updated = emu
        .update(
            LT,
            &read,
            &planned_for(LT, desired2.clone(), &a(&made, "id")),
        )
        .await;
    assert_eq!(a(&updated, "latest_version"), Value::from(2i64));
    assert_eq!(a(&updated, "default_version"), Value::from(2i64));
    assert_eq!(s(&updated, "name"), name, "the name stays");
    assert_plans_clean(LT, &val(desired2), &updated);

    // Import: read by id with no prior; the blocks come back from AWS.
    let imported = emu
        .provider()
        .import(&ctx("aws.launch_template.x"), LT, &s(&made, "id"))
        .await
        .unwrap()
        .expect("found");
    for attr in [
        "network_interfaces",
        "tag_specifications",
        "name",
        "image_id",
    ] {
        assert_eq!(a(&imported, attr), a(&updated, attr), "{attr}");
    }

    // Drift: a version made and set as default behind gig's back shows in a read.
    let raw = emu.clients().await;
    let data = RequestLaunchTemplateData::builder()
        .image_id(AMI)
        .network_interfaces(
            LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                .device_index(0)
                .subnet_id(&subnet)
                .description("changed by hand")
                .build(),
        )
        .tag_specifications(
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(ResourceType::Instance)
                .tags(Tag::builder().key("Name").value("manual").build())
                .build(),
        )
        .build();
    raw.ec2
        .create_launch_template_version()
        .launch_template_id(s(&made, "id"))
        .launch_template_data(data)
        .send()
        .await
        .unwrap();
    raw.ec2
        .modify_launch_template()
        .launch_template_id(s(&made, "id"))
        .default_version("3")
        .send()
        .await
        .unwrap();
    let drifted = emu.read(LT, &updated).await.expect("exists");
    let nics = a(&drifted, "network_interfaces");
    let nic = &nics.as_list().unwrap()[0];
    assert_eq!(nic.get("description"), Some(&Value::str("changed by hand")));
    let specs = a(&drifted, "tag_specifications");
    let spec = &specs.as_list().unwrap()[0];
    assert_eq!(spec.get("resource_type"), Some(&Value::str("instance")));
    assert_eq!(
        spec.get("tags").and_then(|t| t.get("Name")),
        Some(&Value::str("manual"))
    );
    assert_eq!(a(&drifted, "default_version"), Value::from(3i64));

    emu.delete(LT, &drifted).await;
    assert_eq!(emu.read(LT, &drifted).await, None);
    emu.delete(LT, &drifted).await;
    emu.delete(LT, &second).await;
}

#[tokio::test]
async fn tag_specifications_name_only_what_launches() {
    let emu = Emu::start().await;
    let planned = with_defaults(
        LT,
        &val(json!({
            "image_id": AMI,
            "tag_specifications": [{"resource_type": "launch-template", "tags": {"a": "b"}}]
        })),
    );
    let err = emu
        .provider()
        .create(&ctx("aws.launch_template.bad"), LT, &planned)
        .await
        .expect_err("not a launch resource");
    assert_eq!(err.attribute.as_deref(), Some("tag_specifications"));
    assert!(err.message.contains("network-interface"), "{err}");
    assert_eq!(emu.recorder().count("CreateLaunchTemplate"), 0);

    let long = with_defaults(LT, &val(json!({"name_prefix": "p".repeat(125)})));
    let err = emu
        .provider()
        .create(&ctx("aws.launch_template.long"), LT, &long)
        .await
        .expect_err("no room for the suffix");
    assert_eq!(err.attribute.as_deref(), Some("name_prefix"));
}
