//! Live updates: this process's broadcaster of asset changes, for `GET /assets/events`.
//!
//! The service publishes every write that changes an asset (created, moved to another state,
//! record removed). Each change gets the next number of a process-wide sequence; with the
//! process's epoch (random at start) it makes the stream's event id `<epoch>-<seq>`, so an id
//! from before a restart is recognised as such. The last `RING` changes are kept for replay
//! after a reconnect (`Last-Event-ID`); older gaps, foreign epochs and lagging subscribers get a
//! "refetch everything" instead. Memory is bounded: the ring, and one `broadcast` buffer whose
//! slots every subscriber shares (a slow subscriber lags, it never grows anything).
//!
//! A replica learns only of its own writes and of the storage events delivered to it; see
//! README "Live updates" for what pages connected to other replicas see.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use app::model::Asset;
use tokio::sync::broadcast;

use super::Service;
use crate::store::StoreError;

/// Changes kept for `Last-Event-ID` replay.
pub const RING: usize = 1024;

/// Changes a subscriber may fall behind by before it is told to refetch.
pub const SUBSCRIBER_BUFFER: usize = 256;

/// One change to an asset, as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub seq: u64,
    /// The asset after the change (for a removal: as it was last).
    pub asset: Asset,
    /// The record is gone for good (its object was removed, or its upload abandoned).
    pub removed: bool,
}

/// Where a new subscriber starts.
#[derive(Debug)]
pub enum Start {
    /// Changes after the client's `Last-Event-ID`, to send before the live ones (maybe none).
    Replay(Vec<Arc<Change>>),
    /// The id is unknown, from another process start, or older than the ring: refetch.
    Resync,
}

/// A subscription: where to start, then the live changes.
pub struct Subscription {
    pub start: Start,
    pub changes: broadcast::Receiver<Arc<Change>>,
    /// The last sequence number published when subscribing (the id a client has seen all of).
    pub latest: u64,
}

pub struct LiveHub {
    epoch: String,
    ring: Mutex<Ring>,
    sender: broadcast::Sender<Arc<Change>>,
    capacity: usize,
}

struct Ring {
    /// The last sequence number given out (0: none yet).
    last_seq: u64,
    recent: VecDeque<Arc<Change>>,
}

impl LiveHub {
    pub fn new(ring: usize, subscriber_buffer: usize) -> Self {
        let (sender, _) = broadcast::channel(subscriber_buffer.max(1));
        Self {
            epoch: format!("{:016x}", uuid::Uuid::new_v4().as_u64_pair().0),
            ring: Mutex::new(Ring {
                last_seq: 0,
                recent: VecDeque::with_capacity(ring.min(RING)),
            }),
            sender,
            capacity: ring.max(1),
        }
    }

    /// This process start's epoch (the first part of every event id).
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// The event id of sequence number `seq`.
    pub fn event_id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }

    /// Publishes a change: numbered, kept in the ring, sent to every subscriber. The lock makes
    /// the numbering, the ring and the broadcast agree on one order.
    pub fn publish(&self, asset: Asset, removed: bool) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.last_seq += 1;
        let change = Arc::new(Change {
            seq: ring.last_seq,
            asset,
            removed,
        });
        if ring.recent.len() == self.capacity {
            ring.recent.pop_front();
        }
        ring.recent.push_back(change.clone());
        // No subscriber is not an error.
        let _ = self.sender.send(change);
    }

    /// Subscribes, resuming after `last_event_id` (the header a reconnecting client sends).
    /// Subscribing and reading the ring happen under the publishing lock: no change is missed
    /// between the replay and the live ones, and none comes twice.
    pub fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let changes = self.sender.subscribe();
        let start = match last_event_id {
            None => Start::Replay(Vec::new()),
            Some(id) => match self.parse_id(id) {
                Some(seen) => ring.after(seen),
                None => Start::Resync,
            },
        };
        Subscription {
            start,
            changes,
            latest: ring.last_seq,
        }
    }

    /// The sequence number in an id of this process start.
    fn parse_id(&self, id: &str) -> Option<u64> {
        let (epoch, seq) = id.trim().split_once('-')?;
        (epoch == self.epoch).then_some(())?;
        seq.parse().ok()
    }
}

impl Service {
    /// Where every change to an asset is published.
    pub fn live(&self) -> &LiveHub {
        &self.inner.live
    }

    /// Removes the record at its version (conditionally) and publishes its removal.
    pub(super) async fn remove_record(&self, asset: &Asset) -> Result<(), StoreError> {
        self.store().remove(asset.asset_id, asset.version).await?;
        self.inner.live.publish(asset.clone(), true);
        Ok(())
    }
}

impl Ring {
    /// The changes after `seen`, if the ring still holds every one of them.
    fn after(&self, seen: u64) -> Start {
        if seen > self.last_seq {
            return Start::Resync; // not an id this process gave out
        }
        let oldest_kept = self
            .recent
            .front()
            .map_or(self.last_seq + 1, |first| first.seq);
        if seen + 1 < oldest_kept {
            return Start::Resync; // changes between were dropped from the ring
        }
        Start::Replay(
            self.recent
                .iter()
                .filter(|change| change.seq > seen)
                .cloned()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{AssetId, AssetState, Principal};

    fn asset(owner: &str, n: u128) -> Asset {
        serde_json::from_value(serde_json::json!({
            "asset_id": uuid::Uuid::from_u128(n),
            "state": "CREATED",
            "owner": owner,
            "createdAt": "2025-01-01T00:00:00Z",
            "updatedAt": "2025-01-01T00:00:00Z",
        }))
        .unwrap()
    }

    fn seqs(start: &Start) -> Vec<u64> {
        match start {
            Start::Replay(changes) => changes.iter().map(|c| c.seq).collect(),
            Start::Resync => panic!("expected a replay, got a resync"),
        }
    }

    #[tokio::test]
    async fn changes_arrive_in_publishing_order_with_increasing_numbers() {
        let hub = LiveHub::new(RING, 16);
        let mut sub = hub.subscribe(None);
        assert!(matches!(&sub.start, Start::Replay(c) if c.is_empty()));
        for n in 1..=3 {
            hub.publish(asset("alice", n), n == 3);
        }
        for n in 1..=3u64 {
            let change = sub.changes.recv().await.unwrap();
            assert_eq!(change.seq, n);
            assert_eq!(
                change.asset.asset_id,
                AssetId::from_uuid(uuid::Uuid::from_u128(n.into()))
            );
            assert_eq!(change.removed, n == 3);
        }
    }

    #[test]
    fn a_reconnect_replays_what_came_after_its_last_id() {
        let hub = LiveHub::new(RING, 16);
        for n in 1..=5 {
            hub.publish(asset("alice", n), false);
        }
        let sub = hub.subscribe(Some(&hub.event_id(2)));
        assert_eq!(seqs(&sub.start), [3, 4, 5]);
        assert_eq!(sub.latest, 5);
        // Up to date: nothing to replay.
        assert_eq!(
            seqs(&hub.subscribe(Some(&hub.event_id(5))).start),
            Vec::<u64>::new()
        );
        // Seen nothing yet (the id of the stream's first event before any change).
        let fresh = LiveHub::new(RING, 16);
        assert_eq!(
            seqs(&fresh.subscribe(Some(&fresh.event_id(0))).start),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn ids_older_than_the_ring_foreign_or_malformed_ask_for_a_resync() {
        let hub = LiveHub::new(4, 16);
        for n in 1..=10 {
            hub.publish(asset("alice", n), false);
        }
        // The ring holds 7..=10: after 6 is complete, after 5 is not.
        assert_eq!(
            seqs(&hub.subscribe(Some(&hub.event_id(6))).start),
            [7, 8, 9, 10]
        );
        for id in [
            hub.event_id(5),
            hub.event_id(11),                 // from the future
            "0123456789abcdef-3".to_string(), // another process start
            "garbage".to_string(),
            format!("{}-x", hub.epoch()),
            String::new(),
        ] {
            assert!(
                matches!(hub.subscribe(Some(&id)).start, Start::Resync),
                "{id:?} should resync"
            );
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_its_buffer_is_told_it_lagged() {
        let hub = LiveHub::new(RING, 2);
        let mut sub = hub.subscribe(None);
        for n in 1..=5 {
            hub.publish(asset("alice", n), false);
        }
        assert!(matches!(
            sub.changes.recv().await,
            Err(broadcast::error::RecvError::Lagged(3))
        ));
        // It then continues with what the buffer still holds.
        assert_eq!(sub.changes.recv().await.unwrap().seq, 4);
    }

    #[test]
    fn replays_carry_every_owner_and_the_reader_filters_by_who_may_see() {
        let hub = LiveHub::new(RING, 16);
        hub.publish(asset("alice", 1), false);
        hub.publish(asset("bob", 2), false);
        let Start::Replay(changes) = hub.subscribe(Some(&hub.event_id(0))).start else {
            panic!("expected a replay");
        };
        let alice = Principal {
            user: "alice".into(),
            admin: false,
        };
        let visible: Vec<u64> = changes
            .iter()
            .filter(|c| alice.may_access(&c.asset.owner))
            .map(|c| c.seq)
            .collect();
        assert_eq!(visible, [1]);
        assert_eq!(changes[1].asset.state, AssetState::Created);
    }
}
