//! What droplet and droplet-client read from files a user or a client hands them: CAR v1 and
//! v2 files (checked block by block on import), graphsplit manifests, and UnixFS nodes.

use std::io::Cursor;
use std::path::Path;

use graphsync::testing::dag::DagBuilder;
use piece_store::car::{self, CarReader, CarV1Writer};
use piece_store::split::manifest;
use piece_store::unixfs::{BlockCid, pb};

use crate::Target;

pub const CAR: Target = Target {
    name: "car_reader",
    covers: "the CAR v1/v2 reader (headers, v2 offsets, sections, each block checked against its CID) and the CAR sniffing of uploads",
    run: car_reader,
    seeds: car_seeds,
};

pub const MANIFEST: Target = Target {
    name: "split_manifest",
    covers: "the manifest parser of batch imports and batch deals (Go-style CSV, 3-, 4- and 5+-column rows)",
    run: split_manifest,
    seeds: manifest_seeds,
};

pub const UNIXFS: Target = Target {
    name: "unixfs_pb",
    covers: "piece-store's dag-pb and UnixFS data decoders",
    run: unixfs_pb,
    seeds: unixfs_seeds,
};

/// Blocks a fuzzed CAR may hold before the target stops reading (each takes input bytes, so
/// this only bounds the time of one run).
const MAX_BLOCKS: usize = 100_000;

fn car_reader(data: &[u8]) -> bool {
    let _ = car::looks_like_car(data);
    let Ok(mut reader) = CarReader::new(Cursor::new(data)) else {
        return false;
    };
    assert!(
        reader.version() == 1 || reader.version() == 2,
        "a CAR of version {}",
        reader.version()
    );
    for _ in 0..MAX_BLOCKS {
        match reader.next_block() {
            Ok(Some(block)) => {
                assert!(block.data_offset <= data.len() as u64, "a block past the input's end");
            }
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
    false
}

fn car_seeds() -> Vec<Vec<u8>> {
    let mut b = DagBuilder::new(3);
    let file = b.file(30_000, 1024, 8);
    let leaf = b.raw(10);
    let root = b.cbor_map(&[("f", Some(file)), ("l", Some(leaf))], &[leaf]);
    let dag = b.finish(root);
    let mut v1 = Vec::new();
    dag.write_car(&mut v1).expect("writing to memory");
    let mut cids: Vec<&BlockCid> = dag.blocks.keys().collect();
    cids.sort();
    let v2 = car::wrap_v2(Cursor::new(Vec::new()), |out| {
        let mut w = CarV1Writer::new(out, &[dag.root])?;
        for c in &cids {
            w.write_block(c, &dag.blocks[*c])?;
        }
        w.finish().map(|(_, entries)| entries)
    })
    .expect("writing to memory")
    .into_inner();
    let mut small = Vec::new();
    let mut w = CarV1Writer::new(&mut small, &[leaf]).expect("writing to memory");
    w.write_block(&leaf, &dag.blocks[&leaf]).expect("writing to memory");
    w.finish().expect("writing to memory");
    vec![v1, v2, small]
}

fn split_manifest(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(rows) = manifest::parse(text, Path::new("fuzz.csv")) else {
        return false;
    };
    assert!(rows.len() <= text.lines().count(), "more rows than lines");
    !rows.is_empty()
}

fn manifest_seeds() -> Vec<Vec<u8>> {
    let payload = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    let piece = "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq";
    let header = manifest::HEADER.join(",");
    let graphsplit = format!(
        "{header}\n{payload},a.car,{piece},1000,2048,\"{{\"\"Name\"\":\"\"x, y\"\"}}\"\n{payload},b.car,{piece},7,128,{{}}\n"
    );
    vec![
        graphsplit.into_bytes(),
        format!("payload_cid,piece_cid,payload_size,piece_size\r\n{payload},{piece},10,128\r\n").into_bytes(),
        format!("playload_cid,filename,detail\n{payload},dir/file.txt,\"{{}}\"\n\n").into_bytes(),
    ]
}

fn unixfs_pb(data: &[u8]) -> bool {
    let _ = pb::decode_unixfs(data);
    let Ok(node) = pb::decode_node(data) else {
        return false;
    };
    match &node.data {
        Some(inner) => pb::decode_unixfs(inner).is_ok() && pb::decode_unixfs_type(inner).is_ok(),
        None => true,
    }
}

fn unixfs_seeds() -> Vec<Vec<u8>> {
    let mut b = DagBuilder::new(5);
    let file = b.file(8000, 1024, 4);
    let leaf = b.raw(10);
    let dir = b.dir(&[("a", file), ("b", leaf)]);
    let dag = b.finish(dir);
    let mut blocks: Vec<(&BlockCid, &bytes::Bytes)> = dag
        .blocks
        .iter()
        .filter(|(c, _)| c.codec() == graphsync::ipld::codec::DAG_PB)
        .collect();
    blocks.sort();
    let mut out: Vec<Vec<u8>> = blocks.into_iter().map(|(_, d)| d.to_vec()).collect();
    out.push(pb::leaf_node(pb::DataType::File, b"hello"));
    out
}
