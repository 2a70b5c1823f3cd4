//! Migrations on a real PostgreSQL, including replicas starting at the same moment.

use crate::common;

use std::process::Command;

use emu_oncall::store::migrations;

#[tokio::test]
async fn two_processes_migrating_one_empty_database_at_once_both_succeed() {
    let db_url = common::fresh_database().await;
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
            .args(["--db-url", &db_url, "migrate"])
            .env_remove("EMU_ONCALL_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "migrate failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains(&format!("version {}", migrations::latest_version())),
            "{stdout}"
        );
    }
    let (client, connection) = tokio_postgres::connect(&db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT version, count(*) FROM schema_migrations GROUP BY version",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len() as i32, migrations::latest_version());
    for row in rows {
        assert_eq!(row.get::<_, i64>(1), 1, "a migration was recorded twice");
    }
}

#[tokio::test]
async fn migrating_again_changes_nothing_and_readyz_reflects_the_schema() {
    let server = common::start_server(&[]).await;
    let applied = migrations::migrate(&server.store).await.unwrap();
    assert!(applied.is_empty());
    assert_eq!(
        migrations::current_version(&server.store).await.unwrap(),
        migrations::latest_version()
    );
    let response = common::client()
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}
