//! An in-memory file system that misbehaves on request, for tests of the WAL:
//! it fails the Nth write or fsync, and a simulated crash keeps only what was synced,
//! everything written (a process kill), or tears the last write at a sector boundary.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::fs::{Fs, WalFile};

/// Sector size used when tearing a write.
pub const SECTOR: usize = 512;

#[derive(Default)]
struct MemFile {
    /// What a reader sees now (the page cache).
    data: Vec<u8>,
    /// What survives a power loss.
    synced: Vec<u8>,
    /// Unsynced writes, oldest first.
    pending: Vec<(usize, Vec<u8>)>,
}

#[derive(Default)]
struct State {
    files: BTreeMap<PathBuf, MemFile>,
    writes: u64,
    syncs: u64,
    fail_write: Option<u64>,
    fail_sync: Option<u64>,
    /// Time every write and fsync takes, to widen races in tests.
    latency: std::time::Duration,
}

/// What a simulated crash keeps of the writes not yet synced.
#[derive(Debug, Clone, Copy)]
pub enum Crash {
    /// Power loss: only synced bytes survive.
    DropUnsynced,
    /// Process kill: the OS keeps every write.
    KeepUnsynced,
    /// Power loss during the last write: earlier unsynced writes are lost, and only
    /// the first `sectors` whole sectors of the last write reach the disk.
    TearLastWrite { sectors: usize },
}

/// The in-memory file system. Clones share their files.
#[derive(Clone, Default)]
pub struct FaultyFs {
    state: Arc<Mutex<State>>,
}

impl FaultyFs {
    pub fn new() -> FaultyFs {
        FaultyFs::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the `n`th write from now (1 = the next) fail.
    pub fn fail_write_after(&self, n: u64) {
        let mut s = self.lock();
        s.fail_write = Some(s.writes + n);
    }

    /// Makes the `n`th fsync from now (1 = the next) fail.
    pub fn fail_sync_after(&self, n: u64) {
        let mut s = self.lock();
        s.fail_sync = Some(s.syncs + n);
    }

    /// Makes every write and fsync take `latency`, as a disk would.
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.lock().latency = latency;
    }

    /// How many fsyncs have been asked for.
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// A new file system holding what the disk would hold after a crash now.
    pub fn crash(&self, crash: Crash) -> FaultyFs {
        let s = self.lock();
        let mut files = BTreeMap::new();
        for (path, f) in &s.files {
            let mut data = f.synced.clone();
            match crash {
                Crash::DropUnsynced => {}
                Crash::KeepUnsynced => data = f.data.clone(),
                Crash::TearLastWrite { sectors } => {
                    if let Some((offset, bytes)) = f.pending.last() {
                        // The torn write keeps whole sectors of the file from its start.
                        let keep_end = ((offset / SECTOR) + sectors) * SECTOR;
                        let kept = keep_end.saturating_sub(*offset).min(bytes.len());
                        write_into(&mut data, *offset, &bytes[..kept]);
                    }
                }
            }
            files.insert(path.clone(), MemFile { synced: data.clone(), data, pending: Vec::new() });
        }
        FaultyFs { state: Arc::new(Mutex::new(State { files, ..State::default() })) }
    }

    /// Replaces a file's content everywhere (for damage tests).
    pub fn set_file(&self, path: &Path, data: Vec<u8>) {
        self.lock().files.insert(path.to_path_buf(), MemFile { synced: data.clone(), data, pending: Vec::new() });
    }

    /// A file's current content.
    pub fn file(&self, path: &Path) -> Option<Vec<u8>> {
        self.lock().files.get(path).map(|f| f.data.clone())
    }

    /// Every file path, sorted.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.lock().files.keys().cloned().collect()
    }
}

impl FaultyFs {
    fn wait_latency(&self) {
        let latency = self.lock().latency;
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
    }
}

fn write_into(data: &mut Vec<u8>, offset: usize, bytes: &[u8]) {
    if data.len() < offset + bytes.len() {
        data.resize(offset + bytes.len(), 0);
    }
    data[offset..offset + bytes.len()].copy_from_slice(bytes);
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} not found", path.display()))
}

struct FaultyFile {
    fs: FaultyFs,
    path: PathBuf,
}

impl WalFile for FaultyFile {
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.fs.wait_latency();
        let mut s = self.fs.lock();
        s.writes += 1;
        if s.fail_write == Some(s.writes) {
            return Err(io::Error::other("injected write failure"));
        }
        let f = s.files.get_mut(&self.path).ok_or_else(|| not_found(&self.path))?;
        write_into(&mut f.data, offset as usize, bytes);
        f.pending.push((offset as usize, bytes.to_vec()));
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.fs.wait_latency();
        let mut s = self.fs.lock();
        s.syncs += 1;
        if s.fail_sync == Some(s.syncs) {
            // As on Linux, a failed fsync may drop the dirty pages: nothing is promised.
            return Err(io::Error::other("injected fsync failure"));
        }
        let f = s.files.get_mut(&self.path).ok_or_else(|| not_found(&self.path))?;
        f.synced = f.data.clone();
        f.pending.clear();
        Ok(())
    }
}

impl Fs for FaultyFs {
    fn create_dir_all(&self, _: &Path) -> io::Result<()> {
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        Ok(self
            .lock()
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
            .collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.file(path).ok_or_else(|| not_found(path))
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let s = self.lock();
        let data = &s.files.get(path).ok_or_else(|| not_found(path))?.data;
        let from = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - from);
        buf[..n].copy_from_slice(&data[from..from + n]);
        Ok(n)
    }

    fn create_segment(&self, path: &Path, len: u64, header: &[u8]) -> io::Result<Box<dyn WalFile>> {
        let mut data = vec![0; len as usize];
        data[..header.len()].copy_from_slice(header);
        self.set_file(path, data);
        Ok(Box::new(FaultyFile { fs: self.clone(), path: path.to_path_buf() }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn WalFile>> {
        if !self.lock().files.contains_key(path) {
            return Err(not_found(path));
        }
        Ok(Box::new(FaultyFile { fs: self.clone(), path: path.to_path_buf() }))
    }

    fn write_file(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.set_file(path, data.to_vec());
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let f = s.files.remove(from).ok_or_else(|| not_found(from))?;
        s.files.insert(to.to_path_buf(), f);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.lock().files.remove(path).map(|_| ()).ok_or_else(|| not_found(path))
    }

    fn sync_dir(&self, _: &Path) -> io::Result<()> {
        Ok(())
    }
}
