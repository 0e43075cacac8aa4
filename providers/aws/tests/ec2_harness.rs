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
