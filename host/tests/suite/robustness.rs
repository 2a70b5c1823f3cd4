//! A bounded, seeded fuzz drill: mutated iCal exports and malformed engine requests
//! must give errors, never a panic or a 5xx, and leave the server answering.

use crate::common;

use std::time::Duration;

use common::*;

/// xorshift64*: a small, seeded generator, so a failure replays exactly.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// One mutation of `input`: flipped bytes, a cut, a duplicated or dropped line, or a
/// line with a property name swapped for another.
fn mutate(input: &[u8], random: &mut Random) -> Vec<u8> {
    let mut out = input.to_vec();
    match random.below(5) {
        0 => {
            for _ in 0..=random.below(8) {
                let at = random.below(out.len());
                out[at] = random.next() as u8;
            }
        }
        1 => out.truncate(random.below(out.len())),
        2 | 3 => {
            let text = String::from_utf8_lossy(&out).into_owned();
            let mut lines: Vec<&str> = text.split("\r\n").collect();
            let at = random.below(lines.len());
            if random.below(2) == 0 {
                lines.insert(at, lines[at]);
            } else {
                lines.remove(at);
            }
            let swapped = [
                "DTSTART:",
                "DTEND:",
                "RRULE:FREQ=",
                "EXDATE:",
                "RDATE:",
                "RECURRENCE-ID:",
                "BEGIN:VEVENT",
                "END:VEVENT",
                "DURATION:P",
                "TZID:",
            ];
            let extra = format!("{}{}", swapped[random.below(swapped.len())], random.next());
            lines.insert(random.below(lines.len()), &extra);
            out = lines.join("\r\n").into_bytes();
        }
        _ => {
            let at = random.below(out.len());
            let len = random.below(64);
            let noise = random.bytes(len);
            out.splice(at..at, noise);
        }
    }
    out
}

#[test]
fn mutated_exports_are_read_or_refused_but_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ical");
    let mut fixtures: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "ics"))
        .map(|entry| std::fs::read(entry.path()).unwrap())
        .collect();
    assert!(fixtures.len() >= 10);
    fixtures.sort();
    let mut random = Random(0x5eed_1ca1_0000_0001);
    let from = chrono::DateTime::parse_from_rfc3339("2026-03-20T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let (mut read, mut refused) = (0, 0);
    for fixture in &fixtures {
        for _ in 0..60 {
            let mutant = mutate(fixture, &mut random);
            let text = String::from_utf8_lossy(&mutant);
            match emu_oncall::schedules::parse(&text) {
                Ok(calendar) => {
                    read += 1;
                    let (shifts, _) = emu_oncall::schedules::occurrences(
                        &calendar,
                        from,
                        from + chrono::Duration::days(16),
                    );
                    for shift in &shifts {
                        assert!(shift.start < shift.end, "an empty or reversed shift");
                        emu_oncall::schedules::on_call_at(&shifts, shift.start);
                    }
                }
                Err(_) => refused += 1,
            }
        }
    }
    // Both paths were exercised.
    assert!(read > 0 && refused > 0, "read {read}, refused {refused}");
}

#[tokio::test]
async fn malformed_engine_requests_get_4xx_never_5xx() {
    let server = start_server(&[]).await;
    add_user(
        &server.store,
        "alice@example.com",
        "alice",
        Some("+4915100000001"),
        emu_oncall::model::Role::User,
    )
    .await;
    let client = client();
    let mut random = Random(0xfa11_0000_0000_0042);
    let valid_form = b"email=alice%40example.com&message=Alert+group+%231".to_vec();
    let valid_push =
        br#"{"token":"t","data":{"title":"x","alertGroupId":"1"},"android":{"priority":"high"}}"#
            .to_vec();
    let content_types = [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ];
    for n in 0..240 {
        let (path, seed) = match n % 3 {
            0 => ("/api/v1/send_sms", &valid_form),
            1 => ("/api/v1/make_call", &valid_form),
            _ => ("/mobile_app/v1/fcm_relay", &valid_push),
        };
        let body = if n % 4 == 0 {
            let len = random.below(300);
            random.bytes(len)
        } else {
            mutate(seed, &mut random)
        };
        let content_type = content_types[random.below(content_types.len())];
        let mut request = client
            .post(format!("{}{path}", server.base))
            .header("Authorization", ENGINE_TOKEN)
            .body(body.clone());
        if !content_type.is_empty() {
            request = request.header("Content-Type", content_type);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        assert!(
            status < 500,
            "{path} answered {status} to {:?} ({content_type})",
            String::from_utf8_lossy(&body)
        );
        let text = response.text().await.unwrap();
        assert!(
            serde_json::from_str::<serde_json::Value>(&text).is_ok(),
            "{path} answered {status} with a body that is not JSON: {text:?}"
        );
    }
    // NUL characters, which PostgreSQL text and jsonb refuse, in every kind of input.
    for (path, content_type, body) in [
        (
            "/api/v1/send_sms",
            "application/x-www-form-urlencoded",
            "email=alice%40example.com&message=a%00b".to_owned(),
        ),
        (
            "/api/v1/send_sms",
            "application/json",
            r#"{"email":"alice@example.com","message":"a\u0000b"}"#.to_owned(),
        ),
        (
            "/mobile_app/v1/fcm_relay",
            "application/json",
            r#"{"token":"t\u0000","data":{"title":"x\u0000"}}"#.to_owned(),
        ),
    ] {
        let response = client
            .post(format!("{}{path}", server.base))
            .header("Authorization", ENGINE_TOKEN)
            .header("Content-Type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path} {body}");
    }

    // Odd query strings on the user sync.
    for n in 0..60 {
        let len = random.below(40);
        let noise: String = random
            .bytes(len)
            .iter()
            .map(|b| format!("%{b:02X}"))
            .collect();
        let query = match n % 3 {
            0 => format!("page={noise}&short=true"),
            1 => format!("email={noise}&roles=0"),
            _ => format!("{noise}={noise}&page=-{n}"),
        };
        let response = client
            .get(format!("{}/api/v1/users/?{query}", server.base))
            .header("Authorization", ENGINE_TOKEN)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        assert!(status < 500, "users?{query} answered {status}");
    }
    let health = client
        .get(format!("{}/readyz", server.base))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn malformed_page_forms_get_a_page_never_a_5xx() {
    let server = start_server(&[]).await;
    let user = add_user(
        &server.store,
        "mo@example.com",
        "mo",
        Some("+4915100000002"),
        emu_oncall::model::Role::User,
    )
    .await;
    let mut browser = common::pages::PageClient::new(&server.base);
    let page = browser
        .get(&format!(
            "/a/grafana-oncall-app/users?p=1&id={}",
            user.link_id
        ))
        .await;
    let csrf = page.csrf();
    let login_csrf = browser.get("/").await.csrf();
    let cookie = browser
        .cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ");
    let client = client();
    let mut random = Random(0x9a6e_0000_0000_0017);
    let seeds: [&[u8]; 4] = [
        b"step=send&phone=%2B49+151+2345+6789&channel=sms",
        b"step=confirm&code=123456",
        b"step=remove",
        b"step=send&phone=00491511234&channel=call",
    ];
    let mut reached = 0;
    for n in 0..80 {
        let (path, body) = if n % 5 == 4 {
            let token = mutate(ADMIN_TOKEN.as_bytes(), &mut random);
            let mut body = b"token=".to_vec();
            body.extend(token);
            body.extend(format!("&csrf={login_csrf}").bytes());
            ("/login".to_owned(), body)
        } else {
            // The token stays intact so the mutated fields reach the form's handling.
            let mut body = mutate(seeds[n % 4], &mut random);
            body.extend(format!("&csrf={csrf}").bytes());
            (format!("/verify/{}", user.link_id), body)
        };
        let response = client
            .post(format!("{}{path}", server.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cookie", &cookie)
            .body(body.clone())
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        if status != 403 {
            reached += 1;
        }
        let text = response.text().await.unwrap();
        // No plugin is loaded here, so a well-formed send is refused with 503, saying so.
        let could_not_send = status == 503 && text.contains("could not be sent");
        assert!(
            status < 500 || could_not_send,
            "{path} answered {status} to {:?}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            text.is_empty() || text.contains("</html>"),
            "{path}: not a page: {text}"
        );
        assert!(
            !text.contains("+4915100000002"),
            "the stored number in full"
        );
    }
    assert!(
        reached > 30,
        "only {reached} of 80 forms got past the CSRF check"
    );
    // NUL characters in every field.
    for body in [
        format!("step=send&phone=%2B49151%0012345&csrf={csrf}"),
        format!("step=confirm&code=12%003456&csrf={csrf}"),
        format!("step=re%00move&csrf={csrf}"),
    ] {
        let response = client
            .post(format!("{}/verify/{}", server.base, user.link_id))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cookie", &cookie)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500, "{body}");
    }
    let id_noise: String = random
        .bytes(30)
        .iter()
        .map(|b| format!("%{b:02X}"))
        .collect();
    let odd = client
        .get(format!(
            "{}/a/grafana-oncall-app/users?p=1&id={id_noise}",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status().as_u16(), 404);
}

/// Providers' calls and OnCall's webhook, mutated: a reply URL signed for a real page,
/// the Twilio plugin behind it, `/hooks/oncall` with its token. Never a 5xx.
#[tokio::test]
async fn malformed_inbound_calls_get_4xx_never_5xx() {
    const WEBHOOK_TOKEN: &str = "oncall-webhook-token-0123456789abcdef";
    let server = TestServer::builder()
        .plugin("twilio.wasm", "twilio.wasm")
        .set("plugin.twilio.account_sid", "AC0000000000")
        .set("plugin.twilio.auth_token", "twilio-auth-token")
        .set("plugin.twilio.from", "+15005550006")
        .set("plugin.twilio.allowed_hosts", "127.0.0.1")
        .set("app.hostname", "https://oncall.example.com/")
        .set("app.oncall_webhook_token", WEBHOOK_TOKEN)
        .start()
        .await;
    let page = server
        .store
        .accept_notification(emu_oncall::store::notifications::NewNotification {
            channel: emu_oncall::model::Channel::Call,
            user_id: None,
            recipient_email: Some("alice@example.com".to_owned()),
            message: "Disk full".to_owned(),
            payload: serde_json::json!({}),
        })
        .await
        .unwrap();
    let key = server.store.web_secret("reply-urls").await.unwrap();
    let reply_url = emu_oncall::hooks::ReplySigner::new(key).url(
        &format!("{}/", server.base),
        "twilio",
        page,
        chrono::Utc::now() + chrono::Duration::hours(1),
    );
    let webhook = serde_json::json!({
        "event": {"type": "resolve", "time": "2026-11-28T10:00:00Z"},
        "user": {"id": "U1", "username": "bob", "email": "bob@example.com"},
        "alert_group": {"id": "IDISK1", "title": "Disk full"},
        "alert_group_id": "IDISK1"
    })
    .to_string()
    .into_bytes();
    let keys = b"CallSid=CA1&Digits=1&From=%2B15005550006".to_vec();
    let client = client();
    let mut random = Random(0x1b0a_0000_0000_0015);
    for n in 0..180 {
        let (url, seed, token) = match n % 3 {
            0 => (
                format!("{}/hooks/oncall", server.base),
                &webhook,
                WEBHOOK_TOKEN,
            ),
            1 => (format!("{reply_url}/keys?round=1"), &keys, ""),
            _ => (format!("{}/hooks/twilio/sms", server.base), &keys, ""),
        };
        let body = if n % 4 == 0 {
            let len = random.below(300);
            random.bytes(len)
        } else {
            mutate(seed, &mut random)
        };
        let response = client
            .post(&url)
            .header("Authorization", token)
            .header("X-Twilio-Signature", "AAAA")
            .body(body.clone())
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        assert!(
            status < 500,
            "{url} answered {status} to {:?}",
            String::from_utf8_lossy(&body)
        );
    }
    let health = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}
