//! The one outbound HTTP client the host uses (schedule exports, callbacks, the OnCall
//! API) and the TLS crypto provider it needs; plugins have their own, sandboxed.

use std::time::Duration;

/// Rustls needs one crypto provider for the process; wasmtime-wasi-http also brings
/// rustls, so the choice is made explicitly.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client with `timeout` for whole requests and this server's user agent.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("emu-oncall/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// An answer's body, read no further than `limit` bytes.
pub async fn body_within(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why [`body_within`] gave no body.
#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Read(reqwest::Error),
}

/// The URL without its query, for logs (the query holds the export token).
pub fn redacted(url: &str) -> String {
    let cut = url.find('?').unwrap_or(url.len());
    let shown = &url[..cut];
    if cut < url.len() {
        format!("{shown}?…")
    } else {
        shown.to_owned()
    }
}

/// reqwest's errors print the URL, and a URL may carry a token.
pub fn without_url(err: reqwest::Error) -> String {
    let timeout = err.is_timeout();
    let text = err.without_url().to_string();
    if timeout {
        format!("timed out ({text})")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_shows() {
        assert_eq!(
            redacted("https://oncall.example.com/api/v1/schedules/S1/export?token=secret"),
            "https://oncall.example.com/api/v1/schedules/S1/export?…"
        );
        assert_eq!(redacted("/tmp/a.ics"), "/tmp/a.ics");
    }
}
