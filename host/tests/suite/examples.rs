//! The files under `examples/` say only what the server really does.

use crate::common;

use std::collections::HashMap;

use common::sink::Sink;
use common::*;

/// The metric names an expression reads (`emu_oncall_…`).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("emu_oncall_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// Family name → type, from the `# TYPE` lines of a `/metrics` answer.
fn exported_types(metrics: &str) -> HashMap<String, String> {
    metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| {
            let (name, kind) = line.split_once(' ')?;
            Some((name.to_owned(), kind.trim().to_owned()))
        })
        .collect()
}

/// Whether `name` is a series the server exports: a gauge as is, a counter with
/// `_total`, a histogram with `_bucket`, `_sum` or `_count`.
fn is_exported(name: &str, types: &HashMap<String, String>) -> bool {
    if types.get(name).is_some_and(|kind| kind == "gauge") {
        return true;
    }
    let suffixed = |suffix: &str, kind: &str| {
        name.strip_suffix(suffix)
            .is_some_and(|family| types.get(family).is_some_and(|k| k == kind))
    };
    suffixed("_total", "counter")
        || ["_bucket", "_sum", "_count"]
            .iter()
            .any(|suffix| suffixed(suffix, "histogram"))
}

/// A server that has done a bit of everything, so every metric family has a sample:
/// a plugin loaded and delivering, an engine heartbeat, a schedule polled.
async fn busy_server() -> (TestServer, Sink, Sink, tempfile::TempDir) {
    let hook = Sink::start().await;
    let export = Sink::start().await;
    export.respond_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\nEND:VCALENDAR\r\n");
    let plugins = plugins_dir_with(&[("webhook.wasm", "webhook.wasm")]);
    let dir = plugins.path().display().to_string();
    let hook_url = format!("{}/hook", hook.url);
    let ical_url = format!("{}/export.ics", export.url);
    let server = start_server(&[
        ("app.plugins_dir", &dir),
        ("plugin.webhook.url", &hook_url),
        ("plugin.webhook.allowed_hosts", "127.0.0.1"),
        ("grafana.oncall.schedules.primary.ical_url", &ical_url),
        ("schedules.poll_interval", "100ms"),
    ])
    .await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some("+4915100000001"),
        emu_oncall::model::Role::User,
    )
    .await;
    let (status, _) = send_sms(&server, "alice@example.com", "Grafana OnCall: test").await;
    assert_eq!(status, 200);
    let created = client()
        .post(format!("{}/api/v1/integrations/", server.base))
        .header("Authorization", ENGINE_TOKEN)
        .form(&[
            ("type", "formatted_webhook"),
            ("name", "OnCall Cloud Heartbeat http://oncall"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    (server, hook, export, plugins)
}

#[tokio::test]
async fn the_dashboard_queries_only_metrics_the_server_exports() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&repository_file("examples/grafana-dashboard.json"))
            .expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8, "a panel per concern");
    let (server, hook, export, _plugins) = busy_server().await;
    assert_eq!(
        hook.wait_for(1, std::time::Duration::from_secs(10))
            .await
            .len(),
        1
    );
    assert!(!export
        .wait_for(1, std::time::Duration::from_secs(10))
        .await
        .is_empty());
    let mut metrics = String::new();
    let families = |text: &str| exported_types(text).len();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        metrics = scrape_metrics(&server).await;
        if families(&metrics) >= 9 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let types = exported_types(&metrics);
    assert!(types.len() >= 9, "{metrics}");
    let mut queried = 0;
    for panel in panels {
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{} queries nothing", panel["title"]);
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{expr} reads none of our metrics");
            for name in names {
                assert!(
                    is_exported(&name, &types),
                    "panel {} reads {name}, which /metrics does not export:\n{metrics}",
                    panel["title"]
                );
                queried += 1;
            }
        }
    }
    assert!(queried >= 9);
    // The check itself must be able to fail.
    assert!(!is_exported("emu_oncall_notifications", &types));
    assert!(!is_exported("emu_oncall_no_such_metric_total", &types));
}
