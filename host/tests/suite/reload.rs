//! Reloading the configuration of a running server: an edited file or SIGHUP applies
//! tokens and plugin maps; a broken file is refused and the running one kept.

use crate::common;

use std::time::Duration;

use common::process::ServerProcess;
use common::sink::Sink;
use common::*;
use emu_oncall::model::Role;

fn config(db: &str, plugins: &str, token: &str, hook: &str, extra: &str) -> String {
    format!(
        "[app]\nauth_token = \"{token}\"\nadmin_token = \"admin-token-0123456789abcdef\"\nplugins_dir = {plugins:?}\n\
         plugin_cache_dir = \"\"\n{extra}\n[db]\nurl = {db:?}\n\
         [plugin.webhook]\nurl = \"{hook}\"\nallowed_hosts = [\"127.0.0.1\"]\n"
    )
}

async fn info_status(base: &str, token: &str) -> u16 {
    client()
        .get(format!("{base}/api/v1/info/"))
        .header("Authorization", token)
        .send()
        .await
        .map(|response| response.status().as_u16())
        .unwrap_or(0)
}

fn log_has(dir: &std::path::Path, needle: &str) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .any(|entry| std::fs::read_to_string(entry.path()).is_ok_and(|text| text.contains(needle)))
}

#[tokio::test]
async fn an_edited_file_or_sighup_applies_tokens_and_plugin_maps_and_a_broken_one_is_refused() {
    let db = fresh_database().await;
    let first_hook = Sink::start().await;
    let second_hook = Sink::start().await;
    let plugins = plugins_dir_with(&[("webhook.wasm", "webhook.wasm")]);
    let plugins_dir = plugins.path().display().to_string();
    let logs = tempfile::tempdir().unwrap();
    let hook = |sink: &Sink| format!("{}/hook", sink.url);
    let server = ServerProcess::start(
        &config(
            &db,
            &plugins_dir,
            "first-token-0123456789abcdef",
            &hook(&first_hook),
            "",
        ),
        logs.path(),
    )
    .await;
    let store = emu_oncall::app::connect_and_migrate(&test_config(&db, &[]))
        .await
        .unwrap();
    add_user(
        &store,
        "alice@example.com",
        "alice",
        Some("+4915100000001"),
        Role::User,
    )
    .await;
    let base = server.base.clone();
    assert_eq!(
        info_status(&base, "first-token-0123456789abcdef").await,
        200
    );
    assert_eq!(
        info_status(&base, "second-token-0123456789abcdef").await,
        403
    );

    // A new token and a new webhook URL, written as an editor does.
    server.rewrite_config(&config(
        &db,
        &plugins_dir,
        "second-token-0123456789abcdef",
        &hook(&second_hook),
        "",
    ));
    assert!(
        wait_for(Duration::from_secs(10), async || {
            info_status(&base, "second-token-0123456789abcdef").await == 200
        })
        .await,
        "the new token never took effect"
    );
    assert_eq!(
        info_status(&base, "first-token-0123456789abcdef").await,
        403
    );
    let sms = client()
        .post(format!("{base}/api/v1/send_sms"))
        .header("Authorization", "second-token-0123456789abcdef")
        .form(&[("email", "alice@example.com"), ("message", "after reload")])
        .send()
        .await
        .unwrap();
    assert_eq!(sms.status().as_u16(), 200);
    assert_eq!(
        second_hook.wait_for(1, Duration::from_secs(10)).await.len(),
        1
    );
    assert!(
        first_hook.requests().is_empty(),
        "the old plugin map was used"
    );

    // A typo: refused, logged with the key, and the running configuration stays.
    server.rewrite_config(&config(
        &db,
        &plugins_dir,
        "third-token-0123456789abcdef",
        &hook(&first_hook),
        "tpyo = 1",
    ));
    assert!(
        wait_for(Duration::from_secs(10), async || {
            log_has(logs.path(), "configuration reload refused")
        })
        .await
    );
    assert!(log_has(logs.path(), "app.tpyo"));
    assert_eq!(
        info_status(&base, "second-token-0123456789abcdef").await,
        200
    );
    assert_eq!(
        info_status(&base, "third-token-0123456789abcdef").await,
        403
    );

    // SIGHUP reads the file again (and no longer ends the process); a key read only at
    // start-up is named and kept.
    let fixed = config(
        &db,
        &plugins_dir,
        "third-token-0123456789abcdef",
        &hook(&first_hook),
        "",
    )
    .replace("[db]\n", "[db]\npool_size = 3\n");
    let aside = server.config_path().with_extension("toml.sighup");
    let port = base.rsplit(':').next().unwrap().to_owned();
    std::fs::write(
        &aside,
        fixed.replacen("[app]", &format!("[app]\nport = \"127.0.0.1:{port}\""), 1),
    )
    .unwrap();
    std::fs::rename(&aside, server.config_path()).unwrap();
    server.signal("-HUP");
    assert!(
        wait_for(Duration::from_secs(10), async || {
            info_status(&base, "third-token-0123456789abcdef").await == 200
        })
        .await
    );
    assert!(
        wait_for(Duration::from_secs(10), async || {
            log_has(logs.path(), "read only at start-up")
        })
        .await
    );
    server.signal("-HUP");
    assert!(
        wait_for(Duration::from_secs(10), async || {
            log_has(logs.path(), "\"trigger\":\"SIGHUP\"")
        })
        .await,
        "no reload logged for SIGHUP"
    );
    assert_eq!(
        info_status(&base, "third-token-0123456789abcdef").await,
        200,
        "SIGHUP ended the server"
    );
}
