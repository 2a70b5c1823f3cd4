//! Plain-text lines describing a notification's alert group, for chat-style channels.

use crate::AlertGroup;

impl AlertGroup {
    /// `#13 Disk full (firing)`: the number when known, the title, the state.
    pub fn headline(&self) -> String {
        let mut headline = String::new();
        if let Some(number) = self.number {
            headline.push_str(&format!("#{number} "));
        }
        headline.push_str(if self.title.is_empty() {
            "Alert group"
        } else {
            &self.title
        });
        if !self.state.is_empty() {
            headline.push_str(&format!(" ({})", self.state));
        }
        headline
    }

    /// `severity=critical, team=db`, in the order given.
    pub fn labels_text(&self) -> String {
        self.labels
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The headline, then whichever of integration, labels and link are known, one
    /// per line.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines = vec![self.headline()];
        if !self.integration.is_empty() {
            lines.push(format!("via {}", self.integration));
        }
        if !self.labels.is_empty() {
            lines.push(self.labels_text());
        }
        if !self.permalink.is_empty() {
            lines.push(self.permalink.clone());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> AlertGroup {
        AlertGroup {
            id: "IABC".to_owned(),
            number: Some(13),
            title: "Disk full".to_owned(),
            state: "firing".to_owned(),
            integration: "Grafana Alerting".to_owned(),
            permalink: "https://grafana.example.com/a/grafana-oncall-app/alert-groups/IABC"
                .to_owned(),
            labels: vec![
                ("severity".to_owned(), "critical".to_owned()),
                ("team".to_owned(), "db".to_owned()),
            ],
            started_at: None,
        }
    }

    #[test]
    fn every_known_detail_gets_a_line() {
        assert_eq!(
            group().summary_lines(),
            vec![
                "#13 Disk full (firing)",
                "via Grafana Alerting",
                "severity=critical, team=db",
                "https://grafana.example.com/a/grafana-oncall-app/alert-groups/IABC",
            ]
        );
    }

    #[test]
    fn a_bare_group_still_reads() {
        let bare = AlertGroup {
            number: None,
            title: String::new(),
            state: String::new(),
            integration: String::new(),
            permalink: String::new(),
            labels: Vec::new(),
            ..group()
        };
        assert_eq!(bare.summary_lines(), vec!["Alert group"]);
    }
}
