//! Parameters and returns of the builtin-actor methods a storage market and its sealer send
//! besides the market's own (in [`crate::chain`]): miner sector lifecycle, power's
//! CreateMiner, the verified registry, and market settlement results. Layouts follow
//! builtin-actors (v13 and later), as CBOR tuples.

use crate::Cid;
use crate::address::Address;
use crate::bigint::{BigInt, TokenAmount};
use crate::bytes::Bytes;
use crate::cbor_tuple;
use crate::chain::{BitField, SectorPreCommitInfo};

/// Exit codes (go-state-types `exitcode`, builtin-actors).
pub mod exit_code {
    pub const OK: i64 = 0;
    pub const SYS_SENDER_INVALID: i64 = 1;
    pub const SYS_SENDER_STATE_INVALID: i64 = 2;
    pub const SYS_INVALID_RECEIVER: i64 = 5;
    pub const SYS_INSUFFICIENT_FUNDS: i64 = 6;
    pub const SYS_OUT_OF_GAS: i64 = 7;
    pub const USR_ILLEGAL_ARGUMENT: i64 = 16;
    pub const USR_NOT_FOUND: i64 = 17;
    pub const USR_FORBIDDEN: i64 = 18;
    pub const USR_INSUFFICIENT_FUNDS: i64 = 19;
    pub const USR_ILLEGAL_STATE: i64 = 20;
    pub const USR_SERIALIZATION: i64 = 21;
    pub const USR_UNHANDLED_MESSAGE: i64 = 22;
    /// Market: a deal's start epoch passed before activation (first actor-specific code).
    pub const EX_DEAL_EXPIRED: i64 = 32;

    /// The code's name as lotus prints it (`SysErrOutOfGas`, `ErrIllegalArgument`), when it
    /// has one.
    pub fn name(code: i64) -> Option<&'static str> {
        Some(match code {
            OK => "Ok",
            SYS_SENDER_INVALID => "SysErrSenderInvalid",
            SYS_SENDER_STATE_INVALID => "SysErrSenderStateInvalid",
            SYS_INVALID_RECEIVER => "SysErrInvalidReceiver",
            SYS_INSUFFICIENT_FUNDS => "SysErrInsufficientFunds",
            SYS_OUT_OF_GAS => "SysErrOutOfGas",
            USR_ILLEGAL_ARGUMENT => "ErrIllegalArgument",
            USR_NOT_FOUND => "ErrNotFound",
            USR_FORBIDDEN => "ErrForbidden",
            USR_INSUFFICIENT_FUNDS => "ErrInsufficientFunds",
            USR_ILLEGAL_STATE => "ErrIllegalState",
            USR_SERIALIZATION => "ErrSerialization",
            USR_UNHANDLED_MESSAGE => "ErrUnhandledMessage",
            _ => return None,
        })
    }

    /// `16 (ErrIllegalArgument)`, or the bare number for a code without a name.
    pub fn describe(code: i64) -> String {
        match name(code) {
            Some(n) => format!("{code} ({n})"),
            None => code.to_string(),
        }
    }
}

/// Miner actor method numbers beyond those in [`crate::chain::miner_method`].
pub mod miner_method {
    pub const CHANGE_WORKER_ADDRESS: u64 = 3;
    pub const PROVE_COMMIT_SECTOR: u64 = 7;
    pub const PROVE_COMMIT_AGGREGATE: u64 = 26;
    /// Prove-commit with piece activation manifests (direct data onboarding).
    pub const PROVE_COMMIT_SECTORS3: u64 = 34;
}

/// Power actor: `CreateMiner`.
pub mod power_method {
    pub const CREATE_MINER: u64 = 2;
}

/// Verified registry methods.
pub mod verifreg_method {
    pub const ADD_VERIFIER: u64 = 2;
    pub const ADD_VERIFIED_CLIENT: u64 = 4;
    /// Extend claims' maximum terms (by their client; number below 2^24, so accounts only).
    pub const EXTEND_CLAIM_TERMS: u64 = 11;
}

/// The DataCap token actor (f07).
pub mod datacap_method {
    /// FRC-42 `Transfer`: moves DataCap, to the verified registry with allocation requests.
    pub const TRANSFER_EXPORTED: u64 = 80_475_954;
}

/// DataCap counts bytes as tokens with 18 decimals.
pub const DATACAP_TOKEN_PRECISION: u64 = 1_000_000_000_000_000_000;

/// The most any allocation's term may be: five years of epochs.
pub const MAXIMUM_VERIFIED_ALLOCATION_TERM: i64 = 5 * 365 * 2880;
/// The least an allocation's minimum term may be: 180 days.
pub const MINIMUM_VERIFIED_ALLOCATION_TERM: i64 = 180 * 2880;
/// The furthest an allocation may expire: 60 days on.
pub const MAXIMUM_VERIFIED_ALLOCATION_EXPIRATION: i64 = 60 * 2880;

cbor_tuple! {
    /// DataCap `Transfer` parameters (frc46): `amount` is bytes × 10^18; to the verified
    /// registry, `operator_data` is the [`AllocationRequests`].
    pub struct TransferParams {
        "To" => pub to: Address,
        "Amount" => pub amount: TokenAmount,
        "OperatorData" => pub operator_data: Bytes,
    }
}

cbor_tuple! {
    /// DataCap `Transfer` return: the balances after, and what the receiver answered (the
    /// verified registry's [`AllocationsResponse`]).
    pub struct TransferReturn {
        "FromBalance" => pub from_balance: TokenAmount,
        "ToBalance" => pub to_balance: TokenAmount,
        "RecipientData" => pub recipient_data: Bytes,
    }
}

cbor_tuple! {
    /// A request for the verified registry to hold DataCap for `provider` to claim.
    pub struct AllocationRequest {
        "Provider" => pub provider: u64,
        "Data" => pub data: Cid,
        "Size" => pub size: u64,
        "TermMin" => pub term_min: i64,
        "TermMax" => pub term_max: i64,
        "Expiration" => pub expiration: i64,
    }
}

cbor_tuple! {
    /// A request, paid with DataCap, to extend a claim's maximum term.
    pub struct ClaimExtensionRequest {
        "Provider" => pub provider: u64,
        "Claim" => pub claim: u64,
        "TermMax" => pub term_max: i64,
    }
}

cbor_tuple! {
    /// A DataCap transfer's operator data for the verified registry.
    pub struct AllocationRequests {
        "Allocations" => pub allocations: Vec<AllocationRequest>,
        "Extensions" => pub extensions: Vec<ClaimExtensionRequest>,
    }
}

cbor_tuple! {
    /// The verified registry's answer to a transfer: per-request results and the new
    /// allocations' IDs in request order.
    pub struct AllocationsResponse {
        "AllocationResults" => pub allocation_results: BatchReturn,
        "ExtensionResults" => pub extension_results: BatchReturn,
        "NewAllocations" => pub new_allocations: Vec<u64>,
    }
}

cbor_tuple! {
    /// Verified registry `Allocation` (as `StateGetAllocation` answers it).
    pub struct Allocation {
        "Client" => pub client: u64,
        "Provider" => pub provider: u64,
        "Data" => pub data: Cid,
        "Size" => pub size: u64,
        "TermMin" => pub term_min: i64,
        "TermMax" => pub term_max: i64,
        "Expiration" => pub expiration: i64,
    }
}

cbor_tuple! {
    /// Verified registry `Claim` (as `StateGetClaim` answers it); its ID is the allocation's.
    pub struct Claim {
        "Provider" => pub provider: u64,
        "Client" => pub client: u64,
        "Data" => pub data: Cid,
        "Size" => pub size: u64,
        "TermMin" => pub term_min: i64,
        "TermMax" => pub term_max: i64,
        "TermStart" => pub term_start: i64,
        "Sector" => pub sector: u64,
    }
}

cbor_tuple! {
    /// One claim's new maximum term.
    pub struct ClaimTerm {
        "Provider" => pub provider: u64,
        "ClaimId" => pub claim_id: u64,
        "TermMax" => pub term_max: i64,
    }
}

cbor_tuple! {
    /// Verified registry `ExtendClaimTerms` parameters; returns a [`BatchReturn`].
    pub struct ExtendClaimTermsParams {
        "Terms" => pub terms: Vec<ClaimTerm>,
    }
}

cbor_tuple! {
    /// Which allocation a piece claims.
    pub struct VerifiedAllocationKey {
        "Client" => pub client: u64,
        "Id" => pub id: u64,
    }
}

cbor_tuple! {
    /// An actor told of a piece's activation (the market, with a deal ID as payload).
    pub struct DataActivationNotification {
        "Address" => pub address: Address,
        "Payload" => pub payload: Bytes,
    }
}

cbor_tuple! {
    /// A piece of a sector being activated.
    pub struct PieceActivationManifest {
        "CID" => pub cid: Cid,
        "Size" => pub size: u64,
        "VerifiedAllocationKey" => pub verified_allocation_key: Option<VerifiedAllocationKey>,
        "Notify" => pub notify: Vec<DataActivationNotification>,
    }
}

cbor_tuple! {
    /// A sector and all its pieces, in order.
    pub struct SectorActivationManifest {
        "SectorNumber" => pub sector_number: u64,
        "Pieces" => pub pieces: Vec<PieceActivationManifest>,
    }
}

cbor_tuple! {
    /// Miner `ProveCommitSectors3` (method 34) parameters; returns a [`BatchReturn`].
    pub struct ProveCommitSectors3Params {
        "SectorActivations" => pub sector_activations: Vec<SectorActivationManifest>,
        "SectorProofs" => pub sector_proofs: Vec<Bytes>,
        "AggregateProof" => pub aggregate_proof: Bytes,
        "AggregateProofType" => pub aggregate_proof_type: Option<i64>,
        "RequireActivationSuccess" => pub require_activation_success: bool,
        "RequireNotificationSuccess" => pub require_notification_success: bool,
    }
}

cbor_tuple! {
    /// Miner `PreCommitSectorBatch2` (method 28) parameters.
    pub struct PreCommitSectorBatch2Params {
        "Sectors" => pub sectors: Vec<SectorPreCommitInfo>,
    }
}

cbor_tuple! {
    /// Miner `ProveCommitSector` (method 7) parameters.
    pub struct ProveCommitSectorParams {
        "SectorNumber" => pub sector_number: u64,
        "Proof" => pub proof: Bytes,
    }
}

cbor_tuple! {
    /// Miner `ProveCommitAggregate` (method 26) parameters.
    pub struct ProveCommitAggregateParams {
        "SectorNumbers" => pub sector_numbers: BitField,
        "AggregateProof" => pub aggregate_proof: Bytes,
    }
}

cbor_tuple! {
    /// One sector-range of a `TerminateSectors` call.
    pub struct TerminationDeclaration {
        "Deadline" => pub deadline: u64,
        "Partition" => pub partition: u64,
        "Sectors" => pub sectors: BitField,
    }
}

cbor_tuple! {
    /// Miner `TerminateSectors` (method 9) parameters.
    pub struct TerminateSectorsParams {
        "Terminations" => pub terminations: Vec<TerminationDeclaration>,
    }
}

cbor_tuple! {
    /// Miner `TerminateSectors` return.
    pub struct TerminateSectorsReturn {
        "Done" => pub done: bool,
    }
}

cbor_tuple! {
    /// Miner `ChangeWorkerAddress` (method 3) parameters.
    pub struct ChangeWorkerAddressParams {
        "NewWorker" => pub new_worker: Address,
        "NewControlAddrs" => pub new_control_addrs: Vec<Address>,
    }
}

cbor_tuple! {
    /// Power `CreateMiner` (method 2) parameters.
    pub struct CreateMinerParams {
        "Owner" => pub owner: Address,
        "Worker" => pub worker: Address,
        "WindowPoStProofType" => pub window_post_proof_type: i64,
        "Peer" => pub peer: Bytes,
        "Multiaddrs" => pub multiaddrs: Vec<Bytes>,
    }
}

cbor_tuple! {
    /// Power `CreateMiner` return.
    pub struct CreateMinerReturn {
        "IDAddress" => pub id_address: Address,
        "RobustAddress" => pub robust_address: Address,
    }
}

cbor_tuple! {
    /// Verified registry `AddVerifier` / `AddVerifiedClient` parameters: an address and a
    /// datacap allowance in bytes.
    pub struct VerifierParams {
        "Address" => pub address: Address,
        "Allowance" => pub allowance: BigInt,
    }
}

cbor_tuple! {
    /// One failure in a [`BatchReturn`]: the input index and its exit code.
    pub struct FailCode {
        "Idx" => pub idx: u64,
        "Code" => pub code: u64,
    }
}

cbor_tuple! {
    /// builtin-actors `BatchReturn`.
    pub struct BatchReturn {
        "SuccessCount" => pub success_count: u64,
        "FailCodes" => pub fail_codes: Vec<FailCode>,
    }
}

cbor_tuple! {
    /// What settling one deal paid, and whether the deal is finished.
    pub struct DealSettlementSummary {
        "Payment" => pub payment: TokenAmount,
        "Completed" => pub completed: bool,
    }
}

cbor_tuple! {
    /// Market `SettleDealPaymentsExported` return.
    pub struct SettleDealPaymentsReturn {
        "Results" => pub results: BatchReturn,
        "Settlements" => pub settlements: Vec<DealSettlementSummary>,
    }
}

// ---------------------------------------------------------------- init and payment channels

/// The init actor's ID (f01).
pub const INIT_ACTOR: u64 = 1;

/// Init actor methods.
pub mod init_method {
    pub const EXEC: u64 = 2;
}

/// Payment channel actor methods.
pub mod paych_method {
    pub const CONSTRUCTOR: u64 = 1;
    pub const UPDATE_CHANNEL_STATE: u64 = 2;
    pub const SETTLE: u64 = 3;
    pub const COLLECT: u64 = 4;
}

/// Payment channel constants (builtin-actors `paych`).
pub mod paych {
    /// Epochs between Settle and the earliest Collect: 12 hours of 30 s epochs.
    pub const SETTLE_DELAY: i64 = 1440;
    /// Longest secret an UpdateChannelState may carry.
    pub const MAX_SECRET_SIZE: usize = 256;
    /// The highest lane ID.
    pub const MAX_LANE: u64 = (1 << 63) - 1;
    /// Exit code of a voucher redeemed at or after the settling epoch.
    pub const ERR_CHANNEL_STATE_UPDATE_AFTER_SETTLED: i64 = 32;
}

cbor_tuple! {
    /// Init `Exec` parameters: the code of the actor to create and its constructor's
    /// parameters (CBOR bytes).
    pub struct ExecParams {
        "CodeCID" => pub code_cid: cid::Cid,
        "ConstructorParams" => pub constructor_params: Bytes,
    }
}

cbor_tuple! {
    /// Init `Exec` return: the new actor's ID address and its robust (f2) address.
    pub struct ExecReturn {
        "IDAddress" => pub id_address: Address,
        "RobustAddress" => pub robust_address: Address,
    }
}

cbor_tuple! {
    /// Payment channel constructor parameters.
    pub struct PaychConstructorParams {
        "From" => pub from: Address,
        "To" => pub to: Address,
    }
}

cbor_tuple! {
    /// Payment channel `UpdateChannelState` parameters.
    pub struct UpdateChannelStateParams {
        "Sv" => pub sv: crate::chain::SignedVoucher,
        "Secret" => pub secret: Bytes,
    }
}

cbor_tuple! {
    /// A payment channel lane's state.
    pub struct LaneState {
        "Redeemed" => pub redeemed: TokenAmount,
        "Nonce" => pub nonce: u64,
    }
}
