//! HMAC-SHA256 over a shared secret: CSRF tokens and session cookies are signed so any
//! replica can check them without shared session state.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], parts: &[&str]) -> HmacSha256 {
    // HMAC zero-pads a key shorter than its 64-byte block and hashes a longer one;
    // doing that here gives the same MAC through the constructor that cannot fail.
    let mut key = [0u8; 64];
    if secret.len() > key.len() {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let mut mac = <HmacSha256 as KeyInit>::new(&key.into());
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") sign differently.
        mac.update(&(part.len() as u64).to_le_bytes());
        mac.update(part.as_bytes());
    }
    mac
}

pub fn sign(secret: &[u8], parts: &[&str]) -> String {
    to_hex(&mac(secret, parts).finalize().into_bytes())
}

/// Constant-time check of a hex signature.
pub fn verify(secret: &[u8], parts: &[&str], given: &str) -> bool {
    match from_hex(given) {
        Some(bytes) => mac(secret, parts).verify_slice(&bytes).is_ok(),
        None => false,
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

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).ok())
        .collect()
}

/// `N` random bytes as hex.
pub fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    // Without the OS random source no token would be unguessable; there is no fallback.
    if let Err(err) = getrandom::fill(&mut bytes) {
        panic!("the operating system's random source failed: {err}");
    }
    to_hex(&bytes)
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
        assert_eq!(random_hex::<16>().len(), 32);
        // The same MAC as the library's own handling of any key length.
        for secret in [&b"short"[..], &[7u8; 64][..], &[9u8; 100][..]] {
            let mut reference = <HmacSha256 as Mac>::new_from_slice(secret).unwrap();
            reference.update(&3u64.to_le_bytes());
            reference.update(b"abc");
            assert_eq!(
                sign(secret, &["abc"]),
                to_hex(&reference.finalize().into_bytes())
            );
        }
    }
}
