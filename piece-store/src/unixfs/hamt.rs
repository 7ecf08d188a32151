//! Sharded directories (go-unixfs HAMT): 256 slots per node, keyed by the big-endian first
//! 64 bits of murmur3-x64-128 of the name, 8 bits per level. A slot with one entry links the
//! entry itself (name = two upper-case hex digits + entry name); a slot with several links a
//! child shard (name = the two hex digits).

use std::path::Path;

use super::import::{Child, ImportError, Importer};
use super::pb::{DataType, PbLink, UnixFsData};

/// go-unixfs `HashMurmur3` (multicodec murmur3-x64-64).
const HASH_MURMUR3: u64 = 0x22;
const FANOUT: usize = 256;

/// The slot key: the first 8 bytes of the murmur3 x64-128 digest (seed 0) of the name; the
/// slot at depth d is byte d. (go-unixfs takes Sum64 and reads it from the low byte; the JS
/// importer reverses the bytes and reads from the end: the same bytes in the same order.)
pub fn name_hash(name: &str) -> [u8; 8] {
    let h = murmur3::murmur3_x64_128(&mut name.as_bytes(), 0).expect("reading from memory cannot fail");
    // The crate returns the digest as a big-endian u128 of its little-endian halves; its low
    // half printed big-endian is the first 8 digest bytes, the order slots are taken in.
    (h as u64).to_be_bytes()
}

impl Importer {
    /// A HAMT directory over `entries` (sorted or not; the trie fixes the order).
    pub(super) fn hamt_dir(&mut self, dir: &Path, entries: Vec<(String, Child)>) -> Result<Child, ImportError> {
        let keyed: Vec<([u8; 8], String, Child)> = entries
            .into_iter()
            .map(|(name, c)| (name_hash(&name), name, c))
            .collect();
        self.shard(dir, keyed, 0)
    }

    fn shard(
        &mut self,
        dir: &Path,
        entries: Vec<([u8; 8], String, Child)>,
        depth: usize,
    ) -> Result<Child, ImportError> {
        if depth == 8 {
            // Names whose 64-bit murmur3 keys collide entirely (murmur3 is not collision
            // resistant, so such names can be crafted): refuse rather than recurse forever.
            let names: Vec<&str> = entries.iter().map(|e| e.1.as_str()).collect();
            return Err(ImportError::HashCollision {
                dir: dir.to_path_buf(),
                names: names.join(", "),
            });
        }
        let mut slots: Vec<Vec<([u8; 8], String, Child)>> = (0..FANOUT).map(|_| Vec::new()).collect();
        for e in entries {
            let slot = e.0[depth] as usize;
            slots[slot].push(e);
        }
        let mut bitfield = [0u8; FANOUT / 8];
        let mut links = Vec::new();
        for (slot, mut here) in slots.into_iter().enumerate() {
            if here.is_empty() {
                continue;
            }
            // Bit `slot` of a big-endian number.
            bitfield[FANOUT / 8 - 1 - slot / 8] |= 1 << (slot % 8);
            let prefix = format!("{slot:02X}");
            if here.len() == 1 {
                let (_, name, child) = here.pop().expect("one entry");
                links.push(PbLink {
                    hash: child.cid.to_bytes(),
                    name: format!("{prefix}{name}"),
                    tsize: child.tsize,
                });
            } else {
                let sub = self.shard(dir, here, depth + 1)?;
                links.push(PbLink {
                    hash: sub.cid.to_bytes(),
                    name: prefix,
                    tsize: sub.tsize,
                });
            }
        }
        // go-bitfield `Bytes()`: big-endian with leading zero bytes dropped, like big.Int.
        let first = bitfield.iter().position(|&b| b != 0).unwrap_or(bitfield.len());
        let data = UnixFsData {
            data: Some(bitfield[first..].to_vec()),
            hash_type: Some(HASH_MURMUR3),
            fanout: Some(FANOUT as u64),
            ..UnixFsData::new(DataType::HamtShard)
        };
        Ok(self.put_node(&links, &data, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ImportOptions, RAW};
    use super::*;

    #[test]
    fn fully_colliding_keys_are_an_error_not_endless_recursion() {
        let opts = ImportOptions::default();
        let mut imp = Importer::new(opts);
        let child = |n: u8| Child {
            cid: opts.cid_for(RAW, &[n; 200]),
            filesize: 200,
            tsize: 200,
        };
        let key = [7u8; 8];
        let entries = vec![(key, "a".to_string(), child(1)), (key, "b".to_string(), child(2))];
        let err = imp.shard(Path::new("/d"), entries, 0).expect_err("collision");
        assert!(err.to_string().contains("a, b"), "{err}");
    }

    #[test]
    fn murmur3_key_matches_go() {
        // murmur3 x64-128("hello", seed 0) = cbd8a7b341bd9b02 5b1e906a48ae1d19.
        assert_eq!(
            super::name_hash("hello"),
            [0xcb, 0xd8, 0xa7, 0xb3, 0x41, 0xbd, 0x9b, 0x02]
        );
        assert_eq!(super::name_hash("n0"), [0x05, 0xfc, 0xe4, 0xdb, 0x4e, 0xdf, 0x40, 0x63]);
    }
}
