//! Sends each create once: the SDK's own retries are turned off for calls that make an
//! object.
//!
//! After a timeout, a dropped connection or a server error, the SDK cannot know whether
//! the cloud made the object before the answer was lost, and most create calls take no
//! client token: a retry could make a second object, and its answer would name only the
//! second. So for these calls the SDK makes one attempt, and the engine settles a failed
//! one itself: it looks the object up by its id or gig's tags and adopts it, and sends
//! the create again only when the lookup shows nothing was made (docs/reliability.md).
//! Throttling is answered before anything is made; the engine retries it.
//!
//! The limit is a [`RetryConfig`] with one attempt stored in the operation's config bag
//! in `read_before_serialization`, the first hook where the operation's name is known
//! (a retry classifier cannot do it: it runs after the request is gone).

use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;

/// Limits the operation in `cfg` to one attempt when it makes an object.
pub(crate) fn limit_attempts(cfg: &mut ConfigBag) {
    let makes = cfg
        .load::<Metadata>()
        .is_some_and(|m| makes_an_object(m.name()));
    if makes {
        cfg.interceptor_state()
            .store_put(RetryConfig::standard().with_max_attempts(1));
    }
}

/// Whether the operation `name` makes an object (tagging calls are idempotent and
/// excluded).
pub(crate) fn makes_an_object(name: &str) -> bool {
    ["Create", "Allocate", "Associate", "Run", "Put"]
        .iter()
        .any(|p| name.starts_with(p))
        && !name.contains("Tags")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_are_recognised_and_tagging_is_not() {
        for name in [
            "CreateVpc",
            "AllocateAddress",
            "RunInstances",
            "PutParameter",
            "AssociateRouteTable",
        ] {
            assert!(makes_an_object(name), "{name}");
        }
        for name in [
            "CreateTags",
            "AddTagsToResource",
            "DescribeVpcs",
            "ModifyDBInstance",
            "DeleteVpc",
        ] {
            assert!(!makes_an_object(name), "{name}");
        }
    }
}
