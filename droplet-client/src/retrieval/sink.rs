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
        let Some(Scan { index, end, bytes }) = scan(path)? else {
            return Self::create(path, root);
        };
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

    fn read(&self, at: (u64, u64)) -> std::io::Result<Vec<u8>> {
        let len = usize::try_from(at.1).map_err(std::io::Error::other)?;
        let mut buf = vec![0u8; len];
        self.reader.read_exact_at(&mut buf, at.0)?;
        Ok(buf)
    }

    fn location(&self, cid: &Cid) -> Option<(u64, u64)> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .index
            .get(cid)
            .copied()
    }
}

/// What a CAR in the repo holds: where each block's data is, where its last whole section
/// ends, and its block bytes.
struct Scan {
    index: HashMap<Cid, (u64, u64)>,
    end: u64,
    bytes: u64,
}

/// One unsigned varint from `r`; `None` at the end of the input.
fn read_varint(r: &mut impl std::io::Read) -> std::io::Result<Option<(u64, u64)>> {
    let mut buf = [0u8; 10];
    for i in 0..buf.len() {
        let mut b = [0u8; 1];
        if r.read(&mut b)? == 0 {
            return Ok(None);
        }
        buf[i] = b[0];
        if b[0] & 0x80 == 0 {
            let (n, _) = unsigned_varint::decode::u64(&buf[..=i]).map_err(std::io::Error::other)?;
            return Ok(Some((n, i as u64 + 1)));
        }
    }
    Err(std::io::Error::other("a section length longer than ten bytes"))
}

/// Index the CAR at `path` by its section headers only (the block data is skipped, not read);
/// a torn last section is left out. `None` if there is no CAR there.
fn scan(path: &Path) -> std::io::Result<Option<Scan>> {
    let Ok(f) = File::open(path) else {
        return Ok(None);
    };
    let len = f.metadata()?.len();
    // A CARv1 (as the sink writes it) with a valid header; the sections follow the header.
    let car = CarReader::new(std::io::BufReader::new(f)).map_err(std::io::Error::other)?;
    if car.version() != 1 {
        return Err(std::io::Error::other("the retrieval's CAR is not a CARv1"));
    }
    let mut r = std::io::BufReader::with_capacity(64 << 10, File::open(path)?);
    let Some((header, used)) = read_varint(&mut r)? else {
        return Ok(None);
    };
    let data_start = used + header;
    std::io::Seek::seek(&mut r, std::io::SeekFrom::Start(data_start))?;
    let (mut index, mut end, mut bytes) = (HashMap::new(), data_start, 0u64);
    while let Some((section, used)) = read_varint(&mut r)? {
        let Some(section_end) = (end + used).checked_add(section).filter(|e| *e <= len) else {
            break;
        };
        let Ok(cid) = Cid::read_bytes(&mut r) else { break };
        let cid_len = cid.encoded_len() as u64;
        let Some(data_len) = section.checked_sub(cid_len) else {
            break;
        };
        r.seek_relative(data_len as i64)?;
        index.insert(cid, (end + used + cid_len, data_len));
        bytes += data_len;
        end = section_end;
    }
    Ok(Some(Scan { index, end, bytes }))
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
        self.location(cid).map(|at| self.read(at).map(Bytes::from)).transpose()
    }
}

impl piece_store::unixfs::export::Blocks for CarSink {
    fn block(&self, cid: &BlockCid) -> std::io::Result<Option<Vec<u8>>> {
        let Ok(cid) = Cid::try_from(cid.to_bytes().as_slice()) else {
            return Ok(None);
        };
        self.location(&cid).map(|at| self.read(at)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use graphsync::BlockSink;

    /// A raw block (the sink checks no hashes: the digest only has to tell blocks apart).
    fn raw_block(data: &[u8]) -> (Cid, Bytes) {
        let mut digest = [0u8; 32];
        digest[..8].copy_from_slice(&(data.len() as u64).to_le_bytes());
        digest[8] = data[0];
        let mh = cid::multihash::Multihash::<64>::wrap(0x12, &digest).expect("digest");
        (Cid::new_v1(0x55, mh), Bytes::copy_from_slice(data))
    }

    #[test]
    fn a_reopened_car_is_indexed_by_its_headers_and_a_torn_section_is_cut_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.car");
        let blocks: Vec<_> = [&b"one"[..], &[7u8; 3000][..], b"three"]
            .iter()
            .map(|d| raw_block(d))
            .collect();
        let sink = CarSink::create(&path, &blocks[0].0).expect("create");
        for (c, d) in &blocks {
            sink.put(*c, d.clone()).expect("put");
        }
        let whole = std::fs::metadata(&path).expect("meta").len();
        drop(sink);
        // A section cut short by a crash: its length says more than the file holds.
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(&[0x80, 0x01, 0x01, 0x55]).expect("torn");
        drop(f);

        let again = CarSink::reopen(&path, &blocks[0].0).expect("reopen");
        assert_eq!(again.bytes.load(Ordering::Relaxed), 3 + 3000 + 5);
        assert_eq!(
            std::fs::metadata(&path).expect("meta").len(),
            whole,
            "the torn section is cut off"
        );
        for (c, d) in &blocks {
            assert_eq!(again.get(c).expect("read").as_ref(), Some(d));
        }
        // Appending goes on after the last whole section.
        let (c4, d4) = raw_block(b"four");
        again.put(c4, d4.clone()).expect("put");
        drop(again);
        let third = CarSink::reopen(&path, &blocks[0].0).expect("reopen");
        assert_eq!(third.get(&c4).expect("read"), Some(d4));
    }
}
