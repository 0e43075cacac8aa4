//! `aws.s3_bucket` against the emulator: what gig sends (call recorder), what lands on
//! the bucket (read with the SDK's own Get calls), read-back, import, in-place update,
//! drift and delete.

mod support;

use std::sync::{Arc, Mutex};

use gig_core::value::Value;
use gig_provider::{CreatedSink, OpContext};
use serde_json::json;
use support::{a, assert_plans_clean, calls, ctx, val, with, with_defaults, Emu};

const T: &str = "aws.s3_bucket";
const NAME: &str = "giggatek-backups-test";

#[tokio::test]
async fn create_writes_every_setting_and_update_only_what_changed() {
    let emu = Emu::start().await;
    let desired = val(json!({
        "name": NAME,
        "versioning": true,
        "server_side_encryption": [{"sse_algorithm": "aws:kms", "kms_master_key_id": "arn:aws:kms:us-east-1:123456789012:key/abc"}],
        "lifecycle_rule": [{"id": "expire-old", "expiration_days": 365, "noncurrent_version_expiration_days": 30}],
        "tags": {"Data": "backups"}
    }));
    let planned = with_defaults(T, &desired);
    let reported = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = reported.clone();
    let op = OpContext {
        sink: CreatedSink::new(move |id| sink.lock().unwrap().push(id.to_string())),
        ..ctx("aws.s3_bucket.backups")
    };
    let made = emu
        .provider()
        .create(&op, T, &planned)
        .await
        .expect("create");
    assert_eq!(*reported.lock().unwrap(), vec![NAME.to_string()]);
    assert_eq!(a(&made, "versioning"), Value::Bool(true));
    assert_plans_clean(T, &desired, &emu.read(T, &made).await.expect("exists"));
    assert_eq!(emu.import(T, NAME).await, Some(made.clone()));
    for op in [
        "CreateBucket",
        "PutBucketTagging",
        "PutBucketVersioning",
        "PutBucketEncryption",
        "PutPublicAccessBlock",
        "PutBucketLifecycleConfiguration",
    ] {
        assert_eq!(calls(&emu, op), 1, "{op}");
    }

    let raw = emu.clients().await;
    let enc = raw
        .s3
        .get_bucket_encryption()
        .bucket(NAME)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    let by_default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(by_default.sse_algorithm().as_str(), "aws:kms");
    assert_eq!(
        by_default.kms_master_key_id(),
        Some("arn:aws:kms:us-east-1:123456789012:key/abc")
    );
    let pab = raw
        .s3
        .get_public_access_block()
        .bucket(NAME)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.block_public_policy(),
            pab.ignore_public_acls(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true)),
        "public access is blocked by default"
    );
    let lifecycle = raw
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(NAME)
        .send()
        .await
        .unwrap();
    let rule = &lifecycle.rules()[0];
    assert_eq!(rule.id(), Some("expire-old"));
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(365));
    assert_eq!(
        rule.noncurrent_version_expiration()
            .and_then(|n| n.noncurrent_days()),
        Some(30)
    );
    let tags = raw
        .s3
        .get_bucket_tagging()
        .bucket(NAME)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = tags.tag_set().iter().map(|t| t.key()).collect();
    for k in ["Data", "gig:stack", "gig:env", "gig:address"] {
        assert!(keys.contains(&k), "tag {k} missing from {keys:?}");
    }

    // An update of lifecycle and tags: the rules are removed, the tag set rewritten with
    // gig's tags kept, and nothing else is sent.
    emu.recorder().clear();
    let prior = emu
        .update(
            T,
            &made,
            &with(
                &made,
                json!({"lifecycle_rule": [], "tags": {"Data": "archive"}}),
            ),
        )
        .await;
    assert_eq!(a(&prior, "lifecycle_rule"), val(json!([])));
    assert_eq!(a(&prior, "tags"), val(json!({"Data": "archive"})));
    assert_eq!(calls(&emu, "DeleteBucketLifecycle"), 1);
    assert_eq!(calls(&emu, "PutBucketTagging"), 1);
    for op in [
        "PutBucketVersioning",
        "PutBucketEncryption",
        "PutPublicAccessBlock",
        "PutBucketLifecycleConfiguration",
    ] {
        assert_eq!(calls(&emu, op), 0, "{op}");
    }
    let tags = raw
        .s3
        .get_bucket_tagging()
        .bucket(NAME)
        .send()
        .await
        .unwrap();
    let data = tags
        .tag_set()
        .iter()
        .find(|t| t.key() == "Data")
        .map(|t| t.value().to_string());
    assert_eq!(data.as_deref(), Some("archive"));
    assert!(
        tags.tag_set().iter().any(|t| t.key() == "gig:stack"),
        "gig's tags survive a tag update"
    );

    // Versioning suspended outside gig shows on the next read.
    raw.s3
        .put_bucket_versioning()
        .bucket(NAME)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drifted = emu.read(T, &prior).await.expect("exists");
    assert_eq!(a(&drifted, "versioning"), Value::Bool(false), "drift shows");

    emu.delete(T, &prior).await;
    assert!(
        raw.s3.head_bucket().bucket(NAME).send().await.is_err(),
        "the bucket is gone"
    );
    emu.delete(T, &prior).await;
}

#[tokio::test]
async fn derived_names_are_lower_case() {
    let emu = Emu::start().await;
    let op = OpContext {
        stack: "Shop".into(),
        ..ctx("aws.s3_bucket.Logs")
    };
    let _ = emu
        .provider()
        .create(&op, T, &with_defaults(T, &val(json!({"versioning": true}))))
        .await;
    let raw = emu.clients().await;
    let names: Vec<String> = raw
        .s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("shop-default-logs-"), "{names:?}");
}
