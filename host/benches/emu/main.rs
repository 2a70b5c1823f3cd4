//! `scripts/bench [--quick] [--json FILE]`: Emu-OnCall measured side by side with the
//! baseline that bounds each figure, in one run on one machine. It starts the real
//! `emu-oncall` release binary as separate processes on a private PostgreSQL (the URL
//! comes from `EMU_BENCH_DATABASE_URL`, which `scripts/bench` sets), drives them over
//! HTTP on 127.0.0.1, and prints one table and a JSON summary.

mod cost;
mod figures;
mod load;
mod report;
mod setup;

use std::path::PathBuf;

use anyhow::Context;

/// How big a run is.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub quick: bool,
}

/// Which groups of figures to run (`--only accept,burst`); all when empty.
#[derive(Debug, Clone, Default)]
pub struct Only(Vec<String>);

impl Only {
    pub fn runs(&self, group: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|name| name == group)
    }
}

impl Scale {
    /// `full` in a full run, `quick` in a quick one.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

fn main() -> anyhow::Result<()> {
    let mut quick = false;
    let mut json: Option<PathBuf> = None;
    let mut only = Only::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--json" => json = Some(args.next().context("--json needs a file")?.into()),
            "--only" => {
                let groups = args.next().context("--only needs a list of groups")?;
                only = Only(groups.split(',').map(str::to_owned).collect());
            }
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            other => anyhow::bail!(
                "unknown argument {other:?} (use --quick, --json FILE, --only {})",
                figures::GROUPS.join(",")
            ),
        }
    }
    emu_oncall::http_client::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let env = setup::BenchEnv::from_env()?;
        let scale = Scale { quick };
        let started = std::time::Instant::now();
        let figures = figures::run_all(&env, scale, &only).await?;
        let elapsed = started.elapsed();
        report::print(&figures, scale, elapsed);
        if let Some(path) = json {
            report::write_json(&path, &figures, scale, elapsed)?;
            println!("JSON summary: {}", path.display());
        }
        Ok(())
    })
}
