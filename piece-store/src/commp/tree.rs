//! The commP binary tree: SHA-256 of two 32-byte children with the top two bits of the
//! result cleared ("sha2-256-trunc254-padded"), zero subtrees, and the streaming stack that
//! joins subtree roots into the piece root (wire-formats §9.3).

use std::sync::OnceLock;

use super::fr32::{QUAD_IN, QUAD_OUT, expand_quad};
use super::sha_ni::LANES;

/// A 32-byte tree node (a leaf, an inner node or a root).
pub type Node = [u8; 32];

/// The highest tree level we support: 2^40 leaves of 32 bytes is a 32 TiB piece.
pub const MAX_LEVEL: usize = 40;

/// SHA-256's initial state.
pub(super) const SHA256_INIT: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The second SHA-256 block of every 64-byte message: 0x80, zeros, then the length (512 bits).
const PAD_BLOCK: [u8; 64] = {
    let mut b = [0u8; 64];
    b[0] = 0x80;
    b[62] = 0x02;
    b
};

/// `sha254(left || right)` for a 64-byte block holding both children: one message through
/// `sha2`'s compression function (which uses the SHA extensions when present, one message at
/// a time; [`super::sha_ni`] does four at once for whole levels).
#[inline]
pub fn hash_block(block: &[u8; 64]) -> Node {
    let mut state = SHA256_INIT;
    sha2::block_api::compress256(&mut state, std::slice::from_ref(block));
    sha2::block_api::compress256(&mut state, std::slice::from_ref(&PAD_BLOCK));
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out[31] &= 0x3f;
    out
}

/// `sha254(left || right)`.
pub fn hash_pair(left: &Node, right: &Node) -> Node {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(left);
    block[32..].copy_from_slice(right);
    hash_block(&block)
}

/// Z[k]: the root of an all-zero subtree with 2^k leaves (Z[0] is 32 zero bytes).
pub fn zero_node(level: usize) -> &'static Node {
    static TABLE: OnceLock<[Node; MAX_LEVEL + 1]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [[0u8; 32]; MAX_LEVEL + 1];
        for k in 1..=MAX_LEVEL {
            t[k] = hash_pair(&t[k - 1], &t[k - 1]);
        }
        t
    });
    &table[level]
}

/// Reduces a level of `2^n` nodes stored back to back in `nodes` (32 bytes each) to their
/// root, in place, and returns it.
pub fn reduce_in_place(nodes: &mut [u8]) -> Node {
    debug_assert!(nodes.len() >= 32 && (nodes.len() / 32).is_power_of_two());
    let mut len = nodes.len();
    while len > 32 {
        hash_level_in_place(&mut nodes[..len]);
        len /= 2;
    }
    nodes[..32].try_into().expect("32 bytes")
}

/// Hashes each 64-byte block of `buf` into 32 bytes written at the front of `buf`, four
/// messages at a time on the SHA extensions when the CPU has them. Writes never overtake
/// reads: group `i` writes bytes `128i..128i+128` after reading `256i..256i+256`.
fn hash_level_in_place(buf: &mut [u8]) {
    let pairs = buf.len() / 64;
    let mut i = 0;
    if super::sha_ni::available() {
        while i + LANES <= pairs {
            let mut blocks = [[0u8; 64]; LANES];
            for (l, b) in blocks.iter_mut().enumerate() {
                b.copy_from_slice(&buf[64 * (i + l)..64 * (i + l) + 64]);
            }
            let nodes = super::sha_ni::hash4([&blocks[0], &blocks[1], &blocks[2], &blocks[3]]);
            for (l, n) in nodes.iter().enumerate() {
                buf[32 * (i + l)..32 * (i + l) + 32].copy_from_slice(n);
            }
            i += LANES;
        }
    }
    while i < pairs {
        let block: [u8; 64] = buf[64 * i..64 * i + 64].try_into().expect("64 bytes");
        buf[32 * i..32 * i + 32].copy_from_slice(&hash_block(&block));
        i += 1;
    }
}

/// Which SHA-256 path [`subtree_root`] takes on this CPU, for logs and benchmarks.
pub fn hash_path() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if super::avx512::available() {
        return "AVX-512, 16 messages at a time";
    }
    if super::sha_ni::available() {
        "SHA extensions, 4 messages at a time"
    } else {
        "portable, 1 message at a time"
    }
}

/// Reusable buffers for [`subtree_root`], one per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    bytes: Vec<u8>,
    #[cfg(target_arch = "x86_64")]
    groups: Vec<super::avx512::Group>,
}

/// The root of the subtree over `payload` (a whole number of 127-byte quads, a power of two
/// of them, at least one).
///
/// With AVX-512, sixteen messages at a time up to the last sixteen nodes
/// ([`super::avx512`]); otherwise four at a time on the SHA extensions, or one at a time.
pub fn subtree_root(payload: &[u8], scratch: &mut Scratch) -> Node {
    let quads = payload.len() / QUAD_IN;
    debug_assert!(quads >= 1 && quads.is_power_of_two() && payload.len().is_multiple_of(QUAD_IN));
    #[cfg(target_arch = "x86_64")]
    if quads >= super::avx512::QUADS_PER_GROUP && super::avx512::available() {
        let nodes = super::avx512::reduce_to_group(payload, &mut scratch.groups);
        scratch.bytes.clear();
        scratch.bytes.extend(nodes.iter().flatten());
        return reduce_in_place(&mut scratch.bytes);
    }
    leaves_then_reduce(payload, &mut scratch.bytes)
}

/// [`subtree_root`] without AVX-512. `scratch` receives the level above the leaves, 64 bytes
/// per quad.
///
/// Fr32 expansion and the first level of hashing are fused: each quad is expanded on the
/// stack and hashed straight into two level-1 nodes, so the leaves are never stored.
fn leaves_then_reduce(payload: &[u8], scratch: &mut Vec<u8>) -> Node {
    let quads = payload.len() / QUAD_IN;
    scratch.clear();
    scratch.resize(quads * 64, 0);
    if quads >= 2 && super::sha_ni::available() {
        // Two quads expand to four 64-byte messages: one call of the four-lane hash.
        let mut expanded = [[0u8; QUAD_OUT]; 2];
        for (pair, out) in payload.chunks_exact(2 * QUAD_IN).zip(scratch.chunks_exact_mut(128)) {
            expand_quad(pair[..QUAD_IN].try_into().expect("127 bytes"), &mut expanded[0]);
            expand_quad(pair[QUAD_IN..].try_into().expect("127 bytes"), &mut expanded[1]);
            let [e0, e1] = &expanded;
            let b = |e: &[u8; QUAD_OUT], h: usize| -> [u8; 64] { e[64 * h..64 * h + 64].try_into().expect("64 bytes") };
            let blocks = [b(e0, 0), b(e0, 1), b(e1, 0), b(e1, 1)];
            let nodes = super::sha_ni::hash4([&blocks[0], &blocks[1], &blocks[2], &blocks[3]]);
            for (o, n) in out.chunks_exact_mut(32).zip(nodes) {
                o.copy_from_slice(&n);
            }
        }
    } else {
        let mut expanded = [0u8; QUAD_OUT];
        for (quad, out) in payload.chunks_exact(QUAD_IN).zip(scratch.chunks_exact_mut(64)) {
            expand_quad(quad.try_into().expect("127 bytes"), &mut expanded);
            let (a, b) = expanded.split_at(64);
            out[..32].copy_from_slice(&hash_block(a.try_into().expect("64 bytes")));
            out[32..].copy_from_slice(&hash_block(b.try_into().expect("64 bytes")));
        }
    }
    reduce_in_place(scratch)
}

/// Joins equal-size subtree roots, pushed left to right, into a piece root. Pending left
/// siblings are kept per level, like the digits of a binary counter: at most one per level.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    pending: Vec<Option<Node>>,
}

impl Stack {
    /// Pushes the next subtree root, at `level` (2^level leaves). Roots must be pushed in
    /// order and all at the same level.
    pub fn push(&mut self, mut node: Node, mut level: usize) {
        loop {
            if self.pending.len() <= level {
                self.pending.resize(level + 1, None);
            }
            match self.pending[level].take() {
                Some(left) => {
                    node = hash_pair(&left, &node);
                    level += 1;
                }
                None => {
                    self.pending[level] = Some(node);
                    return;
                }
            }
        }
    }

    /// The root at `top` level, filling everything not pushed with zero subtrees.
    /// `from` is the level subtrees were pushed at.
    pub fn finish(self, from: usize, top: usize) -> Node {
        let mut carry: Option<Node> = None;
        for level in from..top {
            let left = self.pending.get(level).copied().flatten();
            carry = match (left, carry) {
                (Some(l), Some(c)) => Some(hash_pair(&l, &c)),
                (Some(l), None) => Some(hash_pair(&l, zero_node(level))),
                (None, Some(c)) => Some(hash_pair(&c, zero_node(level))),
                (None, None) => None,
            };
        }
        carry
            .or_else(|| self.pending.get(top).copied().flatten())
            .unwrap_or(*zero_node(top))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_nodes_match_known_values() {
        assert_eq!(zero_node(0), &[0u8; 32]);
        assert_eq!(
            hex(zero_node(1)),
            "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb0b"
        );
        // 128-byte piece: 4 leaves.
        assert_eq!(
            hex(zero_node(2)),
            "3731bb99ac689f66eef5973e4a94da188f4ddcae580724fc6f3fd60dfd488333"
        );
    }

    #[test]
    fn hash_block_is_truncated_sha256() {
        use sha2::Digest;
        let block = [7u8; 64];
        let mut want: [u8; 32] = sha2::Sha256::digest(block).into();
        want[31] &= 0x3f;
        assert_eq!(hash_block(&block), want);
    }

    #[test]
    fn stack_with_zero_subtrees_gives_zero_root() {
        let mut s = Stack::default();
        s.push(*zero_node(3), 3);
        s.push(*zero_node(3), 3);
        s.push(*zero_node(3), 3);
        assert_eq!(s.finish(3, 7), *zero_node(7));
    }

    #[test]
    fn every_hash_path_gives_the_same_root() {
        // subtree_root takes the widest path this CPU has; leaves_then_reduce the SHA
        // extensions (or the portable hash); hashing the expanded leaves one message at a
        // time is the reference.
        let mut scratch = Scratch::default();
        let mut bytes = Vec::new();
        for quads in [1usize, 2, 4, 8, 16, 128, 1024] {
            let payload = super::super::test_util::lcg_bytes(quads * QUAD_IN, quads as u32);
            let leaves = super::super::test_util::portable_level(&payload, 1);
            assert_eq!(subtree_root(&payload, &mut scratch).as_slice(), leaves, "{quads} quads");
            assert_eq!(
                leaves_then_reduce(&payload, &mut bytes).as_slice(),
                leaves,
                "{quads} quads"
            );
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
