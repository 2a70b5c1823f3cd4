//! CSRF protection for every form: a random value in a cookie, and in the form a
//! signature binding that value to what the form is for. A forged or replayed form
//! lacks one or the other.

use hyper::header::HeaderValue;
use hyper::HeaderMap;

use super::{cookies, signing};

const COOKIE: &str = "emu_csrf";
/// A day: long enough for a page left open, short enough to bound a leaked form.
const COOKIE_AGE_SECS: u64 = 24 * 60 * 60;

/// The browser's CSRF value: the one it sent, or a new one to set.
pub struct Csrf {
    value: String,
    fresh: bool,
}

impl Csrf {
    pub fn for_request(headers: &HeaderMap) -> Csrf {
        match cookies::get(headers, COOKIE).filter(|value| well_formed(value)) {
            Some(value) => Csrf {
                value,
                fresh: false,
            },
            None => Csrf {
                value: crate::crypto::random_hex::<16>(),
                fresh: true,
            },
        }
    }

    /// The hidden field's value for a form whose purpose is `purpose`.
    pub fn token(&self, secret: &[u8], purpose: &str) -> String {
        signing::sign(secret, &["csrf", purpose, &self.value])
    }

    /// The cookie to set with the page, when the browser had none.
    pub fn cookie(&self, secure: bool) -> Option<HeaderValue> {
        if self.fresh {
            cookies::set(COOKIE, &self.value, COOKIE_AGE_SECS, secure)
        } else {
            None
        }
    }
}

fn well_formed(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Whether a posted form carries a token matching the browser's cookie and `purpose`.
pub fn check(headers: &HeaderMap, given: Option<&str>, secret: &[u8], purpose: &str) -> bool {
    let Some(value) = cookies::get(headers, COOKIE).filter(|value| well_formed(value)) else {
        return false;
    };
    match given {
        Some(token) => signing::verify(secret, &["csrf", purpose, &value], token),
        None => false,
    }
}
