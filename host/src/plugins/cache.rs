//! The on-disk cache of compiled plugins. An artifact is native code that is mapped and
//! run, so nothing is loaded from it unless the directory is the server's own (owned by
//! its user, writable by nobody else) and the artifact carries a valid HMAC, under a key
//! kept in PostgreSQL, over its bytes, the `.wasm` it came from and the engine build.
//! Anything else is compiled afresh.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::Mac;

use crate::crypto::{hmac_sha256, HmacSha256};

/// What starts every artifact file: a version tag, then the 32-byte HMAC.
const MAGIC: &[u8] = b"emu-oncall-cwasm-1\n";
const MAC_LEN: usize = 32;

/// Why a cache directory is not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheRefused {
    #[error("{0}: cannot create or read it: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0} is a symbolic link or not a directory")]
    NotADirectory(PathBuf),
    #[error("{0} belongs to uid {1}, not to the server's uid {2}")]
    NotOurs(PathBuf, u32, u32),
    #[error("{0} is writable by its group or others (mode {1:o}); chmod 700 it")]
    Shared(PathBuf, u32),
}

/// A cache directory fit to load native code from, and the key its artifacts are
/// signed with.
pub struct ArtifactCache {
    dir: PathBuf,
    key: Vec<u8>,
}

/// Creates `dir` (0700) if it is missing, then checks that only this process's user can
/// write it.
pub fn check_dir(dir: &Path) -> Result<(), CacheRefused> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|err| CacheRefused::Io(dir.to_owned(), err))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|err| CacheRefused::Io(dir.to_owned(), err))?;
    }
    let meta =
        std::fs::symlink_metadata(dir).map_err(|err| CacheRefused::Io(dir.to_owned(), err))?;
    if !meta.file_type().is_dir() {
        return Err(CacheRefused::NotADirectory(dir.to_owned()));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(CacheRefused::NotOurs(dir.to_owned(), meta.uid(), me));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(CacheRefused::Shared(dir.to_owned(), mode));
    }
    Ok(())
}

impl ArtifactCache {
    pub fn open(dir: &Path, key: Vec<u8>) -> Result<Self, CacheRefused> {
        check_dir(dir)?;
        Ok(ArtifactCache {
            dir: dir.to_owned(),
            key,
        })
    }

    fn path(&self, wasm_hash: &str, engine: &str) -> PathBuf {
        self.dir.join(format!("{wasm_hash}-{engine}.cwasm"))
    }

    fn mac(&self, wasm_hash: &str, engine: &str, artifact: &[u8]) -> HmacSha256 {
        let mut mac = hmac_sha256(&self.key);
        for part in [wasm_hash.as_bytes(), engine.as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.update(artifact);
        mac
    }

    /// The artifact for `wasm_hash` on `engine`, if one is stored and its HMAC holds.
    /// A file that fails the check is logged and left to be replaced.
    pub fn load(&self, wasm_hash: &str, engine: &str) -> Option<Vec<u8>> {
        let path = self.path(wasm_hash, engine);
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
        {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "cannot read a cached plugin artifact; compiling instead");
                return None;
            }
        };
        let mut bytes = Vec::new();
        if let Err(err) = file.read_to_end(&mut bytes) {
            tracing::warn!(path = %path.display(), error = %err, "cannot read a cached plugin artifact; compiling instead");
            return None;
        }
        let signed = bytes
            .strip_prefix(MAGIC)
            .filter(|rest| rest.len() > MAC_LEN)
            .and_then(|rest| {
                let (tag, artifact) = rest.split_at(MAC_LEN);
                self.mac(wasm_hash, engine, artifact)
                    .verify_slice(tag)
                    .ok()
                    .map(|()| artifact.len())
            });
        match signed {
            Some(length) => {
                let start = bytes.len() - length;
                Some(bytes.split_off(start))
            }
            None => {
                tracing::warn!(path = %path.display(), "a cached plugin artifact fails its integrity check (tampered, swapped or from another server); compiling instead");
                None
            }
        }
    }

    /// Stores `artifact`, signed, through a fresh temporary file (created exclusively,
    /// never through a symbolic link) renamed into place: readers see all of it or none.
    pub fn store(&self, wasm_hash: &str, engine: &str, artifact: &[u8]) -> std::io::Result<()> {
        let path = self.path(wasm_hash, engine);
        let temporary = self
            .dir
            .join(format!(".{}.tmp", crate::ids::short_random()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&temporary)?;
        let tag = self
            .mac(wasm_hash, engine, artifact)
            .finalize()
            .into_bytes();
        let written = file
            .write_all(MAGIC)
            .and_then(|()| file.write_all(&tag))
            .and_then(|()| file.write_all(artifact))
            // No fsync: a file cut short by a crash fails its HMAC and is recompiled.
            .and_then(|()| std::fs::rename(&temporary, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(dir: &Path, key: &[u8]) -> ArtifactCache {
        ArtifactCache::open(dir, key.to_vec()).expect("a private temp dir is fit")
    }

    #[test]
    fn an_artifact_loads_only_as_it_was_stored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path(), b"key");
        assert_eq!(cache.load("wasm", "engine"), None);
        cache.store("wasm", "engine", b"native code").unwrap();
        assert_eq!(
            cache.load("wasm", "engine").as_deref(),
            Some(&b"native code"[..])
        );
        // Another .wasm, another engine, another key: none of them loads it.
        assert_eq!(cache.load("other", "engine"), None);
        assert_eq!(cache.load("wasm", "other"), None);
        let stranger = ArtifactCache::open(dir.path(), b"other key".to_vec()).unwrap();
        assert_eq!(stranger.load("wasm", "engine"), None);
        // One flipped byte of the code.
        let path = cache.path("wasm", "engine");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.load("wasm", "engine"), None);
    }

    #[test]
    fn a_symbolic_link_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path(), b"key");
        let elsewhere = dir.path().join("elsewhere");
        cache.store("wasm", "engine", b"code").unwrap();
        std::fs::rename(cache.path("wasm", "engine"), &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, cache.path("wasm", "engine")).unwrap();
        assert_eq!(cache.load("wasm", "engine"), None);
    }

    #[test]
    fn shared_or_linked_directories_are_refused() {
        let parent = tempfile::tempdir().unwrap();
        let shared = parent.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(check_dir(&shared), Err(CacheRefused::Shared(..))));
        let link = parent.path().join("link");
        let private = parent.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::os::unix::fs::symlink(&private, &link).unwrap();
        assert!(matches!(
            check_dir(&link),
            Err(CacheRefused::NotADirectory(_))
        ));
        // A missing one is made, private.
        let fresh = parent.path().join("a/b");
        check_dir(&fresh).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
