//! "Who is on call at t" against the answer keys: exports made by the real OnCall engine,
//! and recurring feeds whose keys come from an independent implementation.

use crate::common;

use chrono::{DateTime, Duration, Utc};
use emu_oncall::schedules::{occurrences, on_call_at, parse};

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ical");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ics"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_instant_of_every_fixture_matches_its_answer_key() {
    let files = fixtures();
    assert_eq!(files.len(), 10, "fixtures missing");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for ics in files {
        let key_path = ics.with_extension("expected.json");
        let key: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
        let calendar = parse(&std::fs::read_to_string(&ics).unwrap())
            .unwrap_or_else(|err| panic!("{}: {err}", ics.display()));
        assert!(
            calendar.skipped.is_empty(),
            "{}: {:?}",
            ics.display(),
            calendar.skipped
        );
        if let Some(name) = key["schedule"].as_str() {
            assert_eq!(calendar.name.as_deref(), Some(name), "{}", ics.display());
        }
        let instants = key["instants"].as_array().unwrap();
        let at =
            |i: &serde_json::Value| i["at"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
        let from = instants.iter().map(at).min().unwrap() - Duration::days(1);
        let to = instants.iter().map(at).max().unwrap() + Duration::days(1);
        let (shifts, errors) = occurrences(&calendar, from, to);
        assert!(errors.is_empty(), "{}: {errors:?}", ics.display());
        for instant in instants {
            let expected: Vec<String> = instant["on_call"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            let got = on_call_at(&shifts, at(instant));
            checked += 1;
            if got != expected {
                wrong.push(format!(
                    "{} at {}: expected {expected:?}, got {got:?}",
                    ics.file_name().unwrap().to_string_lossy(),
                    instant["at"]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} instants wrong:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(checked > 500, "only {checked} instants checked");
}

fn emu(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .args(args)
        .env_remove("EMU_ONCALL_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn schedules_oncall_prints_one_sorted_json_line_per_instant() {
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ical/pair-rotation.ics");
    let output = emu(&[
        "schedules",
        "oncall",
        "--ical",
        file.to_str().unwrap(),
        "--at",
        "2026-03-27T15:59:00Z",
        "--at",
        "2026-03-27T16:00:00+00:00",
        "--at",
        "2026-03-30T12:00:00+02:00",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"at": "2026-03-27T15:59:00Z", "on_call": ["alice", "bob"]}),
            serde_json::json!({"at": "2026-03-27T16:00:00Z", "on_call": ["carol", "dave"]}),
            serde_json::json!({"at": "2026-03-30T10:00:00Z", "on_call": ["carol", "dave"]}),
        ]
    );
    let bad = emu(&[
        "schedules",
        "oncall",
        "--ical",
        file.to_str().unwrap(),
        "--at",
        "tomorrow",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
}

#[tokio::test]
async fn schedules_oncall_reads_an_export_url_and_never_prints_its_token() {
    let sink = common::sink::Sink::start().await;
    let ics = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/ical/weekly-handover.ics"),
    )
    .unwrap();
    sink.respond_with(&ics);
    let url = format!(
        "{}/api/v1/schedules/S1/export?token=very-secret-token",
        sink.url
    );
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .args([
            "schedules",
            "oncall",
            "--ical",
            &url,
            "--at",
            "2026-03-23T08:59:00Z",
            "--at",
            "2026-03-23T09:01:00Z",
        ])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(r#""on_call":["alice"]"#) && stdout.contains(r#""on_call":["bob"]"#),
        "{stdout}"
    );
    assert_eq!(
        sink.requests()[0].path,
        "/api/v1/schedules/S1/export?token=very-secret-token"
    );

    sink.respond_with(r#"{"detail": "Invalid token."}"#);
    sink.fail_next(1, 403);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_emu-oncall"))
        .args(["schedules", "oncall", "--ical", &url])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("HTTP 403"), "{stderr}");
    assert!(
        !stderr.contains("very-secret-token"),
        "the token leaked: {stderr}"
    );
}

fn zones_fixture(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/zones")
        .join(name)
        .display()
        .to_string()
}

/// Who `schedules oncall` says is on call at each instant, or its error.
fn on_call_lines(file: &str, instants: &[&str]) -> Result<Vec<serde_json::Value>, String> {
    let mut args = vec!["schedules", "oncall", "--ical", file];
    for instant in instants {
        args.extend(["--at", instant]);
    }
    let output = emu(&args);
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect())
}

/// Outlook names zones the Windows way (`W. Europe Standard Time`), defined only by the
/// feed's VTIMEZONE: the CLDR mapping makes it Europe/Berlin, so a 09:00–17:00 local
/// shift ends at 15:00 UTC in summer, not 17:00.
#[test]
fn windows_zone_names_resolve_through_cldr() {
    let lines = on_call_lines(
        &zones_fixture("outlook-w-europe.ics"),
        &[
            "2026-07-01T08:00:00Z",
            "2026-07-01T15:30:00Z",
            "2026-12-01T15:30:00Z",
        ],
    )
    .expect("resolved");
    let on_call: Vec<&serde_json::Value> = lines.iter().map(|line| &line["on_call"]).collect();
    assert_eq!(
        on_call,
        vec![
            &serde_json::json!(["alice"]),
            &serde_json::json!([]),
            &serde_json::json!(["alice"]),
        ],
        "{lines:?}"
    );
}

/// A zone with one fixed offset and no name anything knows resolves to that offset.
#[test]
fn a_fixed_offset_vtimezone_resolves_to_its_offset() {
    let lines = on_call_lines(
        &zones_fixture("outlook-fixed-offset.ics"),
        &["2026-07-01T07:00:00Z", "2026-07-01T14:30:00Z"],
    )
    .expect("resolved");
    assert_eq!(lines[0]["on_call"], serde_json::json!(["carol"]));
    assert_eq!(lines[1]["on_call"], serde_json::json!([]), "{lines:?}");
}

/// Outlook's "Customized Time Zone", known only by its daylight-saving rules (US
/// Eastern's here), is the zone those rules agree with: 09:00–17:00 local is 13:00–21:00
/// UTC in summer.
#[test]
fn a_zone_known_only_by_its_rules_resolves_by_them() {
    let lines = on_call_lines(
        &zones_fixture("outlook-customized-dst.ics"),
        &["2026-07-01T12:30:00Z", "2026-07-01T20:30:00Z"],
    )
    .expect("resolved");
    assert_eq!(lines[0]["on_call"], serde_json::json!([]), "{lines:?}");
    assert_eq!(lines[1]["on_call"], serde_json::json!(["bob"]), "{lines:?}");
}

/// A zone nothing resolves is an error naming the TZID and the event, never an answer
/// of "nobody on call".
#[test]
fn an_unresolvable_zone_is_an_error_not_an_empty_answer() {
    let error = on_call_lines(
        &zones_fixture("outlook-unknown-rules.ics"),
        &["2026-07-01T14:00:00Z"],
    )
    .expect_err("no answer for an unknown zone");
    assert!(
        error.contains("Nowhere Standard Time") && error.contains("unknown-rules-shift"),
        "{error}"
    );
}
