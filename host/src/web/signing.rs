//! HMAC-SHA256 over a shared secret: CSRF tokens and session cookies are signed so any
//! replica can check them without shared session state.

use hmac::Mac;

use crate::crypto::{hmac_sha256, HmacSha256};

fn mac(secret: &[u8], parts: &[&str]) -> HmacSha256 {
    let mut mac = hmac_sha256(secret);
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") sign differently.
        mac.update(&(part.len() as u64).to_le_bytes());
        mac.update(part.as_bytes());
    }
    mac
}

pub fn sign(secret: &[u8], parts: &[&str]) -> String {
    hex::encode(mac(secret, parts).finalize().into_bytes())
}

/// Constant-time check of a hex signature.
pub fn verify(secret: &[u8], parts: &[&str], given: &str) -> bool {
    match hex::decode(given) {
        Ok(bytes) => mac(secret, parts).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

fn now_secs() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

/// `<expiry>.<signature>`: a value good for `lifetime_secs`, signed over `kind`, the
/// expiry and `bound` (what it is good for), so any replica can check it.
pub fn expiring(secret: &[u8], kind: &str, bound: &[&str], lifetime_secs: u64) -> String {
    let expires = (now_secs() + lifetime_secs).to_string();
    let signature = sign(secret, &expiring_parts(kind, &expires, bound));
    format!("{expires}.{signature}")
}

/// Whether `value` is an unexpired [`expiring`] value for `kind` and `bound`.
pub fn check_expiring(secret: &[u8], kind: &str, bound: &[&str], value: &str) -> bool {
    let Some((expires, signature)) = value.split_once('.') else {
        return false;
    };
    expires.parse::<u64>().is_ok_and(|at| at > now_secs())
        && verify(secret, &expiring_parts(kind, expires, bound), signature)
}

fn expiring_parts<'a>(kind: &'a str, expires: &'a str, bound: &[&'a str]) -> Vec<&'a str> {
    let mut parts = vec![kind, expires];
    parts.extend_from_slice(bound);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_checks_only_for_its_parts_and_secret() {
        let signature = sign(b"secret", &["csrf", "abc"]);
        assert!(verify(b"secret", &["csrf", "abc"], &signature));
        assert!(!verify(b"secret", &["csrf", "abd"], &signature));
        assert!(!verify(b"other", &["csrf", "abc"], &signature));
        assert!(!verify(b"secret", &["csrfa", "bc"], &signature));
        assert!(!verify(b"secret", &["csrf", "abc"], "zz"));
        assert!(!verify(b"secret", &["csrf", "abc"], ""));
    }
}
