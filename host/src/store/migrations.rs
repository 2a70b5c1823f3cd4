//! Applies `migrations/*.sql` in order, once, even when several replicas start together.

use super::{Store, StoreError};

/// `(name, sql)` pairs, sorted by name; names start with their version number.
const MIGRATIONS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Any constant works; it only has to be the same for every replica.
const MIGRATION_LOCK_KEY: i64 = 0x0065_6d75_5f6f_6e63;

fn version_of(name: &str) -> Result<i32, StoreError> {
    name.split('_')
        .next()
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| {
            StoreError::Invalid(format!("migration {name} has no leading version number"))
        })
}

/// The version the running binary expects the schema to be at.
pub fn latest_version() -> i32 {
    MIGRATIONS
        .iter()
        .filter_map(|(name, _)| version_of(name).ok())
        .max()
        .unwrap_or(0)
}

/// Applies what is missing; returns the names applied now.
pub async fn migrate(store: &Store) -> Result<Vec<String>, StoreError> {
    let mut client = store.client().await?;
    // A session lock serialises replicas; it is also released if this connection dies.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let result = apply_pending(&mut client).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let applied = result?;
    unlock?;
    Ok(applied)
}

async fn apply_pending(client: &mut deadpool_postgres::Object) -> Result<Vec<String>, StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let done: Vec<i32> = client
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut applied = Vec::new();
    for (name, sql) in MIGRATIONS {
        let version = version_of(name)?;
        if done.contains(&version) {
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await.map_err(|err| {
            StoreError::Invalid(format!("migration {name} failed: {}", describe(&err)))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(migration = %name, "applied migration");
        applied.push((*name).to_owned());
    }
    Ok(applied)
}

fn describe(err: &tokio_postgres::Error) -> String {
    err.as_db_error()
        .map(|db| db.message().to_owned())
        .unwrap_or_else(|| err.to_string())
}

/// The highest applied version, or 0 on an empty database.
pub async fn current_version(store: &Store) -> Result<i32, StoreError> {
    let client = store.client().await?;
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_migrations_folder_is_embedded_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|entry| {
                let path = entry.unwrap().path();
                (path.extension()? == "sql")
                    .then(|| path.file_stem()?.to_str().map(str::to_owned))?
            })
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = MIGRATIONS
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .collect();
        assert_eq!(embedded, on_disk);
        let versions: Vec<i32> = embedded
            .iter()
            .map(|name| version_of(name).unwrap())
            .collect();
        let mut unique = versions.clone();
        unique.dedup();
        assert_eq!(versions, unique, "two migrations share a version");
        assert_eq!(latest_version(), *versions.last().unwrap());
    }
}
