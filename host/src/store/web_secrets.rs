//! A key every replica shares, made by whichever replica asks first.

use super::{Cached, Store, StoreError};

impl Store {
    /// The secret called `name`, created with 32 random bytes if it does not exist.
    pub async fn web_secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh)
            .map_err(|err| StoreError::Invalid(format!("no random source: {err}")))?;
        let client = self.client().await?;
        // DO UPDATE (a no-op) so RETURNING yields the row a concurrent replica made.
        let row = client
            .query_one_cached(
                "INSERT INTO web_secrets (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
                 RETURNING value",
                &[&name, &fresh.as_slice()],
            )
            .await?;
        Ok(row.try_get(0)?)
    }
}
