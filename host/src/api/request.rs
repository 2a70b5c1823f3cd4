//! Reading what the engine sends: raw query strings, form bodies and JSON, within a size
//! limit.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::Request;
use percent_encoding::percent_decode_str;

use super::response::ApiError;

/// Query parameters in order, repeated keys kept. The engine builds query strings by
/// hand without encoding them, so a `+` is a literal plus (an email like
/// `alice+oncall@example.com`), never a space; spaces arrive as `%20`.
pub fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(key), decode_component(value))
        })
        .collect()
}

fn decode_component(text: &str) -> String {
    without_nul(percent_decode_str(text).decode_utf8_lossy().into_owned())
}

/// PostgreSQL text cannot hold a NUL character: it becomes U+FFFD, as undecodable
/// bytes do, so a stray NUL neither fails a page nor matches anything by accident.
pub fn without_nul(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text
    }
}

/// The same for every string (and key) in a JSON value (jsonb refuses `\u0000` too).
pub fn json_without_nul(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => Value::String(without_nul(text)),
        Value::Array(items) => Value::Array(items.into_iter().map(json_without_nul).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (without_nul(key), json_without_nul(value)))
                .collect(),
        ),
        other => other,
    }
}

pub fn first<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

pub fn all<'a>(params: &'a [(String, String)], key: &'a str) -> impl Iterator<Item = &'a str> {
    params
        .iter()
        .filter(move |(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

/// The whole body, refusing anything over `app.max_body_bytes` with 413, and a body
/// that takes longer than `app.body_timeout` to arrive with 408: a slow trickle would
/// otherwise hold a connection and its task for as long as the client likes.
pub async fn read_body(
    request: Request<Incoming>,
    app: &crate::config::AppConfig,
) -> Result<(Option<String>, Bytes), ApiError> {
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
        return Err(ApiError::TooLarge { limit });
    }
    let reading = Limited::new(request.into_body(), limit).collect();
    let collected = tokio::time::timeout(app.body_timeout.0, reading)
        .await
        .map_err(|_| ApiError::SlowBody)?
        .map_err(|err| {
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ApiError::TooLarge { limit }
            } else {
                ApiError::BadRequest(format!("could not read the request body: {err}"))
            }
        })?;
    Ok((content_type, collected.to_bytes()))
}

/// Form fields from a form-encoded body, or from a JSON object (being lenient costs
/// nothing and helps people testing with curl).
pub fn form_fields(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<(String, String)>, ApiError> {
    if content_type.is_some_and(|value| value.starts_with("application/json")) {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|err| ApiError::BadRequest(format!("the body is not valid JSON: {err}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(ApiError::BadRequest(
                "the JSON body must be an object".to_owned(),
            ));
        };
        return Ok(map
            .into_iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => (without_nul(key), without_nul(text)),
                other => (without_nul(key), without_nul(other.to_string())),
            })
            .collect());
    }
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError::BadRequest(
            "the form body is not UTF-8".to_owned(),
        ));
    }
    Ok(form_urlencoded::parse(body)
        .map(|(key, value)| {
            (
                without_nul(key.into_owned()),
                without_nul(value.into_owned()),
            )
        })
        .collect())
}

/// A required, non-blank form field.
pub fn required<'a>(fields: &'a [(String, String)], key: &str) -> Result<&'a str, ApiError> {
    match first(fields, key).map(str::trim) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(ApiError::BadRequest(format!(
            "the field `{key}` is required"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_in_a_query_is_a_literal_plus() {
        let params = query_params(Some(
            "email=alice+oncall@example.com&roles=0&roles=1&short=true",
        ));
        assert_eq!(first(&params, "email"), Some("alice+oncall@example.com"));
        assert_eq!(all(&params, "roles").collect::<Vec<_>>(), ["0", "1"]);
    }

    #[test]
    fn percent_escapes_are_decoded() {
        let params = query_params(Some("name=OnCall%20Cloud%20Heartbeat%20http://x"));
        assert_eq!(
            first(&params, "name"),
            Some("OnCall Cloud Heartbeat http://x")
        );
    }

    #[test]
    fn nul_characters_never_reach_the_database() {
        let params = query_params(Some("email=a%00b%40example.com"));
        assert_eq!(params[0].1, "a\u{FFFD}b@example.com");
        let fields = form_fields(None, b"message=x%00y").unwrap();
        assert_eq!(fields[0].1, "x\u{FFFD}y");
        let json = json_without_nul(serde_json::json!({"a\u{0}": ["b\u{0}", 1]}));
        assert_eq!(json, serde_json::json!({"a\u{FFFD}": ["b\u{FFFD}", 1]}));
    }

    #[test]
    fn form_bodies_decode_plus_as_space() {
        let fields = form_fields(
            Some("application/x-www-form-urlencoded"),
            b"email=alice%2Boncall%40example.com&message=Alert+group+%231",
        )
        .unwrap();
        assert_eq!(first(&fields, "email"), Some("alice+oncall@example.com"));
        assert_eq!(first(&fields, "message"), Some("Alert group #1"));
    }
}
