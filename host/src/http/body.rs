use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::Request;

use super::RequestError;

/// The whole body, refusing anything over `app.max_body_bytes` with 413, and a body
/// that takes longer than `app.body_timeout` to arrive with 408: a slow trickle would
/// otherwise hold a connection and its task for as long as the client likes.
pub async fn read_body(
    request: Request<Incoming>,
    app: &crate::config::AppConfig,
) -> Result<(Option<String>, Bytes), RequestError> {
    let limit = app.max_body_bytes;
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.to_ascii_lowercase());
    let declared = request
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(RequestError::TooLarge { limit });
    }
    let reading = Limited::new(request.into_body(), limit).collect();
    let collected = tokio::time::timeout(app.body_timeout.0, reading)
        .await
        .map_err(|_| RequestError::SlowBody)?
        .map_err(|err| {
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                RequestError::TooLarge { limit }
            } else {
                RequestError::Malformed(format!("could not read the request body: {err}"))
            }
        })?;
    Ok((content_type, collected.to_bytes()))
}
