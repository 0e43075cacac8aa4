//! The lock record: a description of who holds a state, kept beside the database.
//!
//! The lock itself is sled's `flock` on its database file, taken when the database is
//! opened and released by the kernel when the process exits, however it exits. The
//! record (`lock.json`) only *describes* the holder so that a refused process can name
//! it. The holder writes it right after acquiring the lock and removes it on drop; a
//! record left behind by a killed holder is simply overwritten by the next holder and
//! never blocks anyone.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// Waits, when dropped, until sled has closed the database file (and so released its
/// lock).
///
/// Dropping a sled database does not close its file at once: sled's background threads
/// still hold it for a moment. A process that drops a store and opens it again (a test,
/// or a command that reopens state) would then find it locked by itself. This guard,
/// dropped after every sled handle, waits until no file descriptor of this process
/// refers to the database file (read from `/proc/self/fd`), for at most
/// [`RELEASE_WAIT`]: it never hangs, and it never waits for another process. Where
/// `/proc` is missing it does not wait.
pub(crate) struct Release {
    db_file: PathBuf,
}

/// The longest a dropped store waits for sled to let go of its file.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

impl Release {
    pub(crate) fn new(db_file: PathBuf) -> Release {
        let db_file = std::fs::canonicalize(&db_file).unwrap_or(db_file);
        Release { db_file }
    }

    /// Whether a descriptor of this process still refers to the database file.
    fn still_open(&self) -> bool {
        let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
            return false;
        };
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == self.db_file))
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let deadline = Instant::now() + RELEASE_WAIT;
        while self.still_open() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Replaces the value of every `--param NAME=VALUE` (or `--param=NAME=VALUE`) in a
/// command line with `(redacted)`: the lock record is shown to other users and a param
/// may be secret. The command should not carry values in the first place; this is the
/// second line of defence.
pub(crate) fn redact_params(command: &str) -> String {
    let assignment = |t: &str| match t.split_once('=') {
        Some((name, _)) => format!("{name}=(redacted)"),
        None => t.to_string(),
    };
    let mut out: Vec<String> = Vec::new();
    let mut value_next = false;
    for token in command.split(' ') {
        if value_next {
            out.push(assignment(token));
            value_next = false;
        } else if let Some(rest) = token.strip_prefix("--param=") {
            out.push(format!("--param={}", assignment(rest)));
        } else {
            value_next = token == "--param";
            out.push(token.to_string());
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_values_are_redacted_from_the_command() {
        assert_eq!(
            redact_params("gig apply stacks/x --param db_password=hunter2 --param=env=prod -a"),
            "gig apply stacks/x --param db_password=(redacted) --param=env=(redacted) -a"
        );
        assert_eq!(redact_params("gig plan"), "gig plan");
    }
}
