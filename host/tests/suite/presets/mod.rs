//! Every provider preset in `examples/providers/`, loaded from its file with nothing
//! changed but its placeholders (secrets, sender), its provider's address (pointed at a
//! stand-in on 127.0.0.1) and `allowed_hosts`, sending through `http.wasm` to a
//! stand-in that checks the request against the provider's documentation and answers
//! as it shows. Each stand-in names the documentation page it follows.

mod chat;
mod email;
mod sms;
mod voice;

use std::path::Path;

use emu_oncall::config::SandboxConfig;
use emu_oncall::model::{AlertGroup, AttemptOutcome, Channel};
use emu_oncall::plugins::{
    presets, LoadedPlugin, Notification, PluginEngine, PluginSettings, Recipient,
};

use crate::common;
use crate::common::provider::StandIn;

/// What every preset's placeholder starts with; the plugin refuses to load one left.
const PLACEHOLDER: &str = "YOUR_";

/// The `real_base` of a preset whose server's address is one of its placeholders.
pub const SELF_HOSTED: &str = "";

pub const PHONE: &str = "+4915112345678";
pub const MESSAGE: &str = "Disk full on db-1 (#42)";

/// Every preset with its test, by file name: `every_preset_has_a_test` keeps the list
/// and the folder the same.
const TESTED: &[&str] = &[
    "46elks-sms",
    "bark",
    "bird-sms",
    "clicksend-sms",
    "cm-sms",
    "discord",
    "esendex-sms",
    "exolve-sms",
    "googlechat",
    "gotify",
    "httpsms-sms",
    "infobip-sms",
    "kannel-sms",
    "mailgun",
    "matrix",
    "plivo-sms",
    "plivo-voice",
    "postmark",
    "pushover",
    "rocketchat",
    "sendgrid",
    "signal",
    "sinch-sms",
    "smsc-sms",
    "smseagle-sms",
    "smsru-sms",
    "teams",
    "telnyx-sms",
    "textmagic-sms",
    "vonage-sms",
    "vonage-voice",
    "zulip",
    "zvonok-voice",
];

fn replace_in_strings(value: &mut toml::Value, from: &str, to: &str) {
    match value {
        toml::Value::String(text) => *text = text.replace(from, to),
        toml::Value::Array(items) => items
            .iter_mut()
            .for_each(|item| replace_in_strings(item, from, to)),
        toml::Value::Table(table) => table
            .iter_mut()
            .for_each(|(_, item)| replace_in_strings(item, from, to)),
        _ => {}
    }
}

/// Sets `dotted` ("secret.api_key") where the preset has a placeholder for it.
fn fill(id: &str, table: &mut toml::Table, dotted: &str, value: &str) {
    let slot =
        presets::slot(table, dotted).unwrap_or_else(|| panic!("{id}: no `{dotted}` to fill"));
    assert!(
        slot.as_str()
            .is_some_and(|text| text.starts_with(PLACEHOLDER)),
        "{id}: `{dotted}` is no placeholder: {slot}"
    );
    *slot = toml::Value::String(value.to_owned());
}

/// Loads preset `id` as an operator would after filling it in, with `real_base` (the
/// provider's scheme and host, as the preset writes it) pointed at the stand-in.
pub async fn load(
    id: &str,
    real_base: &str,
    stand_in: &StandIn,
    fills: &[(&str, &str)],
) -> Result<LoadedPlugin, String> {
    // The preset as built into the binary from its file, checked to be one plugin table.
    let (name, mut table) = presets::load(id).unwrap_or_else(|err| panic!("{id}: {err}"));
    let mut whole = toml::Value::Table(table);
    // A self-hosted service's address is a placeholder instead (`SELF_HOSTED`).
    if real_base != SELF_HOSTED {
        replace_in_strings(&mut whole, real_base, &stand_in.url);
    }
    table = match whole {
        toml::Value::Table(table) => table,
        _ => unreachable!(),
    };
    table.insert(
        "allowed_hosts".to_owned(),
        toml::Value::Array(vec![toml::Value::String("127.0.0.1".to_owned())]),
    );
    for (key, value) in fills {
        fill(id, &mut table, key, value);
    }
    assert_eq!(
        table.get("file").and_then(toml::Value::as_str),
        Some("http.wasm"),
        "{id}: presets run on http.wasm"
    );
    let settings = PluginSettings::from_table(&name, &table, Path::new(".")).unwrap();
    compiled()
        .await
        .with_settings(settings)
        .await
        .map_err(|err| err.to_string())
}

/// `http.wasm`, compiled once for every preset test: each preset is the same component
/// with other settings, as a server reloading its configuration would load it.
async fn compiled() -> &'static LoadedPlugin {
    static COMPILED: tokio::sync::OnceCell<LoadedPlugin> = tokio::sync::OnceCell::const_new();
    COMPILED
        .get_or_init(|| async {
            let engine = PluginEngine::new(&SandboxConfig::default()).unwrap();
            let mut table = toml::Table::new();
            table.insert(
                "url".to_owned(),
                toml::Value::String("http://127.0.0.1:9/".to_owned()),
            );
            let settings = PluginSettings::from_table("http", &table, Path::new(".")).unwrap();
            let bytes = std::fs::read(common::built_plugin("http.wasm")).unwrap();
            LoadedPlugin::load(&engine, settings, bytes, None)
                .await
                .unwrap()
        })
        .await
}

/// A page to Alice, as the engine sends one, on `channel`.
pub fn page(channel: Channel, attributes: &[(&str, &str)]) -> Notification {
    Notification {
        id: "0a4f6c1e-5b7d-4c8e-9f10-2a3b4c5d6e7f".to_owned(),
        channel,
        recipient: Recipient {
            id: "UALICE".to_owned(),
            email: "alice@example.com".to_owned(),
            username: "alice".to_owned(),
            name: "Alice Doe".to_owned(),
            phone_number: Some(PHONE.to_owned()),
            role: "admin".to_owned(),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        },
        message: MESSAGE.to_owned(),
        alert_group: Some(AlertGroup {
            id: "IABCDEF".to_owned(),
            number: Some(42),
            title: "Disk full on db-1".to_owned(),
            state: "firing".to_owned(),
            integration: "Alertmanager".to_owned(),
            permalink: "https://oncall.example.com/alert-groups/IABCDEF".to_owned(),
            labels: vec![("severity".to_owned(), "critical".to_owned())],
            started_at: Some("2026-11-28T10:00:00Z".to_owned()),
        }),
        attempt: 1,
        created_at: "2026-11-28T10:00:00+00:00".to_owned(),
        reply_url: None,
        reply_code: None,
    }
}

/// Sends `page` through the preset and checks the outcome against `expected`
/// ("delivered <id>", "permanent", "retryable"), and that the stand-in found every
/// request as the documentation wants it.
pub async fn expect(
    plugin: &LoadedPlugin,
    stand_in: &StandIn,
    page: &Notification,
    expected: &str,
) {
    let before = stand_in.requests().len();
    let outcome = plugin.notify(page).await;
    assert!(
        stand_in.requests().len() > before,
        "{}: nothing reached the stand-in: {outcome:?}",
        plugin.name
    );
    assert_eq!(
        stand_in.broken_rules(),
        Vec::<String>::new(),
        "{}: the request breaks the provider's documented rules",
        plugin.name
    );
    let got = match &outcome {
        AttemptOutcome::Delivered(receipt) => format!(
            "delivered {}",
            receipt.provider_id.as_deref().unwrap_or("(no id)")
        ),
        AttemptOutcome::Permanent(_) => "permanent".to_owned(),
        AttemptOutcome::Retryable(_) => "retryable".to_owned(),
    };
    assert_eq!(got, expected, "{}: {outcome:?}", plugin.name);
}

#[test]
fn every_preset_has_a_test() {
    let dir = common::repository().join("examples/providers");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".toml").map(str::to_owned))
        .collect();
    files.sort();
    let mut tested: Vec<String> = TESTED.iter().map(|id| (*id).to_owned()).collect();
    tested.sort();
    assert_eq!(files, tested);
}

#[tokio::test]
async fn a_preset_left_with_a_placeholder_refuses_to_load() {
    let stand_in = StandIn::start(std::sync::Arc::new(|_| {
        Err("nothing may be sent".to_owned())
    }))
    .await;
    let err = load(
        "vonage-sms",
        "https://rest.nexmo.com",
        &stand_in,
        &[("secret.api_key", "abc123")],
    )
    .await
    .err()
    .expect("a placeholder left must keep the preset from loading");
    assert!(err.contains("secret.api_secret"), "{err}");
}

/// `emu-oncall plugin test --preset`: a preset from the binary, filled in with `--set`
/// by short names, sent through http.wasm from the plugins directory.
#[tokio::test]
async fn the_cli_tries_a_preset_with_its_placeholders_filled() {
    let sink = common::sink::Sink::start().await;
    sink.respond_with(r#"{"id": 25, "appid": 5, "message": "hi", "date": "2026-11-28T10:00:00Z"}"#);
    let plugins_dir = common::built_plugin("http.wasm")
        .parent()
        .unwrap()
        .to_owned();
    let run = |sets: Vec<String>| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_emu-oncall"));
        command
            .args([
                "plugin",
                "test",
                "--preset",
                "gotify",
                "--to",
                "+49 151 12345678",
            ])
            .args(["--message", "hello from the CLI"])
            .env_remove("EMU_ONCALL_CONFIG")
            .env("EMU_ONCALL_APP__PLUGINS_DIR", &plugins_dir);
        for set in sets {
            command.args(["--set", &set]);
        }
        command.output()
    };
    let filled = vec![
        format!("server={}", sink.url),
        "app_token=AbCdEf123".to_owned(),
        "allowed_hosts=127.0.0.1".to_owned(),
    ];
    let output = run(filled.clone()).await.unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("delivered (provider id 25)"), "{stdout}");
    let request = &sink.requests()[0];
    assert_eq!(request.path, "/message");
    assert_eq!(request.header("x-gotify-key"), Some("AbCdEf123"));
    assert_eq!(request.json()["message"], "hello from the CLI");

    // A placeholder left unfilled is named; so is a key the preset does not have.
    let output = run(filled[..1].to_vec()).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("secret.app_token"), "{stderr}");
    let output = run(vec!["colour=red".to_owned()]).await.unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("colour"));
}
