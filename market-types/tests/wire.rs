//! Properties every wire type must have, run over generated values of each type:
//!
//! - a value encodes, decodes back equal, and re-encodes to the same bytes;
//! - the documented layout holds: map keys in wire order, tuple arity exact;
//! - Go-style variants decode as Go would: an unknown key anywhere is skipped, keys in any
//!   order are accepted, a missing key takes its zero value (or is refused when Go could not
//!   have sent the value), a tuple with the wrong arity is refused;
//! - Lotus JSON is stable: JSON → value → JSON gives the same JSON; JSON-only types (RPC
//!   results) read back equal from their own JSON;
//! - arbitrary bytes, and mutations of valid encodings, never panic any decoder.

use market_types::cbor::{self, Decode, DecodeError, Decoder, Encode, Shape, WireShape};
use market_types::json::LotusJson;
use market_types::testing::{self, Arb};
use market_types::{boost, chain, datatransfer, retrieval, storage};
use proptest::prelude::*;

/// Cases per type for generated values, and for arbitrary bytes.
const VALUE_CASES: u32 = 256;
const BYTES_CASES: u32 = 10_000;

fn check_value<T>(seed: &[u8], position: usize)
where
    T: Encode + Decode + Arb + WireShape + LotusJson + PartialEq + std::fmt::Debug,
{
    let v: T = testing::generate(seed);
    testing::assert_roundtrip(&v);
    let bytes = cbor::to_vec(&v);

    match T::SHAPE {
        Shape::Map => {
            let entries = testing::map_entries(&bytes).expect("own encoding is a map");
            let keys: Vec<&[u8]> = entries.iter().map(|(k, _)| k.as_slice()).collect();
            let want: Vec<&[u8]> = T::KEYS.iter().map(|k| k.as_bytes()).collect();
            assert_eq!(keys, want, "{}: every key, in wire order", T::NAME);

            let extra = testing::with_unknown_key(&bytes, position).expect("variant");
            assert_eq!(
                cbor::from_slice::<T>(&extra).as_ref(),
                Ok(&v),
                "{}: unknown key skipped",
                T::NAME
            );

            let rotated = testing::rotated(&bytes, position).expect("variant");
            assert_eq!(
                cbor::from_slice::<T>(&rotated).as_ref(),
                Ok(&v),
                "{}: any key order",
                T::NAME
            );

            for key in T::KEYS {
                let without = testing::without_key(&bytes, key).expect("variant");
                match cbor::from_slice::<T>(&without) {
                    // Zero value: the re-encoding is complete again, with the key back.
                    Ok(back) => {
                        let again = testing::map_entries(&cbor::to_vec(&back)).expect("map");
                        assert_eq!(again.len(), T::KEYS.len(), "{}: {key} defaulted", T::NAME);
                    }
                    Err(e) => assert_eq!(
                        e.root(),
                        &DecodeError::Missing {
                            ty: T::NAME,
                            field: key
                        },
                        "{}: a missing {key} is either defaulted or named",
                        T::NAME
                    ),
                }
            }
        }
        Shape::Tuple => {
            let mut d = Decoder::new(&bytes);
            let n = d.array(u64::MAX).expect("own encoding is an array");
            assert_eq!(n, T::KEYS.len(), "{}: tuple arity", T::NAME);
            // One element more: refused, as cbor-gen refuses "wrong number of fields".
            let mut longer = vec![];
            let mut e = cbor::Encoder::new();
            e.array(n + 1);
            longer.extend_from_slice(e.as_bytes());
            let header_len = bytes.len() - d.remaining();
            longer.extend_from_slice(&bytes[header_len..]);
            longer.push(0x00);
            assert!(
                matches!(
                    cbor::from_slice::<T>(&longer).map_err(|e| e.root().clone()),
                    Err(DecodeError::Arity { .. })
                ),
                "{}: one field too many is refused",
                T::NAME
            );
        }
    }

    let json = v.to_json();
    let back = T::from_json(json.clone()).unwrap_or_else(|e| panic!("{}: own JSON read back: {e}\n{json}", T::NAME));
    assert_eq!(back.to_json(), json, "{}: JSON is stable", T::NAME);
}

fn check_bytes<T: Decode + Encode>(input: &[u8]) {
    // Must not panic; a successful decode must re-encode to something that decodes again.
    if let Ok(v) = cbor::from_slice::<T>(input) {
        let again = cbor::to_vec(&v);
        assert!(
            cbor::from_slice::<T>(&again).is_ok(),
            "re-encoding of accepted input decodes"
        );
    }
}

fn mutated<T: Arb + Encode>(seed: &[u8], flips: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let v: T = testing::generate(seed);
    let mut bytes = cbor::to_vec(&v);
    for (i, b) in flips {
        if !bytes.is_empty() {
            let n = bytes.len();
            bytes[i % n] ^= b;
        }
    }
    let keep = bytes.len().saturating_sub(cut % 4);
    bytes.truncate(keep);
    bytes
}

macro_rules! wire_types {
    ($($test:ident: $t:ty),* $(,)?) => {
        $(
            mod $test {
                use super::*;

                proptest! {
                    #![proptest_config(ProptestConfig { cases: VALUE_CASES, failure_persistence: None, ..ProptestConfig::default() })]
                    #[test]
                    fn values_roundtrip_and_go_variants_decode(seed in prop::collection::vec(any::<u8>(), 0..2048), position in any::<usize>()) {
                        check_value::<$t>(&seed, position);
                    }

                    #[test]
                    fn mutated_encodings_never_panic(seed in prop::collection::vec(any::<u8>(), 0..1024), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4), cut in any::<usize>()) {
                        check_bytes::<$t>(&mutated::<$t>(&seed, &flips, cut));
                    }
                }

                proptest! {
                    #![proptest_config(ProptestConfig { cases: BYTES_CASES, failure_persistence: None, ..ProptestConfig::default() })]
                    #[test]
                    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
                        check_bytes::<$t>(&input);
                    }
                }
            }
        )*
    };
}

wire_types! {
    deal_proposal: chain::DealProposal,
    client_deal_proposal: chain::ClientDealProposal,
    deal_state: chain::DealState,
    market_deal: chain::MarketDeal,
    market_balance: chain::MarketBalance,
    collateral_bounds: chain::DealCollateralBounds,
    publish_params: chain::PublishStorageDealsParams,
    publish_return: chain::PublishStorageDealsReturn,
    withdraw_params: chain::WithdrawBalanceParams,
    settle_params: chain::SettleDealPaymentsParams,
    change_peer_id: chain::ChangePeerIdParams,
    change_multiaddrs: chain::ChangeMultiaddrsParams,
    message: chain::Message,
    signed_message: chain::SignedMessage,
    receipt: chain::MessageReceipt,
    mod_verify_params: chain::ModVerifyParams,
    merge: chain::Merge,
    signed_voucher: chain::SignedVoucher,
    precommit: chain::SectorPreCommitOnChainInfo,
    block_header: chain::BlockHeader,
    ask_request: storage::AskRequest,
    ask_request_v0: storage::AskRequestV0,
    storage_ask: storage::StorageAsk,
    storage_ask_v0: storage::StorageAskV0,
    signed_ask: storage::SignedStorageAsk,
    signed_ask_v0: storage::SignedStorageAskV0,
    ask_response: storage::AskResponse,
    ask_response_v0: storage::AskResponseV0,
    data_ref: storage::DataRef,
    data_ref_v0: storage::DataRefV0,
    proposal: storage::Proposal,
    proposal_v0: storage::ProposalV0,
    response: storage::Response,
    response_v0: storage::ResponseV0,
    signed_response: storage::SignedResponse,
    signed_response_v0: storage::SignedResponseV0,
    status_request: storage::DealStatusRequest,
    status_request_v0: storage::DealStatusRequestV0,
    provider_deal_state: storage::ProviderDealState,
    provider_deal_state_v0: storage::ProviderDealStateV0,
    status_response: storage::DealStatusResponse,
    status_response_v0: storage::DealStatusResponseV0,
    boost_transfer: boost::Transfer,
    boost_deal_params: boost::DealParams,
    boost_deal_params_v120: boost::DealParamsV120,
    boost_deal_response: boost::DealResponse,
    boost_status_request: boost::DealStatusRequest,
    boost_deal_status: boost::DealStatus,
    boost_status_response: boost::DealStatusResponse,
    transports_response: boost::TransportsQueryResponse,
    query: retrieval::Query,
    query_v0: retrieval::QueryV0,
    query_response: retrieval::QueryResponse,
    query_response_v0: retrieval::QueryResponseV0,
    retrieval_ask: retrieval::RetrievalAsk,
    retrieval_params: retrieval::RetrievalParams,
    retrieval_params_v0: retrieval::RetrievalParamsV0,
    retrieval_proposal: retrieval::RetrievalDealProposal,
    retrieval_proposal_v0: retrieval::RetrievalDealProposalV0,
    retrieval_response: retrieval::RetrievalDealResponse,
    retrieval_response_v0: retrieval::RetrievalDealResponseV0,
    retrieval_payment: retrieval::RetrievalDealPayment,
    retrieval_payment_v0: retrieval::RetrievalDealPaymentV0,
    dt_channel_id: datatransfer::ChannelId,
    dt_request: datatransfer::TransferRequest,
    dt_response: datatransfer::TransferResponse,
    dt_message: datatransfer::TransferMessage,
    dt_storage_voucher: datatransfer::StorageDataTransferVoucher,
}

/// Types that travel only as Lotus JSON: their own JSON reads back equal, and is stable.
fn check_json_only<T: Arb + LotusJson + PartialEq + std::fmt::Debug>(seed: &[u8]) {
    let v: T = testing::generate(seed);
    let json = v.to_json();
    let back = T::from_json(json.clone()).unwrap_or_else(|e| panic!("own JSON read back: {e}\n{json}"));
    assert_eq!(back, v);
    assert_eq!(back.to_json(), json);
}

macro_rules! json_only_types {
    ($($test:ident: $t:ty),* $(,)?) => {
        mod json_only {
            use super::*;
            $(
                proptest! {
                    #![proptest_config(ProptestConfig { cases: VALUE_CASES, failure_persistence: None, ..ProptestConfig::default() })]
                    #[test]
                    fn $test(seed in prop::collection::vec(any::<u8>(), 0..2048)) {
                        check_json_only::<$t>(&seed);
                    }
                }
            )*
        }
    };
}

json_only_types! {
    msg_lookup: chain::MsgLookup,
    send_spec: chain::MessageSendSpec,
    miner_info: chain::MinerInfo,
    miner_power: chain::MinerPower,
    actor: chain::Actor,
    head_change: chain::HeadChange,
}
