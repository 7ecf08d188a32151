//! go-data-transfer messages (`/fil/datatransfer/1.2.0` and the graphsync extensions
//! `fil/data-transfer/1.1`), and the storage voucher carried by graphsync storage deals.

use cid::Cid;

use crate::bytes::PeerIdText;
use crate::ipld::RawCbor;
use crate::{cbor_map, cbor_tuple};

pub const PROTOCOL: &str = "/fil/datatransfer/1.2.0";
pub const EXTENSION: &str = "fil/data-transfer/1.1";
pub const EXTENSION_INCOMING_REQUEST: &str = "fil/data-transfer/incoming-request/1.1";
pub const EXTENSION_OUTGOING_BLOCK: &str = "fil/data-transfer/outgoing-block/1.1";
pub const VOUCHER_STORAGE: &str = "StorageDataTransferVoucher";

/// `TransferRequest.Type` / `TransferResponse.Type`.
pub mod message_type {
    pub const NEW: u64 = 0;
    pub const UPDATE: u64 = 1;
    pub const CANCEL: u64 = 2;
    pub const COMPLETE: u64 = 3;
    pub const VOUCHER: u64 = 4;
    pub const VOUCHER_RESULT: u64 = 5;
    pub const RESTART: u64 = 6;
    pub const RESTART_EXISTING_CHANNEL_REQUEST: u64 = 7;
}

cbor_tuple! {
    /// A transfer channel: initiator and responder peer IDs (raw bytes in text strings) and a number.
    pub struct ChannelId {
        "Initiator" => pub initiator: PeerIdText,
        "Responder" => pub responder: PeerIdText,
        "ID" => pub id: u64,
    }
}

cbor_map! {
    pub struct TransferRequest {
        "BCid" => pub base_cid: Option<Cid>,
        "Part" => pub partial: bool,
        "Paus" => pub paused: bool,
        "Pull" => pub pull: bool,
        "Stor" => pub selector: Option<RawCbor>,
        "Type" => pub message_type: u64,
        "VTyp" => pub voucher_type: String,
        "Vouch" => pub voucher: Option<RawCbor>,
        "XferID" => pub transfer_id: u64,
        "RestartChannel" => pub restart_channel: ChannelId,
    }
}

cbor_map! {
    pub struct TransferResponse {
        "Acpt" => pub accepted: bool,
        "Paus" => pub paused: bool,
        "Type" => pub message_type: u64,
        "VRes" => pub voucher_result: Option<RawCbor>,
        "VTyp" => pub voucher_type: String,
        "XferID" => pub transfer_id: u64,
    }
}

cbor_map! {
    /// One data-transfer message: a request or a response.
    pub struct TransferMessage {
        "IsRq" => pub is_request: bool,
        "Request" => pub request: Option<TransferRequest>,
        "Response" => pub response: Option<TransferResponse>,
    }
}

cbor_tuple! {
    /// The voucher of a graphsync storage deal: the proposal CID.
    pub struct StorageDataTransferVoucher {
        "Proposal" => pub proposal: Cid,
    }
}
