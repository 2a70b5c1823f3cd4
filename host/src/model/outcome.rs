//! What one delivery attempt came to, and, when it failed, what kind of failure it was:
//! the provider's answer, or the sandbox cutting the plugin off.

use std::fmt;

/// What the provider said about a message it took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    pub provider_id: Option<String>,
    pub detail: Option<String>,
}

/// Why an attempt failed, in few enough kinds to be a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The plugin answered with a failure (the provider refused, or could not be reached).
    Provider,
    /// The wall-clock limit ended the call.
    Timeout,
    /// The CPU limit ended the call.
    CpuLimit,
    /// The memory limit ended the call.
    MemoryLimit,
    /// The plugin trapped (a panic, an invalid operation).
    Trap,
    /// The plugin could not be run at all: not loaded, not valid, refused its config,
    /// or the host's own trouble.
    Unavailable,
}

impl FailureKind {
    pub const ALL: [FailureKind; 6] = [
        FailureKind::Provider,
        FailureKind::Timeout,
        FailureKind::CpuLimit,
        FailureKind::MemoryLimit,
        FailureKind::Trap,
        FailureKind::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Provider => "provider",
            FailureKind::Timeout => "timeout",
            FailureKind::CpuLimit => "cpu_limit",
            FailureKind::MemoryLimit => "memory_limit",
            FailureKind::Trap => "trap",
            FailureKind::Unavailable => "unavailable",
        }
    }
}

/// A failed attempt: its kind and the (already redacted) reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub reason: String,
}

impl Failure {
    pub fn provider(reason: impl Into<String>) -> Failure {
        Failure {
            kind: FailureKind::Provider,
            reason: reason.into(),
        }
    }

    pub fn unavailable(reason: impl Into<String>) -> Failure {
        Failure {
            kind: FailureKind::Unavailable,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// What a delivery attempt through one sender came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered(Receipt),
    /// Trying again later may work (the provider said so, or the plugin was cut off).
    Retryable(Failure),
    /// Trying again will not help.
    Permanent(Failure),
}

impl AttemptOutcome {
    /// The label stored with the attempt and counted in `delivery_attempts`.
    pub fn label(&self) -> &'static str {
        match self {
            AttemptOutcome::Delivered(_) => "delivered",
            AttemptOutcome::Retryable(_) => "retryable",
            AttemptOutcome::Permanent(_) => "permanent",
        }
    }

    pub fn failure(&self) -> Option<&Failure> {
        match self {
            AttemptOutcome::Delivered(_) => None,
            AttemptOutcome::Retryable(failure) | AttemptOutcome::Permanent(failure) => {
                Some(failure)
            }
        }
    }
}
