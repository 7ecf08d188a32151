//! Fr32 expansion: every 127 bytes of payload become 128 bytes, four 32-byte words whose top
//! two bits are zero, so each word is a valid BLS12-381 field element (wire-formats §9.2).

/// Payload bytes in one Fr32 quad.
pub const QUAD_IN: usize = 127;
/// Bytes one quad expands to.
pub const QUAD_OUT: usize = 128;

/// Expands one 127-byte quad into 128 bytes.
///
/// The quad is read as a 1016-bit little-endian number; word `k` of the output holds its bits
/// `254k .. 254k+254` in the low 254 bits of a little-endian 256-bit word.
#[inline]
pub fn expand_quad(input: &[u8; QUAD_IN], out: &mut [u8; QUAD_OUT]) {
    let mut limbs = [0u64; 16];
    for (i, limb) in limbs.iter_mut().enumerate().take(15) {
        *limb = u64::from_le_bytes(input[8 * i..8 * i + 8].try_into().expect("8 bytes"));
    }
    let mut last = [0u8; 8];
    last[..7].copy_from_slice(&input[120..127]);
    limbs[15] = u64::from_le_bytes(last);

    // Word k starts at bit 254k = 64·(4k − 1) + (64 − 2k) for k ≥ 1.
    let mut words = [0u64; 16];
    words[..4].copy_from_slice(&limbs[..4]);
    for k in 1..4 {
        let base = 4 * k - 1;
        let shift = 64 - 2 * k as u32;
        for i in 0..4 {
            let lo = limbs[base + i] >> shift;
            let hi = limbs.get(base + i + 1).map_or(0, |l| l << (64 - shift));
            words[4 * k + i] = lo | hi;
        }
    }
    for k in 0..4 {
        words[4 * k + 3] &= 0x3fff_ffff_ffff_ffff;
    }
    for (i, w) in words.iter().enumerate() {
        out[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
    }
}

/// Expands whole quads: `input.len()` must be a multiple of 127 and `out` 128/127 of it.
pub fn expand(input: &[u8], out: &mut [u8]) {
    debug_assert_eq!(input.len() % QUAD_IN, 0);
    debug_assert_eq!(out.len(), input.len() / QUAD_IN * QUAD_OUT);
    for (quad, o) in input.chunks_exact(QUAD_IN).zip(out.chunks_exact_mut(QUAD_OUT)) {
        expand_quad(quad.try_into().expect("127 bytes"), o.try_into().expect("128 bytes"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, as arithmetic on bits (slow and obviously right).
    fn expand_by_bits(input: &[u8; QUAD_IN]) -> [u8; QUAD_OUT] {
        let bit = |i: usize| (input[i / 8] >> (i % 8)) & 1;
        let mut out = [0u8; QUAD_OUT];
        for k in 0..4 {
            for j in 0..254 {
                let b = bit(254 * k + j);
                let o = 256 * k + j;
                out[o / 8] |= b << (o % 8);
            }
        }
        out
    }

    #[test]
    fn matches_bitwise_definition() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..200 {
            let mut input = [0u8; QUAD_IN];
            for b in input.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            if round == 0 {
                input = [0xff; QUAD_IN];
            }
            let mut out = [0u8; QUAD_OUT];
            expand_quad(&input, &mut out);
            assert_eq!(out, expand_by_bits(&input), "round {round}");
        }
    }

    #[test]
    fn all_ones_clears_top_two_bits_of_each_word() {
        let mut out = [0u8; QUAD_OUT];
        expand_quad(&[0xff; QUAD_IN], &mut out);
        for k in 0..4 {
            assert_eq!(out[32 * k + 31], 0x3f);
            assert!(out[32 * k..32 * k + 31].iter().all(|&b| b == 0xff));
        }
    }
}
