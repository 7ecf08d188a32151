//! The tree's SHA-256 on the CPU's SHA extensions, four messages at a time.
//!
//! One SHA-256 message is bound by the latency of `sha256rnds2`; four independent messages
//! interleaved keep the SHA unit busy, which is where commP's speed comes from (every node
//! of the tree is its own 64-byte message, and a level has many of them). The second block of
//! every message is the same padding block, so its message schedule (with the round
//! constants added) is computed once.
//!
//! `unsafe` is confined to this module: calling the `#[target_feature]` functions, which
//! [`available`] makes sound by checking the CPU first, and unaligned 16-byte loads and
//! stores within bounds-checked arrays.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::sync::OnceLock;

use super::tree::Node;

/// Lanes hashed together.
pub const LANES: usize = 4;

/// SHA-256 round constants.
pub(super) const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
];

/// Whether this CPU has what the fast path needs.
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("sha")
                && std::is_x86_feature_detected!("sse4.1")
                && std::is_x86_feature_detected!("ssse3")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// The padding block's schedule plus round constants, W[t] + K[t] (scalar, once).
pub(super) fn pad_wk() -> &'static [u32; 64] {
    static WK: OnceLock<[u32; 64]> = OnceLock::new();
    WK.get_or_init(|| {
        let mut w = [0u32; 64];
        w[0] = 0x8000_0000;
        w[15] = 512;
        for t in 16..64 {
            let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
            let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16].wrapping_add(s0).wrapping_add(w[t - 7]).wrapping_add(s1);
        }
        let mut wk = [0u32; 64];
        for t in 0..64 {
            wk[t] = w[t].wrapping_add(K[t]);
        }
        wk
    })
}

/// `sha254` of four 64-byte messages. Call only when [`available`] is true.
pub fn hash4(blocks: [&[u8; 64]; LANES]) -> [Node; LANES] {
    assert!(available(), "hash4 needs the SHA extensions; check available() first");
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `available()` checked that the CPU has sha, sse4.1 and ssse3.
        unsafe { hash4_ni(blocks, pad_wk()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn hash4_ni(blocks: [&[u8; 64]; LANES], pad_wk: &[u32; 64]) -> [Node; LANES] {
    let load = |words: &[u32]| -> __m128i {
        let w: &[u32; 4] = words.try_into().expect("4 words");
        // SAFETY: `w` is 16 readable bytes; loadu has no alignment requirement.
        unsafe { _mm_loadu_si128(w.as_ptr().cast()) }
    };
    let load_bytes = |bytes: &[u8]| -> __m128i {
        let b: &[u8; 16] = bytes.try_into().expect("16 bytes");
        // SAFETY: `b` is 16 readable bytes; loadu has no alignment requirement.
        unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
    };
    // Byte swap of each 32-bit word (big-endian message words).
    let bswap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
    // The initial state in the ABEF / CDGH form the instructions use.
    let abef0 = load(&[0x9b05688c, 0x510e527f, 0xbb67ae85, 0x6a09e667]); // lanes f e b a
    let cdgh0 = load(&[0x5be0cd19, 0x1f83d9ab, 0xa54ff53a, 0x3c6ef372]); // lanes h g d c

    let mut s0 = [abef0; LANES];
    let mut s1 = [cdgh0; LANES];

    // Block 1: the data. Message schedule in groups of four words.
    let mut w = [[_mm_setzero_si128(); 16]; LANES];
    for l in 0..LANES {
        for g in 0..4 {
            w[l][g] = _mm_shuffle_epi8(load_bytes(&blocks[l][16 * g..16 * g + 16]), bswap);
        }
    }
    for g in 0..16 {
        let k = load(&K[4 * g..4 * g + 4]);
        for l in 0..LANES {
            if g >= 4 {
                let t = _mm_sha256msg1_epu32(w[l][g - 4], w[l][g - 3]);
                let t = _mm_add_epi32(t, _mm_alignr_epi8(w[l][g - 1], w[l][g - 2], 4));
                w[l][g] = _mm_sha256msg2_epu32(t, w[l][g - 1]);
            }
            let msg = _mm_add_epi32(w[l][g], k);
            s1[l] = _mm_sha256rnds2_epu32(s1[l], s0[l], msg);
            s0[l] = _mm_sha256rnds2_epu32(s0[l], s1[l], _mm_shuffle_epi32(msg, 0x0e));
        }
    }
    let mut mid0 = [abef0; LANES];
    let mut mid1 = [cdgh0; LANES];
    for l in 0..LANES {
        mid0[l] = _mm_add_epi32(s0[l], abef0);
        mid1[l] = _mm_add_epi32(s1[l], cdgh0);
        s0[l] = mid0[l];
        s1[l] = mid1[l];
    }

    // Block 2: the fixed padding; its W + K is precomputed.
    for g in 0..16 {
        let msg = load(&pad_wk[4 * g..4 * g + 4]);
        let hi = _mm_shuffle_epi32(msg, 0x0e);
        for l in 0..LANES {
            s1[l] = _mm_sha256rnds2_epu32(s1[l], s0[l], msg);
            s0[l] = _mm_sha256rnds2_epu32(s0[l], s1[l], hi);
        }
    }

    let mut out = [[0u8; 32]; LANES];
    for l in 0..LANES {
        let abef = _mm_add_epi32(s0[l], mid0[l]);
        let cdgh = _mm_add_epi32(s1[l], mid1[l]);
        // Back to A B C D / E F G H, then to big-endian bytes.
        let feba = _mm_shuffle_epi32(abef, 0x1b);
        let dchg = _mm_shuffle_epi32(cdgh, 0xb1);
        let dcba = _mm_blend_epi16(feba, dchg, 0xf0);
        let hgfe = _mm_alignr_epi8(dchg, feba, 8);
        let abcd = _mm_shuffle_epi8(dcba, bswap);
        let efgh = _mm_shuffle_epi8(hgfe, bswap);
        let (lo, hi) = out[l].split_at_mut(16);
        let lo: &mut [u8; 16] = lo.try_into().expect("16 bytes");
        let hi: &mut [u8; 16] = hi.try_into().expect("16 bytes");
        // SAFETY: each destination is 16 writable bytes; storeu has no alignment requirement.
        unsafe {
            _mm_storeu_si128(lo.as_mut_ptr().cast(), abcd);
            _mm_storeu_si128(hi.as_mut_ptr().cast(), efgh);
        }
        out[l][31] &= 0x3f;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_portable_hash() {
        if !available() {
            eprintln!("no SHA extensions on this CPU: the portable path is used and tested elsewhere");
            return;
        }
        let mut blocks = [[0u8; 64]; LANES];
        for round in 0..500 {
            let bytes = super::super::test_util::lcg_bytes(64 * LANES, round + 1);
            for (b, src) in blocks.iter_mut().zip(bytes.chunks_exact(64)) {
                b.copy_from_slice(src);
            }
            if round == 0 {
                blocks = [[0u8; 64], [0xff; 64], [0x80; 64], [1; 64]];
            }
            let got = hash4([&blocks[0], &blocks[1], &blocks[2], &blocks[3]]);
            for l in 0..LANES {
                assert_eq!(
                    got[l],
                    super::super::tree::hash_block(&blocks[l]),
                    "round {round} lane {l}"
                );
            }
        }
    }
}
