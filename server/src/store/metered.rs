//! The stores, timed: every call's duration and every backend failure, by operation, for
//! metrics. Wrapped around whichever store start-up opened, so neither store nor the service
//! knows it is measured.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::{Asset, AssetId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::auth::{ApiKeyRecord, AuthStore, SessionRecord, UserRecord};
use super::{AssetStore, Cursor, PageRequest, StateCounts, StoreError};
use crate::meters::Backend;

/// Times `call` as `operation`. Only `Unavailable` is a failure: a refused conditional write
/// or a taken id is the store answering.
async fn timed<T>(
    operation: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    let failed = matches!(result, Err(StoreError::Unavailable(_)));
    Backend::Store.call(operation, started, failed);
    result
}

/// Asset records, timed.
pub struct MeteredAssets(pub Arc<dyn AssetStore>);

#[async_trait]
impl AssetStore for MeteredAssets {
    async fn insert(&self, asset: &Asset) -> Result<(), StoreError> {
        timed("insert_asset", self.0.insert(asset)).await
    }

    async fn get(&self, id: AssetId) -> Result<Option<Asset>, StoreError> {
        timed("get_asset", self.0.get(id)).await
    }

    async fn update(&self, current: &Asset, next: &Asset) -> Result<(), StoreError> {
        timed("update_asset", self.0.update(current, next)).await
    }

    async fn remove(&self, id: AssetId, expected_version: u64) -> Result<(), StoreError> {
        timed("remove_asset", self.0.remove(id, expected_version)).await
    }

    async fn list(&self, page: &PageRequest) -> Result<(Vec<Asset>, Option<Cursor>), StoreError> {
        timed("list_assets", self.0.list(page)).await
    }

    async fn adopt_unowned(&self, owner: &str) -> Result<u64, StoreError> {
        timed("adopt_unowned", self.0.adopt_unowned(owner)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        timed("ping", self.0.ping()).await
    }

    async fn count_by_state(&self) -> Result<StateCounts, StoreError> {
        timed("count_by_state", self.0.count_by_state()).await
    }

    fn count_max_age(&self) -> Duration {
        self.0.count_max_age()
    }
}

/// Users, API keys and sessions, timed.
pub struct MeteredAuth(pub Arc<dyn AuthStore>);

#[async_trait]
impl AuthStore for MeteredAuth {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        timed("insert_user", self.0.insert_user(user)).await
    }

    async fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        timed("get_user", self.0.get_user(name)).await
    }

    async fn update_user(&self, current: &UserRecord, next: &UserRecord) -> Result<(), StoreError> {
        timed("update_user", self.0.update_user(current, next)).await
    }

    async fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        timed("remove_user", self.0.remove_user(name)).await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        timed("list_users", self.0.list_users()).await
    }

    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        timed("insert_key", self.0.insert_key(key)).await
    }

    async fn get_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        timed("get_key", self.0.get_key(key_id)).await
    }

    async fn list_keys(&self, user: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        timed("list_keys", self.0.list_keys(user)).await
    }

    async fn remove_key(&self, key_id: &str) -> Result<bool, StoreError> {
        timed("remove_key", self.0.remove_key(key_id)).await
    }

    async fn touch_key(&self, key_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        timed("touch_key", self.0.touch_key(key_id, at)).await
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        timed("insert_session", self.0.insert_session(session)).await
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        timed("get_session", self.0.get_session(id_hash)).await
    }

    async fn touch_session(&self, id_hash: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        timed("touch_session", self.0.touch_session(id_hash, at)).await
    }

    async fn remove_session(&self, id_hash: &str) -> Result<(), StoreError> {
        timed("remove_session", self.0.remove_session(id_hash)).await
    }
}
