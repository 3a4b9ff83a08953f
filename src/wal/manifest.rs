//! The manifest: a small file recording what the segments alone cannot say. It is
//! replaced atomically: written to a temporary file, fsynced, renamed over the old
//! one, and the directory fsynced.
//!
//! Format: a 4-byte CRC-32 (little-endian) of the JSON that follows.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fs::Fs;
use crate::error::{Error, Result};
use crate::lsn::Lsn;

pub const MANIFEST: &str = "MANIFEST";
const MANIFEST_TMP: &str = "MANIFEST.tmp";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// The log was closed cleanly with every record up to here fsynced: damage at or
    /// below it is damage to acknowledged data, never a torn write.
    pub clean_lsn: u64,
    /// Records below this are in the materialized store; recovery scans from here.
    pub checkpoint_lsn: u64,
}

impl Manifest {
    pub fn clean(&self) -> Lsn {
        Lsn(self.clean_lsn)
    }

    pub fn checkpoint(&self) -> Lsn {
        Lsn(self.checkpoint_lsn)
    }

    /// Reads the manifest of `dir`; a missing one is the default (a fresh log).
    pub fn load(fs: &dyn Fs, dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let bytes = match fs.read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(e) => return Err(e.into()),
        };
        let damaged = |reason: &str| Error::Corrupt {
            file: path.display().to_string(),
            offset: 0,
            lsn: Lsn::ZERO,
            reason: reason.to_owned(),
        };
        if bytes.len() < 4 {
            return Err(damaged("manifest is truncated"));
        }
        let crc = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if crc32fast::hash(&bytes[4..]) != crc {
            return Err(damaged("manifest checksum mismatch"));
        }
        serde_json::from_slice(&bytes[4..]).map_err(|e| damaged(&format!("manifest does not parse: {e}")))
    }

    /// Replaces the manifest of `dir` atomically.
    pub fn store(&self, fs: &dyn Fs, dir: &Path) -> Result<()> {
        let json = serde_json::to_vec(self).map_err(|e| Error::Internal(format!("cannot encode the manifest: {e}")))?;
        let mut bytes = crc32fast::hash(&json).to_le_bytes().to_vec();
        bytes.extend_from_slice(&json);
        let tmp = dir.join(MANIFEST_TMP);
        fs.write_file(&tmp, &bytes)?;
        fs.rename(&tmp, &dir.join(MANIFEST))?;
        fs.sync_dir(dir)?;
        Ok(())
    }
}
