//! Writing CARs.

use std::io::{Seek, SeekFrom, Write};

use super::{MULTIHASH_INDEX_SORTED, V2_HEADER_LEN, V2_PRAGMA, encode_v1_header};
use crate::unixfs::BlockCid;
use crate::varint;

/// Where a block's section starts within the CARv1 payload, for the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub cid: BlockCid,
    /// Offset of the section (its length varint) from the start of the v1 payload.
    pub section_offset: u64,
    /// Offset of the block's bytes (after the CID) from the start of the v1 payload.
    pub data_offset: u64,
    pub len: u64,
}

/// Streams a CARv1: the header, then one section per block.
#[derive(Debug)]
pub struct CarV1Writer<W: Write> {
    out: W,
    written: u64,
    index: Vec<IndexEntry>,
}

impl<W: Write> CarV1Writer<W> {
    pub fn new(mut out: W, roots: &[BlockCid]) -> std::io::Result<Self> {
        let header = encode_v1_header(roots);
        let mut prefix = Vec::with_capacity(10);
        varint::put(&mut prefix, header.len() as u64);
        out.write_all(&prefix)?;
        out.write_all(&header)?;
        Ok(CarV1Writer {
            out,
            written: (prefix.len() + header.len()) as u64,
            index: Vec::new(),
        })
    }

    /// Appends a block.
    pub fn write_block(&mut self, cid: &BlockCid, data: &[u8]) -> std::io::Result<()> {
        let cid_bytes = cid.to_bytes();
        let mut prefix = Vec::with_capacity(10);
        varint::put(&mut prefix, (cid_bytes.len() + data.len()) as u64);
        self.out.write_all(&prefix)?;
        self.out.write_all(&cid_bytes)?;
        self.out.write_all(data)?;
        let section_offset = self.written;
        let data_offset = section_offset + (prefix.len() + cid_bytes.len()) as u64;
        self.index.push(IndexEntry {
            cid: *cid,
            section_offset,
            data_offset,
            len: data.len() as u64,
        });
        self.written = data_offset + data.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.written
    }

    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Finishes, returning the writer and where every block went.
    pub fn finish(mut self) -> std::io::Result<(W, Vec<IndexEntry>)> {
        self.out.flush()?;
        Ok((self.out, self.index))
    }
}

/// Writes a `MultihashIndexSorted` index (go-car v2's default) of `entries`: per multihash
/// code, per digest width, the records `digest || section offset (u64 LE)` sorted by digest.
pub fn write_v2_index(out: &mut impl Write, entries: &[IndexEntry]) -> std::io::Result<()> {
    use std::collections::BTreeMap;
    let mut by_code: BTreeMap<u64, BTreeMap<u32, Vec<Vec<u8>>>> = BTreeMap::new();
    for e in entries {
        let mh = e.cid.hash();
        if mh.code() == crate::unixfs::IDENTITY {
            continue;
        }
        let mut rec = mh.digest().to_vec();
        rec.extend_from_slice(&e.section_offset.to_le_bytes());
        by_code
            .entry(mh.code())
            .or_default()
            .entry(rec.len() as u32)
            .or_default()
            .push(rec);
    }
    let mut buf = Vec::new();
    varint::put(&mut buf, MULTIHASH_INDEX_SORTED);
    buf.extend_from_slice(&(by_code.len() as i32).to_le_bytes());
    for (code, widths) in by_code {
        buf.extend_from_slice(&code.to_le_bytes());
        buf.extend_from_slice(&(widths.len() as i32).to_le_bytes());
        for (width, mut recs) in widths {
            recs.sort();
            recs.dedup_by(|a, b| a[..a.len() - 8] == b[..b.len() - 8]);
            buf.extend_from_slice(&width.to_le_bytes());
            buf.extend_from_slice(&((recs.len() as u64) * u64::from(width)).to_le_bytes());
            for r in recs {
                buf.extend_from_slice(&r);
            }
        }
    }
    out.write_all(&buf)
}

/// Writes a CARv2 around a CARv1 produced by `write_v1` into the same file: pragma and
/// header first (filled in once the sizes are known), the payload, then the index.
pub fn wrap_v2<F: Write + Seek>(
    mut file: F,
    write_v1: impl FnOnce(&mut F) -> std::io::Result<Vec<IndexEntry>>,
) -> std::io::Result<F> {
    let start = file.stream_position()?;
    let data_offset = V2_PRAGMA.len() as u64 + V2_HEADER_LEN;
    file.write_all(&[0u8; V2_PRAGMA.len() + V2_HEADER_LEN as usize])?;
    let entries = write_v1(&mut file)?;
    let end = file.stream_position()?;
    let data_size = end - start - data_offset;
    write_v2_index(&mut file, &entries)?;
    let after = file.stream_position()?;
    file.seek(SeekFrom::Start(start))?;
    file.write_all(&V2_PRAGMA)?;
    file.write_all(&[0u8; 16])?; // characteristics: none set
    file.write_all(&data_offset.to_le_bytes())?;
    file.write_all(&data_size.to_le_bytes())?;
    file.write_all(&(data_offset + data_size).to_le_bytes())?;
    file.seek(SeekFrom::Start(after))?;
    file.flush()?;
    Ok(file)
}

/// Writes an imported DAG as a CARv1 in depth-first order from its root (as Go's
/// `generate-car`), returning the writer and the index entries.
pub fn write_dag<W: Write>(dag: &crate::unixfs::Dag, out: W) -> std::io::Result<(W, Vec<IndexEntry>)> {
    let mut w = CarV1Writer::new(out, &[dag.root()])?;
    dag.walk(|cid, data| w.write_block(cid, data))?;
    w.finish()
}
