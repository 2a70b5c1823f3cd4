//! `emu-oncall serve` as a real process, for tests that kill replicas.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ServerProcess {
    pub child: Child,
    pub base: String,
    _config: tempfile::NamedTempFile,
}

impl ServerProcess {
    /// Starts `emu-oncall serve` with `config` (TOML; `app.port` is filled in) and waits
    /// until `/readyz` answers 200.
    pub async fn start(config: &str, log_dir: &Path) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let text = config.replacen("[app]", &format!("[app]\nport = \"127.0.0.1:{port}\""), 1);
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        let log = std::fs::File::create(log_dir.join(format!("server-{port}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
            .arg("--config")
            .arg(file.path())
            .arg("serve")
            .env_remove("EMU_ONCALL_CONFIG")
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _config: file,
        };
        let client = super::client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", server.base)).send().await {
                if response.status().is_success() {
                    return server;
                }
            }
            assert!(
                Instant::now() < deadline,
                "server at {} never became ready",
                server.base
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The config file it was started with (`app.port` filled in).
    pub fn config_path(&self) -> &Path {
        self._config.path()
    }

    /// Replaces the config file the way editors do (write aside, rename over), keeping
    /// the port it runs on.
    pub fn rewrite_config(&self, config: &str) {
        let port = self.base.rsplit(':').next().unwrap_or_default();
        let text = config.replacen("[app]", &format!("[app]\nport = \"127.0.0.1:{port}\""), 1);
        let aside = self.config_path().with_extension("toml.new");
        std::fs::write(&aside, text).unwrap();
        std::fs::rename(&aside, self.config_path()).unwrap();
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, for at most `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
