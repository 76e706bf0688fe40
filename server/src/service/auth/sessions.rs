//! Dashboard sessions: sign-in (throttled, no user enumeration), the session a cookie names,
//! sign-out. The cookie holds a 256-bit random id; the store keeps its hash, so a leaked
//! database names no live session.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Instant;

use app::model::Principal;
use chrono::{TimeDelta, Utc};
use tracing::info;

use super::{Auth, AuthError, secrets, verify_password};
use crate::store::StoreError;
use crate::store::auth::SessionRecord;

/// How long sessions live.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    /// Unused this long, a session ends.
    pub idle: TimeDelta,
    /// However active, a session ends this long after sign-in.
    pub absolute: TimeDelta,
}

/// A session's `last_seen_at` is written at most this often (so idle expiry is this coarse).
const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

/// A new session: the cookie's value (shown to the browser only) and who it is for.
#[derive(Debug)]
pub struct SignedIn {
    pub session_id: String,
    pub principal: Principal,
    /// How long the cookie should live (the session's absolute lifetime).
    pub max_age: TimeDelta,
}

impl Auth {
    /// Checks the password and starts a session. A wrong name and a wrong password answer
    /// alike and take as long (both verify an Argon2 hash).
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<SignedIn, AuthError> {
        let started = Instant::now();
        self.inner
            .throttle
            .check(name, client, started)
            .map_err(|wait| {
                crate::meters::sign_in_failed("throttled");
                AuthError::Throttled(wait)
            })?;
        let user = self.store().get_user(name).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        // Bounded input only: a huge "password" must not become a huge Argon2 input.
        let matches = password.len() <= app::model::MAX_PASSWORD_BYTES
            && verify_password(password, hash).await?;
        let Some(user) = user.filter(|_| matches) else {
            self.inner.throttle.failed(name, client, Instant::now());
            crate::meters::sign_in_failed("credentials");
            info!(user = %name, client = ?client, "sign-in refused");
            return Err(AuthError::Unauthenticated("wrong user name or password"));
        };
        self.inner.throttle.succeeded(name);
        let session_id = secrets::new_session_id().map_err(AuthError::Unavailable)?;
        let now = Utc::now();
        let policy = self.inner.sessions;
        self.store()
            .insert_session(&SessionRecord {
                id_hash: secrets::hash_secret(&session_id),
                user: user.name.clone(),
                generation: user.generation,
                created_at: now,
                last_seen_at: now,
                expires_at: now + policy.absolute,
            })
            .await?;
        crate::meters::session_created();
        info!(user = %user.name, "signed in");
        Ok(SignedIn {
            session_id,
            principal: Principal {
                user: user.name,
                admin: user.admin,
            },
            max_age: policy.absolute,
        })
    }

    /// Who a session cookie's value speaks for; `None` if it names no live session (unknown,
    /// signed out, idle or past its lifetime, or the password changed since).
    pub async fn session(&self, session_id: &str) -> Result<Option<Principal>, AuthError> {
        let id_hash = secrets::hash_secret(session_id);
        let Some(session) = self.store().get_session(&id_hash).await? else {
            return Ok(None);
        };
        let now = Utc::now();
        if now >= session.expires_at || now - session.last_seen_at >= self.inner.sessions.idle {
            self.store().remove_session(&id_hash).await?;
            return Ok(None);
        }
        let Some(user) = self.store().get_user(&session.user).await? else {
            return Ok(None);
        };
        if user.generation != session.generation {
            self.store().remove_session(&id_hash).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            match self.store().touch_session(&id_hash, now).await {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(Some(Principal {
            user: user.name,
            admin: user.admin,
        }))
    }

    /// Ends the session on the server (the cookie alone no longer works).
    pub async fn sign_out(&self, session_id: &str) -> Result<(), AuthError> {
        self.store()
            .remove_session(&secrets::hash_secret(session_id))
            .await?;
        Ok(())
    }
}

/// A hash of no one's password, so an unknown name costs one Argon2 verification too.
pub(super) fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password_auth::generate_hash("no user has this password"))
}
