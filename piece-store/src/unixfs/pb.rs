//! The two protobuf messages of UnixFS, written by hand because their byte layout is the
//! contract: dag-pb `PBNode` (Links before Data, as go-merkledag and go-codec-dagpb write
//! them) and the UnixFS `Data` message (fields in number order, as gogo-protobuf writes them).

use crate::varint;

/// A dag-pb link: the child's CID bytes, its name and its cumulative size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbLink {
    pub hash: Vec<u8>,
    pub name: String,
    pub tsize: u64,
}

/// A decoded dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PbNode {
    pub links: Vec<PbLink>,
    pub data: Option<Vec<u8>>,
}

/// UnixFS node types (`Data.DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Raw = 0,
    Directory = 1,
    File = 2,
    Metadata = 3,
    Symlink = 4,
    HamtShard = 5,
}

/// The UnixFS `Data` message (the fields this importer writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixFsData {
    pub data_type: DataType,
    pub data: Option<Vec<u8>>,
    pub filesize: Option<u64>,
    pub blocksizes: Vec<u64>,
    pub hash_type: Option<u64>,
    pub fanout: Option<u64>,
}

impl UnixFsData {
    pub fn new(data_type: DataType) -> Self {
        UnixFsData {
            data_type,
            data: None,
            filesize: None,
            blocksizes: Vec::new(),
            hash_type: None,
            fanout: None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        field_varint(&mut out, 1, self.data_type as u64);
        if let Some(d) = &self.data {
            field_bytes(&mut out, 2, d);
        }
        if let Some(s) = self.filesize {
            field_varint(&mut out, 3, s);
        }
        for &b in &self.blocksizes {
            field_varint(&mut out, 4, b);
        }
        if let Some(h) = self.hash_type {
            field_varint(&mut out, 5, h);
        }
        if let Some(f) = self.fanout {
            field_varint(&mut out, 6, f);
        }
        out
    }
}

fn key(out: &mut Vec<u8>, field: u64, wire: u64) {
    varint::put(out, (field << 3) | wire);
}

fn field_varint(out: &mut Vec<u8>, field: u64, v: u64) {
    key(out, field, 0);
    varint::put(out, v);
}

fn field_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    key(out, field, 2);
    varint::put(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A dag-pb leaf holding `chunk` as UnixFS data of `data_type`, as go-unixfs writes leaves
/// without raw leaves (an empty chunk has no Data field, as Go's nil slice).
pub fn leaf_node(data_type: DataType, chunk: &[u8]) -> Vec<u8> {
    // UnixFS Data: type, the chunk (when there is one), filesize; written around the chunk
    // without copying it twice.
    let n = chunk.len() as u64;
    let mut head = Vec::with_capacity(16);
    field_varint(&mut head, 1, data_type as u64);
    if !chunk.is_empty() {
        key(&mut head, 2, 2);
        varint::put(&mut head, n);
    }
    let mut tail = Vec::with_capacity(11);
    field_varint(&mut tail, 3, n);
    let inner = head.len() + chunk.len() + tail.len();
    let mut out = Vec::with_capacity(inner + 11);
    key(&mut out, 1, 2);
    varint::put(&mut out, inner as u64);
    out.extend_from_slice(&head);
    out.extend_from_slice(chunk);
    out.extend_from_slice(&tail);
    out
}

/// Encodes a dag-pb node: every link (Hash, Name, Tsize), then Data if present.
pub fn encode_node(links: &[PbLink], data: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut link = Vec::new();
    for l in links {
        link.clear();
        field_bytes(&mut link, 1, &l.hash);
        field_bytes(&mut link, 2, l.name.as_bytes());
        field_varint(&mut link, 3, l.tsize);
        field_bytes(&mut out, 2, &link);
    }
    if let Some(d) = data {
        field_bytes(&mut out, 1, d);
    }
    out
}

/// Why a dag-pb block could not be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed dag-pb block: {0}")]
pub struct PbError(&'static str);

struct Fields<'a> {
    bytes: &'a [u8],
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), PbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.bytes.is_empty() {
            return None;
        }
        Some(self.field())
    }
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, PbError> {
        let (v, n) = varint::get(self.bytes).ok_or(PbError("truncated or overlong varint"))?;
        self.bytes = &self.bytes[n..];
        Ok(v)
    }

    fn field(&mut self) -> Result<(u64, Value<'a>), PbError> {
        let k = self.varint()?;
        let value = match k & 7 {
            0 => Value::Varint(self.varint()?),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| PbError("length too large"))?;
                if len > self.bytes.len() {
                    return Err(PbError("field runs past the end of the block"));
                }
                let (v, rest) = self.bytes.split_at(len);
                self.bytes = rest;
                Value::Bytes(v)
            }
            _ => return Err(PbError("unsupported protobuf wire type")),
        };
        Ok((k >> 3, value))
    }
}

/// Decodes a dag-pb node (links and data; unknown fields are refused, as dag-pb requires).
pub fn decode_node(bytes: &[u8]) -> Result<PbNode, PbError> {
    let mut node = PbNode::default();
    for f in (Fields { bytes }) {
        match f? {
            (2, Value::Bytes(b)) => {
                let mut link = PbLink {
                    hash: Vec::new(),
                    name: String::new(),
                    tsize: 0,
                };
                let mut has_hash = false;
                for lf in (Fields { bytes: b }) {
                    match lf? {
                        (1, Value::Bytes(h)) => {
                            link.hash = h.to_vec();
                            has_hash = true;
                        }
                        (2, Value::Bytes(n)) => {
                            link.name = String::from_utf8(n.to_vec()).map_err(|_| PbError("link name is not UTF-8"))?
                        }
                        (3, Value::Varint(t)) => link.tsize = t,
                        _ => return Err(PbError("unexpected field in PBLink")),
                    }
                }
                if !has_hash {
                    return Err(PbError("link without a hash"));
                }
                node.links.push(link);
            }
            (1, Value::Bytes(d)) => node.data = Some(d.to_vec()),
            _ => return Err(PbError("unexpected field in PBNode")),
        }
    }
    Ok(node)
}

/// The fields of a UnixFS `Data` message an exporter needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnixFsFields {
    pub data_type: u64,
    pub data: Option<Vec<u8>>,
    pub filesize: Option<u64>,
    /// File bytes under each link, in link order.
    pub blocksizes: Vec<u64>,
    pub fanout: Option<u64>,
}

/// Reads a UnixFS `Data` message (unknown fields are skipped, as go-unixfs skips them).
pub fn decode_unixfs(bytes: &[u8]) -> Result<UnixFsFields, PbError> {
    let mut out = UnixFsFields::default();
    let mut has_type = false;
    for f in (Fields { bytes }) {
        match f? {
            (1, Value::Varint(t)) => {
                out.data_type = t;
                has_type = true;
            }
            (2, Value::Bytes(d)) => out.data = Some(d.to_vec()),
            (3, Value::Varint(s)) => out.filesize = Some(s),
            (4, Value::Varint(b)) => out.blocksizes.push(b),
            (4, Value::Bytes(mut packed)) => {
                while !packed.is_empty() {
                    let (b, n) = varint::get(packed).ok_or(PbError("truncated packed blocksizes"))?;
                    out.blocksizes.push(b);
                    packed = &packed[n..];
                }
            }
            (6, Value::Varint(f)) => out.fanout = Some(f),
            _ => {}
        }
    }
    if !has_type {
        return Err(PbError("UnixFS data without a type"));
    }
    Ok(out)
}

/// Reads the type and file size out of a UnixFS `Data` message.
pub fn decode_unixfs_type(bytes: &[u8]) -> Result<(u64, Option<u64>), PbError> {
    let (mut ty, mut size) = (None, None);
    for f in (Fields { bytes }) {
        match f? {
            (1, Value::Varint(t)) => ty = Some(t),
            (3, Value::Varint(s)) => size = Some(s),
            _ => {}
        }
    }
    Ok((ty.ok_or(PbError("UnixFS data without a type"))?, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_roundtrip() {
        let links = vec![
            PbLink {
                hash: vec![1, 0x55, 0, 3, 1, 2, 3],
                name: String::new(),
                tsize: 3,
            },
            PbLink {
                hash: vec![1, 0x70, 0, 1, 9],
                name: "a".into(),
                tsize: 300,
            },
        ];
        let data = UnixFsData {
            filesize: Some(303),
            blocksizes: vec![3, 300],
            ..UnixFsData::new(DataType::File)
        };
        let bytes = encode_node(&links, Some(&data.encode()));
        let node = decode_node(&bytes).expect("decodes");
        assert_eq!(node.links, links);
        assert_eq!(
            decode_unixfs_type(node.data.as_deref().expect("data")).expect("ok"),
            (2, Some(303))
        );
    }

    #[test]
    fn empty_directory_bytes_match_go() {
        // The empty UnixFS directory, `QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn` in CIDv0.
        let bytes = encode_node(&[], Some(&UnixFsData::new(DataType::Directory).encode()));
        assert_eq!(bytes, [0x0a, 0x02, 0x08, 0x01]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [&[0x12, 0x05, 0x0a][..], &[0xff][..], &[0x13][..], &[0x12, 0x00][..]] {
            assert!(decode_node(bad).is_err(), "{bad:?}");
        }
    }
}
