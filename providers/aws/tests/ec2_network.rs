//! Network resources against the emulator: `aws.subnet`, `aws.internet_gateway`,
//! `aws.eip`, `aws.nat_gateway`, `aws.route_table`, `aws.route_table_association`.

mod support;

use gig_core::value::Value;
use gig_provider::ErrorClass;
use serde_json::json;
use support::{a, assert_plans_clean, ctx, planned_for, s, val, vpc, with_defaults, Emu};

#[tokio::test]
async fn subnet_lifecycle_and_errors() {
    let emu = Emu::start().await;
    let vpc = vpc(&emu, "10.1.0.0/16").await;
    let desired = json!({
        "vpc_id": s(&vpc, "id"), "cidr_block": "10.1.1.0/24", "availability_zone": "us-east-1a",
        "tags": {"Name": "a"}
    });
    let subnet = emu
        .create(
            "aws.subnet",
            &with_defaults("aws.subnet", &val(desired.clone())),
        )
        .await;
    assert!(s(&subnet, "id").starts_with("subnet-"));
    let read = emu.read("aws.subnet", &subnet).await.expect("exists");
    assert_eq!(read, subnet);
    assert_plans_clean("aws.subnet", &val(desired), &read);
    assert!(s(&read, "availability_zone_id").starts_with("use1-"));

    // In place: map_public_ip_on_launch and tags.
    let desired2 = json!({
        "vpc_id": s(&vpc, "id"), "cidr_block": "10.1.1.0/24", "availability_zone": "us-east-1a",
        "map_public_ip_on_launch": true, "tags": {"Name": "b"}
    });
    let updated = emu
        .update(
            "aws.subnet",
            &read,
            &planned_for("aws.subnet", desired2.clone(), &a(&read, "id")),
        )
        .await;
    assert_plans_clean("aws.subnet", &val(desired2), &updated);
    assert_eq!(
        emu.read("aws.subnet", &updated).await.as_ref(),
        Some(&updated)
    );

    // Force-new attributes are marked; a replacement (create new, delete old) works.
    let schema = support::schema("aws.subnet", false);
    for a in ["vpc_id", "cidr_block", "availability_zone"] {
        assert!(schema.attributes[a].force_new, "{a}");
    }
    assert!(!schema.attributes["map_public_ip_on_launch"].force_new);
    let replacement = emu
        .create(
            "aws.subnet",
            &with_defaults(
                "aws.subnet",
                &val(json!({"vpc_id": s(&vpc, "id"), "cidr_block": "10.1.2.0/24"})),
            ),
        )
        .await;
    emu.delete("aws.subnet", &updated).await;
    assert_eq!(emu.read("aws.subnet", &updated).await, None);
    assert!(emu.read("aws.subnet", &replacement).await.is_some());

    // Import gives the read value.
    let imported = emu
        .provider()
        .import(&ctx("aws.subnet.x"), "aws.subnet", &s(&replacement, "id"))
        .await
        .unwrap();
    assert_eq!(imported.as_ref(), Some(&replacement));

    // Overlapping CIDR: AWS's code, attributed to cidr_block.
    let err = emu
        .provider()
        .create(
            &ctx("aws.subnet.overlap"),
            "aws.subnet",
            &with_defaults(
                "aws.subnet",
                &val(json!({"vpc_id": s(&vpc, "id"), "cidr_block": "10.1.2.0/25"})),
            ),
        )
        .await
        .expect_err("overlap");
    assert_eq!(
        err.code.as_deref(),
        Some("InvalidSubnet.Conflict"),
        "{err:?}"
    );
    assert_eq!(err.attribute.as_deref(), Some("cidr_block"));
    assert_eq!(err.class, ErrorClass::Permanent);

    // Nonexistent VPC.
    let err = emu
        .provider()
        .create(
            &ctx("aws.subnet.novpc"),
            "aws.subnet",
            &with_defaults(
                "aws.subnet",
                &val(json!({"vpc_id": "vpc-0000000000000000f", "cidr_block": "10.9.0.0/24"})),
            ),
        )
        .await
        .expect_err("no vpc");
    assert_eq!(
        err.code.as_deref(),
        Some("InvalidVpcID.NotFound"),
        "{err:?}"
    );
    assert_eq!(err.attribute.as_deref(), Some("vpc_id"));

    // Deleting a VPC that still has a subnet surfaces DependencyViolation (after the
    // bounded retries), and deleting the subnet first makes it work.
    emu.delete("aws.subnet", &replacement).await;
    emu.delete("aws.vpc", &vpc).await;
    assert_eq!(emu.read("aws.vpc", &vpc).await, None);
}

#[tokio::test]
async fn internet_gateway_attach_move_and_delete() {
    let emu = Emu::start().await;
    let va = vpc(&emu, "10.2.0.0/16").await;
    let vb = vpc(&emu, "10.3.0.0/16").await;
    let desired = json!({"vpc_id": s(&va, "id"), "tags": {"Name": "igw"}});
    let igw = emu
        .create(
            "aws.internet_gateway",
            &with_defaults("aws.internet_gateway", &val(desired.clone())),
        )
        .await;
    assert!(s(&igw, "id").starts_with("igw-"));
    let read = emu
        .read("aws.internet_gateway", &igw)
        .await
        .expect("exists");
    assert_plans_clean("aws.internet_gateway", &val(desired), &read);

    // Move to another VPC in place.
    let desired2 = json!({"vpc_id": s(&vb, "id"), "tags": {"Name": "igw"}});
    let moved = emu
        .update(
            "aws.internet_gateway",
            &read,
            &planned_for("aws.internet_gateway", desired2.clone(), &a(&read, "id")),
        )
        .await;
    assert_eq!(s(&moved, "vpc_id"), s(&vb, "id"));
    assert_eq!(s(&moved, "id"), s(&igw, "id"));

    // The VPC with the attached gateway cannot be deleted (AWS's code after retries is
    // DependencyViolation); deleting the gateway detaches it first.
    let imported = emu
        .provider()
        .import(
            &ctx("aws.internet_gateway.x"),
            "aws.internet_gateway",
            &s(&igw, "id"),
        )
        .await
        .unwrap();
    assert_eq!(imported.as_ref(), Some(&moved));
    emu.delete("aws.internet_gateway", &moved).await;
    assert_eq!(emu.read("aws.internet_gateway", &moved).await, None);
    emu.delete("aws.vpc", &vb).await;
    emu.delete("aws.vpc", &va).await;
}

#[tokio::test]
async fn eip_and_nat_gateway_lifecycle() {
    let emu = Emu::start().await;
    let v = vpc(&emu, "10.4.0.0/16").await;
    let subnet = emu
        .create(
            "aws.subnet",
            &with_defaults(
                "aws.subnet",
                &val(json!({"vpc_id": s(&v, "id"), "cidr_block": "10.4.0.0/24"})),
            ),
        )
        .await;
    let igw = emu
        .create(
            "aws.internet_gateway",
            &with_defaults("aws.internet_gateway", &val(json!({"vpc_id": s(&v, "id")}))),
        )
        .await;

    let eip_desired = json!({"tags": {"Name": "nat"}});
    let eip = emu
        .create(
            "aws.eip",
            &with_defaults("aws.eip", &val(eip_desired.clone())),
        )
        .await;
    assert!(s(&eip, "id").starts_with("eipalloc-"));
    assert_eq!(s(&eip, "allocation_id"), s(&eip, "id"));
    assert!(!s(&eip, "public_ip").is_empty());
    let eip_read = emu.read("aws.eip", &eip).await.expect("exists");
    assert_plans_clean("aws.eip", &val(eip_desired), &eip_read);
    let eip2 = emu
        .update(
            "aws.eip",
            &eip_read,
            &planned_for("aws.eip", json!({"tags": {"Name": "nat2"}}), &a(&eip, "id")),
        )
        .await;
    assert_eq!(a(&eip2, "tags"), val(json!({"Name": "nat2"})));
    assert!(support::schema("aws.eip", false).attributes["domain"].force_new);

    let nat_desired = json!({"subnet_id": s(&subnet, "id"), "allocation_id": s(&eip, "id"), "tags": {"Name": "nat"}});
    let nat = emu
        .create(
            "aws.nat_gateway",
            &with_defaults("aws.nat_gateway", &val(nat_desired.clone())),
        )
        .await;
    assert!(s(&nat, "id").starts_with("nat-"));
    assert_eq!(s(&nat, "public_ip"), s(&eip, "public_ip"));
    let nat_read = emu.read("aws.nat_gateway", &nat).await.expect("exists");
    assert_eq!(nat_read, nat);
    assert_plans_clean("aws.nat_gateway", &val(nat_desired), &nat_read);
    let schema = support::schema("aws.nat_gateway", false);
    for a in ["subnet_id", "allocation_id", "connectivity_type"] {
        assert!(schema.attributes[a].force_new, "{a}");
    }
    let nat2 = emu
        .update(
            "aws.nat_gateway",
            &nat_read,
            &planned_for(
                "aws.nat_gateway",
                json!({"subnet_id": s(&subnet, "id"), "allocation_id": s(&eip, "id"), "tags": {"Name": "nat-b"}}),
                &a(&nat, "id"),
            ),
        )
        .await;
    assert_eq!(a(&nat2, "tags"), val(json!({"Name": "nat-b"})));
    let imported = emu
        .provider()
        .import(&ctx("aws.nat_gateway.x"), "aws.nat_gateway", &s(&nat, "id"))
        .await
        .unwrap();
    assert_eq!(imported.as_ref(), Some(&nat2));

    // Nonexistent subnet: AWS's code, attributed to subnet_id.
    let err = emu
        .provider()
        .create(
            &ctx("aws.nat_gateway.bad"),
            "aws.nat_gateway",
            &with_defaults(
                "aws.nat_gateway",
                &val(json!({"subnet_id": "subnet-0000000000000000f", "allocation_id": s(&eip, "id")})),
            ),
        )
        .await
        .expect_err("no subnet");
    assert!(
        err.code.as_deref().is_some_and(|c| c.contains("NotFound")),
        "{err:?}"
    );

    // Delete in dependency order: NAT (waits until deleted), EIP, IGW, subnet, VPC.
    emu.delete("aws.nat_gateway", &nat2).await;
    assert_eq!(emu.read("aws.nat_gateway", &nat2).await, None);
    emu.delete("aws.eip", &eip2).await;
    assert_eq!(emu.read("aws.eip", &eip2).await, None);
    emu.delete("aws.eip", &eip2).await;
    emu.delete("aws.internet_gateway", &igw).await;
    emu.delete("aws.subnet", &subnet).await;
    emu.delete("aws.vpc", &v).await;
}

#[tokio::test]
async fn route_table_routes_change_in_place() {
    let emu = Emu::start().await;
    let v = vpc(&emu, "10.5.0.0/16").await;
    let igw = emu
        .create(
            "aws.internet_gateway",
            &with_defaults("aws.internet_gateway", &val(json!({"vpc_id": s(&v, "id")}))),
        )
        .await;
    let subnet = emu
        .create(
            "aws.subnet",
            &with_defaults(
                "aws.subnet",
                &val(json!({"vpc_id": s(&v, "id"), "cidr_block": "10.5.0.0/24"})),
            ),
        )
        .await;
    let eip = emu
        .create("aws.eip", &with_defaults("aws.eip", &val(json!({}))))
        .await;
    let nat = emu
        .create(
            "aws.nat_gateway",
            &with_defaults(
                "aws.nat_gateway",
                &val(json!({"subnet_id": s(&subnet, "id"), "allocation_id": s(&eip, "id")})),
            ),
        )
        .await;

    let desired = json!({
        "vpc_id": s(&v, "id"),
        "route": [
            {"cidr_block": "0.0.0.0/0", "gateway_id": s(&igw, "id")},
            {"cidr_block": "192.168.0.0/16", "nat_gateway_id": s(&nat, "id")}
        ],
        "tags": {"Name": "public"}
    });
    let rt = emu
        .create(
            "aws.route_table",
            &with_defaults("aws.route_table", &val(desired.clone())),
        )
        .await;
    assert!(s(&rt, "id").starts_with("rtb-"));
    let read = emu.read("aws.route_table", &rt).await.expect("exists");
    assert_plans_clean("aws.route_table", &val(desired), &read);
    assert_eq!(
        a(&read, "route").as_list().map(<[Value]>::len),
        Some(2),
        "the local route is not shown"
    );

    // Change one target, drop one route, add one: same table id.
    let desired2 = json!({
        "vpc_id": s(&v, "id"),
        "route": [
            {"cidr_block": "0.0.0.0/0", "nat_gateway_id": s(&nat, "id")},
            {"cidr_block": "172.16.0.0/12", "gateway_id": s(&igw, "id")}
        ],
        "tags": {"Name": "public"}
    });
    let updated = emu
        .update(
            "aws.route_table",
            &read,
            &planned_for("aws.route_table", desired2.clone(), &a(&rt, "id")),
        )
        .await;
    assert_eq!(s(&updated, "id"), s(&rt, "id"));
    assert_plans_clean("aws.route_table", &val(desired2), &updated);
    assert!(!support::schema("aws.route_table", false).attributes["route"].force_new);

    // A route with two targets is rejected before any call.
    let err = emu
        .provider()
        .create(
            &ctx("aws.route_table.bad"),
            "aws.route_table",
            &with_defaults(
                "aws.route_table",
                &val(json!({"vpc_id": s(&v, "id"), "route": [
                    {"cidr_block": "0.0.0.0/0", "gateway_id": s(&igw, "id"), "nat_gateway_id": s(&nat, "id")}
                ]})),
            ),
        )
        .await
        .expect_err("two targets");
    assert_eq!(err.attribute.as_deref(), Some("route"));

    // Associations: create, move to another table in place, import, delete.
    let assoc_desired = json!({"subnet_id": s(&subnet, "id"), "route_table_id": s(&rt, "id")});
    let assoc = emu
        .create(
            "aws.route_table_association",
            &with_defaults("aws.route_table_association", &val(assoc_desired.clone())),
        )
        .await;
    assert!(s(&assoc, "id").starts_with("rtbassoc-"));
    let assoc_read = emu
        .read("aws.route_table_association", &assoc)
        .await
        .expect("exists");
    assert_plans_clean(
        "aws.route_table_association",
        &val(assoc_desired),
        &assoc_read,
    );
    let imported = emu
        .provider()
        .import(
            &ctx("aws.route_table_association.x"),
            "aws.route_table_association",
            &s(&assoc, "id"),
        )
        .await
        .unwrap();
    assert_eq!(imported.as_ref(), Some(&assoc_read));

    // A table with an association cannot be deleted: AWS says DependencyViolation.
    let raw = emu.clients().await;
    let err = raw
        .ec2
        .delete_route_table()
        .route_table_id(s(&rt, "id"))
        .send()
        .await
        .expect_err("in use");
    assert_eq!(
        aws_sdk_ec2::error::ProvideErrorMetadata::code(&err),
        Some("DependencyViolation")
    );

    let rt2 = emu
        .create(
            "aws.route_table",
            &with_defaults("aws.route_table", &val(json!({"vpc_id": s(&v, "id")}))),
        )
        .await;
    let moved = emu
        .update(
            "aws.route_table_association",
            &assoc_read,
            &planned_for(
                "aws.route_table_association",
                json!({"subnet_id": s(&subnet, "id"), "route_table_id": s(&rt2, "id")}),
                &a(&assoc, "id"),
            ),
        )
        .await;
    assert_eq!(s(&moved, "route_table_id"), s(&rt2, "id"));
    assert!(
        support::schema("aws.route_table_association", false).attributes["subnet_id"].force_new
    );

    emu.delete("aws.route_table_association", &moved).await;
    assert_eq!(emu.read("aws.route_table_association", &moved).await, None);
    emu.delete("aws.route_table", &updated).await;
    emu.delete("aws.route_table", &rt2).await;
    assert_eq!(emu.read("aws.route_table", &updated).await, None);
    emu.delete("aws.nat_gateway", &nat).await;
    emu.delete("aws.eip", &eip).await;
    emu.delete("aws.internet_gateway", &igw).await;
    emu.delete("aws.subnet", &subnet).await;
    emu.delete("aws.vpc", &v).await;
}
