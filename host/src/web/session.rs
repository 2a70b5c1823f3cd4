//! The operator's session: a cookie holding its expiry, signed together with a digest of
//! the admin token. Any replica can check it, and changing the admin token ends every
//! session at once.

use hyper::header::HeaderValue;
use hyper::HeaderMap;

use super::{cookies, signing};

const COOKIE: &str = "emu_session";
pub const LIFETIME_SECS: u64 = 12 * 60 * 60;

fn token_digest(admin_token: &str) -> String {
    crate::crypto::sha256_hex(admin_token.as_bytes())
}

/// A new session cookie for `admin_token`.
pub fn start(secret: &[u8], admin_token: &str, secure: bool) -> Option<HeaderValue> {
    let value = signing::expiring(
        secret,
        "session",
        &[&token_digest(admin_token)],
        LIFETIME_SECS,
    );
    cookies::set(COOKIE, &value, LIFETIME_SECS, secure)
}

pub fn end(secure: bool) -> Option<HeaderValue> {
    cookies::set(COOKIE, "", 0, secure)
}

/// Whether the request carries an unexpired session for the current admin token.
pub fn is_valid(headers: &HeaderMap, secret: &[u8], admin_token: &str) -> bool {
    if admin_token.is_empty() {
        return false;
    }
    cookies::get(headers, COOKIE).is_some_and(|cookie| {
        signing::check_expiring(secret, "session", &[&token_digest(admin_token)], &cookie)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::COOKIE as COOKIE_HEADER;

    fn request_with(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie.to_str().unwrap().split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE_HEADER, pair.parse().unwrap());
        headers
    }

    #[test]
    fn a_session_holds_for_its_token_only() {
        let cookie = start(b"secret", "admin", false).unwrap();
        let headers = request_with(&cookie);
        assert!(is_valid(&headers, b"secret", "admin"));
        assert!(!is_valid(&headers, b"secret", "rotated"));
        assert!(!is_valid(&headers, b"other secret", "admin"));
        assert!(!is_valid(&HeaderMap::new(), b"secret", "admin"));
        let forged = HeaderValue::from_static("emu_session=99999999999.00");
        assert!(!is_valid(&request_with(&forged), b"secret", "admin"));
    }
}
