//! Each figure with the baseline that bounds it, measured in the same run.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use emu_oncall::config::SandboxConfig;
use emu_oncall::model::AttemptOutcome;
use emu_oncall::model::Channel;
use emu_oncall::plugins::{LoadedPlugin, Notification, PluginEngine, PluginSettings, Recipient};

use crate::cost;
use crate::load::{self, percentile_ms};
use crate::report::Figure;
use crate::setup::{self, Baseline, BenchEnv, ServerProcess, ServerSpec, Sink, ADMIN_TOKEN};
use crate::{Only, Scale};

/// The groups `--only` can pick, in the order they run.
pub const GROUPS: [&str; 7] = [
    "dispatch",
    "accept",
    "burst",
    "idle",
    "swap",
    "replicas",
    "schedules",
];

pub async fn run_all(env: &BenchEnv, scale: Scale, only: &Only) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for group in GROUPS {
        if !only.runs(group) {
            continue;
        }
        println!("{group} …");
        match group {
            "dispatch" => figures.push(dispatch(env, scale).await?),
            "accept" => figures.extend(accept_latency(env, scale).await?),
            "burst" => figures.extend(burst(env, scale).await?),
            "idle" => figures.extend(idle_and_startup(env).await?),
            "swap" => figures.push(hot_swap(env, scale).await?),
            "replicas" => figures.push(replicas(env, scale).await?),
            _ => figures.push(schedules(env, scale).await?),
        }
    }
    Ok(figures)
}

fn notification() -> Notification {
    Notification {
        id: "0b9f6c1e-3f55-4a7e-9d0e-6a1b2c3d4e5f".to_owned(),
        channel: Channel::Sms,
        recipient: Recipient {
            id: "UALICE".to_owned(),
            email: "alice@example.com".to_owned(),
            username: "alice".to_owned(),
            name: "Alice".to_owned(),
            phone_number: Some("+4915100000001".to_owned()),
            role: "user".to_owned(),
            attributes: Vec::new(),
        },
        message: "Grafana OnCall: Alert group #1\"Disk full\" from stack: \"bench\", integration: Bench, alerts registered: 1.".to_owned(),
        alert_group: None,
        attempt: 1,
        created_at: "2026-11-24T10:00:00+00:00".to_owned(),
        reply_url: None,
        reply_code: None,
    }
}

/// What a plugin's `notify` does at its least, as plain Rust: the floor under any
/// dispatch.
#[inline(never)]
fn plain_notify(notification: &Notification) -> Option<String> {
    Some(notification.id.clone())
}

fn median_us(samples: &[Duration]) -> f64 {
    percentile_ms(samples, 50.0) * 1000.0
}

async fn dispatch(env: &BenchEnv, scale: Scale) -> anyhow::Result<Figure> {
    let iterations = scale.pick(500, 5000);
    let engine = PluginEngine::new(&SandboxConfig::default())?;
    let settings = PluginSettings::from_table("noop", &toml::Table::new(), Path::new("."))
        .map_err(anyhow::Error::msg)?;
    let bytes = std::fs::read(env.test_plugins.join("test-plugin.wasm"))
        .context("target/test-plugins/test-plugin.wasm (scripts/build-plugins --tests)")?;
    let plugin = LoadedPlugin::load(&engine, settings, bytes, None).await?;
    let message = notification();
    for _ in 0..100 {
        if !matches!(plugin.notify(&message).await, AttemptOutcome::Delivered(_)) {
            anyhow::bail!("the no-op plugin did not deliver");
        }
    }
    let mut fresh = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        black_box(plugin.notify(black_box(&message)).await);
        fresh.push(started.elapsed());
    }
    let reused = plugin
        .time_calls_in_one_instance(&message, iterations)
        .await?;
    let mut plain = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        black_box(plain_notify(black_box(&message)));
        plain.push(started.elapsed());
    }
    let (fresh_us, reused_us, plain_us) =
        (median_us(&fresh), median_us(&reused), median_us(&plain));
    Ok(Figure {
        name: "plugin dispatch (median)",
        measured: format!("{fresh_us:.1} µs, fresh instance"),
        baseline: format!("{reused_us:.1} µs reused instance, {plain_us:.2} µs plain fn"),
        target: "fresh ≤ 4× reused".to_owned(),
        met: Some(fresh_us <= 4.0 * reused_us),
        values: json!({"fresh_us": fresh_us, "reused_us": reused_us, "plain_us": plain_us,
                       "fresh_over_reused": fresh_us / reused_us.max(f64::EPSILON),
                       "fresh_p99_us": percentile_ms(&fresh, 99.0) * 1000.0, "iterations": iterations}),
    })
}

fn webhook_to(sink: &Sink) -> String {
    format!(
        "[plugin.webhook]\nurl = \"{}/hook\"\nallowed_hosts = [\"127.0.0.1\"]\n",
        sink.url
    )
}

/// How to start servers on a fresh database delivering through webhook.wasm to `sink`,
/// with the plugin and cache folders they use and the database's URL.
async fn webhook_spec(
    env: &BenchEnv,
    sink: &Sink,
    delivery: &str,
) -> anyhow::Result<(ServerSpec, tempfile::TempDir, tempfile::TempDir, String)> {
    let db = env.fresh_database().await?;
    let plugins = setup::plugin_dir(&[("webhook.wasm", env.plugins.join("webhook.wasm"))])?;
    let cache = tempfile::tempdir()?;
    let spec = ServerSpec {
        db: db.clone(),
        plugins_dir: plugins.path().to_owned(),
        cache_dir: cache.path().to_owned(),
        extra: format!("{}[delivery]\n{delivery}\n", webhook_to(sink)),
    };
    Ok((spec, plugins, cache, db))
}

/// A server on a fresh database delivering through webhook.wasm to `sink`.
async fn webhook_server(
    env: &BenchEnv,
    sink: &Sink,
    delivery: &str,
) -> anyhow::Result<(ServerProcess, tempfile::TempDir, tempfile::TempDir, String)> {
    let (spec, plugins, cache, db) = webhook_spec(env, sink, delivery).await?;
    let (server, _) = ServerProcess::start(env, &spec).await?;
    setup::add_user(&db).await?;
    Ok((server, plugins, cache, db))
}

/// A server with no plugin: notifications are stored and wait, nothing is delivered.
async fn accept_only_server(
    env: &BenchEnv,
) -> anyhow::Result<(ServerProcess, tempfile::TempDir, tempfile::TempDir, String)> {
    let db = env.fresh_database().await?;
    let plugins = tempfile::tempdir()?;
    let cache = tempfile::tempdir()?;
    let spec = ServerSpec {
        db: db.clone(),
        plugins_dir: plugins.path().to_owned(),
        cache_dir: cache.path().to_owned(),
        extra: "[delivery]\nanswer_within = \"0ms\"\n".to_owned(),
    };
    let (server, _) = ServerProcess::start(env, &spec).await?;
    setup::add_user(&db).await?;
    Ok((server, plugins, cache, db))
}

async fn accept_latency(env: &BenchEnv, scale: Scale) -> anyhow::Result<Vec<Figure>> {
    let rate = 500.0;
    let duration = Duration::from_secs(scale.pick(4, 20));
    let warm_up = 300;

    let baseline_db = env.fresh_database().await?;
    let baseline = Baseline::start(&baseline_db).await?;
    load::closed_loop(std::slice::from_ref(&baseline.url), warm_up, 16).await;
    let bare = load::open_loop(&baseline.url, rate, duration).await;

    let mut figures = Vec::new();
    for (name, delivery, target, plugin) in [
        (
            "accept latency @500/s, answer at commit",
            "answer_within = \"0ms\"",
            true,
            true,
        ),
        (
            "accept latency @500/s, default (after 1st round)",
            "",
            false,
            true,
        ),
        (
            "accept latency @500/s, no plugin (accept alone)",
            "answer_within = \"0ms\"",
            false,
            false,
        ),
    ] {
        let sink = Sink::start().await?;
        let (server, _plugins, _cache, _db) = if plugin {
            webhook_server(env, &sink, delivery).await?
        } else {
            accept_only_server(env).await?
        };
        let url = format!("{}/api/v1/send_sms", server.base);
        load::closed_loop(std::slice::from_ref(&url), warm_up, 16).await;
        let ours = load::open_loop(&url, rate, duration).await;
        server.stop().await;
        let (p50, p99) = (ours.percentile_ms(50.0), ours.percentile_ms(99.0));
        let (b50, b99) = (bare.percentile_ms(50.0), bare.percentile_ms(99.0));
        let met = target.then_some(p50 <= 2.0 * b50 && p99 <= 3.0 * b99 && ours.errors == 0);
        figures.push(Figure {
            name,
            measured: format!(
                "p50 {p50:.2} ms, p99 {p99:.2} ms, {} errors",
                ours.errors
            ),
            baseline: format!("bare insert+commit: p50 {b50:.2} ms, p99 {b99:.2} ms"),
            target: if target {
                "p50 ≤ 2×, p99 ≤ 3× baseline".to_owned()
            } else {
                "— (reported)".to_owned()
            },
            met,
            values: json!({"p50_ms": p50, "p99_ms": p99, "errors": ours.errors, "requests": ours.ok(),
                           "baseline_p50_ms": b50, "baseline_p99_ms": b99, "baseline_errors": bare.errors,
                           "rate": rate, "seconds": duration.as_secs()}),
        });
    }
    Ok(figures)
}

async fn burst(env: &BenchEnv, scale: Scale) -> anyhow::Result<Vec<Figure>> {
    let total = scale.pick(1000, 5000);
    let in_flight = 64;
    let cluster = cost::Cluster::from_env();
    let baseline_db = env.fresh_database().await?;
    let baseline = Baseline::start(&baseline_db).await?;
    let (bare_pg_before, bare_threads_before) = (
        cluster.cpu_seconds(),
        cost::thread_cpu_seconds(setup::BASELINE_THREADS),
    );
    let bare = load::closed_loop(std::slice::from_ref(&baseline.url), total, in_flight).await;
    let bare_cpu_ms = cpu_ms_per(
        bare_pg_before.zip(cluster.cpu_seconds()),
        cost::thread_cpu_seconds(setup::BASELINE_THREADS) - bare_threads_before,
        bare.ok(),
    );
    drop(baseline);

    let sink = Sink::start().await?;
    let (server, _plugins, _cache, db) =
        webhook_server(env, &sink, "answer_within = \"0ms\"").await?;
    let url = format!("{}/api/v1/send_sms", server.base);
    let before_rss = server.rss_mib();
    let work_before = cost::db_work(env.admin_url(), &db).await?;
    let (busy_before, total_before) = setup::machine_cpu_ticks();
    let server_cpu_before = server.cpu_seconds();
    let pg_before = cluster.cpu_seconds();
    let started = Instant::now();
    let accepted = load::closed_loop(std::slice::from_ref(&url), total, in_flight).await;
    let accept_done = started.elapsed();
    let drained = sink
        .wait_delivered(accepted.ok(), Duration::from_secs(300))
        .await;
    let all_delivered = drained.map(|at| at - started);
    let (busy_after, total_after) = setup::machine_cpu_ticks();
    let pg_cpu = pg_before.zip(cluster.cpu_seconds());
    let machine_busy = 100.0 * (busy_after - busy_before) / (total_after - total_before).max(1.0);
    let wall = started.elapsed().as_secs_f64();
    let server_cpu_s = server.cpu_seconds() - server_cpu_before;
    // Of one core: 200 % is both cores of this machine.
    let server_cpu = 100.0 * server_cpu_s / wall;
    let peak = server.peak_rss_mib();
    server.stop().await;
    let work = settled_db_work(env.admin_url(), &db)
        .await?
        .since(&work_before);
    let delivered = sink.delivered();
    let ours_cpu_ms = cpu_ms_per(pg_cpu, server_cpu_s, delivered);
    let per_page = |count: f64| count / (delivered.max(1) as f64);
    let (statements, commits) = (per_page(work.statements), per_page(work.commits));
    let e2e_rate = all_delivered.map_or(0.0, |t| delivered as f64 / t.as_secs_f64());
    let bare_rate = bare.rate();
    let lost = accepted.ok().saturating_sub(delivered);
    let cost_figures = vec![
        Figure {
            name: "PostgreSQL work per delivered page",
            measured: format!("{statements:.2} statements, {commits:.2} commits"),
            baseline: "bare insert+commit: 1 statement, 1 commit".to_owned(),
            target: "≤ 2.5 statements, ≤ 1.3 commits".to_owned(),
            met: Some(statements <= 2.5 && commits <= 1.3),
            values: json!({"statements_per_page": statements, "commits_per_page": commits,
                           "statements": work.statements, "commits": work.commits, "delivered": delivered,
                           "statements_by_query": work.by_statement}),
        },
        Figure {
            name: "CPU per delivered page (server + PostgreSQL)",
            measured: ours_cpu_ms.map_or(
                "not measured (no EMU_BENCH_PG_DATA)".to_owned(),
                |(total, pg)| format!("{total:.3} ms ({pg:.3} ms of it PostgreSQL)"),
            ),
            baseline: bare_cpu_ms.map_or("—".to_owned(), |(total, pg)| {
                format!("bare insert+commit: {total:.3} ms a request ({pg:.3} ms PostgreSQL)")
            }),
            target: "— (reported)".to_owned(),
            met: None,
            values: json!({"cpu_ms_per_page": ours_cpu_ms.map(|(total, _)| total),
                           "pg_cpu_ms_per_page": ours_cpu_ms.map(|(_, pg)| pg),
                           "baseline_cpu_ms_per_request": bare_cpu_ms.map(|(total, _)| total),
                           "baseline_pg_cpu_ms_per_request": bare_cpu_ms.map(|(_, pg)| pg)}),
        },
    ];
    let mut figures = vec![
        Figure {
            name: "end-to-end throughput via webhook.wasm",
            measured: format!(
                "{e2e_rate:.0} notifications/s (machine CPU {machine_busy:.0} % busy; server {server_cpu:.0} % of a core)"
            ),
            baseline: format!("bare insert+commit max: {bare_rate:.0} req/s"),
            target: "≥ 50 % of baseline and ≥ 1,000/s".to_owned(),
            met: Some(e2e_rate >= 0.5 * bare_rate && e2e_rate >= 1000.0),
            values: json!({"rate": e2e_rate, "baseline_rate": bare_rate, "in_flight": in_flight, "total": total,
                           "machine_cpu_busy_percent": machine_busy, "server_cpu_percent_of_core": server_cpu}),
        },
        Figure {
            name: "burst of SMS, as fast as the client can",
            measured: format!(
                "{}/{total} accepted in {:.1} s, {delivered} delivered, drained at {}",
                accepted.ok(),
                accept_done.as_secs_f64(),
                all_delivered.map_or("never".to_owned(), |t| format!("{:.1} s", t.as_secs_f64()))
            ),
            baseline: "—".to_owned(),
            target: "all accepted, all delivered".to_owned(),
            met: Some(accepted.ok() == total && lost == 0),
            values: json!({"total": total, "accepted": accepted.ok(), "errors": accepted.errors,
                           "delivered": delivered, "provider_requests": sink.requests(),
                           "accept_seconds": accept_done.as_secs_f64(),
                           "drain_seconds": all_delivered.map(|t| t.as_secs_f64())}),
        },
        Figure {
            name: "memory: peak RSS during the burst",
            measured: format!("{peak:.0} MiB (idle before: {before_rss:.0} MiB)"),
            baseline: "—".to_owned(),
            target: "≤ 250 MiB".to_owned(),
            met: Some(peak <= 250.0),
            values: json!({"peak_mib": peak, "before_mib": before_rss}),
        },
    ];
    figures.extend(cost_figures);
    Ok(figures)
}

/// CPU milliseconds per item of `count`: the cluster's (`pg`, before and after) plus
/// `own` seconds; with the PostgreSQL share apart. `None` when the cluster's CPU
/// could not be read.
fn cpu_ms_per(pg: Option<(f64, f64)>, own: f64, count: usize) -> Option<(f64, f64)> {
    let (before, after) = pg?;
    let count = count.max(1) as f64;
    let pg_ms = 1000.0 * (after - before) / count;
    Some((pg_ms + 1000.0 * own / count, pg_ms))
}

/// The database's counters once its backends have flushed them: they report when idle
/// or at exit, so read until two readings agree (at most a few seconds).
async fn settled_db_work(admin_url: &str, db: &str) -> anyhow::Result<cost::DbWork> {
    let mut last = cost::db_work(admin_url, db).await?;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = cost::db_work(admin_url, db).await?;
        if now.commits == last.commits && now.statements == last.statements {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// Settings under which every first-party plugin loads.
fn all_plugins_config() -> &'static str {
    "[plugin.webhook]\nurl = \"http://127.0.0.1:9/hook\"\nallowed_hosts = [\"127.0.0.1\"]\n\
     [plugin.telegram]\nbot_token = \"1:bench\"\n\
     [plugin.twilio]\naccount_sid = \"ACbench\"\nauth_token = \"bench\"\nfrom = \"+4915100000009\"\n\
     [plugin.slack]\nwebhook_url = \"http://127.0.0.1:9/hook\"\n\
     [plugin.ntfy]\n[plugin.stdout]\n"
}

async fn idle_and_startup(env: &BenchEnv) -> anyhow::Result<Vec<Figure>> {
    let names = ["webhook", "telegram", "twilio", "ntfy", "slack", "stdout"];
    let files: Vec<(String, std::path::PathBuf)> = names
        .iter()
        .map(|name| {
            (
                format!("{name}.wasm"),
                env.plugins.join(format!("{name}.wasm")),
            )
        })
        .collect();
    let file_refs: Vec<(&str, std::path::PathBuf)> = files
        .iter()
        .map(|(name, path)| (name.as_str(), path.clone()))
        .collect();
    let plugins = setup::plugin_dir(&file_refs)?;
    let empty = tempfile::tempdir()?;
    let cache = tempfile::tempdir()?;
    let db = env.fresh_database().await?;
    let spec = |dir: &Path| ServerSpec {
        db: db.clone(),
        plugins_dir: dir.to_owned(),
        cache_dir: cache.path().to_owned(),
        extra: all_plugins_config().to_owned(),
    };
    // Cold: nothing compiled yet. Warm: the same files again, from the cache.
    let (cold_server, cold) = ServerProcess::start(env, &spec(plugins.path())).await?;
    cold_server.stop().await;
    let (server, warm) = ServerProcess::start(env, &spec(plugins.path())).await?;
    let loaded = setup::client()
        .get(format!("{}/admin/api/v1/plugins", server.base))
        .header("Authorization", ADMIN_TOKEN)
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?;
    let loaded_count = loaded["results"]
        .as_array()
        .map_or(0, |all| all.iter().filter(|p| p["loaded"] == true).count());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with_plugins = server.rss_mib();
    server.stop().await;
    let no_plugins_spec = ServerSpec {
        extra: String::new(),
        ..spec(empty.path())
    };
    let (bare_server, bare_start) = ServerProcess::start(env, &no_plugins_spec).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let without = bare_server.rss_mib();
    bare_server.stop().await;
    Ok(vec![
        Figure {
            name: "memory: idle RSS, every first-party plugin",
            measured: format!("{with_plugins:.0} MiB ({loaded_count} plugins loaded)"),
            baseline: format!("no plugins: {without:.0} MiB"),
            target: "≤ 100 MiB".to_owned(),
            met: Some(with_plugins <= 100.0 && loaded_count == names.len()),
            values: json!({"with_plugins_mib": with_plugins, "without_mib": without, "loaded": loaded_count}),
        },
        Figure {
            name: "start-up to /readyz, 6 plugins",
            measured: format!(
                "warm cache {:.2} s, cold {:.2} s",
                warm.as_secs_f64(),
                cold.as_secs_f64()
            ),
            baseline: format!("no plugins: {:.2} s", bare_start.as_secs_f64()),
            target: "warm ≤ 1 s".to_owned(),
            met: Some(warm <= Duration::from_secs(1)),
            values: json!({"warm_s": warm.as_secs_f64(), "cold_s": cold.as_secs_f64(), "no_plugins_s": bare_start.as_secs_f64()}),
        },
    ])
}

async fn live_version(base: &str) -> Option<String> {
    let answer: serde_json::Value = setup::client()
        .get(format!("{base}/admin/api/v1/plugins"))
        .header("Authorization", ADMIN_TOKEN)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    answer["results"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "echo" && p["loaded"] == true)
        .and_then(|p| p["version"].as_str().map(str::to_owned))
}

async fn hot_swap(env: &BenchEnv, scale: Scale) -> anyhow::Result<Figure> {
    let renames = scale.pick(5, 20);
    let rate = 500.0;
    let duration = Duration::from_secs(scale.pick(6, 22));
    let v1 = env.test_plugins.join("test-plugin.wasm");
    let v2 = env.test_plugins.join("test-plugin-v2.wasm");
    let sink = Sink::start().await?;
    let db = env.fresh_database().await?;
    let plugins = setup::plugin_dir(&[("echo.wasm", v1.clone())])?;
    let cache = tempfile::tempdir()?;
    let spec = ServerSpec {
        db: db.clone(),
        plugins_dir: plugins.path().to_owned(),
        cache_dir: cache.path().to_owned(),
        extra: format!(
            "[plugin.echo]\nurl = \"{}/hook\"\nallowed_hosts = [\"127.0.0.1\"]\n[delivery]\nanswer_within = \"0ms\"\n",
            sink.url
        ),
    };
    let (server, _) = ServerProcess::start(env, &spec).await?;
    setup::add_user(&db).await?;
    let url = format!("{}/api/v1/send_sms", server.base);
    let flow = tokio::spawn(async move { load::open_loop(&url, rate, duration).await });
    let gap = duration / (renames as u32 + 1);
    let mut live_after = Vec::new();
    for n in 0..renames {
        tokio::time::sleep(gap).await;
        let (file, version) = if n % 2 == 0 {
            (&v2, "2.0.0")
        } else {
            (&v1, "1.0.0")
        };
        let aside = plugins.path().join("echo.wasm.partial");
        std::fs::copy(file, &aside)?;
        let renamed = Instant::now();
        std::fs::rename(&aside, plugins.path().join("echo.wasm"))?;
        let deadline = renamed + Duration::from_secs(10);
        loop {
            if live_version(&server.base).await.as_deref() == Some(version) {
                live_after.push(renamed.elapsed());
                break;
            }
            if Instant::now() > deadline {
                live_after.push(Duration::from_secs(10));
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let flow = flow.await?;
    sink.wait_delivered(flow.ok(), Duration::from_secs(60))
        .await;
    server.stop().await;
    let lost = flow.ok().saturating_sub(sink.delivered());
    let slowest = live_after.iter().max().copied().unwrap_or_default();
    Ok(Figure {
        name: "hot swap: renames under 500/s",
        measured: format!(
            "{renames} renames: {} failed, {lost} lost, live ≤ {:.0} ms after each",
            flow.errors,
            slowest.as_secs_f64() * 1000.0
        ),
        baseline: "—".to_owned(),
        target: "0 failed, 0 lost, live ≤ 1 s".to_owned(),
        met: Some(flow.errors == 0 && lost == 0 && slowest <= Duration::from_secs(1)),
        values: json!({"renames": renames, "requests": flow.ok() + flow.errors, "failed": flow.errors,
                       "lost": lost, "live_after_ms": live_after.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>()}),
    })
}

async fn replicas(env: &BenchEnv, scale: Scale) -> anyhow::Result<Figure> {
    let total = scale.pick(600, 3000);
    let mut rates = Vec::new();
    for count in 1..=3 {
        let sink = Sink::start().await?;
        let (spec, _plugins, _cache, db) =
            webhook_spec(env, &sink, "answer_within = \"0ms\"").await?;
        let mut servers = Vec::new();
        for _ in 0..count {
            servers.push(ServerProcess::start(env, &spec).await?.0);
        }
        setup::add_user(&db).await?;
        let urls: Vec<String> = servers
            .iter()
            .map(|s| format!("{}/api/v1/send_sms", s.base))
            .collect();
        let started = Instant::now();
        let accepted = load::closed_loop(&urls, total, 64).await;
        // A rate of 0/s would otherwise read as a figure, not as a broken set-up.
        anyhow::ensure!(
            accepted.ok() > 0,
            "replicas: no page was accepted ({} errors)",
            accepted.errors
        );
        let done = sink
            .wait_delivered(accepted.ok(), Duration::from_secs(300))
            .await
            .map(|at| at - started);
        for server in servers {
            server.stop().await;
        }
        let rate = done.map_or(0.0, |t| sink.delivered() as f64 / t.as_secs_f64());
        rates.push((count, rate, sink.delivered(), sink.requests()));
    }
    Ok(Figure {
        name: "replicas on one database (end to end)",
        measured: rates
            .iter()
            .map(|(count, rate, _, _)| format!("{count}: {rate:.0}/s"))
            .collect::<Vec<_>>()
            .join(", "),
        baseline: format!("1 replica: {:.0}/s", rates[0].1),
        target: "— (reported)".to_owned(),
        met: None,
        values: json!(rates.iter().map(|(count, rate, delivered, requests)| json!({
            "replicas": count, "rate": rate, "delivered": delivered, "provider_requests": requests
        })).collect::<Vec<_>>()),
    })
}

/// A two-week export like OnCall's: one VEVENT per daily shift, alice and bob in turn.
fn export_body(now: chrono::DateTime<chrono::Utc>) -> String {
    let mut body = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID://Grafana Labs//Grafana On-Call//\r\nX-WR-CALNAME:Bench\r\n",
    );
    let first = now - chrono::Duration::days(14);
    for day in 0..28 {
        let start = first + chrono::Duration::days(day);
        let end = start + chrono::Duration::days(1);
        let who = if day % 2 == 0 { "alice" } else { "bob" };
        body.push_str(&format!(
            "BEGIN:VEVENT\r\nSUMMARY:{who}\r\nDTSTART;VALUE=DATE-TIME:{}\r\nDTEND;VALUE=DATE-TIME:{}\r\n\
             DTSTAMP;VALUE=DATE-TIME:{}\r\nUID:OBENCH{day}\r\nPRIORITY:0\r\nEND:VEVENT\r\n",
            start.format("%Y%m%dT%H%M%SZ"),
            end.format("%Y%m%dT%H%M%SZ"),
            now.format("%Y%m%dT%H%M%SZ"),
        ));
    }
    body.push_str("END:VCALENDAR\r\n");
    body
}

/// Serves the same export at every path, with no validator, so every poll downloads
/// and parses it in full (the expensive case).
async fn serve_exports(body: String) -> anyhow::Result<String> {
    let body = bytes::Bytes::from(body);
    setup::serve(move |_request| {
        let body = body.clone();
        async move { hyper::Response::new(http_body_util::Full::new(body)) }
    })
    .await
}

async fn polled(db: &str) -> anyhow::Result<i64> {
    let (client, connection) = tokio_postgres::connect(db, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT count(*) FROM schedules WHERE last_polled_at IS NOT NULL",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

async fn schedules(env: &BenchEnv, scale: Scale) -> anyhow::Result<Figure> {
    let count: i64 = 1000;
    let interval = Duration::from_secs(scale.pick(15, 60));
    let exports = serve_exports(export_body(chrono::Utc::now())).await?;
    let mut extra = format!("[schedules]\npoll_interval = \"{}s\"\n", interval.as_secs());
    for n in 0..count {
        extra.push_str(&format!(
            "[grafana.oncall.schedules.s{n}]\nical_url = \"{exports}/api/v1/schedules/S{n}/export?token=t\"\n"
        ));
    }
    let db = env.fresh_database().await?;
    let plugins = tempfile::tempdir()?;
    let cache = tempfile::tempdir()?;
    let spec = ServerSpec {
        db: db.clone(),
        plugins_dir: plugins.path().to_owned(),
        cache_dir: cache.path().to_owned(),
        extra,
    };
    let (server, _) = ServerProcess::start(env, &spec).await?;
    // The first round of polls registers and reads every schedule; measure the
    // steady state after it.
    let deadline = Instant::now() + interval * 3;
    while polled(&db).await.unwrap_or(0) < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first_round = polled(&db).await?;
    let (cpu_before, wall_before) = (server.cpu_seconds(), Instant::now());
    tokio::time::sleep(interval * 2).await;
    let cpu = server.cpu_seconds() - cpu_before;
    let wall = wall_before.elapsed().as_secs_f64();
    server.stop().await;
    let share = 100.0 * cpu / wall;
    Ok(Figure {
        name: "schedules: 1,000 exports, each polled every interval",
        measured: format!(
            "{share:.1} % of one core (interval {} s, {first_round}/{count} polled in the first round)",
            interval.as_secs()
        ),
        baseline: "—".to_owned(),
        target: "≤ 5 % of one core at 60 s".to_owned(),
        met: (interval == Duration::from_secs(60)).then_some(share <= 5.0 && first_round == count),
        values: json!({"schedules": count, "interval_s": interval.as_secs(), "cpu_percent": share,
                       "cpu_s": cpu, "wall_s": wall, "first_round_polled": first_round}),
    })
}
