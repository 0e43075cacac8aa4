//! `aws.elasticache_parameter_group` against the emulator, which does not implement
//! CreateCacheParameterGroup or ModifyCacheParameterGroup (docs/notes/emulator-gaps.md):
//! what gig sends and records is checked instead — one create call with gig's name, no
//! id reported for a create that failed, and an error that keeps the service's answer.

mod support;

use std::sync::{Arc, Mutex};

use gig_provider::{CreatedSink, OpContext};
use serde_json::json;
use support::{ctx, val, with_defaults, Emu};

const T: &str = "aws.elasticache_parameter_group";

#[tokio::test]
async fn a_failed_create_reports_no_id_and_sends_one_create() {
    let emu = Emu::start().await;
    let planned = with_defaults(
        T,
        &val(
            json!({"name": "giggatek-redis", "family": "redis7", "parameter": [{"name": "maxmemory-policy", "value": "allkeys-lru"}]}),
        ),
    );
    let reported = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = reported.clone();
    let op = OpContext {
        sink: CreatedSink::new(move |id| sink.lock().unwrap().push(id.to_string())),
        ..ctx("aws.elasticache_parameter_group.redis")
    };
    let err = emu.provider().create(&op, T, &planned).await.unwrap_err();
    assert!(
        reported.lock().unwrap().is_empty(),
        "no id for a create that failed"
    );
    let creates: Vec<_> = emu
        .recorder()
        .calls()
        .into_iter()
        .filter(|c| c.operation == "CreateCacheParameterGroup")
        .collect();
    assert_eq!(
        creates.len(),
        1,
        "one create call (its attempts are the SDK's): {creates:?}"
    );
    assert!(!creates[0].ok);
    assert_eq!(
        emu.recorder().count("ModifyCacheParameterGroup"),
        0,
        "nothing is modified after a failed create"
    );
    assert!(!err.message.is_empty());
}
