//! Adaptive concurrency: how many calls of one kind may be in flight, adjusted to the
//! cloud's throttling (additive increase, multiplicative decrease).
//!
//! A lane is one provider's one resource type (the AWS API actions behind a type are
//! throttled together). Each lane starts at the apply's parallelism. A throttled answer
//! halves the lane's limit (never below one); once as many calls as the limit allows have
//! succeeded in a row, the limit grows by one, up to the parallelism again. Calls wait
//! for room in their lane before they take one of the apply's global slots.
//!
//! # Cancel safety
//!
//! [`Lanes::acquire`] may be dropped while it waits; a returned [`Slot`] gives its room
//! back when dropped.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio::sync::Notify;

/// One lane's state.
#[derive(Debug)]
struct Lane {
    limit: usize,
    in_flight: usize,
    successes: usize,
}

/// Every lane of one apply.
#[derive(Debug)]
pub(crate) struct Lanes {
    max: usize,
    lanes: Mutex<BTreeMap<String, Lane>>,
    room: Notify,
}

/// Room for one call in a lane; given back on drop.
pub(crate) struct Slot<'a> {
    lanes: &'a Lanes,
    key: String,
}

impl Lanes {
    /// Lanes that start at, and never exceed, `max` calls in flight.
    pub(crate) fn new(max: usize) -> Lanes {
        Lanes {
            max: max.max(1),
            lanes: Mutex::new(BTreeMap::new()),
            room: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Lane>> {
        self.lanes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for room in lane `key`.
    pub(crate) async fn acquire(&self, key: &str) -> Slot<'_> {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut lanes = self.lock();
                let lane = lanes.entry(key.to_string()).or_insert(Lane {
                    limit: self.max,
                    in_flight: 0,
                    successes: 0,
                });
                if lane.in_flight < lane.limit {
                    lane.in_flight += 1;
                    return Slot {
                        lanes: self,
                        key: key.to_string(),
                    };
                }
            }
            notified.await;
        }
    }

    /// Records a throttled answer in lane `key`; returns the new limit when it changed.
    pub(crate) fn throttled(&self, key: &str) -> Option<usize> {
        let mut lanes = self.lock();
        let lane = lanes.get_mut(key)?;
        lane.successes = 0;
        let halved = (lane.limit / 2).max(1);
        (halved != lane.limit).then(|| {
            lane.limit = halved;
            halved
        })
    }

    /// Records a success in lane `key`; returns the new limit when it changed.
    pub(crate) fn succeeded(&self, key: &str) -> Option<usize> {
        let grown = {
            let mut lanes = self.lock();
            let lane = lanes.get_mut(key)?;
            lane.successes += 1;
            if lane.successes < lane.limit || lane.limit >= self.max {
                return None;
            }
            lane.successes = 0;
            lane.limit += 1;
            lane.limit
        };
        self.room.notify_waiters();
        Some(grown)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(lane) = self.lanes.lock().get_mut(&self.key) {
            lane.in_flight = lane.in_flight.saturating_sub(1);
        }
        self.lanes.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn throttling_halves_and_successes_grow_back() {
        let lanes = Lanes::new(8);
        drop(lanes.acquire("aws/aws.vpc").await);
        assert_eq!(lanes.throttled("aws/aws.vpc"), Some(4));
        assert_eq!(lanes.throttled("aws/aws.vpc"), Some(2));
        assert_eq!(lanes.throttled("aws/aws.vpc"), Some(1));
        assert_eq!(lanes.throttled("aws/aws.vpc"), None, "never below one");
        assert_eq!(lanes.succeeded("aws/aws.vpc"), Some(2));
        assert_eq!(lanes.succeeded("aws/aws.vpc"), None);
        assert_eq!(lanes.succeeded("aws/aws.vpc"), Some(3));
        assert_eq!(
            lanes.throttled("other"),
            None,
            "an unused lane has nothing to adapt"
        );
    }

    #[tokio::test]
    async fn a_full_lane_waits_for_room() {
        let lanes = Lanes::new(2);
        let a = lanes.acquire("k").await;
        lanes.throttled("k");
        let waiting = lanes.acquire("k");
        tokio::pin!(waiting);
        assert!(
            futures::poll!(waiting.as_mut()).is_pending(),
            "limit 1 with one call in flight"
        );
        drop(a);
        let _b = waiting.await;
    }
}
