//! The `emu-oncall` commands an operator types, run as a real process.

use crate::common;

use std::io::Write;
use std::process::{Command, Output};

fn emu(db_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .arg("--db-url")
        .arg(db_url)
        .args(args)
        .env_remove("EMU_ONCALL_CONFIG")
        .output()
        .unwrap()
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "command failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn failed(output: Output) -> String {
    assert!(!output.status.success(), "command should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn users_add_list_update_remove() {
    let db = common::fresh_database().await;
    let out = ok(emu(
        &db,
        &[
            "users",
            "add",
            "--email",
            "alice@example.com",
            "--username",
            "alice",
            "--phone",
            "+4915112345678",
            "--role",
            "admin",
            "--attr",
            "telegram_chat_id=42",
        ],
    ));
    assert!(out.contains("verified"), "{out}");
    assert!(
        !out.contains("+4915112345678"),
        "phone numbers are masked: {out}"
    );
    let list = ok(emu(&db, &["users", "list"]));
    assert!(
        list.contains("alice@example.com") && list.contains("+49********678"),
        "{list}"
    );
    let alice_row = list.lines().find(|line| line.contains("alice@")).unwrap();
    assert!(
        list.contains("CONFIRMED") && alice_row.contains(" yes "),
        "an admin's number is confirmed: {list}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(emu(&db, &["users", "list", "--json"]))).unwrap();
    assert_eq!(json[0]["attributes"]["telegram_chat_id"], "42");

    let out = ok(emu(
        &db,
        &[
            "users",
            "update",
            "alice@example.com",
            "--clear-phone",
            "--role",
            "observer",
        ],
    ));
    assert!(out.contains("not verified"), "{out}");
    let err = failed(emu(
        &db,
        &["users", "update", "alice@example.com", "--phone", "12345"],
    ));
    assert!(err.contains("country code"), "{err}");
    let err = failed(emu(
        &db,
        &[
            "users",
            "add",
            "--email",
            "ALICE@example.com",
            "--username",
            "alice2",
        ],
    ));
    assert!(err.contains("already exists"), "{err}");
    let err = failed(emu(
        &db,
        &[
            "users",
            "add",
            "--email",
            "x@example.com",
            "--username",
            "x",
            "--role",
            "boss",
        ],
    ));
    assert!(err.contains("role"), "{err}");

    ok(emu(&db, &["users", "remove", "alice@example.com"]));
    let list = ok(emu(&db, &["users", "list"]));
    assert!(!list.contains("alice@example.com"), "{list}");
    let err = failed(emu(&db, &["users", "remove", "alice@example.com"]));
    assert!(err.contains("no user"), "{err}");
}

#[tokio::test]
async fn users_import_is_all_or_nothing_and_updates_by_email() {
    let db = common::fresh_database().await;
    let mut good = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(good, "email,username,name,phone,role,attr.telegram_chat_id").unwrap();
    writeln!(
        good,
        "alice@example.com,alice,Alice,+4915112345678,admin,42"
    )
    .unwrap();
    writeln!(good, "bob@example.com,bob,\"Bob, Jr.\",,user,").unwrap();
    let out = ok(emu(
        &db,
        &["users", "import", good.path().to_str().unwrap()],
    ));
    assert!(out.contains("2 added, 0 updated"), "{out}");

    let mut again = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(again, "email,username,phone").unwrap();
    writeln!(again, "BOB@example.com,bob,+14155550100").unwrap();
    writeln!(again, "carol@example.com,carol,").unwrap();
    let out = ok(emu(
        &db,
        &["users", "import", again.path().to_str().unwrap()],
    ));
    assert!(out.contains("1 added, 1 updated"), "{out}");

    let mut bad = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(bad, "email,username,phone").unwrap();
    writeln!(bad, "dave@example.com,dave,+14155550101").unwrap();
    writeln!(bad, "erin@example.com,erin,not-a-phone").unwrap();
    let err = failed(emu(&db, &["users", "import", bad.path().to_str().unwrap()]));
    assert!(err.contains("line 3"), "{err}");
    let list = ok(emu(&db, &["users", "list"]));
    assert!(
        !list.contains("dave@example.com"),
        "nothing from a bad file is imported: {list}"
    );

    let mut typo = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    writeln!(typo, "email,username,phnoe").unwrap();
    let err = failed(emu(
        &db,
        &["users", "import", typo.path().to_str().unwrap()],
    ));
    assert!(err.contains("phnoe"), "{err}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(emu(&db, &["users", "list", "--json"]))).unwrap();
    let bob = json
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "bob@example.com")
        .unwrap();
    assert_eq!(bob["phone_number"], "+14155550100");
    assert_eq!(bob["name"], "", "an import replaces the columns it has");
}

#[tokio::test]
async fn notifications_list_shows_what_the_engine_handed_over() {
    let server = common::start_server(&[]).await;
    common::add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some("+4915112345678"),
        emu_oncall::model::Role::User,
    )
    .await;
    let response = common::client()
        .post(format!("{}/api/v1/make_call", server.base))
        .header("Authorization", common::ENGINE_TOKEN)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("email=alice%40example.com&message=Wake+up")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let list = ok(emu(
        &server.db_url,
        &["notifications", "list", "--status", "pending"],
    ));
    assert!(list.contains("call") && list.contains("Wake up"), "{list}");
    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let shown = ok(emu(&server.db_url, &["notifications", "show", &id]));
    assert!(shown.contains("\"status\": \"pending\""), "{shown}");
    let none = ok(emu(
        &server.db_url,
        &["notifications", "list", "--user", "nobody@example.com"],
    ));
    assert_eq!(none.lines().count(), 1, "only the header: {none}");
}

#[tokio::test]
async fn a_dead_notification_is_queued_again_from_the_command_line() {
    use emu_oncall::model::{Channel, Status};
    use emu_oncall::store::attempts::Settlement;
    use emu_oncall::store::notifications::NewNotification;
    let db = common::fresh_database().await;
    let store = emu_oncall::app::connect_and_migrate(&common::test_config(&db, &[]))
        .await
        .unwrap();
    let id = store
        .accept_notification(NewNotification {
            channel: Channel::Sms,
            user_id: None,
            recipient_email: Some("alice@example.com".into()),
            message: "page".into(),
            payload: serde_json::json!({}),
        })
        .await
        .unwrap();
    let claim = store
        .claim_notification(
            id,
            "test-owner",
            std::time::Duration::from_secs(60),
            emu_oncall::store::claims::RetryBudget {
                max_attempts: 10,
                max_age: std::time::Duration::from_secs(3600),
            },
        )
        .await
        .unwrap()
        .unwrap()
        .claim;
    assert_eq!(claim.attempt, 1);
    assert!(store
        .settle_notification(
            claim,
            "test-owner",
            &Settlement::Dead {
                error: "provider gone".into()
            }
        )
        .await
        .unwrap());
    let listed = ok(emu(&db, &["notifications", "list", "--status", "dead"]));
    assert!(listed.contains(&id.to_string()), "{listed}");
    let out = ok(emu(&db, &["notifications", "retry", &id.to_string()]));
    assert!(out.contains("queued again"), "{out}");
    let again = store.get_notification(id).await.unwrap().unwrap();
    assert_eq!(again.status, Status::Pending);
    let err = failed(emu(&db, &["notifications", "retry", "not-an-id"]));
    assert!(err.contains("not a notification id"), "{err}");
}

// The stand-in export server must answer while the test blocks on the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_every_part_of_a_deploy_and_fails_when_one_fails() {
    let db = common::fresh_database().await;
    let export = common::sink::Sink::start().await;
    let now = chrono::Utc::now();
    export.respond_with(&format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\nBEGIN:VEVENT\r\nSUMMARY:alice\r\nUID:1\r\n\
         DTSTART:{}\r\nDTEND:{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        (now - chrono::Duration::hours(1)).format("%Y%m%dT%H%M%SZ"),
        (now + chrono::Duration::hours(1)).format("%Y%m%dT%H%M%SZ"),
    ));
    let plugins = common::plugins_dir_with(&[("webhook.wasm", "webhook.wasm")]);
    let base = format!(
        "[app]\nauth_token = \"engine-token-0123456789abcdef\"\nplugins_dir = {:?}\nplugin_cache_dir = \"\"\n\
         [plugin.webhook]\nurl = \"http://127.0.0.1:9/hook\"\nallowed_hosts = [\"127.0.0.1\"]\n\
         [grafana.oncall.schedules.primary]\nical_url = \"{}/export.ics?token=SECRET\"\n",
        plugins.path().display(),
        export.url
    );
    let check = |text: &str| {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        let output = emu(
            &db,
            &["--config", &file.path().display().to_string(), "check"],
        );
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };

    let (code, report) = check(&base);
    assert_eq!(code, Some(0), "{report}");
    for line in [
        "ok    configuration",
        "ok    tokens",
        "ok    database",
        "ok    plugin webhook",
        "ok    schedule primary",
        "on call now: alice",
        "ok    verification                 code mode: codes go out through webhook",
        "all checks passed",
    ] {
        assert!(report.contains(line), "no {line:?} in:\n{report}");
    }
    assert!(
        !report.contains("SECRET"),
        "the export token leaked:\n{report}"
    );

    // A route naming a plugin that is not there, and a plugin map the plugin refuses.
    let (code, report) = check(&format!(
        "{base}[routes.sms]\nplugins = [\"webhook\", \"telegram\"]\n"
    ));
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("FAIL  route sms"), "{report}");
    assert!(report.contains("telegram"), "{report}");
    let (code, report) = check(&base.replace("url = \"http://127.0.0.1:9/hook\"\n", ""));
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("FAIL  plugin webhook"), "{report}");

    let (code, report) = check(&format!("{base}[verification]\nmode = \"trust\"\n"));
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("-     verification"), "{report}");

    // A typo is reported, not a crash.
    let (code, report) = check(&format!("{base}[delivery]\nmax_attemps = 3\n"));
    assert_eq!(code, Some(1));
    assert!(report.contains("FAIL  configuration"), "{report}");
    assert!(report.contains("delivery.max_attemps"), "{report}");

    // An unreachable database and a schedule that answers 404.
    export.fail_next(1, 404);
    let output = Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .args(["--db-url", "postgres://nobody@127.0.0.1:1/none", "check"])
        .env_remove("EMU_ONCALL_CONFIG")
        .env(
            "EMU_ONCALL_APP__AUTH_TOKEN",
            "engine-token-0123456789abcdef",
        )
        .env("EMU_ONCALL_APP__PLUGINS_DIR", plugins.path())
        .env("EMU_ONCALL_PLUGIN__WEBHOOK__URL", "http://127.0.0.1:9/hook")
        .env(
            "EMU_ONCALL_GRAFANA__ONCALL__SCHEDULES__PRIMARY__ICAL_URL",
            format!("{}/gone.ics", export.url),
        )
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("FAIL  database"), "{report}");
    assert!(report.contains("FAIL  schedule primary"), "{report}");
    assert!(report.contains("404"), "{report}");
}

/// `users link` shows the verification page's secret path; `users rotate-link` replaces
/// it, and the old one stops working.
#[tokio::test]
async fn a_users_verification_link_can_be_shown_and_rotated() {
    let db = common::fresh_database().await;
    ok(emu(
        &db,
        &[
            "users",
            "add",
            "--email",
            "ed@example.com",
            "--username",
            "ed",
        ],
    ));
    let shown = ok(emu(&db, &["users", "link", "ed@example.com"]));
    let old = shown
        .trim()
        .strip_prefix("/verify/")
        .expect("a /verify/ path")
        .to_owned();
    assert_eq!(old.len(), 20, "{shown}");
    let rotated = ok(emu(&db, &["users", "rotate-link", "ed@example.com"]));
    assert!(rotated.contains("next user sync"), "{rotated}");
    let new = ok(emu(&db, &["users", "link", "ed@example.com"]));
    assert_ne!(new.trim(), shown.trim());
    assert!(rotated.contains(new.trim()), "{rotated}");
    let store = emu_oncall::app::connect_and_migrate(&common::test_config(&db, &[]))
        .await
        .unwrap();
    assert!(store
        .find_active_user_by_link(&old)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .find_active_user_by_link(new.trim().trim_start_matches("/verify/"))
        .await
        .unwrap()
        .is_some());
}
