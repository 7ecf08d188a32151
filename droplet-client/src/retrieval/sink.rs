//! Where a retrieval's verified blocks go: a CARv1 in the repo (`retrievals/<deal>.car`,
//! rooted at the payload), written as they arrive in the selector's order, with an index in
//! memory so that blocks received before (duplicates the provider skipped, or blocks a
//! restart does not send again) are read back from the file. After a daemon restart the index
//! is rebuilt by reading the CAR.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use cid::Cid;
use piece_store::car::{CarReader, encode_v1_header};
use piece_store::unixfs::BlockCid;

struct Inner {
    file: File,
    /// Bytes in the file.
    end: u64,
    /// CID → (offset of the data in the file, length).
    index: HashMap<Cid, (u64, u64)>,
}

pub struct CarSink {
    path: PathBuf,
    inner: Mutex<Inner>,
    reader: File,
    /// Block bytes written.
    pub bytes: AtomicU64,
}

impl std::fmt::Debug for CarSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarSink").field("path", &self.path).finish()
    }
}

fn block_cid(cid: &Cid) -> std::io::Result<BlockCid> {
    BlockCid::try_from(cid.to_bytes().as_slice()).map_err(std::io::Error::other)
}

impl CarSink {
    /// A new CAR at `path` rooted at `root` (any old file there is replaced).
    pub fn create(path: &Path, root: &Cid) -> std::io::Result<Self> {
        let mut file = File::create(path)?;
        let header = encode_v1_header(&[block_cid(root)?]);
        let mut out = Vec::with_capacity(header.len() + 10);
        out.extend_from_slice(unsigned_varint::encode::u64(
            header.len() as u64,
            &mut Default::default(),
        ));
        out.extend_from_slice(&header);
        file.write_all(&out)?;
        Ok(CarSink {
            path: path.to_path_buf(),
            reader: File::open(path)?,
            inner: Mutex::new(Inner {
                file,
                end: out.len() as u64,
                index: HashMap::new(),
            }),
            bytes: AtomicU64::new(0),
        })
    }

    /// The CAR at `path` as far as it was written (a torn last section is cut off), to go on
    /// appending to it.
    pub fn reopen(path: &Path, root: &Cid) -> std::io::Result<Self> {
        let mut index = HashMap::new();
        let mut end = 0u64;
        let mut bytes = 0u64;
        if let Ok(f) = File::open(path) {
            let mut reader = CarReader::new(std::io::BufReader::new(f)).map_err(std::io::Error::other)?;
            end = reader.data_start();
            while let Ok(Some(b)) = reader.next_block() {
                let Ok(cid) = Cid::try_from(b.cid.to_bytes().as_slice()) else {
                    break;
                };
                index.insert(cid, (b.data_offset, b.data.len() as u64));
                end = b.data_offset + b.data.len() as u64;
                bytes += b.data.len() as u64;
            }
        }
        if end == 0 {
            return Self::create(path, root);
        }
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.set_len(end)?;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(end))?;
        Ok(CarSink {
            path: path.to_path_buf(),
            reader: File::open(path)?,
            inner: Mutex::new(Inner { file, end, index }),
            bytes: AtomicU64::new(bytes),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush what was written to disk.
    pub fn sync(&self) -> std::io::Result<()> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.file.sync_data()
    }

    fn read(&self, at: (u64, u64)) -> std::io::Result<Bytes> {
        let len = usize::try_from(at.1).map_err(std::io::Error::other)?;
        let mut buf = vec![0u8; len];
        self.reader.read_exact_at(&mut buf, at.0)?;
        Ok(Bytes::from(buf))
    }
}

impl graphsync::BlockSink for CarSink {
    fn put(&self, cid: Cid, data: Bytes) -> std::io::Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.index.contains_key(&cid) {
            return Ok(());
        }
        let cid_bytes = cid.to_bytes();
        let mut prefix = unsigned_varint::encode::u64_buffer();
        let prefix = unsigned_varint::encode::u64((cid_bytes.len() + data.len()) as u64, &mut prefix);
        let mut section = Vec::with_capacity(prefix.len() + cid_bytes.len());
        section.extend_from_slice(prefix);
        section.extend_from_slice(&cid_bytes);
        inner.file.write_all(&section)?;
        inner.file.write_all(&data)?;
        let at = inner.end + section.len() as u64;
        inner.end = at + data.len() as u64;
        inner.index.insert(cid, (at, data.len() as u64));
        self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        let at = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .index
            .get(cid)
            .copied();
        at.map(|at| self.read(at)).transpose()
    }
}

impl piece_store::unixfs::export::Blocks for CarSink {
    fn block(&self, cid: &BlockCid) -> std::io::Result<Option<Vec<u8>>> {
        let Ok(cid) = Cid::try_from(cid.to_bytes().as_slice()) else {
            return Ok(None);
        };
        Ok(graphsync::BlockSink::get(self, &cid)?.map(|b| b.to_vec()))
    }
}
