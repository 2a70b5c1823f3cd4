//! Outbound HTTP over `wasi:http/outgoing-handler`. The host only lets a plugin reach
//! the hosts in its `allowed_hosts`; anything else fails with [`HttpError::Denied`].

use std::fmt;
use std::time::Duration;

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;
use crate::{permanent, retryable, Failure};

/// Responses larger than this are cut off: plugins only need status and a short body.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// `blocking-write-and-flush` takes at most 4096 bytes per call.
const WRITE_CHUNK: usize = 4096;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Names in lower case, values as sent (lossily decoded).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A 2xx is success; 408, 429 and 5xx are worth retrying; any other status is a
    /// permanent failure. The error carries the start of the body for the logs.
    pub fn check(&self) -> Result<(), Failure> {
        match self.status {
            200..=299 => Ok(()),
            408 | 425 | 429 | 500..=599 => Err(retryable(self.describe())),
            _ => Err(permanent(self.describe())),
        }
    }

    fn describe(&self) -> String {
        let text = self.text();
        let snippet: String = text.chars().take(300).collect();
        format!("HTTP {}: {}", self.status, snippet.trim())
    }
}

#[derive(Debug, Clone)]
pub enum HttpError {
    /// The URL cannot be sent (no scheme or host).
    BadUrl(String),
    /// The host refused: the target is not in this plugin's `allowed_hosts`.
    Denied(String),
    /// The network failed or timed out.
    Transport(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::BadUrl(detail) => write!(f, "bad URL: {detail}"),
            HttpError::Denied(detail) => write!(f, "request denied by the host: {detail}"),
            HttpError::Transport(detail) => write!(f, "HTTP request failed: {detail}"),
        }
    }
}

impl From<HttpError> for Failure {
    fn from(err: HttpError) -> Failure {
        match err {
            HttpError::Transport(_) => retryable(err.to_string()),
            HttpError::BadUrl(_) | HttpError::Denied(_) => permanent(err.to_string()),
        }
    }
}

/// A request to send; build it with [`Request::post`] and friends.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
}

impl Request {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }

    pub fn get(url: impl Into<String>) -> Self {
        Request::new(Method::Get, url)
    }

    pub fn post(url: impl Into<String>) -> Self {
        Request::new(Method::Post, url)
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// HTTP basic authentication.
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let token = base64(format!("{user}:{password}").as_bytes());
        self.header("Authorization", format!("Basic {token}"))
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.header("Content-Type", content_type)
    }

    pub fn json(self, value: &serde_json::Value) -> Self {
        self.body("application/json", value.to_string())
    }

    /// A form-encoded body from `(name, value)` pairs.
    pub fn form(self, fields: &[(&str, &str)]) -> Self {
        let encoded: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
            .collect();
        self.body("application/x-www-form-urlencoded", encoded.join("&"))
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn send(self) -> Result<Response, HttpError> {
        let (scheme, authority, path) = split_url(&self.url)?;
        let mut fields: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone().into_bytes()))
            .collect();
        // A declared length spares receivers a chunked body (some providers refuse one).
        if !self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        {
            fields.push((
                "Content-Length".to_owned(),
                self.body.len().to_string().into_bytes(),
            ));
        }
        let headers = Fields::from_list(&fields)
            .map_err(|err| HttpError::BadUrl(format!("bad header: {err:?}")))?;
        let request = OutgoingRequest::new(headers);
        let invalid =
            |what: &str| HttpError::BadUrl(format!("{what} refused for {}", shown_url(&self.url)));
        request
            .set_method(&self.method)
            .map_err(|_| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|_| invalid("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|_| invalid("host"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|_| invalid("path"))?;
        let outgoing = request
            .body()
            .map_err(|_| HttpError::Transport("request body unavailable".to_owned()))?;

        let nanos = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        let options = RequestOptions::new();
        // Hosts may not support every timeout; what they refuse simply stays unset.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));

        let future = outgoing_handler::handle(request, Some(options)).map_err(error_code)?;
        // A refused request closes the body stream; the response future then says why,
        // which is the error worth reporting.
        let mut write_error = None;
        match outgoing.write() {
            Ok(stream) => {
                for chunk in self.body.chunks(WRITE_CHUNK) {
                    if let Err(err) = stream.blocking_write_and_flush(chunk) {
                        write_error = Some(format!("writing the body: {err:?}"));
                        break;
                    }
                }
            }
            Err(()) => write_error = Some("request body stream unavailable".to_owned()),
        }
        let finished = OutgoingBody::finish(outgoing, None);
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(error_code(code)),
            Some(Err(())) | None => {
                return Err(HttpError::Transport("no response".to_owned()));
            }
        };
        if let Some(error) = write_error {
            return Err(HttpError::Transport(error));
        }
        finished.map_err(error_code)?;
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    String::from_utf8_lossy(&value).into_owned(),
                )
            })
            .collect();
        let incoming = response
            .consume()
            .map_err(|_| HttpError::Transport("response body unavailable".to_owned()))?;
        let mut body = Vec::new();
        {
            let stream = incoming
                .stream()
                .map_err(|_| HttpError::Transport("response body stream unavailable".to_owned()))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => {
                        body.extend_from_slice(&chunk);
                        if body.len() >= MAX_RESPONSE_BYTES {
                            body.truncate(MAX_RESPONSE_BYTES);
                            break;
                        }
                    }
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(err)) => {
                        return Err(HttpError::Transport(format!(
                            "reading the response: {}",
                            err.to_debug_string()
                        )));
                    }
                }
            }
        }
        drop(IncomingBody::finish(incoming));
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// POSTs `value` as JSON to `url`.
pub fn post_json(url: &str, value: &serde_json::Value) -> Result<Response, HttpError> {
    Request::post(url).json(value).send()
}

fn error_code(code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => {
            HttpError::Denied("the host is not in this plugin's allowed_hosts".to_owned())
        }
        other => HttpError::Transport(format!("{other:?}")),
    }
}

/// A URL as an error may show it: scheme and host only. Paths and queries carry
/// tokens (Telegram's bot token is in the path), and errors reach logs and pages.
fn shown_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest))
            if scheme.len() <= 8 && scheme.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            (scheme, rest)
        }
        _ => return "(a URL without http:// or https://)".to_owned(),
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // user:password@ before the host is a secret too.
    let host = rest[..host_end].rsplit('@').next().unwrap_or_default();
    if host_end < rest.len() {
        format!("{scheme}://{host}/…")
    } else {
        format!("{scheme}://{host}")
    }
}

fn split_url(url: &str) -> Result<(Scheme, &str, &str), HttpError> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err(HttpError::BadUrl(format!(
            "{} must start with http:// or https://",
            shown_url(url)
        )));
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() {
        return Err(HttpError::BadUrl(format!("{} has no host", shown_url(url))));
    }
    let path = if path.is_empty() { "/" } else { path };
    Ok((scheme, authority, path))
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Percent-encoding for one path segment or query value.
pub fn url_encode(text: &str) -> String {
    form_encode(text).replace('+', "%20")
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"AC123:secret"), "QUMxMjM6c2VjcmV0");
    }

    #[test]
    fn form_encoding_escapes_what_it_must() {
        assert_eq!(form_encode("+49 151"), "%2B49+151");
        assert_eq!(form_encode("a&b=c"), "a%26b%3Dc");
        assert_eq!(url_encode("a b"), "a%20b");
    }

    #[test]
    fn urls_split_into_scheme_host_and_path() {
        let (_, host, path) = split_url("http://127.0.0.1:8080/hook?x=1").unwrap();
        assert_eq!((host, path), ("127.0.0.1:8080", "/hook?x=1"));
        let (_, host, path) = split_url("https://ntfy.sh").unwrap();
        assert_eq!((host, path), ("ntfy.sh", "/"));
        assert!(split_url("ftp://x").is_err());
        let refused = split_url("htps://api.telegram.org/bot123:SECRET/sendMessage")
            .unwrap_err()
            .to_string();
        assert!(!refused.contains("SECRET"), "{refused}");
        assert_eq!(
            shown_url("https://user:pw@api.telegram.org/bot123:SECRET/sendMessage?x=1"),
            "https://api.telegram.org/…"
        );
        assert_eq!(
            shown_url("bot123:SECRET"),
            "(a URL without http:// or https://)"
        );
        assert!(split_url("http:///x").is_err());
    }
}
