//! commP against the upstream vectors (vectors.md §1–3) and against filecoin-proofs-api.

use std::io::Read;

use cid::Cid;
use piece_store::commp::{self, CommPError, PieceCommitment, aggregate_commd, pad_commp, tree};
use test_inputs::gorand::GoRandStream;

fn csv(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(',').collect())
}

fn cid(s: &str) -> Cid {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// commP through both entry points: the incremental hasher and the multi-core reader.
fn both(data: &[u8]) -> PieceCommitment {
    let a = commp::of_bytes(data).expect("commP");
    let b = commp::from_reader(data, 2, &mut |_| {}).expect("commP");
    assert_eq!(a, b, "hasher and reader disagree on {} bytes", data.len());
    a
}

#[test]
fn zero_pieces_all_sizes() {
    for row in csv(include_str!("data/zero_pieces.csv")) {
        let (padded, unpadded): (u64, u64) = (row[0].parse().expect("n"), row[1].parse().expect("n"));
        let level = (padded / 32).trailing_zeros() as usize;
        let z = tree::zero_node(level);
        assert_eq!(hex(z), row[2], "Z for {padded}");
        assert_eq!(commp::piece_cid_v1(z), cid(row[3]));
        assert_eq!(commp::piece_cid_v2(z, unpadded, padded).expect("v2"), cid(row[4]));
        // Hash the real zeros up to 64 MiB.
        if padded <= 64 << 20 {
            let pc = both(&vec![0u8; unpadded as usize]);
            assert_eq!((pc.piece_cid(), pc.padded_size), (cid(row[3]), padded));
        }
        // Padding the 128-byte zero piece up gives the same.
        assert_eq!(&pad_commp(tree::zero_node(2), 128, padded).expect("pad"), z);
    }
}

#[test]
fn repeated_byte_payloads() {
    for row in csv(include_str!("data/commp_repeated.csv")) {
        let byte = u8::from_str_radix(row[0], 16).expect("hex");
        let n: usize = row[1].parse().expect("n");
        let pc = both(&vec![byte; n]);
        assert_eq!(
            (pc.padded_size, pc.piece_cid()),
            (row[2].parse().expect("n"), cid(row[3])),
            "{byte:#x} × {n}"
        );
    }
}

#[test]
fn ascii_a_payloads() {
    let cases = [
        (
            1016usize,
            1024u64,
            "baga6ea4seaqlhznlutptgfwhffupyer6txswamerq5fc2jlwf2lys2mm5jtiaeq",
        ),
        (
            16646144,
            16777216,
            "baga6ea4seaqmhoxl2ybw5m2wyd3pt3h4zmp7j52yumzu2rar26twns3uocq7yfa",
        ),
        (
            10403840,
            16777216,
            "baga6ea4seaqbxib4pdxs5cqdn3fmtj4rcxk6rx6ztiqmrx7fcpo3ymuxbp2rodi",
        ),
    ];
    for (n, padded, want) in cases {
        let pc = both(&vec![b'a'; n]);
        assert_eq!((pc.padded_size, pc.piece_cid()), (padded, cid(want)), "{n}");
    }
}

#[test]
fn text_payload_and_padding() {
    let mut data = b"i am the biggest cat, what do you think about that".to_vec();
    data.resize(127, 0);
    let small = both(&data);
    assert_eq!(
        small.piece_cid(),
        cid("baga6ea4seaqozp3abki6vgdf7ztbipcycmxfyt2o64cpuyvdkczsjxsg7bqmioi")
    );
    data.resize(508, 0);
    let want = cid("baga6ea4seaqpqqnvcjg6ufhypxuzyct7gtrzzelz3ecpeplcdwhkttxcpeu7yma");
    assert_eq!(both(&data).piece_cid(), want);
    assert_eq!(small.padded_to(512).expect("pad").piece_cid(), want);
    assert!(matches!(small.padded_to(64), Err(CommPError::BadPieceSize(64))));
    assert!(matches!(
        both(&data).padded_to(128),
        Err(CommPError::PadToSmaller { .. })
    ));
}

#[test]
fn go_math_rand_payloads_up_to_64_mib() {
    let rows: Vec<Vec<&str>> = csv(include_str!("data/commp_random.csv")).collect();
    let max = 64 << 20;
    let stream = GoRandStream::bytes(1337, max);
    let mut checked = 0;
    for row in rows {
        let n: usize = row[0].parse().expect("n");
        if n > max {
            continue;
        }
        let pc = commp::from_reader(&stream[..n], 0, &mut |_| {}).expect("commP");
        assert_eq!(
            (pc.padded_size, pc.piece_cid()),
            (row[1].parse().expect("n"), cid(row[2])),
            "N = {n}"
        );
        checked += 1;
    }
    assert_eq!(checked, 98, "every vector up to 64 MiB was checked");
}

#[test]
fn piece_cid_v2_vectors() {
    let mut d = Vec::new();
    for b in 0..4u8 {
        d.extend(std::iter::repeat_n(b, 127));
    }
    let v1_508 = cid("baga6ea4seaqes3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi");
    let pc = both(&d);
    assert_eq!(pc.piece_cid(), v1_508);
    assert_eq!(
        pc.piece_cid_v2().expect("v2"),
        cid("bafkzcibcaaces3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi")
    );

    let mut d1016 = d.clone();
    d1016.resize(1016, 0);
    let v1 = cid("baga6ea4seaqn42av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa");
    assert_eq!(both(&d1016).piece_cid(), v1);
    assert_eq!(
        both(&d1016).piece_cid_v2().expect("v2"),
        cid("bafkzcibcaac542av3szurbbscwuu3zjssvfwbpsvbjf6y3tukvlgl2nf5rha6pa")
    );
    for (extra, want) in [
        (4, "bafkzcibd7abqlxticxolgseegik2stpfgkkuwyf6kufex3doorkvmzpjuxwe4dz4"),
        (5, "bafkzcibd64bqlxticxolgseegik2stpfgkkuwyf6kufex3doorkvmzpjuxwe4dz4"),
    ] {
        let mut p = d.clone();
        p.resize(508 + extra, 0);
        let pc = both(&p);
        assert_eq!(pc.piece_cid(), v1);
        let v2 = pc.piece_cid_v2().expect("v2");
        assert_eq!(v2, cid(want));
        // and back
        let (commp, padded, payload) = commp::parse_piece_cid_v2(&v2).expect("parses");
        assert_eq!((commp, padded, payload), (pc.commp, 1024, 508 + extra as u64));
    }
    assert!(commp::commp_from_cid_v1(&v1).is_ok());
    assert!(commp::commp_from_cid_v1(&cid("bafkqaaa")).is_err());
}

#[test]
fn aggregate_commd_of_a_real_sector() {
    const G: u64 = 1 << 30;
    const M: u64 = 1 << 20;
    let pieces = [
        (256 * M, "knzm22isnhsxt2s4dnw45kfywmhenngqq3nc7jvecakoca6ksyhy"),
        (G, "nq6o5wuewdpviyoafno4rdpqnokz6ghvg2iyeyfbqxgcwdlj2egi"),
        (512 * M, "pixk4ifbkzato3huzycj6ty6gllqwanhdpsvxikawyl5bg2h44mq"),
        (512 * M, "axwe5dy6nt3ko5tngtmzvpqxqikw5mdwfjqgaxfwtzenc6bgzajq"),
        (G, "py33nbesa4d6ot2ygeuy43y4t7amc4izt52mlotqenwcmn2kyaai"),
        (256 * M, "phvv4x2s2v7ykgc3ugs2kkltbdeg7icxstklkrgqvv72m2v3i2aa"),
        (512 * M, "f5u55znk6jwhdsrhe37emzhmehiyvjxpsww274f6fiy3h4yctady"),
        (G, "a3qbabsbmvk5er6rhsjzt74beplzgulthamm22jue4zgqcuszofi"),
        (256 * M, "iekvf623muj6jpxg6vsqaikyw3r4ob5u7363z7zcaixqvfqsc2ji"),
        (512 * M, "hsewv65z2d4m5o4vo65vl5o6z4bcegdvgnusvlt7rao44gro36pi"),
    ];
    let mut list: Vec<([u8; 32], u64)> = pieces
        .iter()
        .map(|(size, short)| {
            (
                commp::commp_from_cid_v1(&cid(&format!("baga6ea4seaq{short}"))).expect("piece"),
                *size,
            )
        })
        .collect();
    let want = commp::commp_from_cid_v1(&cid("baga6ea4seaqiw3gbmstmexb7sqwkc5r23o3i7zcyx5kr76pfobpykes3af62kca"))
        .expect("commD");
    // With the explicit zero pieces of the vector, and without them (filled implicitly).
    let implicit = aggregate_commd(&list, 32 * G).expect("aggregate");
    list.push((*tree::zero_node((8 * G / 32).trailing_zeros() as usize), 8 * G));
    list.push((*tree::zero_node((16 * G / 32).trailing_zeros() as usize), 16 * G));
    assert_eq!(aggregate_commd(&list, 32 * G).expect("aggregate"), want);
    assert_eq!(implicit, want);
    assert!(matches!(
        aggregate_commd(&list, 16 * G),
        Err(CommPError::PiecesExceedSector { .. })
    ));
    assert_eq!(aggregate_commd(&[], 2048).expect("empty"), *tree::zero_node(6));
}

#[test]
fn small_inputs_are_refused_as_in_go() {
    for n in [0usize, 1, 64] {
        let err = commp::of_bytes(&vec![1u8; n]).expect_err("too small");
        assert!(matches!(err, CommPError::PayloadTooSmall(x) if x == n as u64));
        assert!(err.to_string().contains("at least 65 bytes"), "{err}");
        assert!(commp::from_reader(&vec![1u8; n][..], 2, &mut |_| {}).is_err());
    }
    assert!(commp::of_bytes(&[1u8; 65]).is_ok());
}

#[test]
fn read_errors_are_reported() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }
    for threads in [1, 2] {
        let err = commp::from_reader(Failing(5 << 20), threads, &mut |_| {}).expect_err("fails");
        assert!(err.to_string().contains("disk on fire"), "{err}");
    }
}

/// filecoin-proofs-api's own piece commitment, for the same payload zero-filled to its piece.
fn proofs_commp(data: &[u8]) -> [u8; 32] {
    use filecoin_proofs_api::{RegisteredSealProof, UnpaddedBytesAmount};
    let padded = commp::padded_size_for(data.len() as u64);
    let unpadded = padded - padded / 128;
    let reader = data.chain(std::io::repeat(0).take(unpadded - data.len() as u64));
    filecoin_proofs_api::seal::generate_piece_commitment(
        RegisteredSealProof::StackedDrg64GiBV1_1,
        reader,
        UnpaddedBytesAmount(unpadded),
    )
    .expect("filecoin-proofs-api commP")
    .commitment
}

#[test]
fn matches_filecoin_proofs_api_around_every_padding_boundary() {
    let stream = GoRandStream::bytes(42, (127 << 16) + 1);
    let mut sizes = vec![65usize, 100, 126, 127, 128, 1000];
    for k in 0..=16 {
        let b = 127usize << k;
        sizes.extend([b - 1, b, b + 1]);
    }
    for n in sizes {
        let data = &stream[..n];
        let ours = both(data);
        assert_eq!(hex(&ours.commp), hex(&proofs_commp(data)), "N = {n}");
    }
}

#[test]
fn matches_filecoin_proofs_api_on_large_random_sizes() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let stream = GoRandStream::bytes(99, 64 << 20);
    for _ in 0..4 {
        let n = rng.random_range(1 << 20..=64 << 20);
        let data = &stream[..n];
        assert_eq!(hex(&both(data).commp), hex(&proofs_commp(data)), "N = {n}");
    }
}

#[test]
fn boundary_sizes_across_chunks_with_the_sector_stack() {
    // Sizes around the 1 MiB chunk the parallel path hands out, where the tail and the stack
    // meet: every result must match the single-threaded hasher fed in odd pieces.
    let stream = GoRandStream::bytes(5, (127 << 13) * 5 + 1000);
    let chunk = 127 << 13;
    for n in [
        chunk - 1,
        chunk,
        chunk + 1,
        2 * chunk,
        3 * chunk + 17,
        4 * chunk,
        5 * chunk + 999,
    ] {
        let data = &stream[..n];
        let mut h = commp::Hasher::new();
        for piece in data.chunks(12345) {
            h.update(piece).expect("update");
        }
        let a = h.finish().expect("finish");
        for threads in [1, 2, 3] {
            assert_eq!(
                commp::from_reader(data, threads, &mut |_| {}).expect("commP"),
                a,
                "N = {n}, {threads} threads"
            );
        }
        assert_eq!(hex(&a.commp), hex(&proofs_commp(data)), "N = {n}");
    }
}
