//! Shared test support: a fresh database per test on the private PostgreSQL that
//! `scripts/test` starts, and the real server running in-process on 127.0.0.1.
#![allow(dead_code)]

pub mod browser;
pub mod pages;
pub mod process;
pub mod provider;
pub mod sink;
pub mod wait;
pub mod webhook;

use std::net::SocketAddr;
use std::time::Duration;

use emu_oncall::app;
use emu_oncall::config::{self, Config, Overrides};
use emu_oncall::model::Role;
use emu_oncall::store::users::{NewUser, User};
use emu_oncall::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

pub use wait::wait_for;

pub const ENGINE_TOKEN: &str = "test-cloud-token-0123456789";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// The server under test; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub store: Store,
    pub db_url: String,
    pub state: std::sync::Arc<emu_oncall::api::AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The plugin directory the builder made, kept as long as the server runs.
    _plugins_dir: Option<tempfile::TempDir>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestServer {
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// Stops the server and waits until it has: open requests drained, every
    /// background task and round finished, leases handed back.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task panicked")
                .expect("server failed");
        }
    }
}

/// The admin URL of the private PostgreSQL (`postgres` database).
pub fn admin_database_url() -> String {
    std::env::var("EMU_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "EMU_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts a private PostgreSQL"
        )
    })
}

/// Creates an empty database of its own for one test and returns its URL.
pub async fn fresh_database() -> String {
    let admin_url = admin_database_url();
    let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL");
    tokio::spawn(connection);
    let name = format!("emu_test_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let (prefix, _) = admin_url.rsplit_once('/').expect("database URL has a path");
    format!("{prefix}/{name}")
}

/// The environment variable that sets a dotted configuration key
/// (`plugin.webhook.url` → `EMU_ONCALL_PLUGIN__WEBHOOK__URL`).
pub fn env_name(key: &str) -> String {
    format!(
        "{}{}",
        config::ENV_PREFIX,
        key.split('.')
            .map(str::to_ascii_uppercase)
            .collect::<Vec<_>>()
            .join("__")
    )
}

/// A configuration as a test would write it: defaults plus `settings`, each a dotted
/// key as in the file (`delivery.max_attempts`). It goes through `config::load`, the
/// way an operator's settings do.
pub fn test_config(db_url: &str, settings: &[(&str, &str)]) -> Config {
    let mut env: Vec<(String, String)> = vec![
        (env_name("app.auth_token"), ENGINE_TOKEN.into()),
        (env_name("app.admin_token"), ADMIN_TOKEN.into()),
        (env_name("app.log_level"), "warn".into()),
    ];
    env.extend(
        settings
            .iter()
            .map(|(key, value)| (env_name(key), (*value).to_owned())),
    );
    let overrides = Overrides {
        port: Some("127.0.0.1:0".into()),
        db_url: Some(db_url.to_owned()),
        ..Overrides::default()
    };
    config::load(None, env, &overrides).expect("test configuration is valid")
}

/// Builds a server under test: typed settings for what tests change most, `set` for
/// any other key, plugins copied into a directory of its own.
#[derive(Default)]
pub struct TestServerBuilder {
    database: Option<String>,
    settings: Vec<(String, String)>,
    plugins: Vec<(String, String)>,
}

impl TestServerBuilder {
    /// Any configuration key, dotted as in the file.
    pub fn set(mut self, key: &str, value: impl ToString) -> Self {
        self.settings.push((key.to_owned(), value.to_string()));
        self
    }

    /// Several keys at once (shared presets such as [`webhook::FAST`]).
    pub fn settings(mut self, settings: &[(&str, &str)]) -> Self {
        for (key, value) in settings {
            self = self.set(key, value);
        }
        self
    }

    /// Runs on this database (another replica's, say) instead of a fresh one.
    pub fn database(mut self, url: &str) -> Self {
        self.database = Some(url.to_owned());
        self
    }

    /// Loads `built` (a file `scripts/build-plugins` made) as `name` in the plugin
    /// directory.
    pub fn plugin(mut self, name: &str, built: &str) -> Self {
        self.plugins.push((name.to_owned(), built.to_owned()));
        self
    }

    /// The webhook plugin, posting every notification to `sink`.
    pub fn webhook(self, sink: &sink::Sink) -> Self {
        self.plugin("webhook.wasm", "webhook.wasm")
            .set("plugin.webhook.url", format!("{}/hook", sink.url))
            .set("plugin.webhook.allowed_hosts", "127.0.0.1")
    }

    /// Retries within milliseconds, polling every 50 ms, no daily SMS limit.
    pub fn fast_retries(self) -> Self {
        self.settings(webhook::FAST)
    }

    pub fn max_attempts(self, attempts: u32) -> Self {
        self.set("delivery.max_attempts", attempts)
    }

    pub fn sms_per_day(self, limit: u32) -> Self {
        self.set("limits.sms_per_day", limit)
    }

    pub fn sandbox_timeout(self, limit: Duration) -> Self {
        self.set("sandbox.timeout_ms", limit.as_millis())
    }

    pub async fn start(self) -> TestServer {
        let plugins_dir = (!self.plugins.is_empty()).then(|| {
            let files: Vec<(&str, &str)> = self
                .plugins
                .iter()
                .map(|(name, built)| (name.as_str(), built.as_str()))
                .collect();
            plugins_dir_with(&files)
        });
        let mut settings = self.settings;
        if let Some(dir) = &plugins_dir {
            settings.push((
                "app.plugins_dir".to_owned(),
                dir.path().display().to_string(),
            ));
        }
        let db_url = match self.database {
            Some(url) => url,
            None => fresh_database().await,
        };
        let settings: Vec<(&str, &str)> = settings
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        let mut server = launch(&db_url, &settings).await;
        server._plugins_dir = plugins_dir;
        server
    }
}

pub async fn start_server(settings: &[(&str, &str)]) -> TestServer {
    TestServer::builder().settings(settings).start().await
}

pub async fn start_server_on(db_url: &str, settings: &[(&str, &str)]) -> TestServer {
    TestServer::builder()
        .database(db_url)
        .settings(settings)
        .start()
        .await
}

async fn launch(db_url: &str, settings: &[(&str, &str)]) -> TestServer {
    let config = test_config(db_url, settings);
    let store = app::connect_and_migrate(&config).await.expect("migrate");
    let server = app::prepare(config).await.expect("server starts");
    let addr = server.local_addr().expect("bound");
    let state = server.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    TestServer {
        addr,
        base: format!("http://{addr}"),
        store,
        db_url: db_url.to_owned(),
        state,
        stop: Some(stop),
        task: Some(task),
        _plugins_dir: None,
    }
}

pub async fn add_user(
    store: &Store,
    email: &str,
    username: &str,
    phone: Option<&str>,
    role: Role,
) -> User {
    store
        .create_user(NewUser {
            email: email.to_owned(),
            username: username.to_owned(),
            name: username.to_owned(),
            phone_number: phone.map(|number| {
                emu_oncall::model::PhoneNumber::parse(number, None).expect("a valid test number")
            }),
            role,
            attributes: serde_json::Map::new(),
        })
        .await
        .expect("create user")
}

/// Runs one statement on the database at `db_url`, as an operator with psql would (to
/// set up rows the server's own paths would refuse); returns the rows it changed.
pub async fn execute_sql(
    db_url: &str,
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> u64 {
    let (db, connection) = tokio_postgres::connect(db_url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    db.execute(statement, params).await.expect("statement runs")
}

/// Every notification the server stored, newest first.
pub async fn all_notifications(
    server: &TestServer,
) -> Vec<emu_oncall::store::notifications::Notification> {
    server
        .store
        .list_notifications(&emu_oncall::store::notifications::NotificationFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("list notifications")
}

pub fn client() -> reqwest::Client {
    // reqwest is built without a default TLS provider (see schedules::fetch).
    emu_oncall::http_client::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

/// The server's Prometheus exposition, as a scraper reads it.
pub async fn scrape_metrics(server: &TestServer) -> String {
    client()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics body")
}

/// Posts a form as the engine does, with its token; every answer must be JSON.
pub async fn post_form(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut request = client()
        .post(format!("{}{path}", server.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.header("Authorization", token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("every answer is JSON");
    (status, body)
}

/// A raw HTTP/1.1 exchange, for requests shaped byte for byte like the engine's.
/// Returns the status and the body.
pub async fn raw_request(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("response within 10 s")
        .expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// The workspace root, where `target/`, `examples/` and `scripts/` are.
pub fn repository() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file of the repository, by its path from the root.
pub fn repository_file(path: &str) -> String {
    let full = repository().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|err| panic!("{}: {err}", full.display()))
}

/// A plugin built by `scripts/build-plugins` (run by `scripts/test`).
pub fn built_plugin(file: &str) -> std::path::PathBuf {
    let root = repository();
    for dir in ["target/plugins", "target/test-plugins"] {
        let path = root.join(dir).join(file);
        if path.exists() {
            return path;
        }
    }
    panic!("{file} is not built: run scripts/build-plugins (scripts/test does)");
}

/// A fresh plugin directory holding `(name in the directory, built file)` copies.
pub fn plugins_dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("plugin dir");
    for (name, built) in files {
        std::fs::copy(built_plugin(built), dir.path().join(name)).expect("copy plugin");
    }
    dir
}

/// Replaces `dir/name` with `built` the way operators should: copy beside it, then rename.
pub fn swap_plugin(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::time::Instant {
    let temporary = dir.join(format!("{name}.partial"));
    std::fs::write(&temporary, bytes).expect("write plugin");
    std::fs::rename(&temporary, dir.join(name)).expect("rename plugin");
    std::time::Instant::now()
}

pub async fn send_sms(server: &TestServer, email: &str, message: &str) -> (u16, serde_json::Value) {
    let response = client()
        .post(format!("{}/api/v1/send_sms", server.base))
        .header("Authorization", ENGINE_TOKEN)
        .form(&[("email", email), ("message", message)])
        .send()
        .await
        .expect("send_sms");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON answer"))
}
