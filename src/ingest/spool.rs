//! Bytes that may be large: an upload's content, a decoded archive. They stay in memory while they
//! are small (`MEMORY_MAX`) and go to an unnamed temporary file beyond that, in the folder given
//! (the server passes the database's, which has room for what it will store anyway; the file has
//! no name, so it disappears when closed, even after a crash). Read back through cheap clones that
//! each keep their own position, so several readers can share one spool.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// Bytes kept in memory before a spool moves to a file.
pub const MEMORY_MAX: usize = 1024 * 1024;

/// Writes a spool.
pub struct SpoolWriter {
    dir: Arc<Path>,
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
    len: u64,
}

impl SpoolWriter {
    pub fn new(dir: &Path) -> SpoolWriter {
        Self::in_dir(Arc::from(dir))
    }

    fn in_dir(dir: Arc<Path>) -> SpoolWriter {
        SpoolWriter {
            dir,
            memory: Vec::new(),
            file: None,
            len: 0,
        }
    }

    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.len += bytes.len() as u64;
        if let Some(file) = self.file.as_mut() {
            return file.write_all(bytes);
        }
        if self.memory.len() + bytes.len() <= MEMORY_MAX {
            self.memory.extend_from_slice(bytes);
            return Ok(());
        }
        let mut file = BufWriter::with_capacity(256 * 1024, tempfile::tempfile_in(&self.dir)?);
        file.write_all(&self.memory)?;
        file.write_all(bytes)?;
        self.memory = Vec::new();
        self.file = Some(file);
        Ok(())
    }

    pub fn finish(self) -> io::Result<Spooled> {
        let data = match self.file {
            Some(file) => Data::File(file.into_inner().map_err(|e| e.into_error())?),
            None => Data::Memory(self.memory),
        };
        Ok(Spooled {
            data: Arc::new(data),
            len: self.len,
            dir: self.dir,
        })
    }
}

enum Data {
    Memory(Vec<u8>),
    File(File),
}

/// Written bytes, read back.
#[derive(Clone)]
pub struct Spooled {
    data: Arc<Data>,
    len: u64,
    dir: Arc<Path>,
}

impl Spooled {
    /// Bytes already in memory (tests, small uploads).
    pub fn from_vec(bytes: Vec<u8>) -> Spooled {
        Spooled {
            len: bytes.len() as u64,
            data: Arc::new(Data::Memory(bytes)),
            dir: Arc::from(std::env::temp_dir().as_path()),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the bytes are in a file rather than in memory.
    #[cfg(test)]
    pub fn on_disk(&self) -> bool {
        matches!(*self.data, Data::File(_))
    }

    /// A new spool in the same folder (for what is derived from this one).
    pub fn sibling(&self) -> SpoolWriter {
        SpoolWriter::in_dir(self.dir.clone())
    }

    /// A reader from the start.
    pub fn reader(&self) -> SpoolReader {
        SpoolReader {
            spooled: self.clone(),
            pos: 0,
        }
    }

    /// All the bytes in memory (for what is known to be small).
    pub fn read_all(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        self.reader().read_to_end(&mut out)?;
        Ok(out)
    }

    /// Reads at `offset` into `buf`; returns how many bytes were read (0 at the end).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        match &*self.data {
            Data::Memory(bytes) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                buf[..want].copy_from_slice(&bytes[start..start + want]);
                Ok(want)
            }
            Data::File(file) => file.read_at(&mut buf[..want], offset),
        }
    }
}

/// A position in a spool. Clones read independently.
#[derive(Clone)]
pub struct SpoolReader {
    spooled: Spooled,
    pos: u64,
}

impl Read for SpoolReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.spooled.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SpoolReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.spooled.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(size: usize) -> io::Result<(bool, Vec<u8>)> {
        let dir = tempfile::tempdir()?;
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut w = SpoolWriter::new(dir.path());
        for piece in data.chunks(7777) {
            w.write(piece)?;
        }
        let spooled = w.finish()?;
        assert_eq!(spooled.len(), size as u64);
        let back = spooled.read_all()?;
        assert_eq!(back, data);
        // Two readers keep their own places.
        let mut a = spooled.reader();
        let mut b = spooled.reader();
        a.seek(SeekFrom::End(-3))?;
        let mut tail = Vec::new();
        a.read_to_end(&mut tail)?;
        let mut head = [0u8; 3];
        b.read_exact(&mut head)?;
        assert_eq!(&head[..], &data[..3]);
        assert_eq!(tail, data[size - 3..]);
        Ok((spooled.on_disk(), back))
    }

    #[test]
    fn small_spools_stay_in_memory_and_large_ones_go_to_an_unnamed_file() -> io::Result<()> {
        assert!(!roundtrip(1000)?.0);
        assert!(roundtrip(MEMORY_MAX + 1)?.0);
        Ok(())
    }
}
