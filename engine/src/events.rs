//! Progress events from apply, for the CLI's progress display or plain log lines.
//!
//! Events carry addresses, actions, timings and provider errors — never a resource
//! value, so nothing secret can reach a terminal through them. Provider error messages
//! are passed on as the provider wrote them.

use std::time::Duration;

use gig_core::addr::ResourceAddr;
use gig_provider::ProviderError;

use crate::model::Action;

/// One provider operation of a change. A replace is two steps, a delete and a create.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// `Provider::create`.
    Create,
    /// `Provider::update`.
    Update,
    /// `Provider::delete`.
    Delete,
}

impl Step {
    /// The operation's name as logged: `create`, `update` or `delete`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Create => "create",
            Step::Update => "update",
            Step::Delete => "delete",
        }
    }
}

/// Something that happened during apply.
#[derive(Clone, Debug, PartialEq)]
pub enum ApplyEvent {
    /// A provider call began (after a concurrency slot was free).
    Started {
        /// The instance.
        addr: ResourceAddr,
        /// The planned action of the whole change.
        action: Action,
        /// Which step of it.
        step: Step,
    },
    /// A step finished and its result was committed to state.
    Finished {
        /// The instance.
        addr: ResourceAddr,
        /// The planned action of the whole change.
        action: Action,
        /// Which step of it.
        step: Step,
        /// From the start of the first attempt to the end of the last.
        duration: Duration,
    },
    /// A step failed for good (a permanent error, or retries ran out).
    Failed {
        /// The instance.
        addr: ResourceAddr,
        /// The planned action of the whole change.
        action: Action,
        /// Which step of it.
        step: Step,
        /// The provider's error, code and message intact.
        error: ProviderError,
    },
    /// A step failed with a retryable or throttling error and will be tried again.
    Retrying {
        /// The instance.
        addr: ResourceAddr,
        /// Which step.
        step: Step,
        /// The attempt that failed (1 for the first call).
        attempt: u32,
        /// Its error.
        error: ProviderError,
        /// How long apply waits before the next attempt.
        delay: Duration,
    },
    /// The calls allowed in flight in one lane (a provider's resource type) changed:
    /// halved after throttling, grown by one after a run of successes.
    Concurrency {
        /// `provider/type`, e.g. `aws/aws.subnet`.
        lane: String,
        /// Calls now allowed in flight in that lane.
        limit: usize,
    },
    /// A change was not attempted because something it needs failed.
    Skipped {
        /// The instance not changed.
        addr: ResourceAddr,
        /// The failed instance it waited for.
        because: ResourceAddr,
    },
}
