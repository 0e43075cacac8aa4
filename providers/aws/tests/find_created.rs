//! `find_created` against the emulator: an object a create made is found again by the
//! marks gig put on it (its gig tags, or for untagged associations its subnet), and only
//! by the stack, env and address that made it — never another address's object.

mod support;

use gig_provider::{Lookup, OpContext};
use serde_json::json;
use support::{ctx, id, s, val, vpc, with_defaults, Emu};

/// Creates `rtype` from `desired` (as the emulator harness does, at `<rtype>.test`) and
/// checks that the lookup finds exactly it for its own address and nothing for another.
async fn found_by_its_marks_only(emu: &Emu, rtype: &str, desired: serde_json::Value) -> String {
    let planned = with_defaults(rtype, &val(desired));
    let made = emu.create(rtype, &planned).await;
    let own = ctx(&format!("{rtype}.test"));
    let lookup = |c: OpContext| {
        let provider = emu.provider();
        let planned = planned.clone();
        async move {
            provider
                .find_created(&c, rtype, &planned)
                .await
                .unwrap_or_else(|e| panic!("find_created {rtype}: {e:?}"))
        }
    };
    assert_eq!(
        lookup(own.clone()).await,
        Lookup::Found(vec![id(&made)]),
        "{rtype} is found by its own address"
    );
    let other = OpContext {
        address: format!("{rtype}.other"),
        ..own.clone()
    };
    let other_stack = OpContext {
        stack: "another-stack".to_string(),
        ..own
    };
    if rtype != "aws.route_table_association" {
        assert_eq!(lookup(other).await, Lookup::Found(Vec::new()), "{rtype}");
        assert_eq!(
            lookup(other_stack).await,
            Lookup::Found(Vec::new()),
            "{rtype}"
        );
    }
    id(&made)
}

#[tokio::test]
async fn objects_are_found_by_their_gig_tags_and_names() {
    let emu = Emu::start().await;
    let vpc = vpc(&emu, "10.40.0.0/16").await;
    let vpc_id = s(&vpc, "id");
    let mut subnets = Vec::new();
    for (cidr, zone) in [
        ("10.40.1.0/24", "us-east-1a"),
        ("10.40.2.0/24", "us-east-1b"),
    ] {
        let planned = with_defaults(
            "aws.subnet",
            &val(json!({"vpc_id": vpc_id, "cidr_block": cidr, "availability_zone": zone})),
        );
        let base = ctx(&format!("aws.subnet.base[\"{zone}\"]"));
        let made = emu
            .provider()
            .create(&base, "aws.subnet", &planned)
            .await
            .expect("create a base subnet");
        subnets.push(id(&made));
    }

    // An address with brackets and quotes, as expanded resources have, is matched
    // literally (filter values are patterns).
    let planned = with_defaults(
        "aws.subnet",
        &val(
            json!({"vpc_id": vpc_id, "cidr_block": "10.40.9.0/24", "availability_zone": "us-east-1b"}),
        ),
    );
    let keyed = ctx("aws.subnet.private[\"us-east-1b\"]");
    let made = emu
        .provider()
        .create(&keyed, "aws.subnet", &planned)
        .await
        .expect("create a keyed subnet");
    assert_eq!(
        emu.provider()
            .find_created(&keyed, "aws.subnet", &planned)
            .await
            .expect("lookup"),
        Lookup::Found(vec![id(&made)])
    );

    // EC2: one DescribeTags lookup for every tagged type.
    found_by_its_marks_only(
        &emu,
        "aws.subnet",
        json!({"vpc_id": vpc_id, "cidr_block": "10.40.3.0/24", "availability_zone": "us-east-1a"}),
    )
    .await;
    found_by_its_marks_only(
        &emu,
        "aws.security_group",
        json!({"name": "lookup", "vpc_id": vpc_id}),
    )
    .await;
    found_by_its_marks_only(&emu, "aws.internet_gateway", json!({"vpc_id": vpc_id})).await;
    let table = found_by_its_marks_only(&emu, "aws.route_table", json!({"vpc_id": vpc_id})).await;
    // Associations carry no tags: found by their subnet and route table.
    found_by_its_marks_only(
        &emu,
        "aws.route_table_association",
        json!({"subnet_id": subnets[0], "route_table_id": table}),
    )
    .await;

    let eip = found_by_its_marks_only(&emu, "aws.eip", json!({"domain": "vpc"})).await;
    found_by_its_marks_only(
        &emu,
        "aws.nat_gateway",
        json!({"allocation_id": eip, "subnet_id": subnets[1]}),
    )
    .await;

    found_by_its_marks_only(
        &emu,
        "aws.launch_template",
        json!({"name": "lookup-lt", "image_id": "ami-0820d0c589175bc01", "instance_type": "t3.micro"}),
    )
    .await;

    // Named types: by name, then their tags.
    found_by_its_marks_only(
        &emu,
        "aws.ssm_parameter",
        json!({"name": "/lookup/param", "type": "String", "value": "v"}),
    )
    .await;
    found_by_its_marks_only(
        &emu,
        "aws.db_subnet_group",
        json!({"name": "lookup-db", "subnet_ids": subnets}),
    )
    .await;
    found_by_its_marks_only(
        &emu,
        "aws.elasticache_subnet_group",
        json!({"name": "lookup-cache", "subnet_ids": subnets}),
    )
    .await;
    found_by_its_marks_only(
        &emu,
        "aws.elasticache_cluster",
        json!({"cluster_id": "lookup-cluster", "engine": "memcached", "node_type": "cache.t3.micro"}),
    )
    .await;
    found_by_its_marks_only(
        &emu,
        "aws.lb_target_group",
        json!({"name": "lookup-tg", "port": 80, "protocol": "HTTP", "vpc_id": vpc_id}),
    )
    .await;

    // A name nobody took is simply not found.
    let provider = emu.provider();
    let planned = with_defaults(
        "aws.ssm_parameter",
        &val(json!({"name": "/never/made", "type": "String", "value": "v"})),
    );
    let lookup = provider
        .find_created(
            &ctx("aws.ssm_parameter.test"),
            "aws.ssm_parameter",
            &planned,
        )
        .await
        .expect("lookup");
    assert_eq!(lookup, Lookup::Found(Vec::new()));
}

#[tokio::test]
async fn load_balancers_and_target_groups_without_a_name_are_found_by_the_name_they_would_get() {
    let emu = Emu::start().await;
    let vpc = vpc(&emu, "10.41.0.0/16").await;
    let vpc_id = s(&vpc, "id");
    let mut subnets = Vec::new();
    for (cidr, zone) in [
        ("10.41.1.0/24", "us-east-1a"),
        ("10.41.2.0/24", "us-east-1b"),
    ] {
        let raw = emu.clients().await;
        let out = raw
            .ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(cidr)
            .availability_zone(zone)
            .send()
            .await
            .unwrap();
        subnets.push(out.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    found_by_its_marks_only(
        &emu,
        "aws.lb_target_group",
        json!({"name_prefix": "tg-", "port": 80, "protocol": "HTTP", "vpc_id": vpc_id}),
    )
    .await;
    found_by_its_marks_only(&emu, "aws.lb", json!({"subnets": subnets})).await;
}
