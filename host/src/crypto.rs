//! The few cryptographic helpers the host shares (signed pages, the plugin cache,
//! content hashes), built on well-kept crates: `hmac`, `sha2`, `hex`, `getrandom`.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub type HmacSha256 = Hmac<Sha256>;

/// An HMAC-SHA256 keyed with `key`.
pub fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    // RFC 2104 defines HMAC for keys of every length (longer ones are hashed first);
    // the `hmac` crate never refuses one.
    HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length")
}

/// The SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `N` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // Without the OS random source no secret would be unguessable; there is no fallback.
    if let Err(err) = getrandom::fill(&mut bytes) {
        panic!("the operating system's random source failed: {err}");
    }
    bytes
}

/// `N` random bytes as hex.
pub fn random_hex<const N: usize>() -> String {
    hex::encode(random_bytes::<N>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mut mac = hmac_sha256(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn long_and_empty_keys_are_taken() {
        let _ = hmac_sha256(&[7u8; 200]);
        let _ = hmac_sha256(b"");
        assert_eq!(random_hex::<16>().len(), 32);
    }
}
