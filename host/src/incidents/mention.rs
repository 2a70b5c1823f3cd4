//! Which alert groups an engine text is about. The engine sends no ids, only the texts
//! of the contract's §6.2: an SMS names group numbers, a call names the integration
//! and the title.

/// What a text says about its alert groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mention {
    /// An SMS: group numbers in the order given (a bundle names up to 3); the title and
    /// integration when it is about one group.
    Sms {
        numbers: Vec<u64>,
        title: Option<String>,
        integration: Option<String>,
    },
    /// A phone call's text: no number, but the integration and the title.
    Call { integration: String, title: String },
    /// Anything else (a test message, a custom text).
    Nothing,
}

const SMS_PREFIX: &str = "Grafana OnCall: Alert group";
const CALL_PREFIX: &str = "You are invited to check an Alert Group from Grafana OnCall. Alert via ";

/// The number right at the start of `text` (after `#`), and the rest.
fn number_at(text: &str) -> Option<(u64, &str)> {
    let digits = text.strip_prefix('#')?;
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let number = digits[..end].parse().ok()?;
    Some((number, &digits[end..]))
}

fn sms_numbers(rest: &str) -> Vec<u64> {
    // "s #12, #13, #14 and 2 more from stack: …" (a bundle) or
    // " #13\"Title\" from stack: …" (one group; the title may hold '#' too, so only the
    // number right after the words counts).
    if let Some(list) = rest.strip_prefix("s ") {
        let list = list.split(" from stack:").next().unwrap_or(list);
        let list = list.split(" and ").next().unwrap_or(list);
        return list
            .split(", ")
            .filter_map(|item| number_at(item.trim()).map(|(number, _)| number))
            .collect();
    }
    rest.strip_prefix(' ')
        .and_then(number_at)
        .map(|(number, _)| vec![number])
        .unwrap_or_default()
}

fn call_parts(rest: &str) -> Option<(String, String)> {
    let (integration, tail) = rest.split_once(" with title ")?;
    let title = match tail.rfind(" triggered ") {
        Some(cut) if tail[cut..].ends_with(" times") => &tail[..cut],
        _ => tail,
    };
    Some((integration.trim().to_owned(), title.trim().to_owned()))
}

/// `#13"Title" from stack: "slug", integration: Name, alerts registered: 1.`: the title
/// and integration of a one-group SMS.
fn sms_details(rest: &str) -> (Option<String>, Option<String>) {
    let Some(quoted) = rest.split_once('"').map(|(_, tail)| tail) else {
        return (None, None);
    };
    let Some((title, tail)) = quoted.rsplit_once("\" from stack: ") else {
        return (None, None);
    };
    let integration = tail
        .split_once(", integration: ")
        .map(
            |(_, tail)| match tail.rsplit_once(", alerts registered: ") {
                Some((name, _)) => name,
                None => tail,
            },
        )
        .map(|name| name.trim().to_owned());
    (Some(title.to_owned()), integration)
}

pub fn mention(text: &str) -> Mention {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix(SMS_PREFIX) {
        let numbers = sms_numbers(rest);
        if !numbers.is_empty() {
            let (title, integration) = if rest.starts_with(' ') {
                sms_details(rest)
            } else {
                (None, None)
            };
            return Mention::Sms {
                numbers,
                title,
                integration,
            };
        }
    }
    if let Some(rest) = text.strip_prefix(CALL_PREFIX) {
        if let Some((integration, title)) = call_parts(rest) {
            return Mention::Call { integration, title };
        }
    }
    Mention::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_group_sms_gives_its_number_even_with_a_hash_in_the_title() {
        assert_eq!(
            mention("Grafana OnCall: Alert group #13\"Disk #2 full\" from stack: \"stack\", integration: Test integration - Formatted webhook, alerts registered: 1."),
            Mention::Sms {
                numbers: vec![13],
                title: Some("Disk #2 full".to_owned()),
                integration: Some("Test integration - Formatted webhook".to_owned())
            }
        );
    }

    #[test]
    fn the_recorded_engine_sms_gives_its_number() {
        assert_eq!(
            mention("Grafana OnCall: Alert group #1\"Test alert\" from stack: \"stack\", integration: Test integration - Formatted webhook, alerts registered: 1."),
            Mention::Sms {
                numbers: vec![1],
                title: Some("Test alert".to_owned()),
                integration: Some("Test integration - Formatted webhook".to_owned())
            }
        );
    }

    #[test]
    fn bundles_give_every_named_number() {
        assert_eq!(
            mention("Grafana OnCall: Alert groups #12, #13, #14 and 2 more from stack: stack, integrations: Grafana and 1 more."),
            Mention::Sms {
                numbers: vec![12, 13, 14],
                title: None,
                integration: None
            }
        );
        assert_eq!(
            mention("Grafana OnCall: Alert groups #7, #8 from stack: stack, integration: Grafana."),
            Mention::Sms {
                numbers: vec![7, 8],
                title: None,
                integration: None
            }
        );
        assert_eq!(
            mention(
                "Grafana OnCall: Alert group #9 from stack: stack, integrations: A and 1 more."
            ),
            Mention::Sms {
                numbers: vec![9],
                title: None,
                integration: None
            }
        );
    }

    #[test]
    fn calls_give_integration_and_title() {
        assert_eq!(
            mention("You are invited to check an Alert Group from Grafana OnCall. Alert via Test integration - Formatted webhook with title Test alert triggered 1 times"),
            Mention::Call {
                integration: "Test integration - Formatted webhook".to_owned(),
                title: "Test alert".to_owned()
            }
        );
    }

    #[test]
    fn other_texts_mention_nothing() {
        assert_eq!(mention("hello"), Mention::Nothing);
        assert_eq!(mention("Grafana OnCall: Alert group #x"), Mention::Nothing);
        assert_eq!(mention(""), Mention::Nothing);
    }
}
