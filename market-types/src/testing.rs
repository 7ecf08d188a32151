//! Value generators and wire-variant helpers for property tests and fuzzing.
//! Built only with the `testing` feature.

use arbitrary::{Result, Unstructured};
use cid::Cid;
use multihash_codetable::{Code, MultihashDigest};

use crate::address::Address;
use crate::bigint::{BigInt, TokenAmount};
use crate::bytes::{Bytes, PeerId, PeerIdText, Uuid};
use crate::cbor::{Decode, DecodeError, Decoder, Encode, Encoder, MAX_TEXT_LEN};
use crate::chain::{BitField, BlockHeader, TipSet, TipSetKey};
use crate::ipld::RawCbor;
use crate::json::Value;
use crate::label::DealLabel;
use crate::signature::{SigType, Signature};
use crate::units::{PaddedPieceSize, UnpaddedPieceSize};

/// Generate a valid value from unstructured bytes (any bytes give some value).
pub trait Arb: Sized {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self>;
}

/// Generate a value from a byte seed, falling back to the generator's smallest output.
pub fn generate<T: Arb>(seed: &[u8]) -> T {
    let mut u = Unstructured::new(seed);
    match T::arb(&mut u) {
        Ok(v) => v,
        // Exhausted input makes every generator return its smallest value, never an error,
        // but keep a path that cannot fail.
        Err(_) => T::arb(&mut Unstructured::new(&[])).unwrap_or_else(|_| unreachable_arb()),
    }
}

fn unreachable_arb<T>() -> T {
    panic!("generators must succeed on empty input")
}

/// `n` bytes from the input, zero-filled once the input runs out.
fn fill(u: &mut Unstructured<'_>, n: usize) -> Result<Vec<u8>> {
    let available = u.len().min(n);
    let mut out = u.bytes(available)?.to_vec();
    out.resize(n, 0);
    Ok(out)
}

macro_rules! arb_via_arbitrary {
    ($($t:ty),*) => { $( impl Arb for $t { fn arb(u: &mut Unstructured<'_>) -> Result<Self> { u.arbitrary() } } )* };
}
arb_via_arbitrary!(u64, i64, bool);

impl Arb for String {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let s: String = u.arbitrary()?;
        Ok(s.chars().take(64).collect())
    }
}

impl Arb for Bytes {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let len = u.int_in_range(0..=64)?;
        Ok(Bytes(fill(u, len)?))
    }
}

impl Arb for Cid {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let seed: [u8; 8] = u.arbitrary()?;
        let codec = *u.choose(&[0x71u64, 0x55, 0xf101, 0x70])?;
        Ok(match u.int_in_range(0..=2)? {
            0 => Cid::new_v1(codec, Code::Blake2b256.digest(&seed)),
            1 => Cid::new_v1(codec, Code::Sha2_256.digest(&seed)),
            _ => Cid::new_v0(Code::Sha2_256.digest(&seed))
                .unwrap_or_else(|_| Cid::new_v1(0x55, Code::Sha2_256.digest(&seed))),
        })
    }
}

impl Arb for Address {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let addr = match u.int_in_range(0..=4)? {
            0 => Ok(Address::new_id(u.int_in_range(0..=i64::MAX as u64)?)),
            1 => Address::from_bytes(&[&[1u8][..], &fill(u, 20)?[..]].concat()),
            2 => Address::from_bytes(&[&[2u8][..], &fill(u, 20)?[..]].concat()),
            3 => Address::from_bytes(&[&[3u8][..], &fill(u, 48)?[..]].concat()),
            _ => {
                let len = u.int_in_range(0..=54)?;
                Address::new_delegated(u.int_in_range(0..=1 << 40)?, &fill(u, len)?)
            }
        };
        Ok(addr.unwrap_or_else(|_| Address::new_id(0)))
    }
}

impl Arb for BigInt {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let v: i128 = u.arbitrary()?;
        Ok(BigInt::from(v) * BigInt::from(u.int_in_range(1u64..=1_000_000)?))
    }
}

impl Arb for TokenAmount {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        BigInt::arb(u).map(TokenAmount::from_atto)
    }
}

impl Arb for Signature {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let t = *u.choose(&[SigType::Secp256k1, SigType::Bls, SigType::Delegated])?;
        let len = match t {
            SigType::Bls => 96,
            _ => 65,
        };
        Ok(Signature::new(t, fill(u, len)?))
    }
}

impl Arb for DealLabel {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        Ok(if u.arbitrary()? {
            DealLabel::String(String::arb(u)?)
        } else {
            DealLabel::Bytes(Bytes::arb(u)?.0)
        })
    }
}

impl Arb for PeerId {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let len = u.int_in_range(0..=40)?;
        Ok(PeerId(fill(u, len)?))
    }
}

impl Arb for PeerIdText {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        PeerId::arb(u).map(PeerIdText)
    }
}

impl Arb for Uuid {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        Ok(Uuid::from_bytes(u.arbitrary()?))
    }
}

impl Arb for PaddedPieceSize {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        u.arbitrary().map(PaddedPieceSize)
    }
}

impl Arb for UnpaddedPieceSize {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        u.arbitrary().map(UnpaddedPieceSize)
    }
}

impl Arb for BitField {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let n = u.int_in_range(0..=8)?;
        let mut bits = Vec::with_capacity(n);
        for _ in 0..n {
            bits.push(u.int_in_range(0..=1000)?);
        }
        Ok(BitField::from_indices(bits))
    }
}

impl Arb for TipSetKey {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        Vec::<Cid>::arb(u).map(TipSetKey)
    }
}

impl Arb for TipSet {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let block = BlockHeader::arb(u)?;
        Ok(TipSet::new(vec![block]).unwrap_or_else(|e| panic!("one block is a tipset: {e}")))
    }
}

impl Arb for Value {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        Ok(match u.int_in_range(0..=3)? {
            0 => Value::Null,
            1 => Value::from(u.arbitrary::<u32>()?),
            2 => Value::String(String::arb(u)?),
            _ => Value::Bool(u.arbitrary()?),
        })
    }
}

impl Arb for RawCbor {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let mut e = Encoder::new();
        arb_item(u, &mut e, 0)?;
        Ok(RawCbor::from_bytes(e.as_bytes()).unwrap_or_else(|err| panic!("generated item is well formed: {err}")))
    }
}

/// A random dag-cbor item with canonical map key order.
fn arb_item(u: &mut Unstructured<'_>, e: &mut Encoder, depth: u32) -> Result<()> {
    let kind = if depth >= 3 {
        u.int_in_range(0..=4)?
    } else {
        u.int_in_range(0..=6)?
    };
    match kind {
        0 => e.u64(u.arbitrary()?),
        1 => e.i64(u.arbitrary()?),
        2 => e.text(&String::arb(u)?),
        3 => e.bytes(&Bytes::arb(u)?.0),
        4 => e.cid(&Cid::arb(u)?),
        5 => {
            let n = u.int_in_range(0..=3)?;
            e.array(n);
            for _ in 0..n {
                arb_item(u, e, depth + 1)?;
            }
        }
        _ => {
            let n = u.int_in_range(0..=3)?;
            let mut keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
            keys.sort_by(|a, b| {
                if crate::cbor::key_before(a, b) {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                }
            });
            e.map(keys.len());
            for k in keys {
                e.text(&k);
                arb_item(u, e, depth + 1)?;
            }
        }
    }
    Ok(())
}

impl<T: Arb> Arb for Option<T> {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        Ok(if u.arbitrary()? { Some(T::arb(u)?) } else { None })
    }
}

impl<T: Arb> Arb for Vec<T> {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        let n = u.int_in_range(0..=3)?;
        (0..n).map(|_| T::arb(u)).collect()
    }
}

impl<A: Arb, B: Arb> Arb for (A, B) {
    fn arb(u: &mut Unstructured<'_>) -> Result<Self> {
        Ok((A::arb(u)?, B::arb(u)?))
    }
}

// ---------------------------------------------------------------- Go-style wire variants

/// One map entry: the raw key text and the raw value item.
pub type MapEntry = (Vec<u8>, Vec<u8>);

/// The entries of an encoded map.
pub fn map_entries(bytes: &[u8]) -> std::result::Result<Vec<MapEntry>, DecodeError> {
    let mut d = Decoder::new(bytes);
    let n = d.map(u64::MAX)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let k = d.text_raw(MAX_TEXT_LEN)?.to_vec();
        let v = d.skip()?.to_vec();
        out.push((k, v));
    }
    d.finish()?;
    Ok(out)
}

/// Re-encode map entries in the given order.
pub fn encode_map_entries(entries: &[MapEntry]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.map(entries.len());
    for (k, v) in entries {
        e.text_raw(k);
        e.raw(v);
    }
    e.into_bytes()
}

/// The map with one key a newer Go version might add, holding a nested value, at `position`.
pub fn with_unknown_key(bytes: &[u8], position: usize) -> std::result::Result<Vec<u8>, DecodeError> {
    let mut entries = map_entries(bytes)?;
    let value = [0x82, 0x01, 0xa1, 0x61, 0x61, 0xf6]; // [1, {"a": null}]
    let at = position % (entries.len() + 1);
    entries.insert(at, (b"FutureField".to_vec(), value.to_vec()));
    Ok(encode_map_entries(&entries))
}

/// The map without `key`.
pub fn without_key(bytes: &[u8], key: &str) -> std::result::Result<Vec<u8>, DecodeError> {
    let entries: Vec<_> = map_entries(bytes)?
        .into_iter()
        .filter(|(k, _)| k != key.as_bytes())
        .collect();
    Ok(encode_map_entries(&entries))
}

/// The map with its entries rotated (any order must decode the same).
pub fn rotated(bytes: &[u8], by: usize) -> std::result::Result<Vec<u8>, DecodeError> {
    let mut entries = map_entries(bytes)?;
    if !entries.is_empty() {
        let n = by % entries.len();
        entries.rotate_left(n);
    }
    Ok(encode_map_entries(&entries))
}

/// Encode, decode and re-encode; the value and the bytes must survive unchanged.
pub fn assert_roundtrip<T: Encode + Decode + PartialEq + std::fmt::Debug>(v: &T) {
    let bytes = crate::cbor::to_vec(v);
    let back: T = crate::cbor::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("decoding our own encoding of {v:?} failed: {e}\nbytes: {bytes:02x?}"));
    assert_eq!(&back, v, "value changed through CBOR");
    assert_eq!(crate::cbor::to_vec(&back), bytes, "re-encoding changed the bytes");
}

// ---------------------------------------------------------------- registry of wire types

/// One wire type, type-erased for fuzzing and resource tests.
#[derive(Debug, Clone, Copy)]
pub struct WireType {
    pub name: &'static str,
    /// Decode the whole input as this type.
    pub decode: fn(&[u8]) -> std::result::Result<(), DecodeError>,
    /// The encoding of a value generated from a seed.
    pub sample: fn(&[u8]) -> Vec<u8>,
}

fn decode_as<T: Decode>(input: &[u8]) -> std::result::Result<(), DecodeError> {
    crate::cbor::from_slice::<T>(input).map(drop)
}

fn sample_of<T: Arb + Encode>(seed: &[u8]) -> Vec<u8> {
    crate::cbor::to_vec(&generate::<T>(seed))
}

macro_rules! registry {
    ($($t:ty),* $(,)?) => {
        /// Every type that crosses a libp2p or chain wire.
        pub const WIRE_TYPES: &[WireType] = &[
            $( WireType { name: stringify!($t), decode: decode_as::<$t>, sample: sample_of::<$t> }, )*
        ];
    };
}

use crate::{boost, chain, datatransfer, retrieval, storage};

registry! {
    chain::DealProposal, chain::ClientDealProposal, chain::MarketDeal, chain::PublishStorageDealsParams,
    chain::PublishStorageDealsReturn, chain::WithdrawBalanceParams, chain::SettleDealPaymentsParams,
    chain::ChangePeerIdParams, chain::ChangeMultiaddrsParams, chain::Message, chain::SignedMessage,
    chain::MessageReceipt, chain::SignedVoucher, chain::BlockHeader, chain::SectorPreCommitOnChainInfo,
    storage::AskRequest, storage::AskRequestV0, storage::AskResponse, storage::AskResponseV0,
    storage::Proposal, storage::ProposalV0, storage::SignedResponse, storage::SignedResponseV0,
    storage::DealStatusRequest, storage::DealStatusRequestV0, storage::DealStatusResponse,
    storage::DealStatusResponseV0, boost::DealParams, boost::DealParamsV120, boost::DealResponse,
    boost::DealStatusRequest, boost::DealStatusResponse, boost::TransportsQueryResponse,
    retrieval::Query, retrieval::QueryV0, retrieval::QueryResponse, retrieval::QueryResponseV0,
    retrieval::RetrievalDealProposal, retrieval::RetrievalDealProposalV0, retrieval::RetrievalDealResponse,
    retrieval::RetrievalDealResponseV0, retrieval::RetrievalDealPayment, retrieval::RetrievalDealPaymentV0,
    datatransfer::TransferMessage, datatransfer::StorageDataTransferVoucher,
}
