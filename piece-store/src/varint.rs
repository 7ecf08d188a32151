//! Unsigned LEB128 varints, as multiformats, protobuf and CAR sections use them.

/// Appends `v` as a varint.
pub fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint from the front of `bytes`: the value and the bytes used. `None` if the
/// input ends inside it, or it is longer than 10 bytes or overflows 64 bits.
pub fn get(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && part > 1 {
            return None;
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
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
