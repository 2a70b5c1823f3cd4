//! Reading and setting the pages' cookies. Every cookie is HttpOnly and SameSite=Strict,
//! and Secure whenever the page was reached over HTTPS.

use hyper::header::{HeaderValue, COOKIE};
use hyper::HeaderMap;

/// The value of cookie `name`, if the request carries it.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set(name: &str, value: &str, max_age_secs: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cookie_among_several() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; emu_csrf=abc ; b=2".parse().unwrap());
        assert_eq!(get(&headers, "emu_csrf").as_deref(), Some("abc"));
        assert_eq!(get(&headers, "missing"), None);
        let cookie = set("s", "v", 60, true).unwrap();
        assert_eq!(
            cookie.to_str().unwrap(),
            "s=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
    }
}
