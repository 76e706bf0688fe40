//! Who is asking: users, API keys and the principal a request acts as. Pure rules (names,
//! password length, key format); hashing and storage live on the server.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{InvalidInput, shorten};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (Argon2 reads all of it; a bound keeps hashing cheap).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The prefix of every API key secret, so secret scanners can spot a leaked one.
pub const API_KEY_PREFIX: &str = "assets_";
/// Longest API key label.
pub const MAX_LABEL_CHARS: usize = 100;

/// Who a request acts as: a signed-in user or the owner of an API key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user: String,
    pub admin: bool,
}

impl Principal {
    /// Whether this principal may see and act on an asset owned by `owner`.
    pub fn may_access(&self, owner: &str) -> bool {
        self.admin || self.user == owner
    }
}

/// A user name: 1..=64 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
/// Lowercase only, so names compare as typed.
pub fn validate_user_name(name: &str) -> Result<(), InvalidInput> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(InvalidInput::new(format!(
            "'{}' is not a user name: 1-64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
            shorten(name)
        )))
    }
}

pub fn validate_password(password: &str) -> Result<(), InvalidInput> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(InvalidInput::new(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(InvalidInput::too_large(format!(
            "a password has at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// A user as listed (never the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    pub admin: bool,
    pub created_at: DateTime<Utc>,
}

/// An API key as listed: everything but the secret, which is shown once at creation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub key_id: String,
    pub user: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl ApiKeyInfo {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A request for a new API key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub label: String,
    /// Days until the key stops working; none: it works until revoked.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// Longest lifetime a key may be given (ten years).
pub const MAX_KEY_DAYS: u32 = 3650;

impl NewApiKey {
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let label = self.label.trim();
        if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
            return Err(InvalidInput::new(format!(
                "a key label has 1..={MAX_LABEL_CHARS} characters"
            )));
        }
        if label.chars().any(char::is_control) {
            return Err(InvalidInput::new("a key label has no control characters"));
        }
        if let Some(days) = self.expires_in_days
            && !(1..=MAX_KEY_DAYS).contains(&days)
        {
            return Err(InvalidInput::new(format!(
                "expires_in_days must be 1..={MAX_KEY_DAYS}"
            )));
        }
        Ok(())
    }
}

/// A new API key: its description and the secret, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub key: ApiKeyInfo,
    pub secret: String,
}

/// The dashboard's sign-in form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInForm {
    pub name: String,
    pub password: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_short_lowercase_words() {
        for ok in [
            "admin",
            "alice",
            "a",
            "bob.smith",
            "ci_bot-2",
            &"x".repeat(64),
        ] {
            assert!(validate_user_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Alice", "-x", ".x", "a b", "ä", "a/b", &"x".repeat(65)] {
            assert!(validate_user_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_a_floor_and_a_ceiling() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("elevenchars").is_err());
        assert!(validate_password("twelve chars").is_ok());
        // Characters, not bytes: twelve two-byte letters pass.
        assert!(validate_password(&"é".repeat(12)).is_ok());
        assert!(validate_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }

    #[test]
    fn key_requests_are_bounded() {
        let key = |label: &str, days| NewApiKey {
            label: label.into(),
            expires_in_days: days,
        };
        assert!(key("ci", None).validate().is_ok());
        assert!(key("ci", Some(30)).validate().is_ok());
        assert!(key("", None).validate().is_err());
        assert!(key("  ", None).validate().is_err());
        assert!(key("ci", Some(0)).validate().is_err());
        assert!(key("ci", Some(MAX_KEY_DAYS + 1)).validate().is_err());
        assert!(key("a\nb", None).validate().is_err());
        assert!(key(&"x".repeat(101), None).validate().is_err());
    }

    #[test]
    fn admins_reach_every_owner_users_only_their_own() {
        let alice = Principal {
            user: "alice".into(),
            admin: false,
        };
        let root = Principal {
            user: "root".into(),
            admin: true,
        };
        assert!(alice.may_access("alice"));
        assert!(!alice.may_access("bob"));
        assert!(root.may_access("bob"));
    }
}
