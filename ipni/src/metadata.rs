//! Retrieval metadata: how the advertised content can be fetched, as go-libipni's `metadata`
//! package encodes it: each protocol as its multicodec code (uvarint) and a payload, protocols
//! in code order.

use cid::Cid;

use crate::cbor;

/// `transport-graphsync-filecoinv1`.
pub const GRAPHSYNC_FILECOIN_V1: u64 = 0x0910;
/// `transport-ipfs-gateway-http`.
pub const IPFS_GATEWAY_HTTP: u64 = 0x0920;

/// One way to retrieve the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// Graphsync with go-data-transfer and the Filecoin retrieval market, from the piece.
    GraphsyncFilecoinV1 {
        piece_cid: Cid,
        verified_deal: bool,
        fast_retrieval: bool,
    },
    /// The IPFS trustless gateway over HTTP (no payload).
    IpfsGatewayHttp,
}

impl Protocol {
    pub fn code(&self) -> u64 {
        match self {
            Protocol::GraphsyncFilecoinV1 { .. } => GRAPHSYNC_FILECOIN_V1,
            Protocol::IpfsGatewayHttp => IPFS_GATEWAY_HTTP,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let mut buf = unsigned_varint::encode::u64_buffer();
        out.extend_from_slice(unsigned_varint::encode::u64(self.code(), &mut buf));
        match self {
            Protocol::GraphsyncFilecoinV1 {
                piece_cid,
                verified_deal,
                fast_retrieval,
            } => {
                // dag-cbor {PieceCID, VerifiedDeal, FastRetrieval}: keys length-first, as
                // go-ipld-prime's dagcbor.Encode sorts them.
                out.push(0xa3);
                cbor::text(out, "PieceCID");
                cbor::link(out, piece_cid);
                cbor::text(out, "VerifiedDeal");
                out.push(if *verified_deal { 0xf5 } else { 0xf4 });
                cbor::text(out, "FastRetrieval");
                out.push(if *fast_retrieval { 0xf5 } else { 0xf4 });
            }
            // A zero-length payload.
            Protocol::IpfsGatewayHttp => out.push(0),
        }
    }
}

/// A metadata value: protocols, written in code order.
pub fn encode(protocols: &[Protocol]) -> Vec<u8> {
    let mut sorted: Vec<&Protocol> = protocols.iter().collect();
    sorted.sort_by_key(|p| p.code());
    let mut out = Vec::new();
    for p in sorted {
        p.write(&mut out);
    }
    out
}

/// Metadata that does not read as the protocols this crate knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IPNI metadata at byte {at}: {reason}")]
pub struct MetadataError {
    pub at: usize,
    pub reason: &'static str,
}

/// Reads metadata written by [`encode`] (or by go-libipni for these two protocols).
pub fn decode(mut data: &[u8]) -> Result<Vec<Protocol>, MetadataError> {
    let total = data.len();
    let mut out = Vec::new();
    while !data.is_empty() {
        let at = total - data.len();
        let err = |reason| MetadataError { at, reason };
        let (code, rest) = unsigned_varint::decode::u64(data).map_err(|_| err("bad protocol code"))?;
        data = rest;
        match code {
            IPFS_GATEWAY_HTTP => {
                if data.first() != Some(&0) {
                    return Err(err("the gateway protocol has a payload"));
                }
                data = &data[1..];
                out.push(Protocol::IpfsGatewayHttp);
            }
            GRAPHSYNC_FILECOIN_V1 => {
                let (p, rest) = graphsync_payload(data).ok_or_else(|| err("bad graphsync-filecoinv1 payload"))?;
                data = rest;
                out.push(p);
            }
            _ => return Err(err("unknown protocol")),
        }
    }
    Ok(out)
}

/// The dag-cbor map [`Protocol::write`] writes (keys in that order).
fn graphsync_payload(data: &[u8]) -> Option<(Protocol, &[u8])> {
    let mut d = data.strip_prefix(&[0xa3])?;
    d = expect_text(d, "PieceCID")?.strip_prefix(&[0xd8, 0x2a])?;
    let (len, rest) = read_head(d, 2)?;
    let len = usize::try_from(len).ok().filter(|l| *l >= 1 && *l <= rest.len())?;
    let piece_cid = Cid::try_from(rest[..len].strip_prefix(&[0])?).ok()?;
    d = expect_text(&rest[len..], "VerifiedDeal")?;
    let (verified_deal, d) = read_bool(d)?;
    let d = expect_text(d, "FastRetrieval")?;
    let (fast_retrieval, d) = read_bool(d)?;
    Some((
        Protocol::GraphsyncFilecoinV1 {
            piece_cid,
            verified_deal,
            fast_retrieval,
        },
        d,
    ))
}

fn read_head(d: &[u8], major: u8) -> Option<(u64, &[u8])> {
    let first = *d.first()?;
    if first >> 5 != major {
        return None;
    }
    let rest = &d[1..];
    match first & 0x1f {
        n @ 0..=23 => Some((u64::from(n), rest)),
        24 => Some((u64::from(*rest.first()?), &rest[1..])),
        25 => Some((
            u64::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)),
            &rest[2..],
        )),
        26 => Some((
            u64::from(u32::from_be_bytes(rest.get(..4)?.try_into().ok()?)),
            &rest[4..],
        )),
        _ => None,
    }
}

fn expect_text<'a>(d: &'a [u8], s: &str) -> Option<&'a [u8]> {
    let (len, rest) = read_head(d, 3)?;
    (len == s.len() as u64 && rest.starts_with(s.as_bytes())).then(|| &rest[s.len()..])
}

fn read_bool(d: &[u8]) -> Option<(bool, &[u8])> {
    match d.first()? {
        0xf5 => Some((true, &d[1..])),
        0xf4 => Some((false, &d[1..])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_transports_encode_as_go_libipni_does_and_read_back() {
        let piece: Cid = "baga6ea4seaqd6cvb2padh74lthhiay4jtlwqhj2qetbj5cipna6jlkmcrdljulq"
            .parse()
            .expect("test value");
        let gs = Protocol::GraphsyncFilecoinV1 {
            piece_cid: piece,
            verified_deal: true,
            fast_retrieval: false,
        };
        let bytes = encode(&[Protocol::IpfsGatewayHttp, gs.clone()]);
        // graphsync (0x0910) first, then the gateway (0x0920) with its zero length.
        assert_eq!(&bytes[..3], &[0x90, 0x12, 0xa3]);
        assert_eq!(&bytes[bytes.len() - 3..], &[0xa0, 0x12, 0x00]);
        assert_eq!(encode(&[Protocol::IpfsGatewayHttp]), vec![0xa0, 0x12, 0x00]);
        assert_eq!(decode(&bytes).expect("test value"), vec![gs, Protocol::IpfsGatewayHttp]);
        assert_eq!(decode(&[]).expect("test value"), vec![]);
        for bad in [&bytes[..bytes.len() - 1], &bytes[..10], &[0x80][..], &[0x01, 0x00][..]] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
