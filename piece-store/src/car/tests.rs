use std::io::Cursor;

use super::*;
use crate::unixfs::{ImportOptions, RAW};

fn blocks() -> Vec<(BlockCid, Vec<u8>)> {
    let opts = ImportOptions::default();
    (0..5u8)
        .map(|i| {
            let data = vec![i; 200 + i as usize];
            (opts.cid_for(RAW, &data), data)
        })
        .collect()
}

fn v1_bytes() -> Vec<u8> {
    let bs = blocks();
    let mut w = CarV1Writer::new(Vec::new(), &[bs[0].0]).expect("in memory");
    for (c, d) in &bs {
        w.write_block(c, d).expect("in memory");
    }
    w.finish().expect("in memory").0
}

fn read_all(bytes: &[u8]) -> Result<Vec<CarBlock>, CarError> {
    CarReader::new(Cursor::new(bytes))?.collect()
}

#[test]
fn v1_roundtrip() {
    let bytes = v1_bytes();
    let r = CarReader::new(Cursor::new(&bytes)).expect("header");
    assert_eq!(r.version(), 1);
    assert_eq!(r.roots(), &[blocks()[0].0]);
    let got = read_all(&bytes).expect("reads");
    assert_eq!(got.len(), 5);
    for (b, (c, d)) in got.iter().zip(blocks()) {
        assert_eq!((b.cid, &b.data), (c, &d));
        assert_eq!(&bytes[b.data_offset as usize..b.data_offset as usize + d.len()], &d[..]);
    }
}

#[test]
fn v1_header_bytes_match_go_car() {
    // {"roots": [bafkqaaa], "version": 1} as go-car writes it.
    let root: BlockCid = "bafkqaaa".parse().expect("cid");
    let h = encode_v1_header(&[root]);
    assert_eq!(
        h,
        [
            0xa2, 0x65, b'r', b'o', b'o', b't', b's', 0x81, 0xd8, 0x2a, 0x45, 0x00, 0x01, 0x55, 0x00, 0x00, 0x67, b'v',
            b'e', b'r', b's', b'i', b'o', b'n', 0x01
        ]
    );
    assert_eq!(
        decode_header(&h).expect("decodes"),
        CarHeader {
            version: 1,
            roots: vec![root]
        }
    );
}

#[test]
fn v2_roundtrip_and_index() {
    let bs = blocks();
    let file = wrap_v2(Cursor::new(Vec::new()), |f| {
        let mut w = CarV1Writer::new(f, &[bs[0].0])?;
        for (c, d) in &bs {
            w.write_block(c, d)?;
        }
        Ok(w.finish()?.1)
    })
    .expect("in memory");
    let bytes = file.into_inner();
    assert_eq!(&bytes[..11], &V2_PRAGMA);
    let data_offset = u64::from_le_bytes(bytes[27..35].try_into().expect("8")) as usize;
    let data_size = u64::from_le_bytes(bytes[35..43].try_into().expect("8")) as usize;
    let index_offset = u64::from_le_bytes(bytes[43..51].try_into().expect("8")) as usize;
    assert_eq!(data_offset, 51);
    assert_eq!(&bytes[data_offset..data_offset + data_size], &v1_bytes()[..]);
    assert_eq!(index_offset, data_offset + data_size);
    // Index: codec 0x0401, one hash code (blake2b-256 = 0xb220), one width (32 + 8), 5 records.
    let idx = &bytes[index_offset..];
    assert_eq!(&idx[..2], &[0x81, 0x08]);
    assert_eq!(i32::from_le_bytes(idx[2..6].try_into().expect("4")), 1);
    assert_eq!(u64::from_le_bytes(idx[6..14].try_into().expect("8")), 0xb220);
    assert_eq!(i32::from_le_bytes(idx[14..18].try_into().expect("4")), 1);
    assert_eq!(u32::from_le_bytes(idx[18..22].try_into().expect("4")), 40);
    assert_eq!(u64::from_le_bytes(idx[22..30].try_into().expect("8")), 200);
    assert_eq!(idx.len(), 30 + 200);

    let r = CarReader::new(Cursor::new(&bytes)).expect("header");
    assert_eq!(r.version(), 2);
    let got: Vec<CarBlock> = r.collect::<Result<_, _>>().expect("reads");
    assert_eq!(got.len(), 5);
    for b in &got {
        assert_eq!(
            &bytes[b.data_offset as usize..b.data_offset as usize + b.data.len()],
            &b.data[..]
        );
    }
}

#[test]
fn truncation_anywhere_is_a_clear_error() {
    let bytes = v1_bytes();
    for cut in 1..bytes.len() {
        match read_all(&bytes[..cut]) {
            Err(CarError::Truncated { .. }) => {}
            // A cut exactly between sections is a shorter valid CAR.
            Ok(blocks) => assert!(blocks.len() < 5, "cut {cut}"),
            Err(e) => panic!("cut {cut}: unexpected {e}"),
        }
    }
    assert!(matches!(read_all(&[]), Err(CarError::Truncated { .. })));
}

#[test]
fn corrupted_block_is_named() {
    let mut bytes = v1_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let err = read_all(&bytes).expect_err("corrupt");
    assert!(matches!(err, CarError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains("does not match its CID"));
}

#[test]
fn garbage_never_panics() {
    let good = v1_bytes();
    let mut seed = 1u64;
    for _ in 0..2000 {
        let mut b = good.clone();
        for _ in 0..3 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let i = (seed >> 33) as usize % b.len();
            b[i] = (seed >> 17) as u8;
        }
        let _ = read_all(&b);
    }
}

#[test]
fn verifying_reader_checks_a_streamed_car() {
    use std::io::Read;
    let bytes = v1_bytes();
    assert!(looks_like_car(&bytes));
    assert!(!looks_like_car(b"plain text, not a CAR at all"));
    let mut r = VerifyingReader::new(Cursor::new(bytes.clone()));
    let mut sink = Vec::new();
    r.read_to_end(&mut sink).expect("read");
    let summary = r.finish().expect("valid");
    assert_eq!((summary.version, summary.blocks), (1, 5));

    let mut r = VerifyingReader::new(Cursor::new(bytes[..bytes.len() - 3].to_vec()));
    r.read_to_end(&mut sink).expect("read");
    assert!(matches!(r.finish(), Err(CarError::Truncated { .. })));
}
