//! Reading and setting the pages' cookies, with the `cookie` crate. Every cookie is
//! HttpOnly and SameSite=Strict, and Secure whenever the page was reached over HTTPS.

use cookie::{Cookie, SameSite};
use hyper::header::{HeaderValue, COOKIE};
use hyper::HeaderMap;

/// The value of cookie `name`, if the request carries it.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().trim().to_owned())
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set(name: &str, value: &str, max_age_secs: u64, secure: bool) -> Option<HeaderValue> {
    let max_age = cookie::time::Duration::seconds(i64::try_from(max_age_secs).ok()?);
    let cookie = Cookie::build((name, value))
        .path("/")
        .max_age(max_age)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
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
    }

    #[test]
    fn every_cookie_is_http_only_strict_and_secure_over_https() {
        let cookie = set("s", "v", 60, true).unwrap();
        let text = cookie.to_str().unwrap();
        let parsed = Cookie::parse(text).unwrap();
        assert_eq!((parsed.name(), parsed.value()), ("s", "v"));
        assert_eq!(parsed.path(), Some("/"));
        assert_eq!(parsed.max_age(), Some(cookie::time::Duration::seconds(60)));
        assert_eq!(parsed.http_only(), Some(true));
        assert_eq!(parsed.same_site(), Some(SameSite::Strict));
        assert_eq!(parsed.secure(), Some(true));
        let plain = set("s", "v", 0, false).unwrap();
        assert!(!plain.to_str().unwrap().contains("Secure"));
    }
}
