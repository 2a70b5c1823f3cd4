//! The table and the JSON summary.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::Scale;

/// One row: what was measured, against what, and whether it met its target.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub name: &'static str,
    pub measured: String,
    pub baseline: String,
    pub target: String,
    /// `None` where the figure has no target (it is reported only).
    pub met: Option<bool>,
    /// The raw numbers, for the JSON summary.
    pub values: serde_json::Value,
}

fn machine() -> serde_json::Value {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_default();
    let memory_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("MemTotal:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
        })
        .unwrap_or(0);
    serde_json::json!({"cpus": cpus, "cpu": model, "memory_mib": memory_kib / 1024})
}

pub fn print(figures: &[Figure], scale: Scale, elapsed: Duration) {
    let width = |pick: fn(&Figure) -> &str, title: &str| {
        figures
            .iter()
            .map(|f| pick(f).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let name_w = width(|f| f.name, "figure");
    let measured_w = width(|f| &f.measured, "measured");
    let baseline_w = width(|f| &f.baseline, "baseline (same run)");
    let target_w = width(|f| &f.target, "target");
    println!();
    println!(
        "{:<name_w$}  {:<measured_w$}  {:<baseline_w$}  {:<target_w$}  met",
        "figure", "measured", "baseline (same run)", "target"
    );
    println!(
        "{}",
        "-".repeat(name_w + measured_w + baseline_w + target_w + 13)
    );
    for f in figures {
        let met = match f.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!(
            "{:<name_w$}  {:<measured_w$}  {:<baseline_w$}  {:<target_w$}  {met}",
            f.name, f.measured, f.baseline, f.target
        );
    }
    println!(
        "\n{} run in {:.0} s on {}",
        if scale.quick { "quick" } else { "full" },
        elapsed.as_secs_f64(),
        machine()
    );
}

pub fn write_json(
    path: &Path,
    figures: &[Figure],
    scale: Scale,
    elapsed: Duration,
) -> anyhow::Result<()> {
    let summary = serde_json::json!({
        "mode": if scale.quick { "quick" } else { "full" },
        "seconds": elapsed.as_secs_f64(),
        "machine": machine(),
        "version": env!("CARGO_PKG_VERSION"),
        "figures": figures,
    });
    std::fs::write(path, serde_json::to_string_pretty(&summary)? + "\n")?;
    Ok(())
}
