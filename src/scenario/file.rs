//! Reading a file that a user named (a scenario, a playbook, a report to re-render) without
//! trusting it: only regular files are opened (a FIFO would block the open, a device such
//! as `/dev/zero` never ends, a directory is not text), and at most `cap + 1` bytes are
//! read whatever the file's size claims to be, so the memory a read takes is bounded.

use std::fmt;
use std::fs::{File, FileType};
use std::io::{self, Read};
use std::path::Path;

/// Why a file could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not found")]
    NotFound,
    /// A directory, FIFO, socket or device.
    #[error("is {0}, not a regular file")]
    NotRegular(Kind),
    #[error("larger than {cap} bytes, the most firedrill reads from such a file")]
    TooLarge { cap: u64 },
    #[error("not UTF-8 text (byte {0})")]
    NotUtf8(usize),
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
}

/// What a path names when it is not a regular file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Directory,
    Fifo,
    Socket,
    Device,
    Other,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Directory => "a directory",
            Kind::Fifo => "a named pipe (FIFO)",
            Kind::Socket => "a socket",
            Kind::Device => "a device",
            Kind::Other => "not a file",
        })
    }
}

/// What a path that is not a regular file names.
pub fn kind_of(t: FileType) -> Kind {
    kind(t).err().unwrap_or(Kind::Other)
}

fn kind(t: FileType) -> Result<(), Kind> {
    if t.is_file() {
        return Ok(());
    }
    if t.is_dir() {
        return Err(Kind::Directory);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Err(Kind::Fifo);
        }
        if t.is_socket() {
            return Err(Kind::Socket);
        }
        if t.is_char_device() || t.is_block_device() {
            return Err(Kind::Device);
        }
    }
    Err(Kind::Other)
}

/// Reads `path` as UTF-8 text of at most `cap` bytes. The path must name a regular file
/// (symlinks are followed); that is checked before it is opened, so a FIFO is refused
/// instead of blocking, and again on the opened file.
pub fn read_text(path: &Path, cap: u64) -> Result<String, ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(e),
    })?;
    kind(meta.file_type()).map_err(ReadError::NotRegular)?;
    let file = File::open(path)?;
    // The path may have been replaced between the check and the open.
    kind(file.metadata()?.file_type()).map_err(ReadError::NotRegular)?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > cap {
        return Err(ReadError::TooLarge { cap });
    }
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8(e.utf8_error().valid_up_to()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "0123456789").unwrap();
        assert_eq!(read_text(&p, 10).unwrap(), "0123456789");
        assert!(matches!(read_text(&p, 9), Err(ReadError::TooLarge { cap: 9 })));
        std::fs::write(&p, b"ab\xffcd").unwrap();
        assert_eq!(read_text(&p, 10).unwrap_err().to_string(), "not UTF-8 text (byte 2)");
        assert!(matches!(read_text(&dir.path().join("missing"), 10), Err(ReadError::NotFound)));
    }

    /// The cap holds whatever the size in the metadata says: files in /proc claim 0 bytes.
    #[test]
    fn the_cap_does_not_trust_the_size_the_file_claims() {
        let status = Path::new("/proc/self/status");
        if std::fs::metadata(status).map(|m| m.len()).unwrap_or(1) != 0 {
            return; // not Linux: nothing claims a wrong size here
        }
        assert!(matches!(read_text(status, 16), Err(ReadError::TooLarge { cap: 16 })));
    }

    #[test]
    fn directories_devices_and_fifos_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_text(dir.path(), 1 << 20).unwrap_err().to_string(), "is a directory, not a regular file");
        assert_eq!(
            read_text(Path::new("/dev/zero"), 1 << 20).unwrap_err().to_string(),
            "is a device, not a regular file"
        );
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        // Opening a FIFO for reading blocks until a writer comes: it must not be opened.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read_text(&fifo, 1 << 20).map_err(|e| e.to_string()));
        });
        let r = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("reading a FIFO blocked");
        assert_eq!(r.unwrap_err(), "is a named pipe (FIFO), not a regular file");
    }
}
