//! `emu-oncall check`: what a deploy needs, checked before it: the configuration, the
//! database, every plugin with its map, every route's plugins, every schedule's export,
//! and the OnCall API when incident details are on. Prints one line per check and
//! fails when any check fails. Nothing is written: no migration, no notification, no
//! callback.

use std::sync::Arc;
use std::time::Duration;

use emu_oncall::config::{Config, ConfigSource};
use emu_oncall::delivery::plan;
use emu_oncall::metrics::Metrics;
use emu_oncall::model::Channel;
use emu_oncall::plugins::PluginRegistry;
use emu_oncall::schedules::{self, fetch};
use emu_oncall::store::{migrations, Store};

/// How long the database and each URL get.
const WAIT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Report {
    failures: usize,
}

impl Report {
    fn ok(&mut self, what: &str, detail: impl std::fmt::Display) {
        println!("ok    {what:<28} {detail}");
    }

    fn fail(&mut self, what: &str, detail: impl std::fmt::Display) {
        self.failures += 1;
        println!("FAIL  {what:<28} {detail}");
    }

    fn note(&mut self, what: &str, detail: impl std::fmt::Display) {
        println!("-     {what:<28} {detail}");
    }
}

/// Runs every check; `Ok(true)` when all passed.
pub async fn run(source: &ConfigSource) -> anyhow::Result<bool> {
    let mut report = Report::default();
    let config = match source.load() {
        Ok(config) => {
            let file = source
                .file
                .as_ref()
                .map(|file| file.display().to_string())
                .unwrap_or_else(|| "(defaults and environment)".to_owned());
            report.ok(
                "configuration",
                format!("{file}: every key known, every value valid"),
            );
            config
        }
        Err(err) => {
            report.fail("configuration", err);
            return Ok(false);
        }
    };
    match config.check_can_serve() {
        Ok(()) => {
            let weak = crate::config::tokens::weak_but_allowed(&config.app);
            if weak.is_empty() {
                report.ok("tokens", "set, none from the examples, none short")
            } else {
                report.ok(
                    "tokens",
                    format!(
                        "set; WARNING: {} shorter than {} characters (app.allow_weak_tokens = true)",
                        weak.join(" and "),
                        crate::config::tokens::MIN_TOKEN_LEN
                    ),
                )
            }
        }
        Err(err) => report.fail("tokens", err),
    }
    check_database(&config, &mut report).await;
    check_plugins(&config, &mut report).await;
    check_schedules(&config, &mut report).await;
    check_incident_details(&config, &mut report).await;
    if report.failures == 0 {
        println!("\nall checks passed");
    } else {
        println!("\n{} check(s) failed", report.failures);
    }
    Ok(report.failures == 0)
}

async fn check_database(config: &Config, report: &mut Report) {
    let store = match Store::new(&config.startup.db) {
        Ok(store) => store,
        Err(err) => return report.fail("database", err),
    };
    if let Err(err) = store.wait_until_reachable(WAIT).await {
        return report.fail("database", err);
    }
    let latest = migrations::latest_version();
    match migrations::current_version(&store).await {
        Ok(version) if version == latest => {
            report.ok("database", format!("reachable, schema at {version}"))
        }
        Ok(version) => report.ok(
            "database",
            format!("reachable, schema at {version}; the server migrates it to {latest} at start"),
        ),
        Err(err) => report.fail("database", format!("reachable, but: {err}")),
    }
}

async fn check_plugins(config: &Config, report: &mut Report) {
    let cache_dir = config.startup.plugin_cache_dir.trim();
    if cache_dir.is_empty() {
        report.ok("plugin cache", "off (app.plugin_cache_dir is blank)");
    } else {
        match emu_oncall::plugins::cache::check_dir(std::path::Path::new(cache_dir)) {
            Ok(()) => report.ok("plugin cache", format!("{cache_dir}: private to this user")),
            Err(reason) => report.fail(
                "plugin cache",
                format!("{reason}; the server would run without it"),
            ),
        }
    }
    let registry = match PluginRegistry::new(config, Arc::new(Metrics::new()), None) {
        Ok(registry) => registry,
        Err(err) => return report.fail("plugin engine", format!("{err:#}")),
    };
    registry.scan().await;
    let statuses = registry.statuses();
    if statuses.is_empty() {
        report.fail(
            "plugins",
            format!(
                "none in {} and none configured: nothing can be delivered",
                registry.plugins_dir().display()
            ),
        );
    }
    for status in &statuses {
        let what = format!("plugin {}", status.name);
        match (&status.last_error, status.enabled, status.loaded) {
            (Some(error), _, _) => report.fail(&what, error),
            (None, false, _) => report.note(&what, "disabled"),
            (None, true, true) => {
                let channels: Vec<&str> = status.channels.iter().map(|c| c.as_str()).collect();
                report.ok(
                    &what,
                    format!(
                        "{} {} serves {}",
                        status.file,
                        status.version.as_deref().unwrap_or("?"),
                        channels.join(",")
                    ),
                );
            }
            (None, true, false) => report.fail(&what, "not loaded"),
        }
    }
    for (channel, route) in &config.routes {
        let missing: Vec<&String> = route
            .plugins
            .iter()
            .filter(|name| registry.get(name).is_none())
            .collect();
        if missing.is_empty() {
            report.ok(&format!("route {channel}"), route.plugins.join(", "));
        } else {
            let names: Vec<&str> = missing.iter().map(|name| name.as_str()).collect();
            report.fail(
                &format!("route {channel}"),
                format!("names plugins that are not loaded: {}", names.join(", ")),
            );
        }
    }
    check_verification(config, &registry, report);
}

/// In `code` mode people confirm their numbers with codes sent through the sms route.
fn check_verification(config: &Config, registry: &PluginRegistry, report: &mut Report) {
    if config.verification.mode.trusts_every_number() {
        return report.note(
            "verification",
            "trust: every stored number counts as verified",
        );
    }
    let sms = plan(config, registry, Channel::Sms, None);
    if sms.plugins.is_empty() {
        report.fail(
            "verification",
            format!(
                "code mode, but no plugin can send the codes: {}",
                sms.waiting_reason()
            ),
        );
    } else {
        let names: Vec<&str> = sms
            .plugins
            .iter()
            .map(|plugin| plugin.name.as_str())
            .collect();
        report.ok(
            "verification",
            format!("code mode: codes go out through {}", names.join(", ")),
        );
    }
}

async fn check_schedules(config: &Config, report: &mut Report) {
    let schedules = &config.grafana.oncall.schedules;
    if schedules.is_empty() {
        return;
    }
    let client = match emu_oncall::http_client::client(config.startup.fetch_timeout.0.min(WAIT)) {
        Ok(client) => client,
        Err(err) => return report.fail("schedules", err),
    };
    let now = chrono::Utc::now();
    for (key, schedule) in schedules {
        let what = format!("schedule {key}");
        let url = schedules::export_url(config, schedule);
        let text = match fetch::read(&url, &client, config.limits.max_response_bytes).await {
            Ok(text) => text,
            Err(err) => {
                report.fail(&what, err);
                continue;
            }
        };
        match schedules::parse(&text) {
            Ok(calendar) if calendar.zone_error().is_some() => report.fail(
                &what,
                format!(
                    "{}: who is on call cannot be told: {}",
                    emu_oncall::http_client::redacted(&url),
                    calendar.zone_error().unwrap_or_default()
                ),
            ),
            Ok(calendar) => {
                let (shifts, errors) = schedules::occurrences(
                    &calendar,
                    now - chrono::Duration::days(1),
                    now + chrono::Duration::days(1),
                );
                let on_call = schedules::on_call_at(&shifts, now);
                let mut detail = format!(
                    "{}: on call now: {}",
                    emu_oncall::http_client::redacted(&url),
                    if on_call.is_empty() {
                        "nobody".to_owned()
                    } else {
                        on_call.join(", ")
                    }
                );
                let skipped = errors.len() + calendar.skipped.len();
                if skipped > 0 {
                    detail.push_str(&format!(" ({skipped} part(s) not understood)"));
                }
                report.ok(&what, detail);
            }
            Err(err) => report.fail(
                &what,
                format!("{}: {err}", emu_oncall::http_client::redacted(&url)),
            ),
        }
    }
}

async fn check_incident_details(config: &Config, report: &mut Report) {
    let oncall = &config.grafana.oncall;
    if !config.startup.incident_details {
        return;
    }
    let api = match emu_oncall::incidents::OnCallApi::new(
        &oncall.url,
        &config.startup.oncall_header_token,
        WAIT,
        config.limits.max_response_bytes,
    ) {
        Ok(api) => api,
        Err(err) => return report.fail("incident details", err),
    };
    match api.recent_alert_groups().await {
        Ok(groups) => report.ok(
            "incident details",
            format!(
                "{}api/v1/alert_groups/ answers ({} recent groups)",
                oncall.url,
                groups.len()
            ),
        ),
        Err(err) => report.fail("incident details", err),
    }
}
