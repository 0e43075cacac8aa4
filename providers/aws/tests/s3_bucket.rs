//! `aws.s3_bucket` against the emulator. The emulator answers GetBucketVersioning with a
//! root element the SDK rejects (docs/notes/emulator-gaps.md), so no bucket can be read
//! back through the provider there; these tests check what gig sends (call recorder)
//! and what lands on the bucket (read with the SDK's other Get calls), that the failed
//! read-back is reported, that the id was reported before it, and delete.

mod support;

use std::sync::{Arc, Mutex};

use gig_provider::{CreatedSink, OpContext, UpdateRequest};
use serde_json::json;
use support::{calls, ctx, val, with, with_defaults, Emu};

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
    let err = emu.provider().create(&op, T, &planned).await.unwrap_err();
    assert!(err.message.contains("GetBucketVersioning"), "{err:?}");
    assert_eq!(
        *reported.lock().unwrap(),
        vec![NAME.to_string()],
        "the id is reported before the read-back"
    );
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
    let prior = with(&planned, json!({"id": NAME}));
    let next = with(
        &prior,
        json!({"lifecycle_rule": [], "tags": {"Data": "archive"}}),
    );
    let changed = vec!["lifecycle_rule".to_string(), "tags".to_string()];
    emu.recorder().clear();
    let req = UpdateRequest {
        id: NAME,
        prior: &prior,
        planned: &next,
        changed: &changed,
    };
    let _ = emu
        .provider()
        .update(&ctx("aws.s3_bucket.backups"), T, req)
        .await;
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
