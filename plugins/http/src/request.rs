//! Building the provider's request from the settings in force for a channel: method,
//! URL with its query, headers, authentication and a JSON, form or text body.

use std::time::Duration;

use emu_oncall_plugin_sdk::bindings::wasi::http::types::Method;
use emu_oncall_plugin_sdk::http::{url_encode, Request};
use minijinja::{Environment, Value};

use crate::jwt;
use crate::settings::View;
use crate::templates::render;

pub fn method(text: &str) -> Result<Method, String> {
    Ok(match text.trim().to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        other => {
            return Err(format!(
                "`method` must be GET, POST, PUT, PATCH or DELETE, not {other:?}"
            ))
        }
    })
}

pub fn timeout(settings: &View<'_>) -> Result<Duration, String> {
    let text = settings.get("timeout_secs").unwrap_or("10");
    match text.trim().parse::<u64>() {
        Ok(secs) if (1..=120).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(format!("`timeout_secs` must be 1 to 120, not {text:?}")),
    }
}

/// Renders every template in `prefix.*`, in order.
fn rendered(
    env: &Environment<'static>,
    settings: &View<'_>,
    prefix: &str,
    context: &Value,
) -> Result<Vec<(String, String)>, String> {
    settings
        .under(prefix)
        .into_iter()
        .map(|(name, source)| {
            let value = render(env, &format!("{prefix}{name}"), source, context)?;
            Ok((name.to_owned(), value))
        })
        .collect()
}

/// A rendered header value must stay one header: a message with a line break in it
/// must not add headers of its own.
fn header_value(name: &str, value: String) -> Result<String, String> {
    if value.contains(['\r', '\n']) {
        Err(format!("header `{name}` would contain a line break"))
    } else {
        Ok(value)
    }
}

/// A fresh `auth.jwt` token for this request.
fn jwt_token(
    env: &Environment<'static>,
    settings: &View<'_>,
    context: &Value,
    key_source: &str,
) -> Result<String, String> {
    let key = jwt::private_key(&render(env, "auth.jwt.private_key", key_source, context)?)?;
    let claims_source = settings.get("auth.jwt.claims").unwrap_or("{}");
    let claims = jwt::claims(&render(env, "auth.jwt.claims", claims_source, context)?)?;
    let lifetime = jwt::lifetime(settings.get("auth.jwt.lifetime_secs"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| "auth.jwt: the clock is before 1970".to_owned())?
        .as_secs();
    jwt::token(key, claims, lifetime, now)
}

/// The request for one notification; any error is the operator's (a template, a
/// setting) and names the key.
pub fn build(
    env: &Environment<'static>,
    settings: &View<'_>,
    context: &Value,
) -> Result<Request, String> {
    let source = settings
        .get("url")
        .ok_or_else(|| "`url` is not set for this channel".to_owned())?;
    let mut url = render(env, "url", source, context)?.trim().to_owned();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "`url` must render to an http(s) URL, not {:?}",
            url.chars().take(40).collect::<String>()
        ));
    }
    let mut query = rendered(env, settings, "query.", context)?;
    query.extend(rendered(env, settings, "auth.query.", context)?);
    for (name, value) in query {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("{}={}", url_encode(&name), url_encode(&value)));
    }

    let body_keys = settings.body_keys();
    if body_keys.len() > 1 {
        return Err(format!(
            "set one body only, not {}",
            body_keys.join(" and ")
        ));
    }
    let default_method = if body_keys.is_empty() { "GET" } else { "POST" };
    let mut request = Request::new(
        method(settings.get("method").unwrap_or(default_method))?,
        url,
    )
    .timeout(timeout(settings)?);

    let mut headers = rendered(env, settings, "header.", context)?;
    headers.extend(rendered(env, settings, "auth.header.", context)?);
    for (name, value) in headers {
        let value = header_value(&name, value)?;
        request = request.header(name, value);
    }
    if let Some(source) = settings.get("auth.bearer") {
        let token = header_value("auth.bearer", render(env, "auth.bearer", source, context)?)?;
        request = request.header("Authorization", format!("Bearer {}", token.trim()));
    }
    if let Some(source) = settings.get("auth.jwt.private_key") {
        let token = jwt_token(env, settings, context, source)?;
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let username = settings.get("auth.basic.username");
    let password = settings.get("auth.basic.password");
    if username.is_some() || password.is_some() {
        let username = render(env, "auth.basic.username", username.unwrap_or(""), context)?;
        let password = render(env, "auth.basic.password", password.unwrap_or(""), context)?;
        request = request.basic_auth(&username, &password);
    }

    if let Some(source) = settings.get("json") {
        let body = render(env, "json", source, context)?;
        // Caught here, the mistake names the key; sent, it would be the provider's 400.
        if let Err(err) = serde_json::from_str::<serde_json::Value>(&body) {
            return Err(format!("`json` did not render to valid JSON: {err}"));
        }
        let content_type = settings.get("content_type").unwrap_or("application/json");
        request = request.body(content_type, body);
    } else if let Some(source) = settings.get("text") {
        let body = render(env, "text", source, context)?;
        let content_type = settings
            .get("content_type")
            .unwrap_or("text/plain; charset=utf-8");
        request = request.body(content_type, body);
    } else {
        let fields = rendered(env, settings, "form.", context)?;
        if !fields.is_empty() {
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect();
            request = request.form(&pairs);
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::config;
    use minijinja::context;

    #[test]
    fn a_page_cannot_add_headers_and_bad_bodies_are_named() {
        let env = crate::templates::environment();
        let page = context! { message => "hi\r\nX-Evil: 1" };
        let given = config(&[
            ("url", "https://x.example/"),
            ("header.X-Note", "{{ message }}"),
        ]);
        let err = build(&env, &View::for_channel(&given, "sms"), &page).unwrap_err();
        assert!(
            err.contains("X-Note") && err.contains("line break"),
            "{err}"
        );

        let given = config(&[
            ("url", "https://x.example/"),
            ("json", r#"{"a": "{{ message }}"}"#),
        ]);
        let err = build(&env, &View::for_channel(&given, "sms"), &page).unwrap_err();
        assert!(err.contains("`json` did not render to valid JSON"), "{err}");

        let given = config(&[("url", "{{ message }}")]);
        let err = build(&env, &View::for_channel(&given, "sms"), &page).unwrap_err();
        assert!(err.contains("http(s) URL"), "{err}");

        let given = config(&[("url", "https://x.example/"), ("json", "{}"), ("text", "t")]);
        let err = build(&env, &View::for_channel(&given, "sms"), &page).unwrap_err();
        assert!(err.contains("one body"), "{err}");
    }
}
