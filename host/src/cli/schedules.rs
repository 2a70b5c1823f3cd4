//! `schedules oncall`: who is on call at given instants, from an export file or URL.

use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use clap::Subcommand;

use emu_oncall::config::Config;
use emu_oncall::schedules::{fetch, occurrences, on_call_at, parse};

#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// Print one JSON line per instant: {"at": "...", "on_call": ["alice", "bob"]}.
    Oncall {
        /// An iCal file, or an http(s) export URL.
        #[arg(long)]
        ical: String,
        /// An RFC 3339 instant (repeatable); now when none is given.
        #[arg(long = "at", value_name = "RFC3339")]
        at: Vec<String>,
    },
    /// The configured schedules with their last poll, who is on call and the last error.
    List {
        #[arg(long)]
        json: bool,
    },
}

pub async fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let store = emu_oncall::app::connect_and_migrate(config).await?;
    let states = store.list_schedules().await?;
    let mut rows = Vec::new();
    for (key, schedule) in &config.grafana.oncall.schedules {
        let state = states.iter().find(|state| &state.name == key);
        rows.push(serde_json::json!({
            "schedule": key,
            "name": schedule.name,
            "transport": format!("{:?}", schedule.transport).to_lowercase(),
            "url": emu_oncall::http_client::redacted(&emu_oncall::schedules::export_url(config, schedule)),
            "last_polled_at": state.and_then(|s| s.last_polled_at),
            "on_call": state.and_then(|s| s.on_call.clone()),
            "last_error": state.and_then(|s| s.last_error.clone()),
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no schedules configured (grafana.oncall.schedules.<NAME>.ical_url)");
    }
    for row in rows {
        println!(
            "{}: on call {}; last poll {}; {}",
            row["schedule"].as_str().unwrap_or(""),
            row["on_call"]
                .as_array()
                .map(|names| names
                    .iter()
                    .filter_map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .map(|s| if s.is_empty() { "nobody".to_owned() } else { s })
                .unwrap_or_else(|| "unknown".to_owned()),
            row["last_polled_at"].as_str().unwrap_or("never"),
            row["last_error"]
                .as_str()
                .map(|e| format!("last error: {e}"))
                .unwrap_or_else(|| "ok".to_owned())
        );
    }
    Ok(())
}

pub async fn run(config: &Config, command: SchedulesCommand) -> anyhow::Result<()> {
    let (ical, at) = match command {
        SchedulesCommand::List { json } => return list(config, json).await,
        SchedulesCommand::Oncall { ical, at } => (ical, at),
    };
    let instants: Vec<DateTime<Utc>> = if at.is_empty() {
        vec![Utc::now()]
    } else {
        at.iter()
            .map(|text| {
                DateTime::parse_from_rfc3339(text.trim())
                    .map(|at| at.with_timezone(&Utc))
                    .with_context(|| {
                        format!(
                            "--at {text:?} is not an RFC 3339 instant (e.g. 2026-03-23T09:00:00Z)"
                        )
                    })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let client = emu_oncall::http_client::client(Duration::from_secs(30))?;
    let text = fetch::read(&ical, &client, config.limits.max_response_bytes).await?;
    let calendar = parse(&text).with_context(|| {
        format!(
            "{} is not a usable iCal export",
            emu_oncall::http_client::redacted(&ical)
        )
    })?;
    if let Some(error) = calendar.zone_error() {
        bail!("who is on call cannot be told: {error}");
    }
    for skipped in &calendar.skipped {
        eprintln!("warning: skipped {skipped}");
    }
    let (Some(first), Some(last)) = (instants.iter().min(), instants.iter().max()) else {
        bail!("no instant to look at");
    };
    let (shifts, errors) = occurrences(
        &calendar,
        *first - chrono::Duration::days(1),
        *last + chrono::Duration::days(1),
    );
    for error in &errors {
        eprintln!("warning: {error}");
    }
    for instant in instants {
        let line = serde_json::json!({
            "at": instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "on_call": on_call_at(&shifts, instant),
        });
        println!("{line}");
    }
    Ok(())
}
