//! Retrieval's outside input beyond graphsync: trustless-gateway HTTP requests (path, query
//! and Accept header, and the selector built from them) and IPNI metadata.

use trustless_gateway::Request;

use crate::{Target, split_at_byte};

pub const GATEWAY_REQUEST: Target = Target {
    name: "gateway_request",
    covers: "the trustless gateway's request parsing (percent-encoded path, query, Accept) and the selector it builds",
    run: gateway_request,
    seeds: gateway_seeds,
};

pub const IPNI_METADATA: Target = Target {
    name: "ipni_metadata",
    covers: "IPNI metadata (graphsync-filecoinv1 and the HTTP gateway protocol), decoded and written again",
    run: ipni_metadata,
    seeds: ipni_seeds,
};

/// Path, query and Accept header, separated by NUL bytes (a missing part is absent).
fn gateway_request(data: &[u8]) -> bool {
    let (path, rest) = split_at_byte(data, 0);
    let (query, accept) = split_at_byte(rest, 0);
    let (Ok(path), Ok(query), Ok(accept)) = (
        std::str::from_utf8(path),
        std::str::from_utf8(query),
        std::str::from_utf8(accept),
    ) else {
        return false;
    };
    let some = |s: &str| (!s.is_empty()).then_some(s.to_string());
    let Ok(req) = Request::parse(path, some(query).as_deref(), some(accept).as_deref()) else {
        return false;
    };
    let _ = req.url_path();
    let _ = req.etag();
    trustless_gateway::selector::selector(&req).is_ok()
}

fn gateway_seeds() -> Vec<Vec<u8>> {
    let root = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    [
        format!("{root}\0\0application/vnd.ipld.car"),
        format!("{root}/a/b%20c.txt\0format=car&dag-scope=entity&entity-bytes=0:100\0"),
        format!("{root}/dir\0format=car&dag-scope=block&car-order=dfs&car-dups=n\0"),
        format!("{root}\0format=raw\0application/vnd.ipld.raw"),
        format!("{root}/x\0entity-bytes=-10:*\0application/vnd.ipld.car;version=1;order=dfs;dups=y"),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

fn ipni_metadata(data: &[u8]) -> bool {
    let Ok(protocols) = ipni::metadata::decode(data) else {
        return false;
    };
    let again = ipni::metadata::decode(&ipni::metadata::encode(&protocols))
        .expect("metadata written from decoded protocols decodes");
    assert_eq!(again.len(), protocols.len(), "protocols lost writing metadata again");
    true
}

fn ipni_seeds() -> Vec<Vec<u8>> {
    use ipni::metadata::{Protocol, encode};
    let piece_cid = "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"
        .parse()
        .expect("a piece CID");
    let gs = Protocol::GraphsyncFilecoinV1 {
        piece_cid,
        verified_deal: true,
        fast_retrieval: false,
    };
    vec![
        encode(std::slice::from_ref(&gs)),
        encode(&[Protocol::IpfsGatewayHttp]),
        encode(&[gs, Protocol::IpfsGatewayHttp]),
    ]
}
