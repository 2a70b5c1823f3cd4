//! A notifier configured rather than coded: the provider's request (method, URL,
//! headers, authentication, a JSON, form or text body) is written as MiniJinja
//! templates in `[plugin.<name>]`, per channel if need be, and so is how its answer
//! is read (statuses, a check for a failure inside a 200, the message id).
//! `examples/providers/` holds tested settings for many providers.

mod answer;
mod inbound;
mod jwt;
mod request;
mod settings;
mod templates;

use emu_oncall_plugin_sdk::{
    export, permanent, Channel, Config, Failure, InboundReply, InboundRequest, Notification,
    Outcome, Plugin, PluginInfo, Receipt,
};

use settings::{View, CHANNELS};

pub struct Http;

/// How the presets in `examples/providers/` mark what the operator fills in.
const PLACEHOLDER: &str = "YOUR_";

/// Every setting checked as a whole: templates compile, statuses, pointers, regexes,
/// the method and the timeout read, one body at most, for each channel.
fn check_settings(config: &Config) -> Result<(), String> {
    let env = templates::environment();
    let mut problems = Vec::new();
    for (key, value) in config {
        if let Some(problem) = settings::unknown_key(key) {
            problems.push(problem);
            continue;
        }
        let own = key
            .strip_prefix(settings::CHANNEL_PREFIX)
            .and_then(|rest| rest.split_once('.'))
            .map_or(key.as_str(), |(_, own)| own);
        let compiled = if settings::is_template(own) {
            templates::compile(&env, key, value)
        } else {
            Ok(())
        };
        let checked = compiled.and_then(|()| match own {
            "delivered_status" | "retryable_status" => answer::statuses(key, value).map(|_| ()),
            "check.json_pointer" | "error.json_pointer" | "id.json_pointer" => {
                answer::pointer(key, value.trim())
            }
            "check.regex" | "id.regex" => answer::regex(key, value).map(|_| ()),
            "method" => request::method(value).map(|_| ()),
            _ => Ok(()),
        });
        if let Err(problem) = checked {
            problems.push(problem);
        }
        let filled_in = own.starts_with("secret.") || own.starts_with("vars.");
        if filled_in && value.trim().starts_with(PLACEHOLDER) {
            problems.push(format!("`{key}` still holds its placeholder; fill it in"));
        }
    }
    let mut has_url = false;
    for channel in CHANNELS {
        let view = View::for_channel(config, channel);
        has_url |= view.get("url").is_some();
        if let Err(problem) = request::timeout(&view) {
            problems.push(problem);
        }
        // Said once however many channels share the mistake (see the dedup below).
        problems.extend(check_jwt(&env, &view).err());
        let body = view.body_keys();
        if body.len() > 1 {
            problems.push(format!("set one body only, not {}", body.join(" and ")));
        }
    }
    if !has_url {
        problems.push("`url` is required (or `channel.<channel>.url`)".to_owned());
    }
    let mut seen = std::collections::HashSet::new();
    problems.retain(|problem| seen.insert(problem.clone()));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// `auth.jwt` for one channel: not beside `auth.bearer`, a lifetime that reads, and a
/// key that parses where it can be rendered before any page (from `secret.*`).
fn check_jwt(env: &minijinja::Environment<'static>, view: &View<'_>) -> Result<(), String> {
    let Some(source) = view.get("auth.jwt.private_key") else {
        return Ok(());
    };
    if view.get("auth.bearer").is_some() {
        return Err("set `auth.jwt.*` or `auth.bearer`, not both".to_owned());
    }
    jwt::lifetime(view.get("auth.jwt.lifetime_secs"))?;
    let context = templates::settings_only(view);
    if let Ok(key) = templates::render(env, "auth.jwt.private_key", source, &context) {
        if !key.trim().starts_with(PLACEHOLDER) {
            jwt::private_key(&key)?;
        }
    }
    Ok(())
}

impl Plugin for Http {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "http".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            channels: Channel::all(),
        }
    }

    fn validate_config(config: Config) -> Result<(), String> {
        check_settings(&config)
    }

    fn notify(config: Config, notification: Notification) -> Result<Receipt, Failure> {
        let view = View::for_channel(&config, notification.channel.as_str());
        let env = templates::environment();
        let context = templates::context(&notification, &view);
        // A template that fails now fails the same way on every retry.
        let request = request::build(&env, &view, &context).map_err(permanent)?;
        let response = request.send()?;
        answer::read(&view, &response, &env, &context)
    }

    fn handle_inbound(
        config: Config,
        request: InboundRequest,
        _outcomes: Vec<Outcome>,
    ) -> Result<InboundReply, String> {
        Ok(inbound::answer(&config, request))
    }
}

export!(Http);

#[cfg(test)]
mod tests {
    use super::*;
    use settings::config;

    #[test]
    fn settings_are_checked_whole_and_each_problem_named() {
        assert!(check_settings(&config(&[("url", "https://x.example/{{ secret.a }}")])).is_ok());
        let err = check_settings(&config(&[
            ("url", "https://x.example/{{ oops"),
            ("json", "{}"),
            ("form.to", "1"),
            ("id.json_pointer", "messages/0"),
            ("retryable_status", "5xx"),
            ("colour", "red"),
        ]))
        .unwrap_err();
        for expected in [
            "`url`",
            "one body",
            "id.json_pointer",
            "retryable_status",
            "`colour`",
        ] {
            assert!(err.contains(expected), "{expected} missing from: {err}");
        }
        assert_eq!(
            err.matches("one body").count(),
            1,
            "once, not per channel: {err}"
        );
        assert!(check_settings(&config(&[("json", "{}")]))
            .unwrap_err()
            .contains("`url` is required"));
    }
}
