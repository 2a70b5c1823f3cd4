//! Compiling a plugin file, once per content hash: compiled artifacts are cached on disk
//! so a restart loads in a millisecond instead of recompiling.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use wasmtime::component::Component;
use wasmtime::Engine;

use super::cache::ArtifactCache;
use super::PluginError;

pub(super) fn content_hash(bytes: &[u8]) -> String {
    crate::crypto::sha256_hex(bytes)
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
    cache: Option<Arc<ArtifactCache>>,
) -> Result<Component, PluginError> {
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || compile_blocking(&engine, &bytes, &hash, cache.as_deref()))
        .await
        .map_err(|err| PluginError::Sandbox(format!("compiler thread failed: {err}")))?
}

fn compile_blocking(
    engine: &Engine,
    bytes: &[u8],
    hash: &str,
    cache: Option<&ArtifactCache>,
) -> Result<Component, PluginError> {
    let fingerprint = engine_fingerprint(engine);
    if let Some(artifact) = cache.and_then(|cache| cache.load(hash, &fingerprint)) {
        // SAFETY: wasmtime runs a deserialized artifact as native code, so it must be
        // one that wasmtime itself produced for this engine. `load` returns bytes only
        // when their HMAC, under a key kept in PostgreSQL, covers them, this `.wasm`'s
        // hash and this engine's fingerprint; only this server writes such artifacts
        // (`store` below), in a directory only its user can write.
        #[allow(unsafe_code)]
        match unsafe { Component::deserialize(engine, &artifact) } {
            Ok(component) => return Ok(component),
            Err(err) => {
                tracing::warn!(error = %err, "ignoring an unusable cached plugin artifact")
            }
        }
    }
    let component =
        Component::new(engine, bytes).map_err(|err| PluginError::Invalid(format!("{err:#}")))?;
    if let Some(cache) = cache {
        let stored = component
            .serialize()
            .map_err(|err| std::io::Error::other(err.to_string()))
            .and_then(|artifact| cache.store(hash, &fingerprint, &artifact));
        if let Err(err) = stored {
            tracing::warn!(error = %err, "cannot cache the compiled plugin");
        }
    }
    Ok(component)
}
