//! The lock record: a description of who holds a state, kept beside the database.
//!
//! The lock itself is sled's `flock` on its database file, taken when the database is
//! opened and released by the kernel when the process exits, however it exits. The
//! record (`lock.json`) only *describes* the holder so that a refused process can name
//! it. The holder writes it right after acquiring the lock and removes it on drop; a
//! record left behind by a killed holder is simply overwritten by the next holder and
//! never blocks anyone.

use std::path::{Path, PathBuf};

use crate::LockInfo;

/// File name of the lock record inside the state directory.
pub(crate) const LOCK_FILE: &str = "lock.json";

/// Whether a sled open error is the "another process holds the database" error.
///
/// sled 0.34 reports a failed `flock` as `io::ErrorKind::Other` with no OS error code
/// and a message starting `could not acquire lock on`, so the message is the only
/// reliable signal.
pub(crate) fn is_lock_error(err: &sled::Error) -> bool {
    match err {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::Other
                && io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

/// Reads the holder's record, or the "unknown" holder when it is missing or unreadable.
pub(crate) fn read_holder(dir: &Path) -> LockInfo {
    std::fs::read(dir.join(LOCK_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<LockInfo>(&bytes).ok())
        .unwrap_or_else(LockInfo::unknown)
}

/// Writes the holder's record atomically (temporary file, then rename), so a reader
/// never sees half of it.
pub(crate) fn write_holder(dir: &Path, holder: &LockInfo) -> std::io::Result<PathBuf> {
    let path = dir.join(LOCK_FILE);
    let tmp = dir.join(format!("{LOCK_FILE}.tmp"));
    let bytes = serde_json::to_vec_pretty(holder).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
