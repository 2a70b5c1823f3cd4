//! The heartbeat watchdog, as Grafana Cloud ran it: an engine silent for
//! `heartbeat.timeout` is announced down once, and up again once, across all replicas.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::{LiveConfig, SharedConfig};
use crate::delivery::Workers;
use crate::store::integrations::Integration;
use crate::store::notifications::NewNotification;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Down,
    Recovered { down_since: DateTime<Utc> },
}

fn message(integration: &Integration, event: Event) -> String {
    let last_seen = integration.last_seen_at.unwrap_or(integration.created_at);
    match event {
        Event::Down => format!(
            "Self-hosted Grafana OnCall ({}) has stopped sending heartbeats since {} UTC. Pages may not be going out.",
            integration.name,
            last_seen.format("%Y-%m-%d %H:%M")
        ),
        Event::Recovered { down_since } => format!(
            "Self-hosted Grafana OnCall ({}) is sending heartbeats again (reported down at {} UTC).",
            integration.name,
            down_since.format("%Y-%m-%d %H:%M")
        ),
    }
}

/// Queues the announcement for every `heartbeat.notify` recipient.
pub async fn announce(
    store: &Store,
    config: &LiveConfig,
    workers: &Workers,
    integration: &Integration,
    event: Event,
) {
    let kind = if event == Event::Down {
        "down"
    } else {
        "recovered"
    };
    tracing::warn!(integration = %integration.id, name = %integration.name, event = kind, "engine heartbeat");
    let Ok(channel) = config.heartbeat.channel.parse() else {
        return;
    };
    if config.heartbeat.notify.is_empty() {
        tracing::warn!("heartbeat.notify is empty: nobody is told");
    }
    for recipient in &config.heartbeat.notify {
        let user = match store.find_user(recipient).await {
            Ok(Some(user)) => user,
            Ok(None) => {
                tracing::warn!(%recipient, "heartbeat.notify names no known user");
                continue;
            }
            Err(err) => {
                tracing::error!(%recipient, error = %err, "cannot queue the heartbeat notification");
                continue;
            }
        };
        let new = NewNotification {
            channel,
            user_id: Some(user.id.clone()),
            recipient_email: Some(user.email.clone()),
            message: message(integration, event),
            payload: serde_json::json!({"source": "heartbeat-watchdog", "event": kind, "integration": integration.id}),
        };
        match store.accept_notification(new).await {
            Ok(id) => {
                tracing::info!(notification = %id, user = %user.id, event = kind, "heartbeat notification queued")
            }
            Err(err) => {
                tracing::error!(user = %user.id, error = %err, "cannot queue the heartbeat notification")
            }
        }
    }
    workers.wake();
}

/// Checks every `heartbeat.check_interval` until `stop` is cancelled.
pub async fn watchdog(
    store: Store,
    config: SharedConfig,
    workers: Arc<Workers>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let interval = config.get().heartbeat.check_interval.0;
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = stop.cancelled() => return,
        }
        let current = config.get();
        match store
            .mark_silent_integrations_down(current.heartbeat.timeout.0)
            .await
        {
            Ok(down) => {
                for integration in down {
                    announce(&store, &current, &workers, &integration, Event::Down).await;
                }
            }
            Err(err) => tracing::debug!(error = %err, "heartbeat check skipped"),
        }
    }
}
