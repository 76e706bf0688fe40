//! Secrets: API keys and session ids are 256-bit random values; only their SHA-256 is stored,
//! which is enough for a secret that cannot be guessed (Argon2 would slow every request).

use app::model::API_KEY_PREFIX;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// `n` random bytes from the operating system.
pub(super) fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(bytes)
}

/// Hex SHA-256: what the stores keep of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(digest(secret))
}

/// The SHA-256 of a secret, unencoded (the key cache's key: no allocation per request).
pub(super) fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Equal hashes, compared in constant time.
pub(super) fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A new API key: `assets_<key id: 16 hex>_<secret: 43 base64url = 256 bits>`. The id names
/// the key in lists and in `revoke`; the prefix lets secret scanners spot a leaked key.
pub(super) fn new_api_key() -> anyhow::Result<(String, String)> {
    let key_id = hex::encode(random_bytes::<8>()?);
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    Ok((key_id.clone(), format!("{API_KEY_PREFIX}{key_id}_{secret}")))
}

/// The key id of a well-formed API key secret; `None` for anything else.
pub fn api_key_id(secret: &str) -> Option<&str> {
    let rest = secret.strip_prefix(API_KEY_PREFIX)?;
    let (id, random) = rest.split_once('_')?;
    let well_formed = id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && random.len() == 43
        && random
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then_some(id)
}

/// A new session id for the cookie (256 bits).
pub(super) fn new_session_id() -> anyhow::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// A password for the first admin: 24 characters of base64url (144 bits).
pub(super) fn new_password() -> anyhow::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<18>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_prefixed_and_parse_back_to_their_id() {
        let (id, secret) = new_api_key().unwrap();
        assert!(secret.starts_with("assets_"));
        assert_eq!(secret.len(), "assets_".len() + 16 + 1 + 43);
        assert_eq!(api_key_id(&secret), Some(id.as_str()));
        let (_, other) = new_api_key().unwrap();
        assert_ne!(secret, other);
    }

    #[test]
    fn malformed_keys_have_no_id() {
        let (_, secret) = new_api_key().unwrap();
        for bad in [
            "",
            "assets_",
            &secret[..secret.len() - 1],
            &format!("{secret}x"),
            &secret.replace("assets_", "other_"),
            &secret.to_uppercase(),
            "assets_0123456789abcdef_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert_eq!(api_key_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn hashes_compare_equal_only_when_equal() {
        let a = hash_secret("one");
        assert!(same_hash(&a, &hash_secret("one")));
        assert!(!same_hash(&a, &hash_secret("two")));
        assert!(!same_hash(&a, &a[1..]));
    }
}
