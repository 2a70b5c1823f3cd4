//! Reading the provider's answer: which statuses count as delivered or worth a retry,
//! the check for providers that answer 200 to a failure, and where the message id is.

use emu_oncall_plugin_sdk::http::Response;
use emu_oncall_plugin_sdk::{permanent, retryable, Failure, Receipt};
use minijinja::Environment;
use serde_json::Value;

use crate::settings::View;
use crate::templates::render;

/// The settings the answer is read with, and what renders their templates.
pub struct Reading<'a> {
    pub settings: &'a View<'a>,
    pub env: &'a Environment<'static>,
    pub context: &'a minijinja::Value,
}

impl Reading<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.settings.get(key)
    }

    /// The JSON pointer in setting `key`, rendered (it may name the recipient).
    fn pointer(&self, key: &str) -> Result<Option<String>, Failure> {
        self.settings
            .get(key)
            .map(|source| {
                render(self.env, key, source, self.context).map(|text| text.trim().to_owned())
            })
            .transpose()
            .map_err(permanent)
    }
}

const DELIVERED: &str = "200-299";
const RETRYABLE: &str = "408,425,429,500-599";
/// How much of an answer a failure quotes.
const SNIPPET: usize = 300;

/// Status ranges, e.g. "200-299,302".
pub fn statuses(key: &str, text: &str) -> Result<Vec<(u16, u16)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (low, high) = part.split_once('-').unwrap_or((part, part));
            match (low.trim().parse::<u16>(), high.trim().parse::<u16>()) {
                (Ok(low), Ok(high)) if (100..=599).contains(&low) && low <= high && high <= 599 => {
                    Ok((low, high))
                }
                _ => Err(format!(
                    "`{key}`: {part:?} is not a status or a range like 200-299"
                )),
            }
        })
        .collect()
}

fn within(ranges: &[(u16, u16)], status: u16) -> bool {
    ranges
        .iter()
        .any(|(low, high)| (*low..=*high).contains(&status))
}

/// A JSON pointer ("/messages/0/status"), checked at load.
pub fn pointer(key: &str, text: &str) -> Result<(), String> {
    if text.is_empty() || text.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "`{key}` must be a JSON pointer starting with /, like /messages/0/id"
        ))
    }
}

pub fn regex(key: &str, text: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(text).map_err(|err| format!("`{key}` is not a valid regex: {err}"))
}

/// A comma-separated list of accepted values.
fn values(text: &str) -> Vec<&str> {
    text.split(',').map(str::trim).collect()
}

/// A JSON value as the text it stands for: strings unquoted, numbers and booleans as
/// written; nothing for null or a missing value.
fn as_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

struct Answer<'a> {
    response: &'a Response,
    text: String,
    json: Option<Value>,
}

impl Answer<'_> {
    /// What a failure says: the provider's own error text where the settings say it
    /// is, else the start of the body.
    fn detail(&self, reading: &Reading<'_>) -> String {
        let pointer = reading.pointer("error.json_pointer").ok().flatten();
        let own = pointer.and_then(|pointer| as_text(self.json.as_ref()?.pointer(&pointer)));
        let text = own.unwrap_or_else(|| self.text.trim().to_owned());
        let snippet: String = text.chars().take(SNIPPET).collect();
        format!("HTTP {}: {}", self.response.status, snippet)
    }
}

/// What the provider's answer means for the attempt.
pub fn read(
    settings: &View<'_>,
    response: &Response,
    env: &Environment<'static>,
    context: &minijinja::Value,
) -> Result<Receipt, Failure> {
    let reading = Reading {
        settings,
        env,
        context,
    };
    let answer = Answer {
        response,
        text: response.text(),
        json: serde_json::from_slice(&response.body).ok(),
    };
    let delivered = statuses(
        "delivered_status",
        settings.get("delivered_status").unwrap_or(DELIVERED),
    )
    .map_err(permanent)?;
    let retry = statuses(
        "retryable_status",
        settings.get("retryable_status").unwrap_or(RETRYABLE),
    )
    .map_err(permanent)?;
    if !within(&delivered, response.status) {
        let detail = answer.detail(&reading);
        return Err(if within(&retry, response.status) {
            retryable(detail)
        } else {
            permanent(detail)
        });
    }
    check(&reading, &answer)?;
    Ok(Receipt {
        provider_id: message_id(&reading, &answer)?,
        detail: Some(format!("HTTP {}", response.status)),
    })
}

/// For providers that answer 200 to a failure: the value at `check.json_pointer` must
/// be one of `check.equals` (one of `check.retryable_equals` is worth a retry), and
/// the body must match `check.regex`.
fn check(reading: &Reading<'_>, answer: &Answer<'_>) -> Result<(), Failure> {
    if let Some(pointer) = reading.pointer("check.json_pointer")? {
        let found = answer
            .json
            .as_ref()
            .and_then(|json| as_text(json.pointer(&pointer)));
        let expected = reading.get("check.equals").unwrap_or("");
        let found_text = found.as_deref().unwrap_or("nothing");
        if !found
            .as_deref()
            .is_some_and(|found| values(expected).contains(&found))
        {
            let why = format!(
                "the answer's {pointer} is {found_text}, not {expected} ({})",
                answer.detail(reading)
            );
            let again = reading.get("check.retryable_equals").is_some_and(|list| {
                found
                    .as_deref()
                    .is_some_and(|found| values(list).contains(&found))
            });
            return Err(if again {
                retryable(why)
            } else {
                permanent(why)
            });
        }
    }
    if let Some(pattern) = reading.get("check.regex") {
        if !regex("check.regex", pattern)
            .map_err(permanent)?
            .is_match(&answer.text)
        {
            return Err(permanent(format!(
                "the answer does not match check.regex ({})",
                answer.detail(reading)
            )));
        }
    }
    Ok(())
}

/// The provider's id for the message: at a JSON pointer, the first group of a regex
/// (or its whole match), or a header. Not finding it is no failure: the message went.
fn message_id(reading: &Reading<'_>, answer: &Answer<'_>) -> Result<Option<String>, Failure> {
    if let Some(pointer) = reading.pointer("id.json_pointer")? {
        return Ok(answer
            .json
            .as_ref()
            .and_then(|json| as_text(json.pointer(&pointer))));
    }
    if let Some(pattern) = reading.get("id.regex") {
        let pattern = regex("id.regex", pattern).map_err(permanent)?;
        return Ok(pattern.captures(&answer.text).and_then(|found| {
            found
                .get(1)
                .or_else(|| found.get(0))
                .map(|part| part.as_str().to_owned())
        }));
    }
    if let Some(name) = reading.get("id.header") {
        return Ok(answer.response.header(name).map(str::to_owned));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::config;

    fn read(settings: &View<'_>, response: &Response) -> Result<Receipt, Failure> {
        let env = crate::templates::environment();
        let context =
            minijinja::context! { recipient => minijinja::context! { phone => "+4915112345678" } };
        super::read(settings, response, &env, &context)
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("x-message-id".to_owned(), "m-1".to_owned())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_decide_delivered_retryable_and_permanent() {
        let given = config(&[]);
        let settings = View::for_channel(&given, "sms");
        assert!(read(&settings, &response(201, "")).is_ok());
        assert!(
            matches!(read(&settings, &response(429, "slow down")), Err(Failure::Retryable(reason)) if reason.contains("slow down"))
        );
        assert!(matches!(
            read(&settings, &response(401, "")),
            Err(Failure::Permanent(_))
        ));
        assert!(statuses("delivered_status", "200-299, 302").is_ok());
        assert!(statuses("delivered_status", "299-200").is_err());
        assert!(statuses("delivered_status", "ok").is_err());
    }

    #[test]
    fn a_200_with_a_failure_inside_is_caught_and_the_id_read() {
        let given = config(&[
            ("check.json_pointer", "/messages/0/status"),
            ("check.equals", "0"),
            ("check.retryable_equals", "1"),
            ("error.json_pointer", "/messages/0/error-text"),
            ("id.json_pointer", "/messages/0/message-id"),
        ]);
        let settings = View::for_channel(&given, "sms");
        let ok = read(
            &settings,
            &response(200, r#"{"messages":[{"status":"0","message-id":"abc"}]}"#),
        )
        .unwrap();
        assert_eq!(ok.provider_id.as_deref(), Some("abc"));
        let throttled = read(
            &settings,
            &response(
                200,
                r#"{"messages":[{"status":"1","error-text":"Throttled"}]}"#,
            ),
        );
        assert!(
            matches!(throttled, Err(Failure::Retryable(reason)) if reason.contains("Throttled"))
        );
        let refused = read(
            &settings,
            &response(
                200,
                r#"{"messages":[{"status":"4","error-text":"Bad Credentials"}]}"#,
            ),
        );
        assert!(
            matches!(refused, Err(Failure::Permanent(reason)) if reason.contains("Bad Credentials"))
        );
        assert!(matches!(
            read(&settings, &response(200, "not json")),
            Err(Failure::Permanent(_))
        ));
    }

    #[test]
    fn ids_come_from_a_regex_or_a_header() {
        let by_regex = config(&[("id.regex", r"^OK: (\d+)")]);
        let settings = View::for_channel(&by_regex, "sms");
        let ok = read(&settings, &response(200, "OK: 12345\n")).unwrap();
        assert_eq!(ok.provider_id.as_deref(), Some("12345"));
        let by_header = config(&[("id.header", "X-Message-Id")]);
        let settings = View::for_channel(&by_header, "sms");
        let ok = read(&settings, &response(202, "")).unwrap();
        assert_eq!(ok.provider_id.as_deref(), Some("m-1"));
    }
}
