//! Users, API keys and sessions as stored. Secrets never are: a password as its Argon2id PHC
//! string, an API key and a session id as the hex SHA-256 of the secret. Every change is a
//! conditional write, as for assets.

use app::model::ApiKeyInfo;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    /// Argon2id, PHC string format.
    pub password_hash: String,
    pub admin: bool,
    pub created_at: DateTime<Utc>,
    /// Bumped by every password change; a session made under an older generation is over.
    pub generation: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub info: ApiKeyInfo,
    /// Hex SHA-256 of the whole secret.
    pub secret_hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Hex SHA-256 of the cookie's value.
    pub id_hash: String,
    pub user: String,
    /// The user's `generation` when the session began.
    pub generation: u64,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The absolute end: the session never lives past it, however active.
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait AuthStore: Send + Sync + 'static {
    /// `AlreadyExists` if the name is taken.
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    async fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Replaces `current` with `next` only if the stored user still has `current.generation`
    /// (`Conflict` otherwise, or if it is gone).
    async fn update_user(&self, current: &UserRecord, next: &UserRecord) -> Result<(), StoreError>;
    /// Removes the user and their API keys; false if there was no such user.
    async fn remove_user(&self, name: &str) -> Result<bool, StoreError>;
    /// Every user, by name.
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// `AlreadyExists` if the key id is taken.
    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    async fn get_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// One user's keys, or everyone's; newest first.
    async fn list_keys(&self, user: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// False if there was no such key.
    async fn remove_key(&self, key_id: &str) -> Result<bool, StoreError>;
    /// Records a use, only if the key still exists (a revoked key is not brought back).
    async fn touch_key(&self, key_id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// `AlreadyExists` if the id is taken.
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    /// The session, if it exists and `expires_at` has not passed.
    async fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Moves `last_seen_at` on, only if the session still exists.
    async fn touch_session(&self, id_hash: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Ends a session; removing one that is gone is not an error.
    async fn remove_session(&self, id_hash: &str) -> Result<(), StoreError>;
}
