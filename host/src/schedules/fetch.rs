//! Getting an export: a local file, or an http(s) URL with a timeout. Export URLs carry
//! their token in the query, so only the host is ever logged.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{host}: {reason}")]
    Http { host: String, reason: String },
    #[error("{host} answered HTTP {status}")]
    Status { host: String, status: u16 },
    #[error("{host}: the answer is larger than {limit} bytes (limits.max_response_bytes)")]
    TooLarge { host: String, limit: usize },
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

/// A capped body as text (exports are UTF-8; a stray byte does not lose the rest).
async fn text_within(
    response: reqwest::Response,
    limit: usize,
    host: &str,
) -> Result<String, FetchError> {
    match body_within(response, limit).await {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(BodyError::TooLarge) => Err(FetchError::TooLarge {
            host: host.to_owned(),
            limit,
        }),
        Err(BodyError::Read(err)) => Err(FetchError::Http {
            host: host.to_owned(),
            reason: without_url(err),
        }),
    }
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

/// Rustls needs one crypto provider for the process; wasmtime-wasi-http also brings
/// rustls, so the choice is made explicitly.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn client(timeout: Duration) -> Result<reqwest::Client, FetchError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("emu-oncall/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| FetchError::Http {
            host: String::new(),
            reason: err.to_string(),
        })
}

/// Reads `source`: a path, or an http(s) URL fetched with `client`; at most `limit`
/// bytes either way.
pub async fn read(
    source: &str,
    client: &reqwest::Client,
    limit: usize,
) -> Result<String, FetchError> {
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        let file_error = |err: std::io::Error| FetchError::File {
            path: source.to_owned(),
            reason: err.to_string(),
        };
        let size = tokio::fs::metadata(source).await.map_err(file_error)?.len();
        if size > limit as u64 {
            return Err(FetchError::TooLarge {
                host: source.to_owned(),
                limit,
            });
        }
        return tokio::fs::read_to_string(source).await.map_err(file_error);
    }
    let host = redacted(source);
    let response = client
        .get(source)
        .send()
        .await
        .map_err(|err| FetchError::Http {
            host: host.clone(),
            reason: without_url(err),
        })?;
    let status = response.status().as_u16();
    // OnCall answers a bad token with 403 and a JSON body labelled text/calendar: the
    // status decides, never the content type.
    if !(200..300).contains(&status) {
        return Err(FetchError::Status { host, status });
    }
    text_within(response, limit, &host).await
}

/// What a conditional GET found.
pub enum Fetched {
    NotModified,
    Body {
        text: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// GETs `url` with `If-None-Match` / `If-Modified-Since` from the previous answer.
pub async fn conditional_get(
    client: &reqwest::Client,
    url: &str,
    etag: Option<&str>,
    last_modified: Option<&str>,
    limit: usize,
) -> Result<Fetched, FetchError> {
    let host = redacted(url);
    let mut request = client.get(url);
    if let Some(etag) = etag {
        request = request.header("If-None-Match", etag);
    }
    if let Some(last_modified) = last_modified {
        request = request.header("If-Modified-Since", last_modified);
    }
    let response = request.send().await.map_err(|err| FetchError::Http {
        host: host.clone(),
        reason: without_url(err),
    })?;
    let status = response.status().as_u16();
    if status == 304 {
        return Ok(Fetched::NotModified);
    }
    if !(200..300).contains(&status) {
        return Err(FetchError::Status { host, status });
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (etag, last_modified) = (header("etag"), header("last-modified"));
    let text = text_within(response, limit, &host).await?;
    Ok(Fetched::Body {
        text,
        etag,
        last_modified,
    })
}

/// reqwest's errors print the URL, token included.
fn without_url(err: reqwest::Error) -> String {
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
