//! `schedules oncall`: who is on call at given instants, from an export file or URL.

use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use clap::Subcommand;

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
}

pub async fn run(command: SchedulesCommand) -> anyhow::Result<()> {
    let SchedulesCommand::Oncall { ical, at } = command;
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
    let client = fetch::client(Duration::from_secs(30))?;
    let text = fetch::read(&ical, &client).await?;
    let calendar = parse(&text)
        .with_context(|| format!("{} is not a usable iCal export", fetch::redacted(&ical)))?;
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
