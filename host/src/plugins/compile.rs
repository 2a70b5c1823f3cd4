//! Compiling a plugin file, once per content hash: compiled artifacts are cached on disk
//! so a restart loads in a millisecond instead of recompiling.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use super::PluginError;

pub(super) fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Identifies the engine build and settings a compiled artifact is valid for.
fn engine_fingerprint(engine: &Engine) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Compiles `bytes` (or loads its cached artifact) on a blocking thread: compiling takes
/// long enough to stall the async runtime.
pub(super) async fn compile(
    engine: &Engine,
    bytes: Vec<u8>,
    hash: String,
    cache_dir: Option<PathBuf>,
) -> Result<Component, PluginError> {
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || compile_blocking(&engine, &bytes, &hash, cache_dir))
        .await
        .map_err(|err| PluginError::Sandbox(format!("compiler thread failed: {err}")))?
}

fn compile_blocking(
    engine: &Engine,
    bytes: &[u8],
    hash: &str,
    cache_dir: Option<PathBuf>,
) -> Result<Component, PluginError> {
    let cached =
        cache_dir.map(|dir| dir.join(format!("{hash}-{}.cwasm", engine_fingerprint(engine))));
    if let Some(path) = cached.as_ref().filter(|path| path.exists()) {
        // SAFETY: the cache holds only artifacts this process wrote for this engine
        // fingerprint; operators must keep the cache directory writable by the server
        // alone (it is created 0700).
        match unsafe { Component::deserialize_file(engine, path) } {
            Ok(component) => return Ok(component),
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "ignoring an unusable cached plugin artifact")
            }
        }
    }
    let component =
        Component::new(engine, bytes).map_err(|err| PluginError::Invalid(format!("{err:#}")))?;
    if let Some(path) = cached {
        if let Err(err) = store_artifact(&component, &path) {
            tracing::warn!(path = %path.display(), error = %err, "cannot cache the compiled plugin");
        }
    }
    Ok(component)
}

fn store_artifact(component: &Component, path: &std::path::Path) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no parent directory"))?;
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, component.serialize()?)?;
    // Rename is atomic: another replica never reads a half-written artifact.
    std::fs::rename(&temporary, path)?;
    Ok(())
}
