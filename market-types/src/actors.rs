//! Parameters and returns of the builtin-actor methods a storage market and its sealer send
//! besides the market's own (in [`crate::chain`]): miner sector lifecycle, power's
//! CreateMiner, the verified registry, and market settlement results. Layouts follow
//! builtin-actors (v13 and later), as CBOR tuples.

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
}

/// Miner actor method numbers beyond those in [`crate::chain::miner_method`].
pub mod miner_method {
    pub const CHANGE_WORKER_ADDRESS: u64 = 3;
    pub const PROVE_COMMIT_SECTOR: u64 = 7;
    pub const PROVE_COMMIT_AGGREGATE: u64 = 26;
}

/// Power actor: `CreateMiner`.
pub mod power_method {
    pub const CREATE_MINER: u64 = 2;
}

/// Verified registry methods.
pub mod verifreg_method {
    pub const ADD_VERIFIER: u64 = 2;
    pub const ADD_VERIFIED_CLIENT: u64 = 4;
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
