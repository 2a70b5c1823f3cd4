//! Prometheus metrics for `/metrics`. Counters are kept in memory per replica; figures
//! that live in PostgreSQL (heartbeat ages, queue depth) are read at scrape time so every
//! replica reports the same truth.

use crate::model::{AttemptOutcome, FailureKind};
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The channels the engine hands over, and what became of each request
/// (`api::cloud::phone` and `api::cloud::push` name these outcomes).
pub const ENGINE_CHANNELS: [&str; 3] = ["sms", "call", "push"];
pub const NOTIFICATION_OUTCOMES: [&str; 8] = [
    "accepted",
    "user_not_found",
    "number_not_verified",
    "limit_exceeded",
    "invalid_token",
    "database_unavailable",
    "delivery_failed",
    "bad_request",
];
pub const ALL_CHANNELS: [&str; 5] = ["sms", "call", "push", "shift", "test"];
pub const PLUGIN_EVENTS: [&str; 4] = ["loaded", "swapped", "failed", "unloaded"];
pub const ATTEMPT_OUTCOMES: [&str; 3] = ["delivered", "retryable", "permanent"];
pub const POLL_OUTCOMES: [&str; 6] = [
    "ok",
    "not_modified",
    "fetch_error",
    "parse_error",
    "zone_error",
    "unknown_user",
];

/// `emu_oncall_notifications_stored` counts each status no further than this, so a
/// scrape costs the same on a table of any size.
pub const QUEUE_COUNT_CAP: i64 = 100_000;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    channel: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IntegrationLabels {
    integration: String,
    name: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginEventLabels {
    plugin: String,
    event: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    plugin: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    plugin: String,
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InboundLabels {
    plugin: String,
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: &'static str,
}

/// Seconds from acceptance to delivery: a page should land in seconds, a retried one in
/// minutes.
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
    ])
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PollLabels {
    schedule: String,
    outcome: &'static str,
}

pub struct Metrics {
    polls: Family<PollLabels, Counter>,
    latency: Family<ChannelLabels, Histogram, fn() -> Histogram>,
    oldest: Gauge<f64, AtomicU64>,
    plugin_events: Family<PluginEventLabels, Counter>,
    attempts: Family<AttemptLabels, Counter>,
    failures: Family<FailureLabels, Counter>,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    notifications: Family<NotificationLabels, Counter>,
    heartbeat_age: Family<IntegrationLabels, Gauge<f64, AtomicU64>>,
    queue: Family<StatusLabels, Gauge>,
    inbound: Family<InboundLabels, Counter>,
    time_to_action: Family<ActionLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("emu_oncall");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "notifications",
            "Notifications the engine handed us, by channel and outcome (accepted or why refused)",
            notifications.clone(),
        );
        let heartbeat_age = Family::<IntegrationLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "heartbeat_age_seconds",
            "Seconds since each engine integration last sent a heartbeat (-1: never)",
            heartbeat_age.clone(),
        );
        let queue = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "notifications_stored",
            "Notifications waiting, being delivered, waiting for a retry, or dead, by status (counted up to 100000)",
            queue.clone(),
        );
        let plugin_events = Family::<PluginEventLabels, Counter>::default();
        registry.register(
            "plugin_events",
            "Plugin loads, swaps, unloads and load failures",
            plugin_events.clone(),
        );
        let attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Delivery attempts by plugin and outcome (delivered, retryable, permanent)",
            attempts.clone(),
        );
        let failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "delivery_failures",
            "Failed delivery attempts by plugin and kind (provider, timeout, cpu_limit, memory_limit, trap, unavailable)",
            failures.clone(),
        );
        let latency = Family::<ChannelLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "delivery_latency_seconds",
            "Seconds from accepting a notification to delivering it, by channel",
            latency.clone(),
        );
        let oldest = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "oldest_undelivered_age_seconds",
            "Age of the oldest notification not yet delivered (0: none)",
            oldest.clone(),
        );
        let polls = Family::<PollLabels, Counter>::default();
        registry.register(
            "schedule_polls",
            "Schedule export polls by schedule and outcome (ok, not_modified, or the error kind)",
            polls.clone(),
        );
        let inbound = Family::<InboundLabels, Counter>::default();
        registry.register(
            "inbound_events",
            "Events providers' calls carried (key presses, replies, buttons, receipts), by plugin, kind and outcome (ok, refused, unmatched)",
            inbound.clone(),
        );
        let time_to_action =
            Family::<ActionLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "page_to_action_seconds",
            "Seconds from accepting a page to the paged person's action on it, by action",
            time_to_action.clone(),
        );
        Metrics {
            inbound,
            time_to_action,
            polls,
            latency,
            oldest,
            plugin_events,
            attempts,
            failures,
            registry,
            requests,
            notifications,
            heartbeat_age,
            queue,
        }
    }

    /// Creates every series whose labels are known at start at 0, as Prometheus
    /// recommends: a fresh server's dashboard then shows 0 rather than "No data", and
    /// `rate()` alerts see a rise from 0 rather than a series appearing.
    pub fn start_at_zero<'a>(
        &self,
        plugins: impl IntoIterator<Item = &'a str>,
        schedules: impl IntoIterator<Item = &'a str>,
    ) {
        for channel in ENGINE_CHANNELS {
            for outcome in NOTIFICATION_OUTCOMES {
                let _ = self
                    .notifications
                    .get_or_create(&NotificationLabels { channel, outcome });
            }
        }
        for channel in ALL_CHANNELS {
            let _ = self.latency.get_or_create(&ChannelLabels { channel });
        }
        for plugin in plugins {
            self.plugin_known(plugin);
        }
        for schedule in schedules {
            for outcome in POLL_OUTCOMES {
                let _ = self.polls.get_or_create(&PollLabels {
                    schedule: schedule.to_owned(),
                    outcome,
                });
            }
        }
        for status in crate::store::Store::QUEUE_STATUSES {
            let _ = self.queue.get_or_create(&StatusLabels {
                status: status.to_owned(),
            });
        }
    }

    /// The series of one plugin (or the `callback` sender), at 0 until something happens.
    pub fn plugin_known(&self, plugin: &str) {
        for event in PLUGIN_EVENTS {
            let _ = self.plugin_events.get_or_create(&PluginEventLabels {
                plugin: plugin.to_owned(),
                event,
            });
        }
        for outcome in ATTEMPT_OUTCOMES {
            let _ = self.attempts.get_or_create(&AttemptLabels {
                plugin: plugin.to_owned(),
                outcome,
            });
        }
        for kind in FailureKind::ALL {
            let _ = self.failures.get_or_create(&FailureLabels {
                plugin: plugin.to_owned(),
                kind: kind.as_str(),
            });
        }
    }

    pub fn request(&self, route: &'static str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }

    pub fn notification(&self, channel: &'static str, outcome: &'static str) {
        self.notifications
            .get_or_create(&NotificationLabels { channel, outcome })
            .inc();
    }

    /// Replaces the heartbeat figures with `(id, name, age in seconds or None)`.
    pub fn set_heartbeats(&self, ages: impl IntoIterator<Item = (String, String, Option<f64>)>) {
        self.heartbeat_age.clear();
        for (integration, name, age) in ages {
            self.heartbeat_age
                .get_or_create(&IntegrationLabels { integration, name })
                .set(age.unwrap_or(-1.0));
        }
    }

    pub fn set_queue(&self, counts: impl IntoIterator<Item = (String, i64)>) {
        self.queue.clear();
        for (status, count) in counts {
            self.queue
                .get_or_create(&StatusLabels { status })
                .set(count);
        }
    }

    pub fn plugin_event(&self, plugin: &str, event: &'static str) {
        self.plugin_known(plugin);
        self.plugin_events
            .get_or_create(&PluginEventLabels {
                plugin: plugin.to_owned(),
                event,
            })
            .inc();
    }

    /// Counts an attempt by its outcome, and a failed one by its kind too, so a
    /// dashboard tells a provider's refusal from a plugin cut off by the sandbox.
    pub fn attempt(&self, plugin: &str, outcome: &AttemptOutcome) {
        self.attempts
            .get_or_create(&AttemptLabels {
                plugin: plugin.to_owned(),
                outcome: outcome.label(),
            })
            .inc();
        if let Some(failure) = outcome.failure() {
            self.failures
                .get_or_create(&FailureLabels {
                    plugin: plugin.to_owned(),
                    kind: failure.kind.as_str(),
                })
                .inc();
        }
    }

    pub fn inbound_event(&self, plugin: &str, kind: &'static str, outcome: &'static str) {
        self.inbound
            .get_or_create(&InboundLabels {
                plugin: plugin.to_owned(),
                kind,
                outcome,
            })
            .inc();
    }

    pub fn acted(&self, action: &'static str, seconds: f64) {
        self.time_to_action
            .get_or_create(&ActionLabels { action })
            .observe(seconds);
    }

    pub fn delivered(&self, channel: &'static str, seconds: f64) {
        self.latency
            .get_or_create(&ChannelLabels { channel })
            .observe(seconds);
    }

    pub fn set_oldest_undelivered(&self, seconds: Option<f64>) {
        self.oldest.set(seconds.unwrap_or(0.0));
    }

    pub fn schedule_poll(&self, schedule: &str, outcome: &'static str) {
        self.polls
            .get_or_create(&PollLabels {
                schedule: schedule.to_owned(),
                outcome,
            })
            .inc();
    }

    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
