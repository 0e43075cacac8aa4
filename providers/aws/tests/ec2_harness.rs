//! Checks the emulator harness itself: a fresh, reset server per test, calls recorded.

mod support;

use gig_provider_aws::{CallRecorder, Clients};

#[tokio::test]
async fn emulator_starts_resets_and_records_calls() {
    let emu = support::Emu::start().await;
    let raw = emu.clients().await;
    let made = raw
        .ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .expect("create vpc");
    let vpc_id = made
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();

    let recorder = CallRecorder::new();
    let mut settings = emu.settings();
    settings.recorder = Some(recorder.clone());
    let recorded = Clients::load(&settings).await;
    let vpcs = recorded
        .ec2
        .describe_vpcs()
        .send()
        .await
        .expect("describe vpcs");
    assert!(vpcs
        .vpcs()
        .iter()
        .any(|v| v.vpc_id() == Some(vpc_id.as_str())));
    assert_eq!(recorder.count("DescribeVpcs"), 1);
    let call = &recorder.calls()[0];
    assert_eq!((call.service.as_str(), call.ok), ("EC2", true));
    drop(emu);

    // The next test session starts from a reset emulator: only the default VPC is left.
    let emu = support::Emu::start().await;
    let raw = emu.clients().await;
    let vpcs = raw.ec2.describe_vpcs().send().await.expect("describe vpcs");
    assert!(vpcs
        .vpcs()
        .iter()
        .all(|v| v.vpc_id() != Some(vpc_id.as_str())));
    assert_eq!(vpcs.vpcs().len(), 1, "only the default VPC after a reset");
}

#[tokio::test]
async fn service_errors_keep_the_aws_code() {
    let emu = support::Emu::start().await;
    let raw = emu.clients().await;
    let err = raw
        .ec2
        .describe_vpcs()
        .vpc_ids("vpc-00000000")
        .send()
        .await
        .expect_err("no such vpc");
    let meta = aws_sdk_ec2::error::ProvideErrorMetadata::code(&err).map(str::to_string);
    assert_eq!(meta.as_deref(), Some("InvalidVpcID.NotFound"));
}

#[tokio::test]
async fn http_500_answers_are_retried_by_the_sdk() {
    // moto answers ~0.5% of concurrent requests with HTTP 500; they are absorbed because
    // the clients retry 5xx answers. moto's DescribeLaunchTemplates with a
    // launch-template-id filter always fails with a 500 (FilterNotImplementedError), which
    // makes the retry visible: every attempt is made, and the error stays a 500.
    let emu = support::Emu::start().await;
    let recorder = CallRecorder::new();
    let mut settings = emu.settings();
    settings.recorder = Some(recorder.clone());
    settings.max_attempts = 3;
    let clients = Clients::load(&settings).await;
    // The filter is only evaluated when a template exists.
    clients
        .ec2
        .create_launch_template()
        .launch_template_name("t")
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-1")
                .build(),
        )
        .send()
        .await
        .expect("create template");
    recorder.clear();
    let err = clients
        .ec2
        .describe_launch_templates()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("launch-template-id")
                .values("lt-1")
                .build(),
        )
        .send()
        .await
        .expect_err("moto does not implement this filter");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    let calls = recorder.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].attempts, calls[0].ok), (3, false));
}
