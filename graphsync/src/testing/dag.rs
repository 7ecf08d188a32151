//! Deterministic DAGs for tests, benches and the Go interop suite: raw leaves, dag-pb nodes
//! (files of many MiB in a balanced tree), dag-cbor maps and lists, shared subtrees.

use std::collections::HashMap;
use std::io::Write;

use crate::Cid;
use bytes::Bytes;
use market_types::cbor::Encoder;
use multihash_codetable::{Code, MultihashDigest};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::ipld::codec;

/// A DAG: its root and every block by CID.
#[derive(Debug, Clone)]
pub struct Dag {
    pub root: Cid,
    pub blocks: HashMap<Cid, Bytes>,
}

impl Dag {
    /// Total bytes of all distinct blocks.
    pub fn size(&self) -> u64 {
        self.blocks.values().map(|b| b.len() as u64).sum()
    }

    /// The links a responder holding this DAG loads for `selector`, in order (each time
    /// they are reached).
    pub fn walk_order(&self, selector: &market_types::ipld::RawCbor) -> Vec<Cid> {
        let sel = crate::selector::Selector::from_cbor(selector.as_bytes()).expect("a valid selector");
        crate::walk::walk_with(self.root, sel, |c| self.blocks.get(c).cloned())
            .expect("the walk")
            .into_iter()
            .map(|(c, _)| c)
            .collect()
    }

    /// The DAG as a CARv1 (root in the header, blocks in any order).
    pub fn write_car(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut e = Encoder::new();
        e.map(2);
        e.text("roots");
        e.array(1);
        e.cid(&self.root);
        e.text("version");
        e.u64(1);
        let header = e.into_bytes();
        write_section(out, &[&header])?;
        let mut cids: Vec<&Cid> = self.blocks.keys().collect();
        cids.sort();
        for cid in cids {
            write_section(out, &[&cid.to_bytes(), &self.blocks[cid]])?;
        }
        Ok(())
    }
}

fn write_section(out: &mut impl Write, parts: &[&[u8]]) -> std::io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut buf = unsigned_varint::encode::usize_buffer();
    out.write_all(unsigned_varint::encode::usize(len, &mut buf))?;
    for p in parts {
        out.write_all(p)?;
    }
    Ok(())
}

/// Builds a DAG block by block from a seeded generator.
#[derive(Debug)]
pub struct DagBuilder {
    rng: StdRng,
    blocks: HashMap<Cid, Bytes>,
}

impl DagBuilder {
    pub fn new(seed: u64) -> Self {
        DagBuilder {
            rng: StdRng::seed_from_u64(seed),
            blocks: HashMap::new(),
        }
    }

    fn put(&mut self, codec: u64, data: Vec<u8>) -> Cid {
        let cid = crate::block_cid(&cid::Cid::new_v1(codec, Code::Sha2_256.digest(&data)));
        self.blocks.insert(cid, Bytes::from(data));
        cid
    }

    /// A raw leaf of `size` random bytes.
    pub fn raw(&mut self, size: usize) -> Cid {
        let mut data = vec![0u8; size];
        self.rng.fill_bytes(&mut data);
        self.put(codec::RAW, data)
    }

    /// A dag-pb node linking `links` in order (named, with sizes, and a little data).
    pub fn pb(&mut self, links: &[Cid]) -> Cid {
        let mut node = Vec::new();
        for (i, link) in links.iter().enumerate() {
            let mut l = Vec::new();
            pb_bytes(&mut l, 1, &link.to_bytes());
            pb_bytes(&mut l, 2, format!("{i}").as_bytes());
            pb_varint(&mut l, 3, self.blocks.get(link).map_or(0, |b| b.len() as u64));
            pb_bytes(&mut node, 2, &l);
        }
        // UnixFS-like data: type File (2).
        pb_bytes(&mut node, 1, &[0x08, 0x02]);
        self.put(codec::DAG_PB, node)
    }

    /// A dag-cbor map: each field a link, or (for `None`) the list `list` of links; keys are
    /// written in the order given.
    pub fn cbor_map(&mut self, fields: &[(&str, Option<Cid>)], list: &[Cid]) -> Cid {
        let mut e = Encoder::new();
        e.map(fields.len());
        for (key, link) in fields {
            e.text(key);
            match link {
                Some(c) => e.cid(c),
                None => {
                    e.array(list.len());
                    for c in list {
                        e.cid(c);
                    }
                }
            }
        }
        self.put(codec::DAG_CBOR, e.into_bytes())
    }

    /// A balanced UnixFS file: raw leaves of `chunk` bytes under dag-pb nodes of `fanout`
    /// links, about `size` bytes in all; interior nodes carry UnixFS `File` data with the file
    /// size and block sizes, as go-unixfs writes them.
    pub fn file(&mut self, size: usize, chunk: usize, fanout: usize) -> Cid {
        let mut level: Vec<(Cid, u64)> = (0..size.div_ceil(chunk).max(1))
            .map(|i| {
                let n = chunk.min(size - (i * chunk).min(size)).max(1);
                (self.raw(n), n as u64)
            })
            .collect();
        while level.len() > 1 {
            level = level.chunks(fanout).map(|c| self.file_node(c)).collect();
        }
        level[0].0
    }

    /// An interior UnixFS file node over `children` (CID, file bytes under it).
    fn file_node(&mut self, children: &[(Cid, u64)]) -> (Cid, u64) {
        let total: u64 = children.iter().map(|(_, n)| n).sum();
        let mut data = Vec::new();
        pb_varint(&mut data, 1, 2); // Type: File
        pb_varint(&mut data, 3, total); // filesize
        for (_, n) in children {
            pb_varint(&mut data, 4, *n); // blocksizes
        }
        let links: Vec<(Option<&str>, Cid)> = children.iter().map(|(c, _)| (None, *c)).collect();
        (self.pb_node(&links, &data), total)
    }

    /// A UnixFS directory of named entries (basic, not sharded).
    pub fn dir(&mut self, entries: &[(&str, Cid)]) -> Cid {
        let links: Vec<(Option<&str>, Cid)> = entries.iter().map(|(n, c)| (Some(*n), *c)).collect();
        self.pb_node(&links, &[0x08, 0x01])
    }

    fn pb_node(&mut self, links: &[(Option<&str>, Cid)], data: &[u8]) -> Cid {
        let mut node = Vec::new();
        for (name, link) in links {
            let mut l = Vec::new();
            pb_bytes(&mut l, 1, &link.to_bytes());
            if let Some(name) = name {
                pb_bytes(&mut l, 2, name.as_bytes());
            }
            pb_varint(&mut l, 3, self.blocks.get(link).map_or(0, |b| b.len() as u64));
            pb_bytes(&mut node, 2, &l);
        }
        pb_bytes(&mut node, 1, data);
        self.put(codec::DAG_PB, node)
    }

    /// A random mix: dag-cbor maps and lists over files and leaves, with shared subtrees,
    /// in canonical key order (what a Go encoder writes).
    pub fn mixed(&mut self, files: usize, file_size: usize) -> Cid {
        let mut subtrees = Vec::new();
        for _ in 0..files {
            let size = self.rng.random_range(file_size / 2..=file_size.max(2));
            let chunk = [1 << 10, 64 << 10, 256 << 10][self.rng.random_range(0..3)];
            let fanout = self.rng.random_range(2..=174);
            subtrees.push(self.file(size, chunk, fanout));
        }
        let shared = self.raw(100);
        let mut lists = Vec::new();
        for pair in subtrees.chunks(2) {
            let mut items = pair.to_vec();
            items.push(shared);
            lists.push(self.cbor_map(&[("a", Some(shared)), ("bb", None)], &items));
        }
        let keys: Vec<String> = (0..lists.len()).map(|i| format!("k{i:03}")).collect();
        let fields: Vec<(&str, Option<Cid>)> = keys
            .iter()
            .map(String::as_str)
            .zip(lists.iter().copied().map(Some))
            .collect();
        self.cbor_map(&fields, &[])
    }

    pub fn finish(self, root: Cid) -> Dag {
        Dag {
            root,
            blocks: self.blocks,
        }
    }
}

fn pb_varint(out: &mut Vec<u8>, field: u64, v: u64) {
    let mut buf = unsigned_varint::encode::u64_buffer();
    out.extend_from_slice(unsigned_varint::encode::u64(field << 3, &mut buf));
    out.extend_from_slice(unsigned_varint::encode::u64(v, &mut buf));
}

fn pb_bytes(out: &mut Vec<u8>, field: u64, data: &[u8]) {
    let mut buf = unsigned_varint::encode::u64_buffer();
    out.extend_from_slice(unsigned_varint::encode::u64((field << 3) | 2, &mut buf));
    out.extend_from_slice(unsigned_varint::encode::u64(data.len() as u64, &mut buf));
    out.extend_from_slice(data);
}
