//! Who may act: users and their passwords, API keys, sessions, sign-in throttling. The HTTP
//! layer asks `Auth` who a request is; `Service` decides what that principal may do.
//! - this file: users, API keys, bearer authentication (briefly cached);
//! - `sessions`: sign-in, the session a cookie names, sign-out;
//! - `secrets`: random secrets and their hashes; `throttle`: failed sign-ins.

mod secrets;
mod sessions;
mod throttle;

pub use secrets::{api_key_id, hash_secret};
pub use sessions::{SessionPolicy, SignedIn};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::model::{
    ApiKeyInfo, CreatedApiKey, InvalidInput, NewApiKey, Principal, UserInfo, validate_password,
    validate_user_name,
};
use chrono::{TimeDelta, Utc};
use tracing::info;

use crate::store::StoreError;
use crate::store::auth::{ApiKeyRecord, AuthStore, UserRecord};

/// How long a successful key lookup is reused: a revoked key stops working within this on
/// every replica (the contract says 5 s).
const KEY_CACHE_TTL: Duration = Duration::from_secs(2);
/// Most cached key lookups; beyond, the cache is emptied (a refill is one read per key).
const KEY_CACHE_MAX: usize = 10_000;
/// A key's `last_used_at` is written at most this often.
const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials, or ones that do not name a live key or session.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Too many failed sign-ins: try again after this long.
    #[error("too many failed sign-ins; try again in {} s", .0.as_secs())]
    Throttled(Duration),
    #[error("{0}")]
    Invalid(#[from] InvalidInput),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("authentication store unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl From<StoreError> for AuthError {
    fn from(err: StoreError) -> Self {
        AuthError::Unavailable(err.into())
    }
}

#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn AuthStore>,
    sessions: SessionPolicy,
    throttle: throttle::Throttle,
    /// SHA-256 of a presented key secret -> who it was, and when that was read.
    keys: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
}

impl Auth {
    pub fn new(store: Arc<dyn AuthStore>, sessions: SessionPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                sessions,
                throttle: throttle::Throttle::default(),
                keys: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn store(&self) -> &dyn AuthStore {
        self.inner.store.as_ref()
    }

    // --- users ---

    pub async fn add_user(
        &self,
        name: &str,
        password: &str,
        admin: bool,
    ) -> Result<UserInfo, AuthError> {
        validate_user_name(name)?;
        validate_password(password)?;
        let user = UserRecord {
            name: name.to_string(),
            password_hash: hash_password(password).await?,
            admin,
            created_at: Utc::now(),
            generation: 1,
        };
        match self.store().insert_user(&user).await {
            Err(StoreError::AlreadyExists) => Err(AuthError::AlreadyExists(format!("user {name}"))),
            other => other.map_err(AuthError::from),
        }?;
        info!(user = %name, admin, "user added");
        Ok(user_info(&user))
    }

    /// Sets a new password and ends every session of the user.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), AuthError> {
        validate_password(password)?;
        let password_hash = hash_password(password).await?;
        loop {
            let current = self.user(name).await?;
            let next = UserRecord {
                password_hash: password_hash.clone(),
                generation: current.generation + 1,
                ..current.clone()
            };
            match self.store().update_user(&current, &next).await {
                Ok(()) => break,
                Err(StoreError::Conflict) => continue, // changed meanwhile: read again
                Err(err) => return Err(err.into()),
            }
        }
        info!(user = %name, "password changed; the user's sessions ended");
        Ok(())
    }

    pub async fn list_users(&self) -> Result<Vec<UserInfo>, AuthError> {
        Ok(self
            .store()
            .list_users()
            .await?
            .iter()
            .map(user_info)
            .collect())
    }

    /// Removes the user and their API keys; their sessions end with them. Their assets stay
    /// (admins still see them).
    pub async fn remove_user(&self, name: &str) -> Result<(), AuthError> {
        if !self.store().remove_user(name).await? {
            return Err(AuthError::NotFound(format!("user {name}")));
        }
        info!(user = %name, "user removed");
        Ok(())
    }

    /// On a store with no user yet, creates `admin` with a random password and returns it (to
    /// be shown once). `None` when users exist.
    pub async fn create_first_admin(&self) -> Result<Option<String>, AuthError> {
        if !self.store().list_users().await?.is_empty() {
            return Ok(None);
        }
        let password = secrets::new_password().map_err(AuthError::Unavailable)?;
        match self.add_user("admin", &password, true).await {
            Ok(_) => Ok(Some(password)),
            // Another process created it first: that one shows the password.
            Err(AuthError::AlreadyExists(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The admin created first: who owns assets stored before assets had owners.
    pub async fn first_admin(&self) -> Result<Option<String>, AuthError> {
        Ok(self
            .store()
            .list_users()
            .await?
            .into_iter()
            .filter(|u| u.admin)
            .min_by_key(|u| (u.created_at, u.name.clone()))
            .map(|u| u.name))
    }

    async fn user(&self, name: &str) -> Result<UserRecord, AuthError> {
        self.store()
            .get_user(name)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("user {name}")))
    }

    // --- API keys ---

    pub async fn create_key(&self, user: &str, new: NewApiKey) -> Result<CreatedApiKey, AuthError> {
        new.validate()?;
        self.user(user).await?;
        let (key_id, secret) = secrets::new_api_key().map_err(AuthError::Unavailable)?;
        let now = Utc::now();
        let info = ApiKeyInfo {
            key_id,
            user: user.to_string(),
            label: new.label.trim().to_string(),
            created_at: now,
            last_used_at: None,
            expires_at: new
                .expires_in_days
                .map(|days| now + TimeDelta::days(i64::from(days))),
        };
        let record = ApiKeyRecord {
            info: info.clone(),
            secret_hash: secrets::hash_secret(&secret),
        };
        self.store().insert_key(&record).await?;
        info!(user = %user, key_id = %info.key_id, "API key created");
        Ok(CreatedApiKey { key: info, secret })
    }

    /// One user's keys (or everyone's), newest first.
    pub async fn list_keys(&self, user: Option<&str>) -> Result<Vec<ApiKeyInfo>, AuthError> {
        Ok(self
            .store()
            .list_keys(user)
            .await?
            .into_iter()
            .map(|k| k.info)
            .collect())
    }

    /// Revokes a key: of `owner` only, when given (another user's key is "not found").
    pub async fn revoke_key(&self, key_id: &str, owner: Option<&str>) -> Result<(), AuthError> {
        let not_found = || AuthError::NotFound(format!("API key {key_id}"));
        let key = self.store().get_key(key_id).await?.ok_or_else(not_found)?;
        if owner.is_some_and(|owner| owner != key.info.user) {
            return Err(not_found());
        }
        if !self.store().remove_key(key_id).await? {
            return Err(not_found());
        }
        info!(user = %key.info.user, key_id = %key_id, "API key revoked");
        Ok(())
    }

    /// Who an `Authorization: Bearer` secret speaks for. Lookups are reused for a moment
    /// (`KEY_CACHE_TTL`), so revocation takes effect within it.
    pub async fn authenticate_key(&self, secret: &str) -> Result<Principal, AuthError> {
        let key_id = secrets::api_key_id(secret).ok_or(AuthError::Unauthenticated(
            "the bearer token is not an API key of this service",
        ))?;
        let digest = secrets::digest(secret);
        let now = Instant::now();
        if let Some(principal) = self.cached_key(&digest, now) {
            return Ok(principal);
        }
        let hash = hex::encode(digest);
        let unknown = AuthError::Unauthenticated("unknown, revoked or expired API key");
        let key = self.store().get_key(key_id).await?.ok_or(unknown)?;
        let now_utc = Utc::now();
        if !secrets::same_hash(&key.secret_hash, &hash) || key.info.expired(now_utc) {
            return Err(AuthError::Unauthenticated(
                "unknown, revoked or expired API key",
            ));
        }
        let user =
            self.store()
                .get_user(&key.info.user)
                .await?
                .ok_or(AuthError::Unauthenticated(
                    "the API key's user no longer exists",
                ))?;
        let principal = Principal {
            user: user.name,
            admin: user.admin,
        };
        self.cache_key(digest, principal.clone(), now);
        if key
            .info
            .last_used_at
            .is_none_or(|at| now_utc - at >= TOUCH_EVERY)
        {
            // Off the request's path: a lost touch only makes "last used" a minute older.
            let store = self.inner.store.clone();
            let key_id = key_id.to_string();
            tokio::spawn(async move {
                if let Err(err) = store.touch_key(&key_id, now_utc).await
                    && !matches!(err, StoreError::Conflict)
                {
                    tracing::warn!(key_id = %key_id, error = %err, "could not record an API key's use");
                }
            });
        }
        Ok(principal)
    }

    fn cached_key(&self, digest: &[u8; 32], now: Instant) -> Option<Principal> {
        let keys = self.inner.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.get(digest)
            .filter(|(_, at)| now.duration_since(*at) < KEY_CACHE_TTL)
            .map(|(principal, _)| principal.clone())
    }

    fn cache_key(&self, digest: [u8; 32], principal: Principal, now: Instant) {
        let mut keys = self.inner.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= KEY_CACHE_MAX {
            keys.retain(|_, (_, at)| now.duration_since(*at) < KEY_CACHE_TTL);
            if keys.len() >= KEY_CACHE_MAX {
                keys.clear();
            }
        }
        keys.insert(digest, (principal, now));
    }
}

fn user_info(user: &UserRecord) -> UserInfo {
    UserInfo {
        name: user.name.clone(),
        admin: user.admin,
        created_at: user.created_at,
    }
}

/// Argon2id with OWASP's parameters (19 MiB, 2 passes), on the blocking pool.
async fn hash_password(password: &str) -> Result<String, AuthError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || password_auth::generate_hash(password))
        .await
        .map_err(|e| AuthError::Unavailable(e.into()))
}

/// Whether `password` matches the PHC string (none: a user that does not exist, which costs
/// the same and never matches), on the blocking pool.
async fn verify_password(password: &str, hash: Option<String>) -> Result<bool, AuthError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => password_auth::verify_password(password, &hash).is_ok(),
        None => {
            let _ = password_auth::verify_password(password, sessions::dummy_hash());
            false
        }
    })
    .await
    .map_err(|e| AuthError::Unavailable(e.into()))
}
