//! One-time codes: six random digits, kept only as a salted hash and compared in
//! constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::crypto::random_bytes;

/// What is stored for a code: a random salt and the hash of salt, user and code.
pub struct HashedCode {
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Six digits, uniform over 000000..=999999 (rejection sampling avoids modulo bias).
pub fn new_code() -> String {
    const RANGE: u32 = 1_000_000;
    let limit = u32::MAX - u32::MAX % RANGE;
    loop {
        let value = u32::from_le_bytes(random_bytes::<4>());
        if value < limit {
            return format!("{:06}", value % RANGE);
        }
    }
}

fn digest(salt: &[u8], user_id: &str, code: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(user_id.as_bytes());
    hasher.update(b":");
    hasher.update(code.as_bytes());
    hasher.finalize().to_vec()
}

pub fn hash(user_id: &str, code: &str) -> HashedCode {
    let salt = random_bytes::<16>().to_vec();
    let hash = digest(&salt, user_id, code);
    HashedCode { salt, hash }
}

/// Whether `given` (as typed: spaces and dashes are ignored) is the code behind `hash`.
pub fn matches(salt: &[u8], hash: &[u8], user_id: &str, given: &str) -> bool {
    let typed: String = given
        .chars()
        .filter(|ch| !ch.is_whitespace() && *ch != '-')
        .collect();
    bool::from(digest(salt, user_id, &typed).ct_eq(hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: Vec<String> = (0..50).map(|_| new_code()).collect();
        assert!(codes
            .iter()
            .all(|code| code.len() == 6 && code.chars().all(|ch| ch.is_ascii_digit())));
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert!(distinct.len() > 40, "{distinct:?}");
    }

    #[test]
    fn a_hash_matches_its_code_for_its_user_only() {
        let stored = hash("U1", "012345");
        assert!(matches(&stored.salt, &stored.hash, "U1", "012345"));
        assert!(matches(&stored.salt, &stored.hash, "U1", " 012-345 "));
        assert!(!matches(&stored.salt, &stored.hash, "U1", "012346"));
        assert!(!matches(&stored.salt, &stored.hash, "U2", "012345"));
        assert!(!matches(&stored.salt, &stored.hash, "U1", ""));
        let again = hash("U1", "012345");
        assert_ne!(stored.hash, again.hash, "each code gets its own salt");
    }
}
