//! The go-fil-markets retrieval market: queries (`/fil/retrieval/qry/1.0.0`, legacy
//! `0.0.1`) and the vouchers exchanged over go-data-transfer for paid retrievals.

use cid::Cid;

use crate::address::Address;
use crate::bigint::TokenAmount;
use crate::chain::SignedVoucher;
use crate::ipld::RawCbor;
use crate::{cbor_map, cbor_tuple};

pub const QUERY_PROTOCOL: &str = "/fil/retrieval/qry/1.0.0";
pub const QUERY_PROTOCOL_V0: &str = "/fil/retrieval/qry/0.0.1";

pub const VOUCHER_DEAL_PROPOSAL: &str = "RetrievalDealProposal/1";
pub const VOUCHER_DEAL_RESPONSE: &str = "RetrievalDealResponse/1";
pub const VOUCHER_DEAL_PAYMENT: &str = "RetrievalDealPayment/1";
pub const VOUCHER_DEAL_PROPOSAL_V0: &str = "RetrievalDealProposal";
pub const VOUCHER_DEAL_RESPONSE_V0: &str = "RetrievalDealResponse";
pub const VOUCHER_DEAL_PAYMENT_V0: &str = "RetrievalDealPayment";

/// `QueryResponse.Status`.
pub mod query_status {
    pub const AVAILABLE: u64 = 0;
    pub const UNAVAILABLE: u64 = 1;
    pub const ERROR: u64 = 2;
}

/// `QueryResponse.PieceCIDFound`.
pub mod query_item_status {
    pub const AVAILABLE: u64 = 0;
    pub const UNAVAILABLE: u64 = 1;
    pub const UNKNOWN: u64 = 2;
}

cbor_map! {
    pub struct QueryParams {
        "PieceCID" => pub piece_cid: Option<Cid>,
    }
}

cbor_tuple! {
    pub struct QueryParamsV0 {
        "PieceCID" => pub piece_cid: Option<Cid>,
    }
}

cbor_map! {
    pub struct Query {
        "PayloadCID" => pub payload_cid: Cid,
        "QueryParams" => pub query_params: QueryParams,
    }
}

cbor_tuple! {
    pub struct QueryV0 {
        "PayloadCID" => pub payload_cid: Cid,
        "QueryParams" => pub query_params: QueryParamsV0,
    }
}

cbor_map! {
    pub struct QueryResponse {
        "Size" => pub size: u64,
        "Status" => pub status: u64,
        "Message" => pub message: String,
        "UnsealPrice" => pub unseal_price: TokenAmount,
        "PieceCIDFound" => pub piece_cid_found: u64,
        "PaymentAddress" => pub payment_address: Address,
        "MinPricePerByte" => pub min_price_per_byte: TokenAmount,
        "MaxPaymentInterval" => pub max_payment_interval: u64,
        "MaxPaymentIntervalIncrease" => pub max_payment_interval_increase: u64,
    }
}

cbor_tuple! {
    pub struct QueryResponseV0 {
        "Status" => pub status: u64,
        "PieceCIDFound" => pub piece_cid_found: u64,
        "Size" => pub size: u64,
        "PaymentAddress" => pub payment_address: Address,
        "MinPricePerByte" => pub min_price_per_byte: TokenAmount,
        "MaxPaymentInterval" => pub max_payment_interval: u64,
        "MaxPaymentIntervalIncrease" => pub max_payment_interval_increase: u64,
        "Message" => pub message: String,
        "UnsealPrice" => pub unseal_price: TokenAmount,
    }
}

cbor_map! {
    /// A provider's retrieval prices (stored per miner).
    pub struct RetrievalAsk {
        "UnsealPrice" => pub unseal_price: TokenAmount,
        "PricePerByte" => pub price_per_byte: TokenAmount,
        "PaymentInterval" => pub payment_interval: u64,
        "PaymentIntervalIncrease" => pub payment_interval_increase: u64,
    }
}

cbor_map! {
    /// Terms of a retrieval deal. `Selector` is an inline IPLD selector node (null for all).
    pub struct RetrievalParams {
        "PieceCID" => pub piece_cid: Option<Cid>,
        "Selector" => pub selector: Option<RawCbor>,
        "UnsealPrice" => pub unseal_price: TokenAmount,
        "PricePerByte" => pub price_per_byte: TokenAmount,
        "PaymentInterval" => pub payment_interval: u64,
        "PaymentIntervalIncrease" => pub payment_interval_increase: u64,
    }
}

cbor_tuple! {
    pub struct RetrievalParamsV0 {
        "Selector" => pub selector: Option<RawCbor>,
        "PieceCID" => pub piece_cid: Option<Cid>,
        "PricePerByte" => pub price_per_byte: TokenAmount,
        "PaymentInterval" => pub payment_interval: u64,
        "PaymentIntervalIncrease" => pub payment_interval_increase: u64,
        "UnsealPrice" => pub unseal_price: TokenAmount,
    }
}

cbor_map! {
    /// Voucher `RetrievalDealProposal/1`.
    pub struct RetrievalDealProposal {
        "ID" => pub id: u64,
        "Params" => pub params: RetrievalParams,
        "PayloadCID" => pub payload_cid: Cid,
    }
}

cbor_tuple! {
    /// Legacy voucher `RetrievalDealProposal`.
    pub struct RetrievalDealProposalV0 {
        "PayloadCID" => pub payload_cid: Cid,
        "ID" => pub id: u64,
        "Params" => pub params: RetrievalParamsV0,
    }
}

cbor_map! {
    /// Voucher result `RetrievalDealResponse/1`.
    pub struct RetrievalDealResponse {
        "ID" => pub id: u64,
        "Status" => pub status: u64,
        "Message" => pub message: String,
        "PaymentOwed" => pub payment_owed: TokenAmount,
    }
}

cbor_tuple! {
    /// Legacy voucher result `RetrievalDealResponse`.
    pub struct RetrievalDealResponseV0 {
        "Status" => pub status: u64,
        "ID" => pub id: u64,
        "PaymentOwed" => pub payment_owed: TokenAmount,
        "Message" => pub message: String,
    }
}

cbor_map! {
    /// Voucher `RetrievalDealPayment/1`.
    pub struct RetrievalDealPayment {
        "ID" => pub id: u64,
        "PaymentChannel" => pub payment_channel: Address,
        "PaymentVoucher" => pub payment_voucher: Option<SignedVoucher>,
    }
}

cbor_tuple! {
    /// Legacy voucher `RetrievalDealPayment`.
    pub struct RetrievalDealPaymentV0 {
        "ID" => pub id: u64,
        "PaymentChannel" => pub payment_channel: Address,
        "PaymentVoucher" => pub payment_voucher: Option<SignedVoucher>,
    }
}
