use percent_encoding::percent_decode_str;

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
        let json = json_without_nul(serde_json::json!({"a\u{0}": ["b\u{0}", 1]}));
        assert_eq!(json, serde_json::json!({"a\u{FFFD}": ["b\u{FFFD}", 1]}));
    }
}
