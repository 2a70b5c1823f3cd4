//! What a person who was paged can do to the alert group, and how OnCall's public API
//! and a note in OnCall name it.

/// An action on an alert group, on behalf of the person who was paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Acknowledge,
    Resolve,
    Silence { seconds: u32 },
    Unacknowledge,
}

impl Action {
    /// The last segment of its public API path: `api/v1/alert_groups/<id>/<this>`.
    pub fn api_verb(&self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledge",
            Action::Resolve => "resolve",
            Action::Silence { .. } => "silence",
            Action::Unacknowledge => "unacknowledge",
        }
    }

    /// The group's state once it is done (as `group_states` keeps it).
    pub fn state_after(&self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledged",
            Action::Resolve => "resolved",
            Action::Silence { .. } => "silenced",
            Action::Unacknowledge => "firing",
        }
    }

    /// How a note names it: "Acknowledged", "Silenced for 30 minutes".
    pub fn done(&self) -> String {
        match self {
            Action::Acknowledge => "Acknowledged".to_owned(),
            Action::Resolve => "Resolved".to_owned(),
            Action::Unacknowledge => "Unacknowledged".to_owned(),
            Action::Silence { seconds } => format!("Silenced for {}", spoken_duration(*seconds)),
        }
    }
}

/// "30 minutes", "1 hour", "2 hours", "45 seconds".
fn spoken_duration(seconds: u32) -> String {
    let plural = |count: u32, unit: &str| {
        if count == 1 {
            format!("1 {unit}")
        } else {
            format!("{count} {unit}s")
        }
    };
    if seconds >= 3_600 && seconds.is_multiple_of(3_600) {
        plural(seconds / 3_600, "hour")
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        plural(seconds / 60, "minute")
    } else {
        plural(seconds, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_as_a_person_says_them() {
        assert_eq!(
            Action::Silence { seconds: 1_800 }.done(),
            "Silenced for 30 minutes"
        );
        assert_eq!(
            Action::Silence { seconds: 3_600 }.done(),
            "Silenced for 1 hour"
        );
        assert_eq!(
            Action::Silence { seconds: 7_200 }.done(),
            "Silenced for 2 hours"
        );
        assert_eq!(
            Action::Silence { seconds: 90 }.done(),
            "Silenced for 90 seconds"
        );
        assert_eq!(Action::Acknowledge.done(), "Acknowledged");
        assert_eq!(Action::Silence { seconds: 60 }.api_verb(), "silence");
    }
}
