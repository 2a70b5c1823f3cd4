//! Incident details: the engine's terse texts reach plugins with the alert group's
//! title, state, permalink and labels, read from a local server answering like the
//! OnCall public API.

use crate::common;

use std::time::Duration;

use common::sink::Sink;
use common::*;
use emu_oncall::model::Role;
use serde_json::json;

const API_TOKEN: &str = "oncall-api-token";

fn alert_groups() -> String {
    json!({
        "count": 2, "next": null, "previous": null, "page_size": 50, "current_page_number": 1, "total_pages": 1,
        "results": [
            {"id": "IDISK2", "integration_id": "COTHER", "route_id": "R1", "alerts_count": 1, "state": "firing",
             "created_at": "2026-03-23T09:05:00Z", "title": "Disk full", "labels": [],
             "permalinks": {"slack": null, "telegram": null, "web": "https://grafana.example.com/a/grafana-oncall-app/alert-groups/IDISK2"}},
            {"id": "IDISK1", "integration_id": "CGRAFANA", "route_id": "R1", "alerts_count": 3, "state": "acknowledged",
             "created_at": "2026-03-23T09:00:00Z", "title": "Disk full",
             "labels": [{"key": {"id": "severity", "name": "severity"}, "value": {"id": "critical", "name": "critical"}}],
             "permalinks": {"slack": null, "telegram": null, "web": "https://grafana.example.com/a/grafana-oncall-app/alert-groups/IDISK1"}}
        ]
    })
    .to_string()
}

fn integrations() -> String {
    json!({"count": 2, "next": null, "previous": null, "results": [
        {"id": "CGRAFANA", "name": "Grafana Alerting", "type": "grafana_alerting"},
        {"id": "COTHER", "name": "Other", "type": "webhook"}
    ]})
    .to_string()
}

struct Setup {
    server: TestServer,
    hook: Sink,
    api: Sink,
    _plugins: tempfile::TempDir,
}

async fn setup() -> Setup {
    let hook = Sink::start().await;
    let api = Sink::start().await;
    api.respond_on("/api/v1/alert_groups/", &alert_groups());
    api.respond_on("/api/v1/integrations/", &integrations());
    let plugins = plugins_dir_with(&[("webhook.wasm", "webhook.wasm")]);
    let dir = plugins.path().display().to_string();
    let hook_url = format!("{}/hook", hook.url);
    let server = start_server(&[
        ("app.plugins_dir", &dir),
        ("plugin.webhook.url", &hook_url),
        ("plugin.webhook.allowed_hosts", "127.0.0.1"),
        ("grafana.oncall.url", &api.url),
        ("grafana.oncall.header_token", API_TOKEN),
        ("grafana.oncall.incident_details", "true"),
    ])
    .await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some("+4915100000001"),
        Role::User,
    )
    .await;
    Setup {
        server,
        hook,
        api,
        _plugins: plugins,
    }
}

#[tokio::test]
async fn an_sms_reaches_the_plugin_with_its_alert_group() {
    let setup = setup().await;
    let message = "Grafana OnCall: Alert group #13\"Disk full\" from stack: \"stack\", integration: Grafana Alerting, alerts registered: 3.";
    let (status, _) = send_sms(&setup.server, "alice@example.com", message).await;
    assert_eq!(status, 200);
    let delivered = setup.hook.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1);
    let body = delivered[0].json();
    assert_eq!(
        body["message"], message,
        "the engine's text is kept as it was"
    );
    let group = &body["alert_group"];
    assert_eq!(
        group["id"], "IDISK1",
        "the newer group is another integration's"
    );
    assert_eq!(group["number"], 13);
    assert_eq!(group["title"], "Disk full");
    assert_eq!(group["state"], "acknowledged");
    assert_eq!(group["integration"], "Grafana Alerting");
    assert_eq!(
        group["permalink"],
        "https://grafana.example.com/a/grafana-oncall-app/alert-groups/IDISK1"
    );
    assert_eq!(group["labels"], json!({"severity": "critical"}));
    assert_eq!(group["started_at"], "2026-03-23T09:00:00Z");

    let asked = setup.api.requests();
    assert!(!asked.is_empty());
    for request in &asked {
        assert_eq!(request.method, "GET");
        assert_eq!(
            request.header("authorization"),
            Some(API_TOKEN),
            "the public API takes the raw token"
        );
    }

    // A second page moments later is served from the cache.
    let before = setup.api.requests().len();
    let (status, _) = send_sms(&setup.server, "alice@example.com", message).await;
    assert_eq!(status, 200);
    let delivered = setup.hook.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(delivered[1].json()["alert_group"]["id"], "IDISK1");
    assert_eq!(
        setup.api.requests().len(),
        before,
        "fetched again within the cache time"
    );
}

#[tokio::test]
async fn a_failing_or_silent_api_leaves_the_notification_as_it_was() {
    let setup = setup().await;
    setup.api.fail_next(2, 502);
    let message = "Grafana OnCall: Alert group #13\"Disk full\" from stack: \"stack\", integration: Grafana Alerting, alerts registered: 3.";
    let (status, _) = send_sms(&setup.server, "alice@example.com", message).await;
    assert_eq!(status, 200);
    let delivered = setup.hook.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].json()["alert_group"], serde_json::Value::Null);
    assert_eq!(delivered[0].json()["message"], message);

    // A text naming no known group goes without details too.
    let (status, _) = send_sms(&setup.server, "alice@example.com", "Grafana OnCall: Alert group #99\"Unknown\" from stack: \"stack\", integration: Nope, alerts registered: 1.").await;
    assert_eq!(status, 200);
    let delivered = setup.hook.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 2);
    assert_eq!(delivered[1].json()["alert_group"], serde_json::Value::Null);
}
