//! Rendering the settings that are templates (MiniJinja): what they see of the
//! notification, and the filters a provider's URL or body needs.

use emu_oncall_plugin_sdk::Notification;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde_json::{json, Map};

use crate::settings::View;

/// The engine every template renders in. A name the notification does not have is an
/// error rather than an empty string, so a typo never sends a blank recipient.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    // In a JSON body every value printed is written as JSON (a string quoted and
    // escaped), so a page's text can never add fields of its own; `tojson` gives the
    // same and is not escaped twice. Elsewhere escaping is the template's choice
    // (`urlencode`, `xml`).
    env.set_auto_escape_callback(|name| {
        if name == "json" || name == "auth.jwt.claims" {
            AutoEscape::Json
        } else {
            AutoEscape::None
        }
    });
    env.add_filter("cut", cut);
    env.add_filter("digits", digits);
    env.add_filter("xml", xml);
    env.add_filter("required", required);
    env
}

/// Escaped for XML text and attributes (a voice provider's answer document).
fn xml(text: String) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The value, or an error saying what is missing (`reply_url | required("app.public_url")`):
/// a request without it would only be refused by the provider, less clearly.
fn required(value: Value, what: String) -> Result<Value, minijinja::Error> {
    if value.is_undefined() || value.is_none() || value.as_str() == Some("") {
        Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("missing: {what}"),
        ))
    } else {
        Ok(value)
    }
}

/// At most `max` characters. No ellipsis: it would turn a GSM-7 SMS into UCS-2.
fn cut(text: String, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Only the digits: "+49 151 123" becomes "49151123", the form many SMS APIs want.
fn digits(text: String) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Checks that `source` compiles, naming `key` in the error.
pub fn compile(env: &Environment<'static>, key: &str, source: &str) -> Result<(), String> {
    env.template_from_named_str(key, source)
        .map(|_| ())
        .map_err(|err| format!("`{key}` is not a valid template: {}", describe(&err)))
}

/// Renders the template in setting `key`.
pub fn render(
    env: &Environment<'static>,
    key: &str,
    source: &str,
    context: &Value,
) -> Result<String, String> {
    env.render_named_str(key, source, context)
        .map_err(|err| format!("template `{key}` failed: {}", describe(&err)))
}

fn describe(err: &minijinja::Error) -> String {
    let mut text = err.to_string();
    if let Some(line) = err.line() {
        if !text.contains("line") {
            text.push_str(&format!(" (line {line})"));
        }
    }
    text
}

/// What a template sees when there is no page yet (checking settings at load): only
/// the operator's `secret.*` and `vars.*`.
pub fn settings_only(settings: &View<'_>) -> Value {
    Value::from_serialize(json!({
        "secret": group(settings, "secret."),
        "vars": group(settings, "vars."),
    }))
}

fn group(settings: &View<'_>, prefix: &str) -> Map<String, serde_json::Value> {
    settings
        .under(prefix)
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.into()))
        .collect()
}

/// What a template sees: the notification as the webhook plugin posts it, with
/// `recipient.phone` for short, the reply URL and code, and the operator's `secret.*`
/// and `vars.*`.
pub fn context(notification: &Notification, settings: &View<'_>) -> Value {
    let mut context = notification.to_json();
    if let Some(recipient) = context
        .get_mut("recipient")
        .and_then(serde_json::Value::as_object_mut)
    {
        let phone = recipient.get("phone_number").cloned().unwrap_or_default();
        recipient.insert("phone".to_owned(), phone);
    }
    if let Some(fields) = context.as_object_mut() {
        fields.insert("reply_url".to_owned(), json!(notification.reply_url));
        fields.insert("reply_code".to_owned(), json!(notification.reply_code));
        fields.insert("secret".to_owned(), group(settings, "secret.").into());
        fields.insert("vars".to_owned(), group(settings, "vars.").into());
    }
    Value::from_serialize(&context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn filters_cut_keep_digits_and_escape() {
        let env = environment();
        let ctx = context! { text => "héllo wörld", phone => "+49 151 123" };
        let render = |source| env.render_str(source, &ctx).unwrap();
        assert_eq!(render("{{ text | cut(4) }}"), "héll");
        assert_eq!(render("{{ phone | digits }}"), "49151123");
        assert_eq!(render("{{ text | tojson }}"), "\"héllo wörld\"");
        assert_eq!(render("{{ phone | urlencode }}"), "%2B49%20151%20123");
        assert_eq!(
            render("{{ '<a & \"b\">' | xml }}"),
            "&lt;a &amp; &quot;b&quot;&gt;"
        );
        assert!(env
            .render_str("{{ none | required('a public URL') }}", &ctx)
            .is_err());
        assert_eq!(render("{{ text | required('text') | cut(1) }}"), "h");
    }

    #[test]
    fn a_json_body_writes_every_value_as_json() {
        let env = environment();
        let ctx = context! { message => "a\", \"to\": \"+1", n => 3 };
        let body = render(
            &env,
            "json",
            r#"{"text": {{ message }}, "n": {{ n }}, "t": {{ message | tojson }}}"#,
            &ctx,
        )
        .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["text"], "a\", \"to\": \"+1");
        assert_eq!(parsed["t"], parsed["text"]);
        assert_eq!(parsed["n"], 3);
        assert!(parsed.get("to").is_none());
    }

    #[test]
    fn a_misspelt_name_is_an_error_naming_the_key() {
        let env = environment();
        let err = render(
            &env,
            "json",
            "{{ recipient.phoen }}",
            &context! { recipient => context! { phone => "+1" } },
        )
        .unwrap_err();
        assert!(err.contains("`json`"), "{err}");
        let err = compile(&env, "url", "https://x/{{ unclosed").unwrap_err();
        assert!(err.contains("`url`"), "{err}");
    }
}
