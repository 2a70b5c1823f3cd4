//! Finding the alert group a text is about among the newest ones. The public API has no
//! filter by number, so a group is recognised by its number in its title (for
//! operators whose web title template includes `#{{ grafana_oncall_alert_group_id }}`),
//! else by the title and integration the text names, newest first.

use std::collections::HashMap;

use super::api::ApiAlertGroup;
use super::mention::Mention;

/// What a plugin gets in the notification's `alert-group`.
pub use crate::model::AlertGroup as AlertGroupDetails;

fn has_number(title: &str, number: u64) -> bool {
    let wanted = format!("#{number}");
    title.match_indices(&wanted).any(|(at, _)| {
        !title[at + wanted.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// The engine names an integration by `short_name`, which is `<name> - <type>` for a
/// renamed one; the API gives `<name>`.
fn same_integration(said: &str, name: &str) -> bool {
    !name.is_empty() && (said == name || said.starts_with(&format!("{name} - ")))
}

fn details(
    group: &ApiAlertGroup,
    number: Option<u64>,
    integrations: &HashMap<String, String>,
) -> AlertGroupDetails {
    AlertGroupDetails {
        id: group.id.clone(),
        number,
        title: group.title.clone().unwrap_or_default(),
        state: group.state.clone(),
        integration: group
            .integration_id
            .as_ref()
            .and_then(|id| integrations.get(id))
            .cloned()
            .unwrap_or_default(),
        permalink: group.permalinks.web.clone().unwrap_or_default(),
        labels: group
            .labels
            .iter()
            .map(|label| (label.key.name.clone(), label.value.name.clone()))
            .collect(),
        started_at: group.created_at.clone(),
    }
}

fn by_title<'a>(
    groups: &'a [ApiAlertGroup],
    integrations: &HashMap<String, String>,
    title: &str,
    integration: Option<&str>,
) -> Option<&'a ApiAlertGroup> {
    let title = title.trim();
    groups.iter().find(|group| {
        group.title.as_deref().map(str::trim) == Some(title)
            && match (integration, &group.integration_id) {
                (Some(said), Some(id)) => integrations
                    .get(id)
                    .is_some_and(|name| same_integration(said, name)),
                _ => true,
            }
    })
}

/// The group `mention` is about (the first named, for a bundle), if it is among `groups`.
pub fn find(
    mention: &Mention,
    groups: &[ApiAlertGroup],
    integrations: &HashMap<String, String>,
) -> Option<AlertGroupDetails> {
    match mention {
        Mention::Sms {
            numbers,
            title,
            integration,
        } => {
            for number in numbers {
                if let Some(group) = groups
                    .iter()
                    .find(|g| g.title.as_deref().is_some_and(|t| has_number(t, *number)))
                {
                    return Some(details(group, Some(*number), integrations));
                }
            }
            let title = title.as_deref()?;
            let group = by_title(groups, integrations, title, integration.as_deref())?;
            Some(details(group, numbers.first().copied(), integrations))
        }
        Mention::Call { integration, title } => {
            let group = by_title(groups, integrations, title, Some(integration))?;
            Some(details(group, None, integrations))
        }
        Mention::Nothing => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, title: &str, integration: &str) -> ApiAlertGroup {
        serde_json::from_value(serde_json::json!({
            "id": id, "integration_id": integration, "state": "firing", "title": title,
            "created_at": "2026-03-23T09:00:00Z",
            "permalinks": {"web": format!("https://grafana.example.com/a/grafana-oncall-app/alert-groups/{id}")},
            "labels": [{"key": {"id": "severity", "name": "severity"}, "value": {"id": "critical", "name": "critical"}}]
        }))
        .unwrap()
    }

    fn names() -> HashMap<String, String> {
        HashMap::from([
            ("C1".to_owned(), "Test integration".to_owned()),
            ("C2".to_owned(), "Other".to_owned()),
        ])
    }

    #[test]
    fn the_number_in_a_title_wins_over_a_same_titled_newer_group() {
        let groups = [
            group("INEW", "Disk full", "C1"),
            group("IOLD", "#13 Disk full", "C1"),
        ];
        let mention = Mention::Sms {
            numbers: vec![13],
            title: Some("Disk full".to_owned()),
            integration: None,
        };
        let found = find(&mention, &groups, &names()).unwrap();
        assert_eq!(found.id, "IOLD");
        assert_eq!(found.number, Some(13));
        assert!(!has_number("#130 Disk", 13));
    }

    #[test]
    fn title_and_integration_pick_the_newest_matching_group() {
        let groups = [
            group("IA", "Disk full", "C2"),
            group("IB", "Disk full", "C1"),
            group("IC", "Disk full", "C1"),
        ];
        let mention = Mention::Call {
            integration: "Test integration - Formatted webhook".to_owned(),
            title: "Disk full".to_owned(),
        };
        let found = find(&mention, &groups, &names()).unwrap();
        assert_eq!(found.id, "IB");
        assert_eq!(found.integration, "Test integration");
        assert_eq!(
            found.labels,
            vec![("severity".to_owned(), "critical".to_owned())]
        );
        assert!(found.permalink.ends_with("/alert-groups/IB"));
    }

    #[test]
    fn nothing_matches_gives_none() {
        let groups = [group("IA", "Disk full", "C1")];
        let mention = Mention::Sms {
            numbers: vec![4],
            title: None,
            integration: None,
        };
        assert_eq!(find(&mention, &groups, &names()), None);
        assert_eq!(find(&Mention::Nothing, &groups, &names()), None);
    }
}
