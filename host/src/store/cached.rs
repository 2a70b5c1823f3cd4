//! Queries through statements prepared once per connection. Given a statement text,
//! tokio-postgres prepares it anew on every call, which costs a second round trip per
//! query; every statement here comes from a fixed set of texts, so caching them per
//! pooled connection is bounded.

use deadpool_postgres::{ClientWrapper, Transaction};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

macro_rules! cached_queries {
    ($($target:ty),+) => {$(
        impl Cached for $target {
            async fn query_cached(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
                let statement = self.prepare_cached(sql).await?;
                self.query(&statement, params).await
            }

            async fn query_opt_cached(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, Error> {
                let statement = self.prepare_cached(sql).await?;
                self.query_opt(&statement, params).await
            }

            async fn query_one_cached(&self, sql: &str, params: Params<'_>) -> Result<Row, Error> {
                let statement = self.prepare_cached(sql).await?;
                self.query_one(&statement, params).await
            }

            async fn execute_cached(&self, sql: &str, params: Params<'_>) -> Result<u64, Error> {
                let statement = self.prepare_cached(sql).await?;
                self.execute(&statement, params).await
            }
        }
    )+};
}

#[allow(async_fn_in_trait)] // Only called on the concrete types below.
pub(crate) trait Cached {
    async fn query_cached(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error>;
    async fn query_opt_cached(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, Error>;
    async fn query_one_cached(&self, sql: &str, params: Params<'_>) -> Result<Row, Error>;
    async fn execute_cached(&self, sql: &str, params: Params<'_>) -> Result<u64, Error>;
}

cached_queries!(ClientWrapper, Transaction<'_>);
