//! What the operator status page reads that no other flow needs.

use chrono::{DateTime, Utc};

use super::{Cached, Store, StoreError};

/// A plugin's most recent failed delivery attempt.
pub struct PluginFailure {
    pub plugin: String,
    pub error: String,
    pub at: DateTime<Utc>,
}

/// Inbound events of the last day for one plugin and kind.
pub struct InboundSummary {
    pub plugin: String,
    pub kind: String,
    pub ok: i64,
    pub not_ok: i64,
    /// Median seconds from the page to the event (actions: how long people take).
    pub median_seconds: Option<f64>,
}

impl Store {
    /// What providers' calls carried in the last 24 hours, by plugin and kind.
    pub async fn inbound_summary(&self) -> Result<Vec<InboundSummary>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT e.plugin, e.kind,
                        count(*) FILTER (WHERE e.ok), count(*) FILTER (WHERE NOT e.ok),
                        percentile_cont(0.5) WITHIN GROUP (
                            ORDER BY extract(epoch FROM e.received_at - n.created_at))::float8
                 FROM inbound_events e LEFT JOIN notifications n ON n.id = e.notification_id
                 WHERE e.received_at > now() - interval '24 hours'
                 GROUP BY e.plugin, e.kind ORDER BY e.plugin, e.kind",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(InboundSummary {
                    plugin: row.try_get(0)?,
                    kind: row.try_get(1)?,
                    ok: row.try_get(2)?,
                    not_ok: row.try_get(3)?,
                    median_seconds: row.try_get(4)?,
                })
            })
            .collect()
    }

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
