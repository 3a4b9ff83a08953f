//! The file operations the WAL needs, behind a trait so tests can inject faults
//! (see `faulty.rs`). [`StdFs`] is the real file system.

use std::io;
use std::path::Path;

/// An open segment file.
pub trait WalFile: Send {
    /// Writes all of `data` at `offset`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Makes every write so far durable (fdatasync).
    fn sync_data(&mut self) -> io::Result<()>;
}

/// A file system as the WAL uses it.
pub trait Fs: Send + Sync {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the entries of `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The whole content of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Reads up to `buf.len()` bytes of a file from `offset`: how many it read (fewer
    /// only at the end of the file).
    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Creates (or replaces) a file of `len` zero bytes, written out to disk, with
    /// `header` written at its start, all synced; the directory is not synced.
    fn create_segment(&self, path: &Path, len: u64, header: &[u8]) -> io::Result<Box<dyn WalFile>>;
    /// Opens an existing file for writing.
    fn open(&self, path: &Path) -> io::Result<Box<dyn WalFile>>;
    /// Writes a whole new file and syncs it.
    fn write_file(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The operating system's file system.
pub struct StdFs;

impl WalFile for std::fs::File {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::write_all_at(self, data, offset)
        }
        #[cfg(not(unix))]
        {
            use std::io::{Seek, SeekFrom, Write};
            self.seek(SeekFrom::Start(offset))?;
            self.write_all(data)
        }
    }

    fn sync_data(&mut self) -> io::Result<()> {
        std::fs::File::sync_data(self)
    }
}

impl Fs for StdFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let file = std::fs::File::open(path)?;
        let mut read = 0;
        while read < buf.len() {
            #[cfg(unix)]
            let n = std::os::unix::fs::FileExt::read_at(&file, &mut buf[read..], offset + read as u64)?;
            #[cfg(not(unix))]
            let n = {
                use std::io::{Read, Seek, SeekFrom};
                let mut file = &file;
                file.seek(SeekFrom::Start(offset + read as u64))?;
                file.read(&mut buf[read..])?
            };
            if n == 0 {
                break;
            }
            read += n;
        }
        Ok(read)
    }

    fn create_segment(&self, path: &Path, len: u64, header: &[u8]) -> io::Result<Box<dyn WalFile>> {
        let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path)?;
        allocate(&file, len)?;
        // Write the zeros for real: an fdatasync into allocated-but-unwritten extents
        // also commits their conversion to the journal, which doubles its latency.
        let zeros = vec![0u8; 1 << 20];
        let mut offset = 0;
        while offset < len {
            let n = (len - offset).min(zeros.len() as u64);
            WalFile::write_at(&mut file, offset, &zeros[..n as usize])?;
            offset += n;
        }
        WalFile::write_at(&mut file, 0, header)?;
        file.sync_all()?;
        Ok(Box::new(file))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        Ok(Box::new(std::fs::OpenOptions::new().write(true).open(path)?))
    }

    fn write_file(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut file = std::fs::File::create(path)?;
        io::Write::write_all(&mut file, data)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::File::open(dir)?.sync_all()
    }
}

/// Reserves `len` bytes of disk for the file at once, so a full disk is found here
/// and not in the middle of the log.
fn allocate(file: &std::fs::File, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let len = libc::off_t::try_from(len).map_err(io::Error::other)?;
        // SAFETY: the descriptor is open for the lifetime of `file`.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
        if rc == 0 {
            return Ok(());
        }
        if rc != libc::EOPNOTSUPP && rc != libc::EINVAL {
            return Err(io::Error::from_raw_os_error(rc));
        }
    }
    file.set_len(len)
}
