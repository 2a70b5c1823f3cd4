//! Configuration layering and the errors a typo or a bad value gives.

use std::io::Write;
use std::process::Command;

use emu_oncall::config::{load, Config, ConfigError, Overrides};

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load_text(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let file = file(text);
    load(Some(file.path()), env(vars), &Overrides::default())
}

fn error_text(result: Result<Config, ConfigError>) -> String {
    match result {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn defaults_match_the_original() {
    let config = load(None, env(&[]), &Overrides::default()).unwrap();
    assert_eq!(config.startup.port.to_string(), "0.0.0.0:8880");
    assert_eq!(config.startup.log_level, "info");
    assert_eq!(config.limits.sms_per_day, 200);
    assert_eq!(config.limits.calls_per_day, 200);
    assert!(config.app.auth_token.is_empty());
    assert!(
        config.check_can_serve().is_err(),
        "a blank token must not serve"
    );
}

#[test]
fn layers_apply_in_order_file_env_flags() {
    let text = r#"
        debug = true
        [app]
        port = 9000
        hostname = "https://from-file.example.com"
        auth_token = "file-token-0123456789abcdef"
        log_level = "warn"
        [db]
        dbname = "from_file"
        [plugin.telegram]
        bot_token = "secret"
        allowed_hosts = ["api.telegram.org"]
        [grafana.oncall.schedules.primary]
        ical_url = "api/internal/v1/schedules/S1/export?token=x"
    "#;
    let file = file(text);
    let vars = env(&[
        (
            "EMU_ONCALL_APP__HOSTNAME",
            "https://from-env.example.com/base",
        ),
        ("EMU_ONCALL_APP__LOG_LEVEL", "ERROR"),
        ("EMU_ONCALL_DB__PORT", "6543"),
        ("EMU_ONCALL_APP__ALLOW_ANY_TOKEN", "false"),
        ("EMU_ONCALL_PLUGIN__TELEGRAM__BOT_TOKEN", "from-env"),
        ("EMU_ONCALL_CONFIG", "ignored: names the file, not a key"),
        ("UNRELATED", "x"),
    ]);
    let overrides = Overrides {
        port: Some("[::]:7000".to_owned()),
        log_level: Some("debug".to_owned()),
        ..Overrides::default()
    };
    let config = load(Some(file.path()), vars, &overrides).unwrap();
    assert!(config.startup.debug);
    assert_eq!(
        config.startup.port.to_string(),
        "[::]:7000",
        "flag beats file"
    );
    assert_eq!(
        config.app.hostname, "https://from-env.example.com/base/",
        "env beats file, slash added"
    );
    assert_eq!(config.startup.log_level, "debug", "flag beats env");
    assert_eq!(
        config.startup.db.port, 6543,
        "env string parsed as a number"
    );
    assert_eq!(config.startup.db.dbname, "from_file");
    assert_eq!(
        config.app.auth_token,
        vec!["file-token-0123456789abcdef".to_owned()]
    );
    let telegram = &config.plugin["telegram"];
    assert_eq!(telegram["bot_token"].as_str(), Some("from-env"));
    assert!(telegram["allowed_hosts"].is_array());
    assert_eq!(config.grafana.oncall.schedules.len(), 1);
    assert!(config.check_can_serve().is_ok());
}

#[test]
fn every_port_form_of_the_original_is_accepted() {
    for (value, expected) in [
        ("\":8880\"", "0.0.0.0:8880"),
        ("8880", "0.0.0.0:8880"),
        ("\"8880\"", "0.0.0.0:8880"),
        ("\"0.0.0.0:8880\"", "0.0.0.0:8880"),
        ("\"[::]:8880\"", "[::]:8880"),
    ] {
        let config = load_text(&format!("[app]\nport = {value}"), &[]).unwrap();
        assert_eq!(config.startup.port.to_string(), expected, "{value}");
    }
}

#[test]
fn token_lists_allow_rotation() {
    let config = load_text("[app]\nauth_token = [\"old\", \"new\"]", &[]).unwrap();
    assert_eq!(config.app.auth_token, vec!["old", "new"]);
    let config = load_text("", &[("EMU_ONCALL_APP__AUTH_TOKEN", " old , new ")]).unwrap();
    assert_eq!(config.app.auth_token, vec!["old", "new"]);
}

#[test]
fn an_unknown_key_is_an_error_naming_it() {
    let message = error_text(load_text("[app]\nprot = 8880", &[]));
    assert!(message.contains("app.prot"), "{message}");
    let message = error_text(load_text("lgo_level = \"x\"", &[]));
    assert!(message.contains("lgo_level"), "{message}");
    let message = error_text(load_text("", &[("EMU_ONCALL_APP__AUTH_TOKN", "x")]));
    assert!(message.contains("app.auth_tokn"), "{message}");
    let message = error_text(load_text(
        "[grafana.oncall.schedules.a]\nical_url = \"x\"\ncalback_url = \"y\"",
        &[],
    ));
    assert!(
        message.contains("grafana.oncall.schedules.a.calback_url"),
        "{message}"
    );
}

#[test]
fn a_bad_value_names_the_key_and_why() {
    let message = error_text(load_text("[app]\nport = \"http\"", &[]));
    assert!(
        message.contains("app.port") && message.contains("not a listen address"),
        "{message}"
    );
    let message = error_text(load_text("[app]\nport = 70000", &[]));
    assert!(
        message.contains("app.port") && message.contains("0-65535"),
        "{message}"
    );
    let message = error_text(load_text("", &[("EMU_ONCALL_DB__PORT", "five")]));
    assert!(
        message.contains("db.port") && message.contains("five"),
        "{message}"
    );
    let message = error_text(load_text("[app]\nhostname = \"emu.example.com\"", &[]));
    assert!(
        message.contains("app.hostname") && message.contains("http"),
        "{message}"
    );
    let message = error_text(load_text("[app]\nlog_level = \"loud\"", &[]));
    assert!(message.contains("app.log_level"), "{message}");
    let message = error_text(load_text(
        "[app]\nauth_token = \"same\"\nadmin_token = \"same\"",
        &[],
    ));
    assert!(message.contains("app.admin_token"), "{message}");
    let message = error_text(load_text(
        "[grafana.oncall.schedules.a]\nical_url = \"x\"\ntransport = \"pigeon\"",
        &[],
    ));
    assert!(
        message.contains("transport") && message.contains("pigeon"),
        "{message}"
    );
    let message = error_text(load_text("[app\nport = 1", &[]));
    assert!(message.contains("not valid TOML"), "{message}");
}

#[test]
fn a_blank_token_refuses_to_serve_unless_any_token_is_allowed_explicitly() {
    let config = load_text("[app]\nauth_token = \"  \"", &[]).unwrap();
    let message = config.check_can_serve().unwrap_err().to_string();
    assert!(message.contains("app.auth_token"), "{message}");
    let config = load_text("[app]\nallow_any_token = true", &[]).unwrap();
    assert!(config.check_can_serve().is_ok());
}

/// The binary itself: a config error exits non-zero with the key in the message.
#[test]
fn the_binary_refuses_to_start_on_config_errors() {
    let cases = [
        ("[app]\nprot = 8880\n", "app.prot"),
        ("[app]\nport = \"nope\"\nauth_token = \"t\"\n", "app.port"),
        ("[app]\nauth_token = \"\"\n", "app.auth_token"),
    ];
    for (text, key) in cases {
        let file = file(text);
        let output = Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
            .args(["--config"])
            .arg(file.path())
            .arg("serve")
            .env_remove("EMU_ONCALL_APP__AUTH_TOKEN")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(key), "{text}: {stderr}");
    }
}

#[test]
fn check_config_prints_no_secret() {
    let file = file("[app]\nauth_token = \"super-secret-token-0123456789\"\nadmin_token = \"admin-secret-0123456789abcdef\"\n[db]\npassword = \"db-secret\"\n");
    let output = Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .arg("--config")
        .arg(file.path())
        .arg("check-config")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("configuration OK"));
    for secret in ["super-secret-token-0123456789", "admin-secret", "db-secret"] {
        assert!(!stdout.contains(secret), "{secret} leaked: {stdout}");
    }
}

#[test]
fn callback_urls_and_incident_details_need_what_they_use() {
    let schedule = r#"
        [grafana.oncall.schedules.primary]
        ical_url = "https://oncall.example.com/export.ics"
        transport = "callback"
    "#;
    let text = error_text(load_text(schedule, &[]));
    assert!(
        text.contains("grafana.oncall.schedules.primary.callback_url") && text.contains("required"),
        "{text}"
    );
    let text = error_text(load_text(
        &format!("{schedule}callback_url = \"oncall.example.com/hook\"\n"),
        &[],
    ));
    assert!(text.contains("http:// or https://"), "{text}");
    assert!(load_text(
        &format!("{schedule}callback_url = \"https://oncall.example.com/hook\"\n"),
        &[]
    )
    .is_ok());

    let details = "[grafana.oncall]\nincident_details = true\n";
    let text = error_text(load_text(details, &[]));
    assert!(text.contains("grafana.oncall.url"), "{text}");
    let text = error_text(load_text(
        &format!("{details}url = \"https://oncall.example.com\"\n"),
        &[],
    ));
    assert!(text.contains("grafana.oncall.header_token"), "{text}");
    let config = load_text(
        &format!("{details}url = \"https://oncall.example.com\"\nheader_token = \"t\"\ndetails_timeout = \"500ms\"\n"),
        &[],
    )
    .unwrap();
    assert_eq!(
        config.startup.details_timeout.0,
        std::time::Duration::from_millis(500)
    );
}
