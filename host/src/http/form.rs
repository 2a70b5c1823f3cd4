use super::query::{first, without_nul};
use super::RequestError;

/// Form fields from a form-encoded body, or from a JSON object (being lenient costs
/// nothing and helps people testing with curl).
pub fn form_fields(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<(String, String)>, RequestError> {
    if content_type.is_some_and(|value| value.starts_with("application/json")) {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|err| RequestError::Malformed(format!("the body is not valid JSON: {err}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(RequestError::Malformed(
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
        return Err(RequestError::Malformed(
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
pub fn required<'a>(fields: &'a [(String, String)], key: &str) -> Result<&'a str, RequestError> {
    match first(fields, key).map(str::trim) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(RequestError::Malformed(format!(
            "the field `{key}` is required"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::first;

    #[test]
    fn nul_characters_never_reach_the_database() {
        let fields = form_fields(None, b"message=x%00y").unwrap();
        assert_eq!(fields[0].1, "x\u{FFFD}y");
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
