//! The tree's SHA-256 on AVX-512, sixteen messages at a time, one per 32-bit lane.
//!
//! On CPUs with both the SHA extensions and AVX-512, the SHA unit is throughput-bound at
//! about one 64-byte block per 60 ns, and commP needs four compressions per 64 padded bytes,
//! so SHA-NI alone cannot go past ~260 MB/s of payload per core. Sixteen independent
//! messages in the lanes of 512-bit registers go two to three times faster.
//!
//! Nodes are kept transposed ([`Group`]: word `w` of node `l` at `words[w][l]`) from the
//! first level of the tree to the last sixteen nodes, so no level but the leaves needs a
//! transpose: the message of parent `m` is nodes `2m` and `2m + 1` of two neighbouring
//! groups, which one two-source permute per word gathers. The padding block's schedule and
//! round constants are precomputed (its 64 rounds add a broadcast constant), and only the
//! leaves are byte-swapped.
//!
//! `unsafe` is confined to this module: calling the `#[target_feature]` functions, which
//! [`available`] makes sound by checking the CPU first, and loads, stores and gathers within
//! bounds-checked arrays.
#![allow(unsafe_code)]

use std::arch::x86_64::*;
use std::sync::OnceLock;

use super::fr32::{QUAD_IN, QUAD_OUT, expand_quad};
use super::sha_ni::{K, pad_wk};
use super::tree::{Node, SHA256_INIT};

/// Messages hashed together.
pub const LANES: usize = 16;

/// Quads consumed by one group at the leaves: each quad is four leaves, two messages.
pub const QUADS_PER_GROUP: usize = LANES / 2;

/// Sixteen tree nodes, transposed: `words[w][l]` is big-endian word `w` of node `l`.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, Default)]
pub struct Group {
    words: [[u32; LANES]; 8],
}

impl Group {
    /// The sixteen nodes as bytes, in order.
    pub fn nodes(&self) -> [Node; LANES] {
        let mut out = [[0u8; 32]; LANES];
        for (l, node) in out.iter_mut().enumerate() {
            for (w, bytes) in node.chunks_exact_mut(4).enumerate() {
                bytes.copy_from_slice(&self.words[w][l].to_be_bytes());
            }
        }
        out
    }
}

/// Whether this CPU has what this path needs (AVX-512 F for the arithmetic, rotates, ternary
/// logic, permutes and gathers; BW for the byte swap).
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw"))
}

/// The sixteen level-1 groups' worth of work is done per call: `payload` holds a power of two
/// of quads, at least [`QUADS_PER_GROUP`]. Returns the sixteen nodes at the level where one
/// group remains (the caller hashes them the last four levels up). Call only when
/// [`available`] is true.
pub fn reduce_to_group(payload: &[u8], scratch: &mut Vec<Group>) -> [Node; LANES] {
    assert!(available(), "reduce_to_group needs AVX-512; check available() first");
    let quads = payload.len() / QUAD_IN;
    assert!(
        quads >= QUADS_PER_GROUP && quads.is_power_of_two() && payload.len().is_multiple_of(QUAD_IN),
        "a power of two of quads, at least {QUADS_PER_GROUP}"
    );
    let groups = quads / QUADS_PER_GROUP;
    scratch.clear();
    scratch.resize(groups, Group::default());
    // SAFETY: `available()` checked that the CPU has avx512f and avx512bw.
    unsafe {
        for (quads, out) in payload.chunks_exact(QUADS_PER_GROUP * QUAD_IN).zip(scratch.iter_mut()) {
            hash_leaves(quads, out, pad_wk());
        }
        let mut n = groups;
        while n > 1 {
            for i in 0..n / 2 {
                let (left, right) = (scratch[2 * i], scratch[2 * i + 1]);
                hash_parents(&left, &right, &mut scratch[i], pad_wk());
            }
            n /= 2;
        }
    }
    scratch[0].nodes()
}

/// 64-byte aligned bytes of eight expanded quads: sixteen messages.
#[repr(C, align(64))]
struct Expanded([u8; QUADS_PER_GROUP * QUAD_OUT]);

/// Expands eight quads and hashes their sixteen messages into the level-1 nodes `out`.
#[target_feature(enable = "avx512f,avx512bw")]
fn hash_leaves(quads: &[u8], out: &mut Group, pad_wk: &[u32; 64]) {
    let mut buf = Expanded([0u8; QUADS_PER_GROUP * QUAD_OUT]);
    for (quad, e) in quads.chunks_exact(QUAD_IN).zip(buf.0.chunks_exact_mut(QUAD_OUT)) {
        expand_quad(quad.try_into().expect("127 bytes"), e.try_into().expect("128 bytes"));
    }
    // Word k of message l is at word 16l + k of the buffer.
    let index = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240);
    let bswap = _mm512_broadcast_i32x4(_mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203));
    let base: *const i32 = buf.0.as_ptr().cast();
    let mut w = [_mm512_setzero_si512(); 16];
    for (k, wk) in w.iter_mut().enumerate() {
        // SAFETY: the largest index read is 16·15 + 15 words = 1020 bytes, inside the
        // 1024-byte buffer.
        let words = unsafe { _mm512_i32gather_epi32::<4>(index, base.add(k)) };
        *wk = _mm512_shuffle_epi8(words, bswap);
    }
    store(out, compress_message(w, pad_wk));
}

/// Hashes the sixteen messages formed by the thirty-two nodes of `left` then `right`
/// (message `m` is node `2m` followed by node `2m + 1`) into `out`.
#[target_feature(enable = "avx512f")]
fn hash_parents(left: &Group, right: &Group, out: &mut Group, pad_wk: &[u32; 64]) {
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    let mut w = [_mm512_setzero_si512(); 16];
    for k in 0..8 {
        let (a, b) = (load(&left.words[k]), load(&right.words[k]));
        w[k] = _mm512_permutex2var_epi32(a, even, b);
        w[k + 8] = _mm512_permutex2var_epi32(a, odd, b);
    }
    store(out, compress_message(w, pad_wk));
}

#[target_feature(enable = "avx512f")]
fn load(words: &[u32; LANES]) -> __m512i {
    // SAFETY: `words` is 64 readable bytes; loadu has no alignment requirement.
    unsafe { _mm512_loadu_si512(words.as_ptr().cast()) }
}

#[target_feature(enable = "avx512f")]
fn store(out: &mut Group, state: [__m512i; 8]) {
    for (words, v) in out.words.iter_mut().zip(state) {
        // SAFETY: `words` is 64 writable bytes; storeu has no alignment requirement.
        unsafe { _mm512_storeu_si512(words.as_mut_ptr().cast(), v) }
    }
}

/// `sha254` of sixteen 64-byte messages given as their big-endian words: the message block,
/// then the padding block, then the top two bits of the last byte cleared.
#[target_feature(enable = "avx512f")]
fn compress_message(mut w: [__m512i; 16], pad_wk: &[u32; 64]) -> [__m512i; 8] {
    let init = SHA256_INIT.map(|x| _mm512_set1_epi32(x as i32));
    let mut s = init;
    for t in 0..64 {
        if t >= 16 {
            w[t % 16] = schedule(&w, t);
        }
        let wk = _mm512_add_epi32(w[t % 16], _mm512_set1_epi32(K[t] as i32));
        round(&mut s, wk);
    }
    let mid: [__m512i; 8] = std::array::from_fn(|i| _mm512_add_epi32(s[i], init[i]));
    s = mid;
    for &c in pad_wk {
        round(&mut s, _mm512_set1_epi32(c as i32));
    }
    let mut out: [__m512i; 8] = std::array::from_fn(|i| _mm512_add_epi32(s[i], mid[i]));
    out[7] = _mm512_and_si512(out[7], _mm512_set1_epi32(0xffff_ff3f_u32 as i32));
    out
}

/// W[t] from the previous sixteen words (indices modulo 16).
#[inline]
#[target_feature(enable = "avx512f")]
fn schedule(w: &[__m512i; 16], t: usize) -> __m512i {
    let w15 = w[(t - 15) % 16];
    let w2 = w[(t - 2) % 16];
    let s0 = _mm512_ternarylogic_epi32::<0x96>(
        _mm512_ror_epi32::<7>(w15),
        _mm512_ror_epi32::<18>(w15),
        _mm512_srli_epi32::<3>(w15),
    );
    let s1 = _mm512_ternarylogic_epi32::<0x96>(
        _mm512_ror_epi32::<17>(w2),
        _mm512_ror_epi32::<19>(w2),
        _mm512_srli_epi32::<10>(w2),
    );
    _mm512_add_epi32(_mm512_add_epi32(w[t % 16], s0), _mm512_add_epi32(w[(t - 7) % 16], s1))
}

/// One SHA-256 round on state `[a, b, c, d, e, f, g, h]` with `wk` = W[t] + K[t].
#[inline]
#[target_feature(enable = "avx512f")]
fn round(s: &mut [__m512i; 8], wk: __m512i) {
    let [a, b, c, d, e, f, g, h] = *s;
    // Σ1(e), Ch(e, f, g) = e ? f : g, Σ0(a), Maj(a, b, c).
    let sigma1 = _mm512_ternarylogic_epi32::<0x96>(
        _mm512_ror_epi32::<6>(e),
        _mm512_ror_epi32::<11>(e),
        _mm512_ror_epi32::<25>(e),
    );
    let ch = _mm512_ternarylogic_epi32::<0xca>(e, f, g);
    let t1 = _mm512_add_epi32(_mm512_add_epi32(h, wk), _mm512_add_epi32(sigma1, ch));
    let sigma0 = _mm512_ternarylogic_epi32::<0x96>(
        _mm512_ror_epi32::<2>(a),
        _mm512_ror_epi32::<13>(a),
        _mm512_ror_epi32::<22>(a),
    );
    let maj = _mm512_ternarylogic_epi32::<0xe8>(a, b, c);
    let t2 = _mm512_add_epi32(sigma0, maj);
    *s = [_mm512_add_epi32(t1, t2), a, b, c, _mm512_add_epi32(d, t1), e, f, g];
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{lcg_bytes, portable_level};
    use super::super::tree::reduce_in_place;
    use super::*;

    #[test]
    fn matches_the_portable_tree() {
        if !available() {
            eprintln!("no AVX-512 on this CPU: the other paths are used and tested elsewhere");
            return;
        }
        let mut scratch = Vec::new();
        for (i, quads) in [8usize, 16, 32, 64, 256, 1024].into_iter().enumerate() {
            for payload in [
                lcg_bytes(quads * QUAD_IN, i as u32 + 1),
                vec![0xff; quads * QUAD_IN],
                vec![0; quads * QUAD_IN],
            ] {
                let got = reduce_to_group(&payload, &mut scratch);
                let want = portable_level(&payload, LANES);
                assert_eq!(got.concat(), want, "{quads} quads");
                let mut nodes = got.concat();
                let mut want = want;
                assert_eq!(reduce_in_place(&mut nodes), reduce_in_place(&mut want));
            }
        }
    }
}
