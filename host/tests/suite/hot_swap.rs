//! Replacing plugin files while notifications flow.

use crate::common;

use std::time::{Duration, Instant};

use common::sink::Sink;
use common::*;
use emu_oncall::model::Role;
use emu_oncall::model::Status;
use emu_oncall::store::notifications::NotificationFilter;

const PHONE: &str = "+4915112345678";

struct Running {
    server: TestServer,
    sink: Sink,
    dir: tempfile::TempDir,
    _cache: tempfile::TempDir,
}

/// A server with one plugin, `echo`, running the test plugin v1 that POSTs each
/// notification (with its version) to the sink.
async fn running() -> Running {
    let sink = Sink::start().await;
    let dir = plugins_dir_with(&[("echo.wasm", "test-plugin.wasm")]);
    let cache = tempfile::tempdir().unwrap();
    let url = format!("{}/echo", sink.url);
    let server = start_server(&[
        ("app.plugins_dir", &dir.path().display().to_string()),
        ("app.plugin_cache_dir", &cache.path().display().to_string()),
        ("plugin.echo.url", &url),
        ("plugin.echo.allowed_hosts", "127.0.0.1"),
        ("limits.sms_per_day", "0"),
    ])
    .await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some(PHONE),
        Role::User,
    )
    .await;
    Running {
        server,
        sink,
        dir,
        _cache: cache,
    }
}

fn live_version(server: &TestServer) -> Option<String> {
    server
        .state
        .registry()
        .get("echo")
        .map(|plugin| plugin.info.version.clone())
}

#[tokio::test]
async fn swapping_a_plugin_while_notifications_flow_loses_nothing() {
    let running = running().await;
    let v1 = std::fs::read(built_plugin("test-plugin.wasm")).unwrap();
    let v2 = std::fs::read(built_plugin("test-plugin-v2.wasm")).unwrap();
    assert_eq!(live_version(&running.server).as_deref(), Some("1.0.0"));

    // A steady flow of pages in the background while the file is replaced 6 times.
    let server_base = running.server.base.clone();
    let flow = tokio::spawn(async move {
        let client = client();
        let mut answers = Vec::new();
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            let response = client
                .post(format!("{server_base}/api/v1/send_sms"))
                .header("Authorization", ENGINE_TOKEN)
                .form(&[("email", "alice@example.com"), ("message", "page")])
                .send()
                .await
                .expect("send");
            answers.push(response.status().as_u16());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        answers
    });

    let mut swap_delays = Vec::new();
    for round in 0..6 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (bytes, version) = if round % 2 == 0 {
            (&v2, "2.0.0")
        } else {
            (&v1, "1.0.0")
        };
        let renamed = swap_plugin(running.dir.path(), "echo.wasm", bytes);
        let live = wait_for(Duration::from_secs(5), async || {
            live_version(&running.server).as_deref() == Some(version)
        })
        .await;
        assert!(live, "version {version} never went live");
        swap_delays.push(renamed.elapsed());
    }
    let answers = flow.await.unwrap();
    assert!(answers.len() > 20, "too few pages sent: {}", answers.len());
    assert!(
        answers.iter().all(|status| *status == 200),
        "an engine request failed: {answers:?}"
    );

    // Every accepted notification was delivered, exactly once, by one of the versions.
    let store = &running.server.store;
    let all_delivered = eventually_delivered(store, answers.len()).await;
    assert!(all_delivered, "not every notification was delivered");
    let requests = running.sink.requests();
    let mut ids: Vec<String> = requests
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        answers.len(),
        "a notification was lost or never reached the sink"
    );
    let versions: std::collections::BTreeSet<String> = requests
        .iter()
        .map(|r| r.json()["version"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(versions.len(), 2, "both versions served: {versions:?}");
    // A bound on going live at all, not a speed target: the first swap compiles, and
    // on 2 cores shared with the rest of the suite that takes seconds. How fast a swap
    // goes live is measured by `scripts/bench` (BENCHMARKS.md, "hot swap").
    for delay in &swap_delays {
        assert!(
            *delay <= Duration::from_secs(10),
            "a new version took {delay:?} to go live ({swap_delays:?})"
        );
    }
}

async fn eventually_delivered(store: &emu_oncall::store::Store, expected: usize) -> bool {
    wait_for(Duration::from_secs(15), async || {
        let all = store
            .list_notifications(&NotificationFilter {
                limit: 10_000,
                ..Default::default()
            })
            .await
            .unwrap();
        all.len() == expected && all.iter().all(|n| n.status == Status::Delivered)
    })
    .await
}

#[tokio::test]
async fn corrupt_truncated_or_wrong_world_files_never_replace_the_live_plugin() {
    let running = running().await;
    let v2 = std::fs::read(built_plugin("test-plugin-v2.wasm")).unwrap();
    let status_error = |server: &TestServer| {
        server
            .state
            .registry()
            .statuses()
            .into_iter()
            .find(|status| status.name == "echo")
            .and_then(|status| status.last_error)
    };
    let wrong_world = std::fs::read(built_plugin("not-a-notifier.wasm")).unwrap();
    for broken in [
        b"this is not wasm at all".to_vec(),
        v2[..v2.len() / 2].to_vec(),
        Vec::new(),
        wrong_world,
    ] {
        let before = running
            .server
            .state
            .registry()
            .get("echo")
            .unwrap()
            .hash
            .clone();
        swap_plugin(running.dir.path(), "echo.wasm", &broken);
        let reported = wait_for(Duration::from_secs(5), async || {
            status_error(&running.server).is_some()
        })
        .await;
        assert!(reported, "the bad file's error is not shown");
        let live = running.server.state.registry().get("echo").unwrap();
        assert_eq!(live.hash, before, "a broken file replaced the live plugin");
        assert_eq!(live.info.version, "1.0.0");
        let (status, _) = send_sms(&running.server, "alice@example.com", "still here").await;
        assert_eq!(status, 200);
        // A good file afterwards clears the error.
        swap_plugin(
            running.dir.path(),
            "echo.wasm",
            &std::fs::read(built_plugin("test-plugin.wasm")).unwrap(),
        );
        let cleared = wait_for(Duration::from_secs(5), async || {
            status_error(&running.server).is_none()
        })
        .await;
        assert!(cleared, "the error stayed after a good file came back");
    }
    let delivered = running.sink.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(delivered.len(), 4);
    assert!(delivered.iter().all(|r| r.json()["version"] == "1.0.0"));

    let metrics = scrape_metrics(&running.server).await;
    assert!(
        metrics.contains(r#"emu_oncall_plugin_events_total{plugin="echo",event="failed"} 4"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn removing_a_plugin_unloads_it_and_its_notifications_wait() {
    let running = running().await;
    std::fs::remove_file(running.dir.path().join("echo.wasm")).unwrap();
    let unloaded = wait_for(Duration::from_secs(5), async || {
        live_version(&running.server).is_none()
    })
    .await;
    assert!(unloaded);
    let (status, _) = send_sms(&running.server, "alice@example.com", "nobody home").await;
    assert_eq!(status, 200);
    let stored = running
        .server
        .store
        .list_notifications(&NotificationFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(stored[0].status, Status::Pending, "kept, not dropped");
    assert!(
        stored[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("no loaded plugin"),
        "{:?}",
        stored[0].last_error
    );
    let response = client()
        .get(format!("{}/admin/api/v1/plugins", running.server.base))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    let echo = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "echo")
        .cloned();
    assert!(echo.is_none() || echo.unwrap()["loaded"] == false);
}

/// Kubernetes mounts a ConfigMap as `name -> ..data/name`, with `..data` a symlink to a
/// timestamped folder that the kubelet swaps atomically on each update; the plugin
/// files themselves never change. A swap of `..data` must reach the live set.
#[tokio::test]
async fn a_configmap_style_update_swaps_the_plugin() {
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let version = |folder: &str, plugin: &str| {
        let path = dir.path().join(folder);
        std::fs::create_dir(&path).unwrap();
        std::fs::copy(built_plugin(plugin), path.join("echo.wasm")).unwrap();
    };
    version("..2026_11_24_10_00_00.1", "test-plugin.wasm");
    std::os::unix::fs::symlink("..2026_11_24_10_00_00.1", dir.path().join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/echo.wasm", dir.path().join("echo.wasm")).unwrap();
    let url = format!("{}/echo", sink.url);
    let server = start_server(&[
        ("app.plugins_dir", &dir.path().display().to_string()),
        ("app.plugin_cache_dir", ""),
        ("plugin.echo.url", &url),
        ("plugin.echo.allowed_hosts", "127.0.0.1"),
    ])
    .await;
    assert_eq!(live_version(&server).as_deref(), Some("1.0.0"));
    assert_eq!(
        server.state.registry().statuses().len(),
        1,
        "the ..data folder and its files are not plugins of their own"
    );

    version("..2026_11_24_10_05_00.2", "test-plugin-v2.wasm");
    std::os::unix::fs::symlink("..2026_11_24_10_05_00.2", dir.path().join("..data_tmp")).unwrap();
    std::fs::rename(dir.path().join("..data_tmp"), dir.path().join("..data")).unwrap();
    std::fs::remove_dir_all(dir.path().join("..2026_11_24_10_00_00.1")).unwrap();
    assert!(
        wait_for(Duration::from_secs(10), async || live_version(&server)
            .as_deref()
            == Some("2.0.0"))
        .await,
        "the ConfigMap update never went live"
    );
}
