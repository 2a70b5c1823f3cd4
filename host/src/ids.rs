//! Random identifiers. User ids double as the unguessable part of the phone-verification
//! link, so they carry 65 random bits while fitting the engine's 20-character column.

/// Crockford's base32: no I, L, O or U, so ids read back unambiguously.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn random_base32(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    // The OS random source failing means the machine is unusable; there is no fallback
    // that would keep ids unguessable.
    if let Err(err) = getrandom::fill(&mut bytes) {
        panic!("the operating system's random source failed: {err}");
    }
    bytes
        .iter()
        .map(|byte| ALPHABET[usize::from(byte & 31)] as char)
        .collect()
}

/// `U` + 13 symbols: 65 random bits, 14 characters.
pub fn user_id() -> String {
    format!("U{}", random_base32(13))
}

/// `C` + 13 symbols, like real Cloud's integration ids.
pub fn integration_id() -> String {
    format!("C{}", random_base32(13))
}

/// 8 symbols: tells apart two processes that share a host name and pid namespace.
pub fn short_random() -> String {
    random_base32(8).to_ascii_lowercase()
}

/// 32 symbols (160 bits): the secret in a heartbeat link.
pub fn heartbeat_token() -> String {
    random_base32(32).to_ascii_lowercase()
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
    }
}
