//! The go-fil-markets storage market (legacy protocols, also served by droplet):
//! `/fil/storage/ask/1.1.0` and `1.0.1`, `/fil/storage/mk/1.1.x` and `1.0.1`,
//! `/fil/storage/status/1.1.0` and `1.0.1`.
//!
//! The 1.1.x protocols use map encodings; 1.0.1 uses tuples of the same fields in another
//! order (the `…V0` types). Signatures cover the encoding of the protocol in use, so a provider
//! re-signs for 1.0.1.

use cid::Cid;

use crate::address::Address;
use crate::bigint::TokenAmount;
use crate::chain::{ClientDealProposal, DealProposal};
use crate::signature::Signature;
use crate::units::{ChainEpoch, DealId, PaddedPieceSize, UnpaddedPieceSize};
use crate::{cbor, cbor_map, cbor_tuple};

pub const ASK_PROTOCOL_V110: &str = "/fil/storage/ask/1.1.0";
pub const ASK_PROTOCOL_V101: &str = "/fil/storage/ask/1.0.1";
pub const DEAL_PROTOCOL_V111: &str = "/fil/storage/mk/1.1.1";
pub const DEAL_PROTOCOL_V110: &str = "/fil/storage/mk/1.1.0";
pub const DEAL_PROTOCOL_V101: &str = "/fil/storage/mk/1.0.1";
pub const STATUS_PROTOCOL_V110: &str = "/fil/storage/status/1.1.0";
pub const STATUS_PROTOCOL_V101: &str = "/fil/storage/status/1.0.1";

/// `TransferType` of an online deal pushed over go-data-transfer.
pub const TRANSFER_GRAPHSYNC: &str = "graphsync";
/// `TransferType` of an offline deal whose data the provider imports by hand.
pub const TRANSFER_MANUAL: &str = "manual";

// ---------------------------------------------------------------- ask

cbor_map! {
    pub struct AskRequest {
        "Miner" => pub miner: Address,
    }
}

cbor_tuple! {
    pub struct AskRequestV0 {
        "Miner" => pub miner: Address,
    }
}

cbor_map! {
    /// A provider's price list. Prices are attoFIL per GiB per epoch; piece sizes are padded.
    pub struct StorageAsk {
        "Miner" => pub miner: Address,
        "Price" => pub price: TokenAmount,
        "SeqNo" => pub seq_no: u64,
        "Expiry" => pub expiry: ChainEpoch,
        "Timestamp" => pub timestamp: ChainEpoch,
        "MaxPieceSize" => pub max_piece_size: PaddedPieceSize,
        "MinPieceSize" => pub min_piece_size: PaddedPieceSize,
        "VerifiedPrice" => pub verified_price: TokenAmount,
    }
}

cbor_tuple! {
    /// [`StorageAsk`] in the 1.0.1 tuple layout.
    pub struct StorageAskV0 {
        "Price" => pub price: TokenAmount,
        "VerifiedPrice" => pub verified_price: TokenAmount,
        "MinPieceSize" => pub min_piece_size: PaddedPieceSize,
        "MaxPieceSize" => pub max_piece_size: PaddedPieceSize,
        "Miner" => pub miner: Address,
        "Timestamp" => pub timestamp: ChainEpoch,
        "Expiry" => pub expiry: ChainEpoch,
        "SeqNo" => pub seq_no: u64,
    }
}

impl From<StorageAsk> for StorageAskV0 {
    fn from(a: StorageAsk) -> Self {
        StorageAskV0 {
            price: a.price,
            verified_price: a.verified_price,
            min_piece_size: a.min_piece_size,
            max_piece_size: a.max_piece_size,
            miner: a.miner,
            timestamp: a.timestamp,
            expiry: a.expiry,
            seq_no: a.seq_no,
        }
    }
}

impl From<StorageAskV0> for StorageAsk {
    fn from(a: StorageAskV0) -> Self {
        StorageAsk {
            miner: a.miner,
            price: a.price,
            seq_no: a.seq_no,
            expiry: a.expiry,
            timestamp: a.timestamp,
            max_piece_size: a.max_piece_size,
            min_piece_size: a.min_piece_size,
            verified_price: a.verified_price,
        }
    }
}

impl StorageAsk {
    /// The bytes the worker signs for `/fil/storage/ask/1.1.0` (the map encoding).
    pub fn signing_bytes(&self) -> Vec<u8> {
        cbor::to_vec(self)
    }

    /// The bytes the worker signs for `/fil/storage/ask/1.0.1` (the tuple encoding).
    pub fn signing_bytes_v0(&self) -> Vec<u8> {
        cbor::to_vec(&StorageAskV0::from(self.clone()))
    }
}

cbor_map! {
    pub struct SignedStorageAsk {
        "Ask" => pub ask: Option<StorageAsk>,
        "Signature" => pub signature: Option<Signature>,
    }
}

cbor_tuple! {
    pub struct SignedStorageAskV0 {
        "Ask" => pub ask: Option<StorageAskV0>,
        "Signature" => pub signature: Option<Signature>,
    }
}

cbor_map! {
    /// The answer to an ask request; `Ask` is null when the provider has none for that miner.
    pub struct AskResponse {
        "Ask" => pub ask: Option<SignedStorageAsk>,
    }
}

cbor_tuple! {
    pub struct AskResponseV0 {
        "Ask" => pub ask: Option<SignedStorageAskV0>,
    }
}

// ---------------------------------------------------------------- deal proposal

cbor_map! {
    /// Where a deal's data comes from. `PieceSize` here is **unpadded**.
    pub struct DataRef {
        "Root" => pub root: Cid,
        "PieceCid" => pub piece_cid: Option<Cid>,
        "PieceSize" => pub piece_size: UnpaddedPieceSize,
        "RawBlockSize" => pub raw_block_size: u64,
        "TransferType" => pub transfer_type: String,
    }
}

cbor_tuple! {
    /// [`DataRef`] in the 1.0.1 layout (no `RawBlockSize`).
    pub struct DataRefV0 {
        "TransferType" => pub transfer_type: String,
        "Root" => pub root: Cid,
        "PieceCid" => pub piece_cid: Option<Cid>,
        "PieceSize" => pub piece_size: UnpaddedPieceSize,
    }
}

cbor_map! {
    /// A deal proposal on `/fil/storage/mk/1.1.x`. On 1.1.0 the label must be a text string
    /// (see [`Proposal::check_v110_label`]).
    pub struct Proposal {
        "Piece" => pub piece: Option<DataRef>,
        "DealProposal" => pub deal_proposal: Option<ClientDealProposal>,
        "FastRetrieval" => pub fast_retrieval: bool,
    }
}

impl Proposal {
    /// `/fil/storage/mk/1.1.0` predates byte labels: Go decodes the label as a plain string.
    pub fn check_v110_label(&self) -> Result<(), String> {
        match &self.deal_proposal {
            Some(p) if !p.proposal.label.is_string() => {
                Err("mk/1.1.0 proposals carry text labels only; use 1.1.1 for a bytes label".into())
            }
            _ => Ok(()),
        }
    }
}

cbor_tuple! {
    pub struct ProposalV0 {
        "DealProposal" => pub deal_proposal: Option<ClientDealProposal>,
        "Piece" => pub piece: Option<DataRefV0>,
        "FastRetrieval" => pub fast_retrieval: bool,
    }
}

cbor_map! {
    /// The provider's answer to a proposal.
    pub struct Response {
        "State" => pub state: u64,
        "Message" => pub message: String,
        "Proposal" => pub proposal: Cid,
        "PublishMessage" => pub publish_message: Option<Cid>,
    }
}

cbor_tuple! {
    pub struct ResponseV0 {
        "State" => pub state: u64,
        "Message" => pub message: String,
        "Proposal" => pub proposal: Cid,
        "PublishMessage" => pub publish_message: Option<Cid>,
    }
}

cbor_map! {
    /// A response signed by the miner's worker over the encoding of `Response`.
    pub struct SignedResponse {
        "Response" => pub response: Response,
        "Signature" => pub signature: Option<Signature>,
    }
}

cbor_tuple! {
    pub struct SignedResponseV0 {
        "Response" => pub response: ResponseV0,
        "Signature" => pub signature: Option<Signature>,
    }
}

// ---------------------------------------------------------------- deal status

cbor_map! {
    /// The client signs `cbor(Proposal)`: the CBOR of the CID alone (see [`status_signing_bytes`]).
    pub struct DealStatusRequest {
        "Proposal" => pub proposal: Cid,
        "Signature" => pub signature: Signature,
    }
}

cbor_tuple! {
    pub struct DealStatusRequestV0 {
        "Proposal" => pub proposal: Cid,
        "Signature" => pub signature: Signature,
    }
}

/// What a client signs in a 1.1.0/1.0.1 status request: the CBOR encoding of the proposal CID.
pub fn status_signing_bytes(proposal_cid: &Cid) -> Vec<u8> {
    cbor::to_vec(proposal_cid)
}

cbor_map! {
    /// The provider's view of a deal, as sent on the status protocol.
    pub struct ProviderDealState {
        "State" => pub state: u64,
        "DealID" => pub deal_id: DealId,
        "Message" => pub message: String,
        "Proposal" => pub proposal: Option<DealProposal>,
        "PublishCid" => pub publish_cid: Option<Cid>,
        "AddFundsCid" => pub add_funds_cid: Option<Cid>,
        "ProposalCid" => pub proposal_cid: Option<Cid>,
        "FastRetrieval" => pub fast_retrieval: bool,
    }
}

cbor_tuple! {
    pub struct ProviderDealStateV0 {
        "State" => pub state: u64,
        "Message" => pub message: String,
        "Proposal" => pub proposal: Option<DealProposal>,
        "ProposalCid" => pub proposal_cid: Option<Cid>,
        "AddFundsCid" => pub add_funds_cid: Option<Cid>,
        "PublishCid" => pub publish_cid: Option<Cid>,
        "DealID" => pub deal_id: DealId,
        "FastRetrieval" => pub fast_retrieval: bool,
    }
}

cbor_map! {
    pub struct DealStatusResponse {
        "DealState" => pub deal_state: ProviderDealState,
        "Signature" => pub signature: Signature,
    }
}

cbor_tuple! {
    pub struct DealStatusResponseV0 {
        "DealState" => pub deal_state: ProviderDealStateV0,
        "Signature" => pub signature: Signature,
    }
}

impl From<Response> for ResponseV0 {
    fn from(r: Response) -> Self {
        ResponseV0 {
            state: r.state,
            message: r.message,
            proposal: r.proposal,
            publish_message: r.publish_message,
        }
    }
}

impl From<ResponseV0> for Response {
    fn from(r: ResponseV0) -> Self {
        Response {
            state: r.state,
            message: r.message,
            proposal: r.proposal,
            publish_message: r.publish_message,
        }
    }
}

impl From<ProviderDealState> for ProviderDealStateV0 {
    fn from(s: ProviderDealState) -> Self {
        ProviderDealStateV0 {
            state: s.state,
            message: s.message,
            proposal: s.proposal,
            proposal_cid: s.proposal_cid,
            add_funds_cid: s.add_funds_cid,
            publish_cid: s.publish_cid,
            deal_id: s.deal_id,
            fast_retrieval: s.fast_retrieval,
        }
    }
}

impl From<ProviderDealStateV0> for ProviderDealState {
    fn from(s: ProviderDealStateV0) -> Self {
        ProviderDealState {
            state: s.state,
            deal_id: s.deal_id,
            message: s.message,
            proposal: s.proposal,
            publish_cid: s.publish_cid,
            add_funds_cid: s.add_funds_cid,
            proposal_cid: s.proposal_cid,
            fast_retrieval: s.fast_retrieval,
        }
    }
}

impl From<DataRefV0> for DataRef {
    fn from(r: DataRefV0) -> Self {
        DataRef {
            root: r.root,
            piece_cid: r.piece_cid,
            piece_size: r.piece_size,
            raw_block_size: 0,
            transfer_type: r.transfer_type,
        }
    }
}

impl From<DataRef> for DataRefV0 {
    fn from(r: DataRef) -> Self {
        DataRefV0 {
            transfer_type: r.transfer_type,
            root: r.root,
            piece_cid: r.piece_cid,
            piece_size: r.piece_size,
        }
    }
}

/// Longest provider `Message` Go can marshal; longer ones must be cut before sending.
pub const MAX_MESSAGE_LEN: usize = cbor::MAX_TEXT_LEN as usize;

/// Cut a message to what Go can carry, at a character boundary.
pub fn truncate_message(mut s: String) -> String {
    if s.len() > MAX_MESSAGE_LEN {
        let mut end = MAX_MESSAGE_LEN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}
