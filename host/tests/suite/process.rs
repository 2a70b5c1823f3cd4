//! The server as an operator runs it: a real process, its log file, its stop signal.

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn logs_are_json_without_tokens_or_phone_numbers_and_sigterm_stops_cleanly() {
    let db_url = common::fresh_database().await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("emu.log");
    let config_path = dir.path().join("emu.toml");
    let mut config = std::fs::File::create(&config_path).unwrap();
    write!(
        config,
        "debug = true\n[app]\nport = \"127.0.0.1:{port}\"\nauth_token = \"engine-secret-token-0123456789\"\n\
         admin_token = \"admin-secret-token-0123456789\"\nlog_path = {log_path:?}\n[db]\nurl = {db_url:?}\n"
    )
    .unwrap();
    drop(config);
    let mut server = Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .arg("--config")
        .arg(&config_path)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = common::client();
    let ready = common::wait_for(Duration::from_secs(30), || {
        let request = client.get(format!("{base}/readyz")).send();
        async move { matches!(request.await, Ok(response) if response.status().is_success()) }
    })
    .await;
    assert!(ready, "the server did not become ready");

    let phone = "+4915112345678";
    let response = client
        .post(format!("{base}/admin/api/v1/users"))
        .header("Authorization", "Bearer admin-secret-token-0123456789")
        .json(&serde_json::json!({"email": "alice@example.com", "username": "alice", "phone_number": phone}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    for token in ["engine-secret-token-0123456789", "wrong-secret-token"] {
        client
            .post(format!("{base}/api/v1/send_sms"))
            .header("Authorization", token)
            .form(&[
                ("email", "alice@example.com"),
                ("message", "Alert group #1"),
            ])
            .send()
            .await
            .unwrap();
    }

    let pid = server.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = server.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "SIGTERM is a clean stop: {exit:?}");

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "notification accepted"),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "stop signal received"),
        "{log}"
    );
    for secret in [
        "engine-secret-token-0123456789",
        "wrong-secret-token",
        "admin-secret-token-0123456789",
        phone,
        "15112345678",
    ] {
        assert!(!log.contains(secret), "{secret} reached the log:\n{log}");
    }
}

#[tokio::test]
async fn a_lost_database_gets_503_with_json_and_readyz_fails() {
    let server = common::start_server(&[]).await;
    common::add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some("+4915112345678"),
        emu_oncall::model::Role::User,
    )
    .await;
    let admin_url = common::admin_database_url();
    let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let name = server.db_url.rsplit('/').next().unwrap().to_owned();
    client
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();

    let http = common::client();
    let response = http
        .post(format!("{}/api/v1/send_sms", server.base))
        .header("Authorization", common::ENGINE_TOKEN)
        .form(&[("email", "alice@example.com"), ("message", "hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "database-unavailable");
    let response = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let response = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "the process is alive all the same"
    );
}
