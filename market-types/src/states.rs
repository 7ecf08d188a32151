//! State enums with Go's numbers and names: storage deal states (go-fil-markets), retrieval
//! deal states, boost checkpoints, droplet's piece status and direct-deal states.

use crate::cbor::{Decode, DecodeError, Decoder, Encode, Encoder};
use crate::json::{JsonError, LotusJson, Value};

/// A state enum stored and sent as its Go number; printed with its Go name.
macro_rules! go_enum {
    (
        $(#[$meta:meta])*
        $name:ident, prefix = $prefix:literal {
            $( $variant:ident = $num:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u64)]
        pub enum $name {
            $( $variant = $num, )*
        }

        impl $name {
            /// Every value, in numeric order.
            pub const ALL: &'static [$name] = &[$( $name::$variant, )*];

            pub fn from_u64(n: u64) -> Option<Self> {
                match n {
                    $( $num => Some($name::$variant), )*
                    _ => None,
                }
            }

            pub fn code(self) -> u64 {
                self as u64
            }

            /// The Go name, e.g. `StorageDealActive`.
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => concat!($prefix, stringify!($variant)), )*
                }
            }

            /// Parse a Go name, with or without its prefix, or a number.
            pub fn parse(s: &str) -> Option<Self> {
                if let Ok(n) = s.parse::<u64>() {
                    return Self::from_u64(n);
                }
                let bare = s.strip_prefix($prefix).unwrap_or(s);
                Self::ALL.iter().copied().find(|v| {
                    let name = v.name();
                    name[$prefix.len()..].eq_ignore_ascii_case(bare)
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl Encode for $name {
            fn encode(&self, e: &mut Encoder) {
                e.u64(self.code())
            }
        }

        impl Decode for $name {
            fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
                let at = d.position();
                let n = d.u64()?;
                Self::from_u64(n).ok_or_else(|| DecodeError::Invalid {
                    what: stringify!($name),
                    reason: format!("unknown value {n}"),
                    at,
                })
            }
        }

        impl LotusJson for $name {
            fn to_json(&self) -> Value {
                Value::from(self.code())
            }
            fn from_json(v: Value) -> Result<Self, JsonError> {
                let n = u64::from_json(v)?;
                Self::from_u64(n).ok_or_else(|| JsonError(format!("unknown {} {n}", stringify!($name))))
            }
        }
    };
}

go_enum! {
    /// go-fil-markets `StorageDealStatus`, used in droplet's store, CLI and API.
    StorageDealStatus, prefix = "StorageDeal" {
        Unknown = 0,
        ProposalNotFound = 1,
        ProposalRejected = 2,
        ProposalAccepted = 3,
        Staged = 4,
        Sealing = 5,
        Finalizing = 6,
        Active = 7,
        Expired = 8,
        Slashed = 9,
        Rejecting = 10,
        Failing = 11,
        FundsReserved = 12,
        CheckForAcceptance = 13,
        Validating = 14,
        AcceptWait = 15,
        StartDataTransfer = 16,
        Transferring = 17,
        WaitingForData = 18,
        VerifyData = 19,
        ReserveProviderFunds = 20,
        ReserveClientFunds = 21,
        ProviderFunding = 22,
        ClientFunding = 23,
        Publish = 24,
        Publishing = 25,
        Error = 26,
        ProviderTransferAwaitRestart = 27,
        ClientTransferRestart = 28,
        AwaitingPreCommit = 29,
        TransferQueued = 30,
    }
}

impl StorageDealStatus {
    /// States a deal never leaves (droplet's terminal set).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            StorageDealStatus::Slashed
                | StorageDealStatus::Expired
                | StorageDealStatus::Error
                | StorageDealStatus::Failing
                | StorageDealStatus::Rejecting
                | StorageDealStatus::ProposalRejected
        )
    }
}

go_enum! {
    /// go-fil-markets retrieval `DealStatus`.
    RetrievalDealStatus, prefix = "DealStatus" {
        New = 0,
        Unsealing = 1,
        Unsealed = 2,
        WaitForAcceptance = 3,
        PaymentChannelCreating = 4,
        PaymentChannelAddingFunds = 5,
        Accepted = 6,
        FundsNeededUnseal = 7,
        Failing = 8,
        Rejected = 9,
        FundsNeeded = 10,
        SendFunds = 11,
        SendFundsLastPayment = 12,
        Ongoing = 13,
        FundsNeededLastPayment = 14,
        Completed = 15,
        DealNotFound = 16,
        Errored = 17,
        BlocksComplete = 18,
        Finalizing = 19,
        Completing = 20,
        CheckComplete = 21,
        CheckFunds = 22,
        InsufficientFunds = 23,
        PaymentChannelAllocatingLane = 24,
        Cancelling = 25,
        Cancelled = 26,
        RetryLegacy = 27,
        WaitForAcceptanceLegacy = 28,
        ClientWaitingForLastBlocks = 29,
        PaymentChannelAddingInitialFunds = 30,
        Erroring = 31,
        Rejecting = 32,
        DealNotFoundCleanup = 33,
        FinalizingBlockstore = 34,
    }
}

go_enum! {
    /// go-fil-markets retrieval `ClientEvent` (what moved a client's retrieval last).
    RetrievalClientEvent, prefix = "ClientEvent" {
        Open = 0,
        WriteDealProposalErrored = 1,
        DealProposed = 2,
        DealRejected = 3,
        DealNotFound = 4,
        DealAccepted = 5,
        ProviderCancelled = 6,
        UnknownResponseReceived = 7,
        PaymentChannelErrored = 8,
        AllocateLaneErrored = 9,
        PaymentChannelCreateInitiated = 10,
        PaymentChannelReady = 11,
        PaymentChannelAddingFunds = 12,
        PaymentChannelAddFundsErrored = 13,
        LastPaymentRequested = 14,
        AllBlocksReceived = 15,
        PaymentRequested = 16,
        UnsealPaymentRequested = 17,
        BlocksReceived = 18,
        SendFunds = 19,
        FundsExpended = 20,
        BadPaymentRequested = 21,
        CreateVoucherFailed = 22,
        WriteDealPaymentErrored = 23,
        PaymentSent = 24,
        Complete = 25,
        DataTransferError = 26,
        CancelComplete = 27,
        EarlyTermination = 28,
        CompleteVerified = 29,
        LaneAllocated = 30,
        VoucherShortfall = 31,
        RecheckFunds = 32,
        Cancel = 33,
        WaitForLastBlocks = 34,
        PaymentChannelSkip = 35,
        PaymentNotSent = 36,
        BlockstoreFinalized = 37,
        FinalizeBlockstoreErrored = 38,
    }
}

go_enum! {
    /// Boost `dealcheckpoints.Checkpoint`; its name is the `Status` of a 1.2.0 status answer.
    Checkpoint, prefix = "" {
        Accepted = 0,
        Transferred = 1,
        Published = 2,
        PublishConfirmed = 3,
        AddedPiece = 4,
        IndexedAndAnnounced = 5,
        Complete = 6,
    }
}

go_enum! {
    /// droplet direct-deal (DDO) states.
    DirectDealState, prefix = "Deal" {
        Allocated = 1,
        Sealing = 2,
        Active = 3,
        Expired = 4,
        Slashed = 5,
        Error = 6,
    }
}

/// droplet `PieceStatus`: where a deal's piece is in the sealer hand-off. A Go string type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PieceStatus {
    #[default]
    Undefine,
    Assigned,
    Packing,
    Proving,
}

impl PieceStatus {
    pub const ALL: &'static [PieceStatus] = &[
        PieceStatus::Undefine,
        PieceStatus::Assigned,
        PieceStatus::Packing,
        PieceStatus::Proving,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PieceStatus::Undefine => "Undefine",
            PieceStatus::Assigned => "Assigned",
            PieceStatus::Packing => "Packing",
            PieceStatus::Proving => "Proving",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.name().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for PieceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Encode for PieceStatus {
    fn encode(&self, e: &mut Encoder) {
        e.text(self.name())
    }
}

impl Decode for PieceStatus {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        let s = d.text(64)?;
        PieceStatus::parse(s).ok_or_else(|| DecodeError::Invalid {
            what: "piece status",
            reason: format!("unknown value {s:?}"),
            at,
        })
    }
    fn missing() -> Option<Self> {
        Some(PieceStatus::Undefine)
    }
}

impl LotusJson for PieceStatus {
    fn to_json(&self) -> Value {
        Value::String(self.name().into())
    }
    fn from_json(v: Value) -> Result<Self, JsonError> {
        let s = String::from_json(v)?;
        PieceStatus::parse(&s).ok_or_else(|| JsonError(format!("unknown piece status {s:?}")))
    }
    fn json_missing() -> Option<Self> {
        Some(PieceStatus::Undefine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_follow_go() {
        assert_eq!(StorageDealStatus::ALL.len(), 31);
        assert_eq!(StorageDealStatus::Active.code(), 7);
        assert_eq!(
            StorageDealStatus::AwaitingPreCommit.name(),
            "StorageDealAwaitingPreCommit"
        );
        assert_eq!(
            StorageDealStatus::parse("WaitingForData"),
            Some(StorageDealStatus::WaitingForData)
        );
        assert_eq!(
            StorageDealStatus::parse("StorageDealActive"),
            Some(StorageDealStatus::Active)
        );
        assert_eq!(StorageDealStatus::parse("18"), Some(StorageDealStatus::WaitingForData));
        assert_eq!(StorageDealStatus::parse("nonsense"), None);
        for (i, s) in StorageDealStatus::ALL.iter().enumerate() {
            assert_eq!(s.code(), i as u64);
        }
        assert_eq!(RetrievalDealStatus::ALL.len(), 35);
        assert_eq!(RetrievalDealStatus::FinalizingBlockstore.code(), 34);
        assert_eq!(RetrievalDealStatus::Completed.name(), "DealStatusCompleted");
        assert_eq!(RetrievalClientEvent::ALL.len(), 39);
        assert_eq!(RetrievalClientEvent::BlockstoreFinalized.code(), 37);
        assert_eq!(
            RetrievalClientEvent::PaymentChannelSkip.name(),
            "ClientEventPaymentChannelSkip"
        );
        assert_eq!(Checkpoint::IndexedAndAnnounced.name(), "IndexedAndAnnounced");
        assert_eq!(DirectDealState::Allocated.name(), "DealAllocated");
        assert_eq!(PieceStatus::parse("packing"), Some(PieceStatus::Packing));
    }

    #[test]
    fn unknown_numbers_are_refused() {
        assert!(crate::cbor::from_slice::<StorageDealStatus>(&[0x18, 31]).is_err());
        assert_eq!(
            crate::cbor::from_slice::<StorageDealStatus>(&[0x07]),
            Ok(StorageDealStatus::Active)
        );
    }
}
