use crate::model::FailureKind;

/// Why a plugin could not be loaded or could not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("not a valid notifier component: {0}")]
    Invalid(String),
    #[error("the plugin's configuration is invalid: {0}")]
    Config(String),
    #[error("exceeded its wall-clock limit of {0} ms")]
    Timeout(u64),
    #[error("exceeded its CPU limit of {0} ms")]
    CpuLimit(u64),
    #[error("exceeded its memory limit of {0} MiB")]
    MemoryLimit(u64),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("sandbox: {0}")]
    Sandbox(String),
}

impl PluginError {
    /// The kind of failure an attempt that ended this way counts as.
    pub fn kind(&self) -> FailureKind {
        match self {
            PluginError::Timeout(_) => FailureKind::Timeout,
            PluginError::CpuLimit(_) => FailureKind::CpuLimit,
            PluginError::MemoryLimit(_) => FailureKind::MemoryLimit,
            PluginError::Trap(_) => FailureKind::Trap,
            PluginError::Read { .. }
            | PluginError::Invalid(_)
            | PluginError::Config(_)
            | PluginError::Sandbox(_) => FailureKind::Unavailable,
        }
    }

    /// Whether the same file may well succeed later: limits of time and CPU that a busy
    /// host runs into, a file still being written, the host's own trouble. An invalid
    /// component, a refused configuration, a trap or the memory limit will not change.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PluginError::Timeout(_)
                | PluginError::CpuLimit(_)
                | PluginError::Read { .. }
                | PluginError::Sandbox(_)
        )
    }
}
