//! Helpers shared by the hash paths' unit tests.

use super::fr32::{QUAD_IN, QUAD_OUT, expand_quad};
use super::tree::hash_block;

/// Deterministic bytes from a linear congruential generator.
pub fn lcg_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1664525).wrapping_add(1013904223);
            (x >> 24) as u8
        })
        .collect()
}

/// The reference: Fr32-expand `payload`, then hash one message at a time, level by level,
/// until `nodes` nodes remain; returns them back to back.
pub fn portable_level(payload: &[u8], nodes: usize) -> Vec<u8> {
    let mut level = Vec::new();
    let mut e = [0u8; QUAD_OUT];
    for quad in payload.chunks_exact(QUAD_IN) {
        expand_quad(quad.try_into().expect("127 bytes"), &mut e);
        level.extend_from_slice(&e);
    }
    while level.len() > nodes * 32 {
        level = level
            .chunks_exact(64)
            .flat_map(|b| hash_block(b.try_into().expect("64 bytes")))
            .collect();
    }
    level
}
