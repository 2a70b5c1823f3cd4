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
