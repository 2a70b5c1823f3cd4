//! What a run costs, read from outside the processes that do the work: CPU time of the
//! PostgreSQL cluster and of named threads from /proc, and statements and commits of
//! one database from PostgreSQL's own counters.

use std::path::PathBuf;

use anyhow::Context;

/// CPU seconds (user + system) in a /proc `stat` line: `own` the process's, `children`
/// also what its exited children used.
fn stat_seconds(stat: &str, children: bool) -> Option<(f64, u32)> {
    // The fields after the command name, which is in parentheses and may hold spaces.
    let (_, rest) = stat.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // After the name: state is 0, ppid 1, utime 11, stime 12, cutime 13, cstime 14,
    // in USER_HZ (100 a second on Linux).
    let mut ticks = field(11)? + field(12)?;
    if children {
        ticks += field(13)? + field(14)?;
    }
    let ppid = fields.get(1)?.parse().ok()?;
    Some((ticks / 100.0, ppid))
}

/// The PostgreSQL cluster the benchmark runs on, found by its data directory.
pub struct Cluster {
    data_dir: Option<PathBuf>,
}

impl Cluster {
    pub fn from_env() -> Cluster {
        Cluster {
            data_dir: std::env::var_os("EMU_BENCH_PG_DATA").map(PathBuf::from),
        }
    }

    fn postmaster(&self) -> Option<u32> {
        let pid_file =
            std::fs::read_to_string(self.data_dir.as_ref()?.join("postmaster.pid")).ok()?;
        pid_file.lines().next()?.trim().parse().ok()
    }

    /// CPU seconds the whole cluster has used: the postmaster with its exited children
    /// (backends that closed), plus every live child. A difference of two readings
    /// counts a backend that came and went in between exactly once.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let postmaster = self.postmaster()?;
        let own = std::fs::read_to_string(format!("/proc/{postmaster}/stat")).ok()?;
        let (mut total, _) = stat_seconds(&own, true)?;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            if let Some((seconds, ppid)) = stat_seconds(&stat, false) {
                if ppid == postmaster {
                    total += seconds;
                }
            }
        }
        Some(total)
    }
}

/// CPU seconds the threads of this process named `name` have used.
pub fn thread_cpu_seconds(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .map(|comm| comm.trim() == name)
                .unwrap_or(false)
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .filter_map(|stat| stat_seconds(&stat, false).map(|(seconds, _)| seconds))
        .sum()
}

/// Statements and commits PostgreSQL has counted for one database.
#[derive(Debug, Clone, Default)]
pub struct DbWork {
    pub statements: f64,
    pub commits: f64,
    /// Calls by statement (its first words), to see which ones a figure is made of.
    pub by_statement: std::collections::BTreeMap<String, f64>,
}

impl DbWork {
    pub fn since(self, before: &DbWork) -> DbWork {
        let mut by_statement = self.by_statement;
        for (query, calls) in &before.by_statement {
            if let Some(now) = by_statement.get_mut(query) {
                *now -= calls;
            }
        }
        by_statement.retain(|_, calls| *calls > 0.0);
        DbWork {
            statements: self.statements - before.statements,
            commits: self.commits - before.commits,
            by_statement,
        }
    }
}

/// Reads the counters of the database at `db_url` through the cluster's admin URL
/// (`pg_stat_statements` is loaded there by `scripts/bench`). Counters are flushed by a
/// backend when it goes idle or exits, so read after the work's connections closed.
pub async fn db_work(admin_url: &str, db_url: &str) -> anyhow::Result<DbWork> {
    let name = db_url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .context("no database name in the URL")?
        .to_owned();
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await?;
    let row = client
        .query_one(
            "SELECT (SELECT coalesce(sum(calls), 0)::float8 FROM pg_stat_statements s
                     WHERE s.dbid = d.oid),
                    (SELECT xact_commit::float8 FROM pg_stat_database WHERE datid = d.oid)
             FROM pg_database d WHERE d.datname = $1",
            &[&name],
        )
        .await
        .context("pg_stat_statements is not loaded (scripts/bench starts PostgreSQL with it)")?;
    let rows = client
        .query(
            "SELECT left(regexp_replace(s.query, '\\s+', ' ', 'g'), 90), sum(s.calls)::float8
             FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
             WHERE d.datname = $1 GROUP BY 1",
            &[&name],
        )
        .await?;
    let by_statement = rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    Ok(DbWork {
        statements: row.try_get(0)?,
        commits: row.try_get::<_, Option<f64>>(1)?.unwrap_or(0.0),
        by_statement,
    })
}
