//! Putting a save on disk so that a crash never leaves half a profile.
//!
//! A save holds the user's identity: a torn write loses it for good. So
//! the new bytes go to a temporary file beside the old one, are flushed to
//! the disk, and only then replace it by a rename, which POSIX makes
//! atomic within a file system; a last flush of the folder makes the
//! rename itself durable. At every instant the path holds either the whole
//! old save or the whole new one.
//!
//! The protocol crates take and return bytes; this is where a save meets
//! the file system. Nothing here is called on a failed load: a file that
//! does not load is left as it is.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces the file at `path` with `bytes`, atomically and durably.
///
/// The file is created readable by its owner only (on Unix), as it holds a
/// secret key. On error the old file is untouched and the temporary file
/// removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a save path must name a file, not a folder",
        )
    })?;
    let (temp_path, temp) = create_temp(dir, name)?;
    if let Err(e) = fill_and_rename(temp, &temp_path, path, bytes) {
        let _ = fs::remove_file(&temp_path);
        return Err(e);
    }
    sync_dir(dir)
}

/// Writes and flushes the temporary file, closes it, and renames it over
/// the save.
fn fill_and_rename(mut temp: File, temp_path: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    temp.write_all(bytes)?;
    temp.sync_all()?;
    drop(temp);
    fs::rename(temp_path, path)
}

/// A new file beside the save, named after it and unique to this call.
fn create_temp(dir: &Path, name: &std::ffi::OsStr) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(
            ".{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let temp_path = dir.join(temp_name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&temp_path) {
            Ok(file) => return Ok((temp_path, file)),
            // Left by a crashed process with our pid: take the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

/// Flushes the folder entry of the rename (Unix; elsewhere the rename is
/// as durable as the platform makes it).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("toxide-save-file-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = scratch("replace");
        let path = dir.join("profile.tox");
        fs::write(&path, b"old").unwrap();
        write_atomic(&path, b"new save").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new save");
        let entries: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(entries.len(), 1, "only the save is left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = scratch("fail");
        let path = dir.join("profile.tox");
        fs::write(&path, b"old").unwrap();
        // Renaming a file over a non-empty folder fails.
        let blocker = dir.join("blocked");
        fs::create_dir_all(blocker.join("inside")).unwrap();
        assert!(write_atomic(&blocker, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary left: {names:?}");
        assert!(write_atomic(Path::new("/"), b"x").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
