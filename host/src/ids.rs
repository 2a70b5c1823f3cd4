//! Random identifiers. A user's link id, the secret part of the phone-verification
//! link, carries 119 random bits in the engine's 20-character `cloud_id` column.

/// Crockford's base32: no I, L, O or U, so ids read back unambiguously.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

use crate::crypto::random_bytes;

fn random_base32<const LEN: usize>() -> String {
    random_bytes::<LEN>()
        .iter()
        .map(|byte| ALPHABET[usize::from(byte & 31)] as char)
        .collect()
}

/// Letters and digits: the engine puts the link id into a URL as it is.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// 20 symbols of base 62, each drawn without bias (bytes of 248 and up are thrown
/// away): 119 random bits, exactly what the engine's `cloud_id` column holds.
pub fn link_id() -> String {
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        for byte in random_bytes::<32>() {
            if byte < 248 && out.len() < 20 {
                out.push(BASE62[usize::from(byte % 62)] as char);
            }
        }
    }
    out
}

/// `U` + 13 symbols: 65 random bits, 14 characters.
pub fn user_id() -> String {
    format!("U{}", random_base32::<13>())
}

/// `C` + 13 symbols, like real Cloud's integration ids.
pub fn integration_id() -> String {
    format!("C{}", random_base32::<13>())
}

/// 8 symbols: tells apart two processes that share a host name and pid namespace.
pub fn short_random() -> String {
    random_base32::<8>().to_ascii_lowercase()
}

/// 32 symbols (160 bits): the secret in a heartbeat link.
pub fn heartbeat_token() -> String {
    random_base32::<32>().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_promised_shape_and_differ() {
        let a = user_id();
        let b = user_id();
        assert_eq!(a.len(), 14);
        assert!(a.len() <= 20);
        assert!(a.starts_with('U'));
        assert_ne!(a, b);
        assert!(integration_id().len() <= 50);
        assert_eq!(heartbeat_token().len(), 32);
        let link = link_id();
        assert_eq!(link.len(), 20);
        assert!(link.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(link, link_id());
    }
}
