//! Each create is sent once: against a loopback endpoint that answers every request with
//! a server error, a create call is made in one attempt (its object may exist; the engine
//! settles it by lookup), while a read is retried by the SDK as usual.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use gig_provider::ReadRequest;
use gig_provider_aws::{AwsFactory, AwsSettings, CallRecorder, StaticCredentials, Timeouts};
use serde_json::json;
use support::{ctx, val, with_defaults};

/// A loopback endpoint answering every request with EC2's `InternalError` (HTTP 500).
fn failing_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 64 * 1024];
                let _ = stream.read(&mut buf);
                let body = "<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred.</Message></Error></Errors><RequestID>x</RequestID></Response>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_create_is_sent_once_and_a_read_is_retried() {
    let recorder = CallRecorder::new();
    let settings = AwsSettings {
        region: Some("us-east-1".to_string()),
        endpoint: Some(failing_endpoint()),
        profile: None,
        max_attempts: 3,
        adaptive_retry: false,
        timeouts: Timeouts::default(),
        static_credentials: Some(StaticCredentials {
            access_key_id: "testing".to_string(),
            secret_access_key: "testing".to_string(),
        }),
        recorder: Some(recorder.clone()),
    };
    let provider: Arc<dyn gig_provider::Provider> = Arc::new(AwsFactory::new().provider(settings));
    let planned = with_defaults("aws.vpc", &val(json!({"cidr_block": "10.10.0.0/16"})));
    let created = provider
        .create(&ctx("aws.vpc.main"), "aws.vpc", &planned)
        .await;
    assert!(created.is_err(), "{created:?}");
    let request = ReadRequest {
        address: "aws.vpc.main".to_string(),
        id: "vpc-12345678".to_string(),
        prior: planned.clone(),
    };
    let _ = provider.read("aws.vpc", &[request]).await;

    let calls = recorder.calls();
    let attempts = |operation: &str| {
        calls
            .iter()
            .find(|c| c.operation == operation)
            .unwrap_or_else(|| panic!("no {operation} call: {calls:?}"))
            .attempts
    };
    assert_eq!(attempts("CreateVpc"), 1);
    assert_eq!(attempts("DescribeVpcs"), 3);
}
