//! PostgreSQL: the pool, the schema and one module per table family. All state lives
//! here, so any number of replicas can serve side by side.

pub mod announcements;
pub mod attempts;
mod auth_failures;
mod cached;
pub mod claims;
mod error;
pub mod inbound;
pub mod integrations;
pub mod migrations;
pub mod notifications;
pub mod phone_codes;
pub mod replies;
pub mod schedules;
pub mod status;
pub mod users;
mod web_secrets;
pub mod write_back;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::config::DbConfig;

pub(crate) use cached::Cached;
pub use error::StoreError;

/// A handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    pub fn new(db: &DbConfig) -> Result<Self, StoreError> {
        let manager = Manager::from_config(
            connection_config(db)?,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(db.pool_size)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(5)))
            .wait_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|err| StoreError::Unavailable(err.to_string()))?;
        Ok(Store { pool })
    }

    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|err| StoreError::Unavailable(err.to_string()))
    }

    /// Waits until the database answers, for at most `timeout`.
    pub async fn wait_until_reachable(&self, timeout: Duration) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut delay = Duration::from_millis(100);
        loop {
            match self.ping().await {
                Ok(()) => return Ok(()),
                Err(err) if tokio::time::Instant::now() + delay >= deadline => return Err(err),
                Err(err) => {
                    tracing::warn!(error = %err, "database not reachable yet, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Connections this replica holds (`size`), of which idle (`available`), and the cap.
    pub fn pool_status(&self) -> (usize, usize, usize) {
        let status = self.pool.status();
        (status.size, status.available, status.max_size)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }
}

/// `db.url` when set, else the separate `db.*` fields.
pub fn connection_config(db: &DbConfig) -> Result<tokio_postgres::Config, StoreError> {
    let mut config = if db.url.trim().is_empty() {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&db.addr)
            .port(db.port)
            .user(&db.user)
            .dbname(&db.dbname);
        if !db.password.is_empty() {
            config.password(&db.password);
        }
        config
    } else {
        db.url
            .trim()
            .parse::<tokio_postgres::Config>()
            .map_err(|err| StoreError::Invalid(format!("db.url: {err}")))?
    };
    config
        .application_name("emu-oncall")
        .connect_timeout(Duration::from_secs(5));
    Ok(config)
}
