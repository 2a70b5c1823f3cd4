//! Failed sign-ins and admin calls per client address, counted in PostgreSQL so every
//! replica enforces the same limit.

use std::time::Duration;

use super::{Cached, Store, StoreError};

impl Store {
    /// How many times `client` failed on `surface` in its current window (0 once the
    /// window is over).
    pub async fn auth_failures(
        &self,
        client: &str,
        surface: &str,
        window: Duration,
    ) -> Result<i32, StoreError> {
        let client_db = self.client().await?;
        let row = client_db
            .query_opt_cached(
                "SELECT failures FROM auth_failures
                 WHERE client = $1 AND surface = $2
                   AND window_start > now() - make_interval(secs => $3)",
                &[&client, &surface, &window.as_secs_f64()],
            )
            .await?;
        Ok(row.map(|row| row.get(0)).unwrap_or(0))
    }

    /// Counts one failure of `client` on `surface`; a window that is over starts anew.
    pub async fn record_auth_failure(
        &self,
        client: &str,
        surface: &str,
        window: Duration,
    ) -> Result<(), StoreError> {
        let client_db = self.client().await?;
        client_db
            .execute_cached(
                "INSERT INTO auth_failures (client, surface, window_start, failures)
                 VALUES ($1, $2, now(), 1)
                 ON CONFLICT (client, surface) DO UPDATE SET
                   failures = CASE WHEN auth_failures.window_start > now() - make_interval(secs => $3)
                                   THEN auth_failures.failures + 1 ELSE 1 END,
                   window_start = CASE WHEN auth_failures.window_start > now() - make_interval(secs => $3)
                                       THEN auth_failures.window_start ELSE now() END",
                &[&client, &surface, &window.as_secs_f64()],
            )
            .await?;
        // Old windows would otherwise pile up, one row per address ever seen.
        client_db
            .execute_cached(
                "DELETE FROM auth_failures
                 WHERE window_start < now() - make_interval(secs => $1) * 4",
                &[&window.as_secs_f64()],
            )
            .await?;
        Ok(())
    }
}
