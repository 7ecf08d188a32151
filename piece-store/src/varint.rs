//! Unsigned LEB128 varints, as multiformats, protobuf and CAR sections use them: thin
//! helpers over the `unsigned-varint` crate (minimal forms only, at most 10 bytes).

/// Appends `v` as a varint.
pub fn put(out: &mut Vec<u8>, v: u64) {
    let mut buf = unsigned_varint::encode::u64_buffer();
    out.extend_from_slice(unsigned_varint::encode::u64(v, &mut buf));
}

/// Reads a varint from the front of `bytes`: the value and the bytes used. `None` if the
/// input ends inside it, or it is overlong, not minimal or overflows 64 bits.
pub fn get(bytes: &[u8]) -> Option<(u64, usize)> {
    let (v, rest) = unsigned_varint::decode::u64(bytes).ok()?;
    Some((v, bytes.len() - rest.len()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn roundtrip_and_lengths() {
        for v in [0u64, 1, 127, 128, 300, 16383, 16384, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            super::put(&mut b, v);
            assert_eq!(super::get(&b), Some((v, b.len())));
            assert_eq!(super::get(&b[..b.len() - 1]), None);
        }
        assert_eq!(super::get(&[0xff; 11]), None);
    }
}
