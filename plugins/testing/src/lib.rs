//! A plugin that misbehaves on request (`behaviour` setting), so the host's tests can
//! prove that a hostile plugin is cut off and the others keep delivering.
//!
//! Behaviours: `ok` (default; POSTs `{id, version}` to `url` when set), `loop`,
//! `memory`, `trap`, `forbidden` (HTTP to `url`, which the test leaves out of
//! `allowed_hosts`), `log-flood`, `fail-permanent`, `fail-retryable`, and `flaky`
//! (retryable failure until attempt `fail_times` + 1). `busy_until_ms` makes loading
//! spin until that Unix time (a load that fails only for now).

use emu_oncall_plugin_sdk::config::Settings;
use emu_oncall_plugin_sdk::http::Request;
use emu_oncall_plugin_sdk::{
    export, log, permanent, retryable, Channel, Config, Failure, Notification, Plugin, PluginInfo,
    Receipt,
};

const VERSION: &str = if cfg!(feature = "v2") {
    "2.0.0"
} else {
    "1.0.0"
};

const BEHAVIOURS: &[&str] = &[
    "ok",
    "loop",
    "memory",
    "trap",
    "forbidden",
    "log-flood",
    "fail-permanent",
    "fail-retryable",
    "flaky",
];

struct TestPlugin;

fn post(url: &str, notification: &Notification) -> Result<Receipt, Failure> {
    let response = Request::post(url)
        .json(&serde_json::json!({"id": notification.id, "version": VERSION, "attempt": notification.attempt}))
        .send()?;
    response.check()?;
    Ok(Receipt {
        provider_id: Some(notification.id.clone()),
        detail: Some(format!("version {VERSION}")),
    })
}

impl Plugin for TestPlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "testing".to_owned(),
            version: VERSION.to_owned(),
            channels: Channel::all(),
        }
    }

    fn validate_config(config: Config) -> Result<(), String> {
        let settings = Settings::new(&config);
        // `busy_until_ms` (Unix time): validation spins until then, so a load before that
        // moment runs into the CPU limit, as a load on a host under heavy load would.
        if let Some(until) = settings
            .get("busy_until_ms")
            .and_then(|ms| ms.parse::<u128>().ok())
        {
            let now = || {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|elapsed| elapsed.as_millis())
                    .unwrap_or(0)
            };
            while now() < until {
                std::hint::black_box(now());
            }
        }
        let behaviour = settings.get_or("behaviour", "ok");
        if BEHAVIOURS.contains(&behaviour) {
            Ok(())
        } else {
            Err(format!(
                "`behaviour` {behaviour:?} is not one of {}",
                BEHAVIOURS.join(", ")
            ))
        }
    }

    fn notify(config: Config, notification: Notification) -> Result<Receipt, Failure> {
        let settings = Settings::new(&config);
        match settings.get_or("behaviour", "ok") {
            "loop" => {
                let mut counter: u64 = 0;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("the testing plugin traps on purpose"),
            "log-flood" => {
                for n in 0..1_000_000u32 {
                    log::info(&format!("flood line {n} {}", "x".repeat(200)));
                }
                Err(permanent("flooded"))
            }
            "fail-permanent" => Err(permanent("failing permanently on purpose")),
            "fail-retryable" => Err(retryable("failing for now on purpose")),
            "flaky" => {
                let fail_times: u32 = settings.get_or("fail_times", "2").parse().unwrap_or(2);
                if notification.attempt <= fail_times {
                    Err(retryable(format!(
                        "attempt {} fails on purpose",
                        notification.attempt
                    )))
                } else {
                    match settings.get("url") {
                        Some(url) => post(url, &notification),
                        None => Ok(Receipt {
                            provider_id: None,
                            detail: Some("recovered".to_owned()),
                        }),
                    }
                }
            }
            "forbidden" => post(settings.get_or("url", "http://127.0.0.1:9/"), &notification),
            _ => match settings.get("url") {
                Some(url) => post(url, &notification),
                None => Ok(Receipt {
                    provider_id: None,
                    detail: Some(format!("version {VERSION}")),
                }),
            },
        }
    }
}

export!(TestPlugin);
