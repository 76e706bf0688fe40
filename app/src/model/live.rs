//! What `GET /assets/events` sends (Server-Sent Events): the wire shapes of its `asset` and
//! `hello` events, shared by the server that writes them and the dashboard that reads them.

use serde::{Deserialize, Serialize};

use super::{Asset, AssetState};

/// The `asset` event: an asset after a change, and its new state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetChange {
    /// As `GET /assets` lists it.
    pub asset: Asset,
    /// The state after the change (the same as `asset.state`, for readers that want only it).
    pub state: AssetState,
    /// The record is gone for good (its object was removed, or its upload abandoned); `asset`
    /// is as it was last.
    pub removed: bool,
}

/// The `hello` event, the first after the replay (if any).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveHello {
    /// Set when other replicas share the store: their changes reach this stream only by
    /// refetching the list this often (seconds).
    pub refresh_secs: Option<u64>,
}
