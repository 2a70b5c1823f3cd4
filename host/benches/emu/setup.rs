//! What a figure runs against: a fresh database, the real server as a process, a local
//! sink standing in for a provider, and the bare insert-and-commit baseline.

use std::collections::HashSet;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

pub const ENGINE_TOKEN: &str = "bench-engine-token-0123456789";
pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
pub const EMAIL: &str = "alice@example.com";

pub struct BenchEnv {
    admin_url: String,
    pub binary: PathBuf,
    pub plugins: PathBuf,
    pub test_plugins: PathBuf,
    databases: AtomicUsize,
}

impl BenchEnv {
    pub fn from_env() -> anyhow::Result<Self> {
        let admin_url = std::env::var("EMU_BENCH_DATABASE_URL")
            .context("EMU_BENCH_DATABASE_URL is not set: run scripts/bench, which starts a private PostgreSQL")?;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let binary = root.join("target/release/emu-oncall");
        if !binary.exists() {
            bail!("{} is missing: scripts/bench builds it", binary.display());
        }
        Ok(BenchEnv {
            admin_url,
            plugins: root.join("target/plugins"),
            test_plugins: root.join("target/test-plugins"),
            binary,
            databases: AtomicUsize::new(0),
        })
    }

    /// The cluster's own database, where its statistics are read.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// A new, empty database on the private cluster.
    pub async fn fresh_database(&self) -> anyhow::Result<String> {
        let name = format!(
            "bench_{}_{}",
            std::process::id(),
            self.databases.fetch_add(1, Ordering::SeqCst)
        );
        let (client, connection) =
            tokio_postgres::connect(&self.admin_url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        // One statement each: DROP DATABASE cannot run inside a transaction.
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .await?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let mut config: tokio_postgres::Config = self.admin_url.parse()?;
        config.dbname(&name);
        Ok(database_url(&config))
    }
}

fn database_url(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let password = config
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    let dbname = config.get_dbname().unwrap_or("postgres");
    format!("postgres://{user}{password}@{host}:{port}/{dbname}")
}

/// Busy and total CPU time of the whole machine so far, in USER_HZ ticks (from
/// /proc/stat), to tell whether a figure was bounded by the CPU.
pub fn machine_cpu_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|line| line.starts_with("cpu ")) else {
        return (0.0, 0.0);
    };
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = values.iter().sum();
    // idle and iowait are the 4th and 5th values.
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build()
        .unwrap_or_default()
}

/// How a server is started: the TOML it gets (`app.port` is filled in).
pub struct ServerSpec {
    pub db: String,
    pub plugins_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub extra: String,
}

impl ServerSpec {
    fn toml(&self, port: u16) -> String {
        format!(
            "[app]\nport = \"127.0.0.1:{port}\"\nauth_token = \"{ENGINE_TOKEN}\"\n\
             admin_token = \"{ADMIN_TOKEN}\"\nplugins_dir = {:?}\nplugin_cache_dir = {:?}\n\
             [db]\nurl = {:?}\n[limits]\nsms_per_day = 0\ncalls_per_day = 0\n{}\n",
            self.plugins_dir.display().to_string(),
            self.cache_dir.display().to_string(),
            self.db,
            self.extra
        )
    }
}

/// `emu-oncall serve` as its own process.
pub struct ServerProcess {
    child: Child,
    pub base: String,
    _config: tempfile::NamedTempFile,
}

impl ServerProcess {
    /// Starts it and waits for `/readyz`; returns it with the time that took.
    pub async fn start(env: &BenchEnv, spec: &ServerSpec) -> anyhow::Result<(Self, Duration)> {
        let port = free_port()?;
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile()?;
        std::io::Write::write_all(&mut file, spec.toml(port).as_bytes())?;
        let started = Instant::now();
        // EMU_BENCH_SERVER_LOG=FILE keeps the servers' logs (appended) to look into a figure.
        let log = match std::env::var_os("EMU_BENCH_SERVER_LOG") {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
            None => Stdio::null(),
        };
        let child = Command::new(&env.binary)
            .arg("--config")
            .arg(file.path())
            .arg("serve")
            .env_remove("EMU_ONCALL_CONFIG")
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .context("start emu-oncall")?;
        let server = ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _config: file,
        };
        let client = client();
        let deadline = started + Duration::from_secs(120);
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", server.base)).send().await {
                if response.status().is_success() {
                    return Ok((server, started.elapsed()));
                }
            }
            if Instant::now() > deadline {
                bail!("the server at {} never became ready", server.base);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|line| line.starts_with(field))
                    .and_then(|line| line.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse().ok())
            })
            .unwrap_or(0)
    }

    /// Resident memory now, MiB.
    pub fn rss_mib(&self) -> f64 {
        self.status_kib("VmRSS:") as f64 / 1024.0
    }

    /// The most resident memory it has had, MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.status_kib("VmHWM:") as f64 / 1024.0
    }

    /// CPU seconds it has used (user + system).
    pub fn cpu_seconds(&self) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())) else {
            return 0.0;
        };
        // The fields after the command name, which is in parentheses and may hold spaces.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            return 0.0;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime: fields 14 and 15 of the line, 12 and 13 after the name, in
        // USER_HZ, which Linux reports as 100 a second whatever the kernel's own HZ.
        (ticks(11) + ticks(12)) / 100.0
    }

    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..200 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds the user every page goes to.
pub async fn add_user(db: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(db, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    // The schema is the server's; wait for its migrations.
    for _ in 0..200 {
        let inserted = client
            .execute(
                // Set as an admin sets numbers, so it counts as verified in code mode.
                "INSERT INTO users (id, email, username, name, phone_number, role,
                                    phone_verified_at, phone_verified_by)
                 VALUES ('UBENCHALICE', $1, 'alice', 'Alice', '+4915100000001', 'user',
                         now(), 'admin')
                 ON CONFLICT DO NOTHING",
                &[&EMAIL],
            )
            .await;
        if inserted.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the users table never appeared")
}

/// An HTTP/1 server on 127.0.0.1 that answers every request with `answer(body)`;
/// returns its base URL.
pub async fn serve<F, Fut>(answer: F) -> anyhow::Result<String>
where
    F: Fn(Bytes) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let answer = answer.clone();
                    async move {
                        let body = request
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        Ok::<_, Infallible>(answer(body).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(url)
}

/// A provider stand-in: answers 200 at once and remembers which notification ids it got.
#[derive(Clone)]
pub struct Sink {
    pub url: String,
    requests: Arc<AtomicUsize>,
    ids: Arc<Mutex<HashSet<String>>>,
}

impl Sink {
    pub async fn start() -> anyhow::Result<Sink> {
        let requests: Arc<AtomicUsize> = Arc::default();
        let ids: Arc<Mutex<HashSet<String>>> = Arc::default();
        let (counted, seen) = (requests.clone(), ids.clone());
        let url = serve(move |body| {
            let (counted, seen) = (counted.clone(), seen.clone());
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                if let Some(id) = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned))
                {
                    if let Ok(mut ids) = seen.lock() {
                        ids.insert(id);
                    }
                }
                Response::new(Full::new(Bytes::from_static(b"{}")))
            }
        })
        .await?;
        Ok(Sink { url, requests, ids })
    }

    /// Distinct notifications delivered.
    pub fn delivered(&self) -> usize {
        self.ids.lock().map(|ids| ids.len()).unwrap_or(0)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Waits until `count` distinct notifications arrived or `limit` passed; returns
    /// when the last one needed arrived.
    pub async fn wait_delivered(&self, count: usize, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            if self.delivered() >= count {
                return Some(Instant::now());
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// The baseline: a bare hyper handler that stores each request with one INSERT (its own
/// transaction, committed) and answers `{}`. It runs on threads of its own, named
/// [`BASELINE_THREADS`], so its CPU time can be told from the load generator's.
pub struct Baseline {
    pub url: String,
    runtime: Option<tokio::runtime::Runtime>,
}

/// The name of the baseline's threads.
pub const BASELINE_THREADS: &str = "emu-baseline";

impl Drop for Baseline {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Baseline {
    pub async fn start(db: &str) -> anyhow::Result<Baseline> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(BASELINE_THREADS)
            .enable_all()
            .build()?;
        let db = db.to_owned();
        let url = runtime
            .spawn(async move { Baseline::serve(&db).await })
            .await??;
        Ok(Baseline {
            url,
            runtime: Some(runtime),
        })
    }

    async fn serve(db: &str) -> anyhow::Result<String> {
        let mut config = deadpool_postgres::Config::new();
        config.url = Some(db.to_owned());
        config.pool = Some(deadpool_postgres::PoolConfig::new(16));
        let pool = config.create_pool(
            Some(deadpool_postgres::Runtime::Tokio1),
            tokio_postgres::NoTls,
        )?;
        pool.get()
            .await?
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS baseline_notifications (
                     id uuid PRIMARY KEY, email text NOT NULL, message text NOT NULL,
                     created_at timestamptz NOT NULL DEFAULT now())",
            )
            .await?;
        let base = serve(move |body| {
            let pool = pool.clone();
            async move {
                let fields: Vec<(String, String)> = form_urlencoded::parse(&body)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                let field = |name: &str| {
                    fields
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let stored = match pool.get().await {
                    Ok(client) => client
                        .execute(
                            "INSERT INTO baseline_notifications (id, email, message) VALUES ($1, $2, $3)",
                            &[&uuid::Uuid::new_v4(), &field("email"), &field("message")],
                        )
                        .await
                        .is_ok(),
                    Err(_) => false,
                };
                let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
                if !stored {
                    *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
                }
                response
            }
        })
        .await?;
        Ok(format!("{base}/api/v1/send_sms"))
    }
}

/// A plugin folder holding `files` (name in the folder, built file).
pub fn plugin_dir(files: &[(&str, PathBuf)]) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    for (name, built) in files {
        std::fs::copy(built, dir.path().join(name))
            .with_context(|| format!("copy {}", built.display()))?;
    }
    Ok(dir)
}
