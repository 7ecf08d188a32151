//! Where a retrieval's verified blocks go: a CARv1 in the repo (`retrievals/<deal>.car`,
//! rooted at the payload), written as they arrive in the selector's order, with an index in
//! memory so that blocks received before (duplicates the provider skipped, or blocks a
//! restart does not send again) are read back. After a daemon restart the index is rebuilt by
//! reading the CAR's section headers.
//!
//! When the user's file is written while the blocks arrive ([`Output`]), its raw leaves are
//! written there only, not to the CAR as well: the CAR keeps the DAG's inner nodes and the
//! file its data ([`StreamedBlocks`] reads the two together to export the retrieval again).
//! Should the file be declined half-way, the leaves it holds are copied into the CAR.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use graphsync::Cid;
use piece_store::car::{CarReader, encode_v1_header};
use piece_store::unixfs::BlockCid;

use super::output::{Output, Walked};

/// The raw codec: blocks whose bytes are file data as they are.
const RAW: u64 = 0x55;

/// Where a block's bytes are: (offset, length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Car(u64, u64),
    /// A raw leaf in the output file only.
    Output(u64, u64),
}

struct Inner {
    file: File,
    /// Bytes in the file.
    end: u64,
    index: HashMap<Cid, At>,
    /// A raw leaf put and not yet walked: it goes to the output file, or to the CAR if the
    /// output does not take it.
    pending: Option<(Cid, Bytes)>,
}

impl Inner {
    fn append(&mut self, cid: Cid, data: &[u8]) -> std::io::Result<()> {
        let cid_bytes = cid.to_bytes();
        let mut prefix = unsigned_varint::encode::u64_buffer();
        let prefix = unsigned_varint::encode::u64((cid_bytes.len() + data.len()) as u64, &mut prefix);
        let mut section = Vec::with_capacity(prefix.len() + cid_bytes.len());
        section.extend_from_slice(prefix);
        section.extend_from_slice(&cid_bytes);
        self.file.write_all(&section)?;
        self.file.write_all(data)?;
        let at = self.end + section.len() as u64;
        self.end = at + data.len() as u64;
        self.index.insert(cid, At::Car(at, data.len() as u64));
        Ok(())
    }
}

pub struct CarSink {
    path: PathBuf,
    inner: Mutex<Inner>,
    reader: File,
    /// Block bytes written.
    pub bytes: AtomicU64,
    /// The user's file, written as the blocks arrive.
    output: Option<Output>,
}

impl std::fmt::Debug for CarSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarSink").field("path", &self.path).finish()
    }
}

/// `len` bytes of `file` at `offset`, in a new buffer.
pub(super) fn read_exact_at(file: &File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
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
                pending: None,
            }),
            bytes: AtomicU64::new(0),
            output: None,
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
            inner: Mutex::new(Inner {
                file,
                end,
                index: index.into_iter().map(|(c, (o, l))| (c, At::Car(o, l))).collect(),
                pending: None,
            }),
            bytes: AtomicU64::new(bytes),
            output: None,
        })
    }

    /// Also write the blocks to `output` as they arrive.
    pub fn with_output(mut self, output: Output) -> Self {
        self.output = Some(output);
        self
    }

    pub fn output(&self) -> Option<&Output> {
        self.output.as_ref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush what was written to disk.
    pub fn sync(&self) -> std::io::Result<()> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.file.sync_data()
    }

    fn read(&self, at: At) -> std::io::Result<Vec<u8>> {
        match at {
            At::Car(offset, len) => read_exact_at(&self.reader, offset, len),
            At::Output(offset, len) => match &self.output {
                Some(o) => o.read_at(offset, len),
                None => Err(std::io::Error::other(
                    "a block in an output file the sink does not have",
                )),
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn location(&self, cid: &Cid) -> Option<At> {
        self.lock().index.get(cid).copied()
    }

    /// The output file was declined: copy the leaves written only there into the CAR, then
    /// let the part file go.
    fn take_back_leaves(&self, output: &Output) -> std::io::Result<()> {
        let mut inner = self.lock();
        let held: Vec<(Cid, u64, u64)> = inner
            .index
            .iter()
            .filter_map(|(c, at)| match at {
                At::Output(o, l) => Some((*c, *o, *l)),
                At::Car(..) => None,
            })
            .collect();
        for (cid, offset, len) in held {
            let data = output.read_at(offset, len)?;
            inner.append(cid, &data)?;
        }
        output.discard();
        Ok(())
    }

    /// At the retrieval's completion: the output file in place under its target name, or
    /// `None` (no output, or it was declined: every block is in the CAR then).
    pub fn finish_output(&self) -> std::io::Result<Option<PathBuf>> {
        let Some(o) = &self.output else {
            return Ok(None);
        };
        let done = o.finish()?;
        if done.is_none() {
            self.take_back_leaves(o)?;
        }
        Ok(done)
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
        let mut inner = self.lock();
        if inner.index.contains_key(&cid) {
            return Ok(());
        }
        self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        if cid.codec() == RAW && self.output.as_ref().is_some_and(|o| o.is_writing()) {
            inner.pending = Some((cid, data));
            return Ok(());
        }
        inner.append(cid, &data)
    }

    fn get(&self, cid: &Cid) -> std::io::Result<Option<Bytes>> {
        self.location(cid).map(|at| self.read(at).map(Bytes::from)).transpose()
    }

    fn walked(&self, index: u64, link: &Cid, data: Option<&Bytes>) -> std::io::Result<()> {
        let Some(o) = &self.output else {
            return Ok(());
        };
        let walked = o.walked(index, link, data)?;
        let mut inner = self.lock();
        let pending = inner.pending.take_if(|(c, _)| c == link);
        match (walked, pending) {
            (Walked::Wrote { at }, Some((cid, data))) => {
                inner.index.insert(cid, At::Output(at, data.len() as u64));
            }
            (_, Some((cid, data))) => inner.append(cid, &data)?,
            _ => {}
        }
        drop(inner);
        if walked == Walked::Declined {
            self.take_back_leaves(o)?;
        }
        Ok(())
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

/// A completed retrieval whose file was written while it arrived: the inner nodes from the
/// CAR, the raw leaves from the file, each checked against its CID (the file may have been
/// changed since).
pub struct StreamedBlocks {
    car: CarSink,
    file: File,
    path: PathBuf,
    leaves: HashMap<BlockCid, (u64, u64)>,
}

impl std::fmt::Debug for StreamedBlocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamedBlocks").field("path", &self.path).finish()
    }
}

impl StreamedBlocks {
    pub fn open(car: &Path, file: &Path, root: &Cid) -> anyhow::Result<Self> {
        use anyhow::Context;
        let car = CarSink::reopen(car, root).with_context(|| format!("opening {}", car.display()))?;
        let f = File::open(file).with_context(|| {
            format!(
                "opening {}, where the retrieval wrote its data (retrieve it again if it is gone)",
                file.display()
            )
        })?;
        let len = f.metadata()?.len();
        let mut leaves = HashMap::new();
        for (c, o, l) in piece_store::unixfs::export::raw_leaves(&car, &block_cid(root)?, len)? {
            // Sizes from the DAG: a leaf past the file's end means the file is not its data
            // (and is never allocated for).
            if o.checked_add(l).is_none_or(|end| end > len) {
                anyhow::bail!(
                    "{} is shorter than the retrieved data: it was changed since the retrieval; retrieve the data again",
                    file.display()
                );
            }
            leaves.insert(c, (o, l));
        }
        Ok(StreamedBlocks {
            car,
            file: f,
            path: file.to_path_buf(),
            leaves,
        })
    }
}

impl piece_store::unixfs::export::Blocks for StreamedBlocks {
    fn block(&self, cid: &BlockCid) -> std::io::Result<Option<Vec<u8>>> {
        let Some(&(offset, len)) = self.leaves.get(cid) else {
            return self.car.block(cid);
        };
        let changed = || {
            std::io::Error::other(format!(
                "{} was changed since the retrieval wrote it (block {cid}): retrieve the data again",
                self.path.display()
            ))
        };
        let buf = read_exact_at(&self.file, offset, len).map_err(|_| changed())?;
        match piece_store::unixfs::verify_block(cid, &buf) {
            Ok(true) => Ok(Some(buf)),
            _ => Err(changed()),
        }
    }
}

/// Write the DAG of the file rooted at `root` to `out` as a CARv1, depth first in link order,
/// each block once (the order a graphsync walk of the whole DAG receives them).
pub fn write_car(blocks: &dyn piece_store::unixfs::export::Blocks, root: &Cid, out: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let root = block_cid(root)?;
    let f = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = piece_store::car::CarV1Writer::new(std::io::BufWriter::with_capacity(1 << 20, f), &[root])?;
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root];
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) {
            continue;
        }
        let data = blocks
            .block(&cid)?
            .ok_or_else(|| anyhow::anyhow!("block {cid} is missing from the retrieval"))?;
        if cid.codec() != RAW {
            let node = piece_store::unixfs::pb::decode_node(&data)?;
            for l in node.links.iter().rev() {
                stack.push(BlockCid::try_from(l.hash.as_slice()).map_err(|e| anyhow::anyhow!("block {cid}: {e}"))?);
            }
        }
        w.write_block(&cid, &data)?;
    }
    w.finish()?.0.flush()?;
    Ok(())
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
        let mh = cid::multihash::Multihash::<128>::wrap(0x12, &digest).expect("digest");
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
