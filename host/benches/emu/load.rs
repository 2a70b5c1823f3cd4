//! Driving a server: an open loop at a fixed rate (latency under a steady load), and a
//! closed loop with a fixed number in flight (as fast as the client can).

use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::setup::{EMAIL, ENGINE_TOKEN};

/// What a run of requests came to.
#[derive(Debug, Default)]
pub struct LoadResult {
    pub latencies: Vec<Duration>,
    pub errors: usize,
    pub elapsed: Duration,
}

impl LoadResult {
    pub fn ok(&self) -> usize {
        self.latencies.len()
    }

    /// The `p`th percentile latency, in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        percentile_ms(&self.latencies, p)
    }

    pub fn rate(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

pub fn percentile_ms(samples: &[Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn send_sms(client: &reqwest::Client, url: &str, n: usize) -> Option<Duration> {
    let started = Instant::now();
    let message = format!(
        "Grafana OnCall: Alert group #{n}\"Disk full\" from stack: \"bench\", integration: Bench, alerts registered: 1."
    );
    let response = client
        .post(url)
        .header("Authorization", ENGINE_TOKEN)
        .form(&[("email", EMAIL), ("message", message.as_str())])
        .send()
        .await
        .ok()?;
    response.status().is_success().then(|| started.elapsed())
}

/// `rate` requests a second for `duration`, each started on schedule whatever the
/// earlier ones are doing.
pub async fn open_loop(url: &str, rate: f64, duration: Duration) -> LoadResult {
    let client = crate::setup::client();
    let total = (rate * duration.as_secs_f64()).round() as usize;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        ticker.tick().await;
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(
            async move { send_sms(&client, &url, n).await },
        ));
    }
    let mut result = LoadResult::default();
    for task in tasks {
        match task.await {
            Ok(Some(latency)) => result.latencies.push(latency),
            _ => result.errors += 1,
        }
    }
    result.elapsed = started.elapsed();
    result
}

/// `total` requests spread over `urls`, `in_flight` at a time.
pub async fn closed_loop(urls: &[String], total: usize, in_flight: usize) -> LoadResult {
    let client = crate::setup::client();
    let started = Instant::now();
    let outcomes: Vec<Option<Duration>> = futures::stream::iter(0..total)
        .map(|n| {
            let client = client.clone();
            let url = urls[n % urls.len()].clone();
            async move { send_sms(&client, &url, n).await }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let mut result = LoadResult {
        elapsed: started.elapsed(),
        ..LoadResult::default()
    };
    for outcome in outcomes {
        match outcome {
            Some(latency) => result.latencies.push(latency),
            None => result.errors += 1,
        }
    }
    result
}
