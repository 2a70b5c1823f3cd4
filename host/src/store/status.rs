//! What the operator status page reads that no other flow needs.

use chrono::{DateTime, Utc};

use super::{Cached, Store, StoreError};

/// A plugin's most recent failed delivery attempt.
pub struct PluginFailure {
    pub plugin: String,
    pub error: String,
    pub at: DateTime<Utc>,
}

impl Store {
    /// The highest applied migration.
    pub async fn schema_version(&self) -> Result<i32, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one_cached(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The last failed attempt of each of `plugins` that has one.
    pub async fn last_plugin_failures(
        &self,
        plugins: &[String],
    ) -> Result<Vec<PluginFailure>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT p.name, a.error, a.started_at
                 FROM unnest($1::text[]) AS p(name)
                 JOIN LATERAL (
                     SELECT coalesce(error, outcome) AS error, started_at FROM delivery_attempts
                     WHERE plugin = p.name AND outcome <> 'delivered'
                     ORDER BY started_at DESC LIMIT 1
                 ) a ON true",
                &[&plugins],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(PluginFailure {
                    plugin: row.try_get(0)?,
                    error: row.try_get(1)?,
                    at: row.try_get(2)?,
                })
            })
            .collect()
    }
}
