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
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One lane's state. Waiting callers queue on the semaphore (woken one at a time, in
/// order); the limit is the semaphore's permits plus those out, minus `debt`: permits
/// still out when the limit was lowered, forgotten as they come back.
#[derive(Debug)]
struct Lane {
    room: Arc<Semaphore>,
    limit: usize,
    debt: usize,
    successes: usize,
}

/// Every lane of one apply.
#[derive(Debug)]
pub(crate) struct Lanes {
    max: usize,
    lanes: Mutex<BTreeMap<String, Lane>>,
}

/// Room for one call in a lane; given back on drop.
pub(crate) struct Slot<'a> {
    lanes: &'a Lanes,
    key: &'a str,
    permit: Option<OwnedSemaphorePermit>,
}

impl Lanes {
    /// Lanes that start at, and never exceed, `max` calls in flight.
    pub(crate) fn new(max: usize) -> Lanes {
        Lanes {
            max: max.max(1),
            lanes: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Lane>> {
        self.lanes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for room in lane `key`.
    pub(crate) async fn acquire<'a>(&'a self, key: &'a str) -> Slot<'a> {
        let room = {
            let mut lanes = self.lock();
            if let Some(lane) = lanes.get(key) {
                lane.room.clone()
            } else {
                let room = Arc::new(Semaphore::new(self.max));
                lanes.insert(
                    key.to_string(),
                    Lane {
                        room: room.clone(),
                        limit: self.max,
                        debt: 0,
                        successes: 0,
                    },
                );
                room
            }
        };
        // The semaphore is never closed, so acquiring fails only if it were.
        let permit = room.acquire_owned().await.ok();
        Slot {
            lanes: self,
            key,
            permit,
        }
    }

    /// Records a throttled answer in lane `key`; returns the new limit when it changed.
    pub(crate) fn throttled(&self, key: &str) -> Option<usize> {
        let mut lanes = self.lock();
        let lane = lanes.get_mut(key)?;
        lane.successes = 0;
        let halved = (lane.limit / 2).max(1);
        if halved == lane.limit {
            return None;
        }
        let cut = lane.limit - halved;
        let forgotten = lane.room.forget_permits(cut);
        lane.debt += cut - forgotten;
        lane.limit = halved;
        Some(halved)
    }

    /// Records a success in lane `key`; returns the new limit when it changed.
    pub(crate) fn succeeded(&self, key: &str) -> Option<usize> {
        let mut lanes = self.lock();
        let lane = lanes.get_mut(key)?;
        lane.successes += 1;
        if lane.successes < lane.limit || lane.limit >= self.max {
            return None;
        }
        lane.successes = 0;
        lane.limit += 1;
        if lane.debt > 0 {
            lane.debt -= 1;
        } else {
            lane.room.add_permits(1);
        }
        Some(lane.limit)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let mut lanes = self.lanes.lock();
        match lanes.get_mut(self.key) {
            Some(lane) if lane.debt > 0 => {
                lane.debt -= 1;
                permit.forget();
            }
            _ => drop(permit),
        }
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
