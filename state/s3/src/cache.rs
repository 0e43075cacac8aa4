//! A local copy of `state.json` keyed by its ETag, so that opening an unchanged state
//! downloads nothing but the small objects.
//!
//! The copy holds the object's stored bytes exactly (an encrypted state stays
//! encrypted on disk) behind a first line with its ETag, in
//! `<cache dir>/<bucket>/<prefix>/state.json`, written to a temporary file and renamed
//! into place, with mode 0600. Opening sends the cached ETag with `If-None-Match`; S3
//! answers 304 when the object is unchanged, and the copy is used. The copy is only an
//! optimisation: a missing, unreadable or stale copy costs one full download, never a
//! wrong state, because S3 decides with the ETag. Failures to write it are logged.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::client::Object;
use crate::S3Location;

/// The cache of one state's objects.
pub(crate) struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache of the state at `location` under `root`.
    pub(crate) fn new(root: &Path, location: &S3Location) -> Cache {
        let mut dir = root.join(&location.bucket);
        for part in location.prefix.split('/').filter(|p| !p.is_empty()) {
            dir.push(part);
        }
        Cache { dir }
    }

    /// The cached copy of the object `name`, if any.
    pub(crate) fn read(&self, name: &str) -> Option<Object> {
        let raw = std::fs::read(self.dir.join(name)).ok()?;
        let newline = raw.iter().position(|b| *b == b'\n')?;
        let etag = String::from_utf8(raw[..newline].to_vec()).ok()?;
        Some(Object {
            bytes: raw[newline + 1..].to_vec(),
            etag,
        })
    }

    /// Replaces the copy of `name` with `bytes` at `etag`.
    pub(crate) fn write(&self, name: &str, bytes: &[u8], etag: &str) {
        if let Err(e) = self.try_write(name, bytes, etag) {
            tracing::warn!(target: "gig_state_s3", error = %e, dir = %self.dir.display(), "writing the local state cache failed");
        }
    }

    /// Drops the copy of `name` (the object is gone).
    pub(crate) fn forget(&self, name: &str) {
        let _ = std::fs::remove_file(self.dir.join(name));
    }

    fn try_write(&self, name: &str, bytes: &[u8], etag: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self
            .dir
            .join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        let written = file
            .write_all(etag.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.write_all(bytes));
        drop(file);
        match written.and_then(|()| std::fs::rename(&tmp, self.dir.join(name))) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }
}
