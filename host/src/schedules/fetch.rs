//! Getting an export: a local file, or an http(s) URL through the shared client
//! (`http_client`). Export URLs carry their token in the query, so only the host is
//! ever logged.

use crate::http_client::{body_within, redacted, without_url, BodyError};

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
