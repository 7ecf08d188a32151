//! The provider's storage deal: go-fil-markets' state numbers and names
//! ([`StorageDealStatus`]), droplet's flow (inventory §4.1), as
//! `step(deal, event) -> (deal, actions)`.
//!
//! Failures end in `Failing` with the reason kept (droplet's terminal failure state), and
//! release what the deal had reserved. An event that does not fit the deal's state is an
//! error, and the deal is unchanged.

use market_types::states::StorageDealStatus as S;

pub use super::transition::InvalidTransition;
use market_types::{Cid, TokenAmount};

/// Where the deal's piece is in the sealer (droplet's `PieceStatus`), one type for the whole
/// workspace.
pub use market_types::states::PieceStatus;

/// The deal as the machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDeal {
    pub status: S,
    /// Why it was rejected or failed.
    pub message: String,
    pub piece_status: PieceStatus,
    /// Online (HTTP transfer) or offline (imported by hand).
    pub online: bool,
    /// Provider collateral this deal holds in the fund ledger.
    pub provider_collateral: TokenAmount,
    pub funds_reserved: TokenAmount,
    pub add_funds_msg: Option<Cid>,
    pub publish_msg: Option<Cid>,
    pub deal_id: Option<u64>,
    pub sector: Option<u64>,
    pub offset: Option<u64>,
    /// Where the deal's data sits before it goes to piece storage.
    pub inbound_path: Option<String>,
    pub transferred: u64,
    /// Resumptions of the download since it last made it to the end (persisted, so a restart
    /// does not reset the count).
    pub transfer_attempts: u32,
}

impl ProviderDeal {
    /// A proposal just received, before the checks.
    pub fn new(online: bool, provider_collateral: TokenAmount) -> Self {
        ProviderDeal {
            status: S::Unknown,
            message: String::new(),
            piece_status: PieceStatus::Undefine,
            online,
            provider_collateral,
            funds_reserved: TokenAmount::default(),
            add_funds_msg: None,
            publish_msg: None,
            deal_id: None,
            sector: None,
            offset: None,
            inbound_path: None,
            transferred: 0,
            transfer_attempts: 0,
        }
    }

    /// What the daemon must (re)do for a deal found in this state at start: the action the
    /// step into this state emitted. A deal cut off mid-download gets
    /// [`Action::InterruptTransfer`]; a deal that waits for something outside (data, the
    /// sealer, the chain tracker) or is finished gets nothing.
    pub fn pending_action(&self) -> Option<Action> {
        match self.status {
            S::TransferQueued => Some(Action::StartTransfer),
            S::ProviderTransferAwaitRestart => Some(Action::ResumeTransfer {
                after_ms: transfer_backoff_ms(self.transfer_attempts),
            }),
            S::Transferring => Some(Action::InterruptTransfer),
            S::VerifyData => self.inbound_path.clone().map(|path| Action::VerifyData { path }),
            S::ReserveProviderFunds => Some(Action::ReserveFunds {
                amount: self.provider_collateral.clone(),
            }),
            S::ProviderFunding => self.add_funds_msg.map(|message| Action::WaitFunding { message }),
            S::Publish => Some(Action::QueueForPublish),
            S::Publishing => self.publish_msg.map(|message| Action::WaitPublish { message }),
            S::Staged => self.inbound_path.clone().map(|path| Action::StorePiece { path }),
            _ => None,
        }
    }
}

/// Resumptions of one download before the deal fails.
pub const MAX_TRANSFER_ATTEMPTS: u32 = 10;

/// How long to wait before resumption number `attempt` (from 1): 1 s, 2 s, 4 s … at most a
/// minute.
pub fn transfer_backoff_ms(attempt: u32) -> u64 {
    (1000u64 << attempt.saturating_sub(1).min(6)).min(60_000)
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The acceptance checks passed.
    Accepted,
    /// The acceptance checks failed (droplet's text).
    Rejected(String),
    TransferStarted,
    TransferProgress(u64),
    /// The download stopped; it will be resumed from where it got to.
    TransferInterrupted(String),
    TransferRestarted,
    TransferCompleted {
        path: String,
    },
    /// `storage deal import-data`.
    DataImported {
        path: String,
        skip_commp: bool,
    },
    DataVerified,
    DataVerificationFailed(String),
    /// Collateral set aside in the ledger; `message` is the AddBalance sent, if one was needed.
    FundsReserved {
        amount: TokenAmount,
        message: Option<Cid>,
    },
    Funded,
    FundingFailed(String),
    PublishSent(Cid),
    /// The PublishStorageDeals message landed with this deal's ID (from the valid-deals bitfield).
    Published {
        deal_id: u64,
        message: Cid,
    },
    PublishFailed(String),
    PieceStored,
    /// The sealer took the deal into a sector (`AssignDeals`).
    Assigned {
        sector: u64,
        offset: u64,
    },
    /// The sealer gave it back (`ReleaseDeals`).
    Released,
    /// A legacy sealer picked the deal (`MarkDealsAsPacking`); no sector yet.
    MarkedPacking,
    /// A legacy sealer put the deal into a sector (`UpdateDealOnPacking`).
    Packed {
        sector: u64,
        offset: u64,
    },
    /// The operator or sealer set the state or piece status by hand (`deal update`,
    /// `UpdateStorageDealStatus`, `UpdateDealStatus`). Applies in any state, terminal or not.
    Overridden {
        status: Option<S>,
        piece_status: Option<PieceStatus>,
    },
    /// The deal's sector is pre-committed.
    PreCommitted {
        sector: u64,
    },
    /// `SectorStartEpoch` is set on chain.
    Activated,
    /// Past its start without activation, or past its end.
    Expired,
    Slashed,
    /// Anything else that went wrong.
    Errored(String),
}

impl Event {
    /// The event's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Accepted => "Accepted",
            Event::Rejected(..) => "Rejected",
            Event::TransferStarted => "TransferStarted",
            Event::TransferProgress(..) => "TransferProgress",
            Event::TransferInterrupted(..) => "TransferInterrupted",
            Event::TransferRestarted => "TransferRestarted",
            Event::TransferCompleted { .. } => "TransferCompleted",
            Event::DataImported { .. } => "DataImported",
            Event::DataVerified => "DataVerified",
            Event::DataVerificationFailed(..) => "DataVerificationFailed",
            Event::FundsReserved { .. } => "FundsReserved",
            Event::Funded => "Funded",
            Event::FundingFailed(..) => "FundingFailed",
            Event::PublishSent(..) => "PublishSent",
            Event::Published { .. } => "Published",
            Event::PublishFailed(..) => "PublishFailed",
            Event::PieceStored => "PieceStored",
            Event::Assigned { .. } => "Assigned",
            Event::Released => "Released",
            Event::MarkedPacking => "MarkedPacking",
            Event::Packed { .. } => "Packed",
            Event::Overridden { .. } => "Overridden",
            Event::PreCommitted { .. } => "PreCommitted",
            Event::Activated => "Activated",
            Event::Expired => "Expired",
            Event::Slashed => "Slashed",
            Event::Errored(..) => "Errored",
        }
    }
}

/// What the daemon must do next (after it has stored the new state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Answer the proposal.
    Respond {
        accepted: bool,
        message: String,
    },
    StartTransfer,
    /// Resume the download from the bytes on disk, `after_ms` from now.
    ResumeTransfer {
        after_ms: u64,
    },
    /// The daemon stopped during the download: report it interrupted (the machine then
    /// schedules the resumption).
    InterruptTransfer,
    /// Compute commP of the data and compare it with the proposal's.
    VerifyData {
        path: String,
    },
    ReserveFunds {
        amount: TokenAmount,
    },
    WaitFunding {
        message: Cid,
    },
    /// Hand the deal to its miner's publisher.
    QueueForPublish,
    WaitPublish {
        message: Cid,
    },
    ReleaseFunds {
        amount: TokenAmount,
    },
    /// Copy the data into piece storage and index it.
    StorePiece {
        path: String,
    },
    /// Remove the deal's temporary data.
    CleanupData,
}

/// Fail the deal: keep the reason, release what it holds, clean up.
fn fail(mut d: ProviderDeal, reason: String) -> (ProviderDeal, Vec<Action>) {
    d.status = S::Failing;
    d.message = reason;
    let mut actions = release(&mut d);
    actions.push(Action::CleanupData);
    (d, actions)
}

/// Give back the collateral the deal holds in the ledger (nothing when it holds none).
fn release(d: &mut ProviderDeal) -> Vec<Action> {
    if d.funds_reserved.is_zero() {
        return Vec::new();
    }
    let amount = std::mem::take(&mut d.funds_reserved);
    vec![Action::ReleaseFunds { amount }]
}

/// Apply `event` to `deal`.
pub fn step(deal: &ProviderDeal, event: Event) -> Result<(ProviderDeal, Vec<Action>), InvalidTransition> {
    use Event as E;
    let mut d = deal.clone();
    let invalid = || InvalidTransition::new(deal.status, event.name());
    if let E::Overridden { status, piece_status } = &event {
        if let Some(st) = status {
            d.status = *st;
        }
        if let Some(ps) = piece_status {
            d.piece_status = *ps;
        }
        return Ok((d, vec![]));
    }
    if deal.status.is_terminal() {
        return Err(invalid());
    }
    let out = match (deal.status, event.clone()) {
        (_, E::Errored(reason)) => fail(d, reason),

        (S::Unknown, E::Accepted) => {
            let respond = Action::Respond {
                accepted: true,
                message: String::new(),
            };
            if d.online {
                d.status = S::TransferQueued;
                (d, vec![respond, Action::StartTransfer])
            } else {
                d.status = S::WaitingForData;
                (d, vec![respond])
            }
        }
        (S::Unknown, E::Rejected(reason)) => {
            d.status = S::Rejecting;
            d.message = reason.clone();
            (
                d,
                vec![Action::Respond {
                    accepted: false,
                    message: reason,
                }],
            )
        }

        (S::TransferQueued, E::TransferStarted) | (S::ProviderTransferAwaitRestart, E::TransferRestarted) => {
            d.status = S::Transferring;
            (d, vec![])
        }
        (S::Transferring, E::TransferProgress(n)) => {
            d.transferred = n.max(d.transferred);
            (d, vec![])
        }
        (S::Transferring, E::TransferInterrupted(reason)) => {
            d.transfer_attempts += 1;
            if d.transfer_attempts > MAX_TRANSFER_ATTEMPTS {
                return Ok(fail(
                    d,
                    format!("data transfer failed after {MAX_TRANSFER_ATTEMPTS} attempts: {reason}"),
                ));
            }
            d.status = S::ProviderTransferAwaitRestart;
            d.message = reason;
            let after_ms = transfer_backoff_ms(d.transfer_attempts);
            (d, vec![Action::ResumeTransfer { after_ms }])
        }
        (S::Transferring, E::TransferCompleted { path }) => {
            d.status = S::VerifyData;
            d.transfer_attempts = 0;
            d.message.clear();
            d.inbound_path = Some(path.clone());
            (d, vec![Action::VerifyData { path }])
        }

        (S::WaitingForData, E::DataImported { path, skip_commp }) => {
            d.inbound_path = Some(path.clone());
            if skip_commp {
                d.status = S::ReserveProviderFunds;
                let amount = d.provider_collateral.clone();
                (d, vec![Action::ReserveFunds { amount }])
            } else {
                d.status = S::VerifyData;
                (d, vec![Action::VerifyData { path }])
            }
        }
        (S::VerifyData, E::DataVerified) => {
            d.status = S::ReserveProviderFunds;
            let amount = d.provider_collateral.clone();
            (d, vec![Action::ReserveFunds { amount }])
        }
        (S::VerifyData, E::DataVerificationFailed(reason)) => fail(d, reason),

        (S::ReserveProviderFunds, E::FundsReserved { amount, message }) => {
            d.funds_reserved += &amount;
            match message {
                Some(m) => {
                    d.status = S::ProviderFunding;
                    d.add_funds_msg = Some(m);
                    (d, vec![Action::WaitFunding { message: m }])
                }
                None => {
                    d.status = S::Publish;
                    (d, vec![Action::QueueForPublish])
                }
            }
        }
        (S::ProviderFunding, E::Funded) => {
            d.status = S::Publish;
            (d, vec![Action::QueueForPublish])
        }
        (S::ReserveProviderFunds | S::ProviderFunding, E::FundingFailed(reason)) => fail(d, reason),

        (S::Publish, E::PublishSent(m)) => {
            d.status = S::Publishing;
            d.publish_msg = Some(m);
            (d, vec![Action::WaitPublish { message: m }])
        }
        (S::Publish | S::Publishing, E::PublishFailed(reason)) => fail(d, reason),
        (S::Publishing, E::Published { deal_id, message }) => {
            d.status = S::Staged;
            d.deal_id = Some(deal_id);
            d.publish_msg = Some(message);
            // `fail` releases what the deal holds itself: decide before releasing.
            let Some(path) = d.inbound_path.clone() else {
                return Ok(fail(d, "deal has no data to store".into()));
            };
            let mut actions = release(&mut d);
            actions.push(Action::StorePiece { path });
            (d, actions)
        }

        (S::Staged, E::PieceStored) => {
            d.status = S::AwaitingPreCommit;
            d.piece_status = PieceStatus::Undefine;
            (d, vec![Action::CleanupData])
        }

        (S::AwaitingPreCommit, E::Assigned { sector, offset }) if d.piece_status == PieceStatus::Undefine => {
            d.piece_status = PieceStatus::Assigned;
            d.sector = Some(sector);
            d.offset = Some(offset);
            (d, vec![])
        }
        (S::AwaitingPreCommit, E::MarkedPacking) if d.piece_status == PieceStatus::Undefine => {
            d.piece_status = PieceStatus::Assigned;
            (d, vec![])
        }
        (S::AwaitingPreCommit, E::Packed { sector, offset })
            if matches!(d.piece_status, PieceStatus::Undefine | PieceStatus::Assigned) =>
        {
            d.piece_status = PieceStatus::Packing;
            d.sector = Some(sector);
            d.offset = Some(offset);
            (d, vec![])
        }
        (S::AwaitingPreCommit, E::Released) => {
            d.piece_status = PieceStatus::Undefine;
            d.sector = None;
            d.offset = None;
            (d, vec![])
        }
        (S::AwaitingPreCommit, E::PreCommitted { sector }) => {
            d.status = S::Sealing;
            d.piece_status = PieceStatus::Packing;
            d.sector = Some(sector);
            (d, vec![])
        }
        (S::AwaitingPreCommit | S::Sealing, E::Activated) => {
            d.status = S::Active;
            d.piece_status = PieceStatus::Proving;
            (d, vec![])
        }
        (S::AwaitingPreCommit | S::Sealing | S::Active, E::Expired) => {
            d.status = S::Expired;
            (d, vec![])
        }
        (S::Sealing | S::Active, E::Slashed) => {
            d.status = S::Slashed;
            (d, vec![])
        }
        _ => return Err(invalid()),
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(n: u8) -> Cid {
        market_types::chain::chain_cid(&[n])
    }

    fn fil(n: u64) -> TokenAmount {
        TokenAmount::from_whole(n)
    }

    /// Run events in order, collecting every action.
    fn run(mut d: ProviderDeal, events: Vec<Event>) -> (ProviderDeal, Vec<Action>) {
        let mut all = Vec::new();
        for e in events {
            let (next, actions) = step(&d, e.clone()).unwrap_or_else(|err| panic!("{err} ({e:?})"));
            d = next;
            all.extend(actions);
        }
        (d, all)
    }

    #[test]
    fn an_offline_deal_goes_from_proposal_to_active() {
        let (d, actions) = run(
            ProviderDeal::new(false, fil(1)),
            vec![
                Event::Accepted,
                Event::DataImported {
                    path: "/data/a.car".into(),
                    skip_commp: false,
                },
                Event::DataVerified,
                Event::FundsReserved {
                    amount: fil(1),
                    message: Some(cid(1)),
                },
                Event::Funded,
                Event::PublishSent(cid(2)),
                Event::Published {
                    deal_id: 7,
                    message: cid(3),
                },
                Event::PieceStored,
                Event::Assigned { sector: 5, offset: 0 },
                Event::PreCommitted { sector: 5 },
                Event::Activated,
            ],
        );
        assert_eq!(d.status, S::Active);
        assert_eq!(d.piece_status, PieceStatus::Proving);
        assert_eq!((d.deal_id, d.sector, d.publish_msg), (Some(7), Some(5), Some(cid(3))));
        assert!(d.funds_reserved.is_zero(), "released after publishing");
        assert_eq!(
            actions,
            vec![
                Action::Respond {
                    accepted: true,
                    message: String::new()
                },
                Action::VerifyData {
                    path: "/data/a.car".into()
                },
                Action::ReserveFunds { amount: fil(1) },
                Action::WaitFunding { message: cid(1) },
                Action::QueueForPublish,
                Action::WaitPublish { message: cid(2) },
                Action::ReleaseFunds { amount: fil(1) },
                Action::StorePiece {
                    path: "/data/a.car".into()
                },
                Action::CleanupData,
            ]
        );
    }

    #[test]
    fn an_online_deal_transfers_resumes_and_verifies() {
        let (d, actions) = run(
            ProviderDeal::new(true, fil(1)),
            vec![
                Event::Accepted,
                Event::TransferStarted,
                Event::TransferProgress(100),
                Event::TransferInterrupted("connection reset".into()),
                Event::TransferRestarted,
                Event::TransferProgress(50),
                Event::TransferCompleted {
                    path: "/t/x.car".into(),
                },
            ],
        );
        assert_eq!(d.status, S::VerifyData);
        assert_eq!(d.transferred, 100, "progress never goes back");
        assert_eq!(d.message, "", "the interruption is forgotten once done");
        assert_eq!(d.transfer_attempts, 0, "a completed download resets the count");
        assert_eq!(
            actions,
            vec![
                Action::Respond {
                    accepted: true,
                    message: String::new()
                },
                Action::StartTransfer,
                Action::ResumeTransfer { after_ms: 1000 },
                Action::VerifyData {
                    path: "/t/x.car".into()
                },
            ]
        );
    }

    #[test]
    fn a_download_that_keeps_breaking_backs_off_then_fails_and_the_count_survives_a_restart() {
        let mut d = run(
            ProviderDeal::new(true, fil(1)),
            vec![Event::Accepted, Event::TransferStarted],
        )
        .0;
        let mut waits = Vec::new();
        for _ in 0..MAX_TRANSFER_ATTEMPTS {
            let (next, actions) = step(&d, Event::TransferInterrupted("reset".into())).expect("applies");
            match actions.as_slice() {
                [Action::ResumeTransfer { after_ms }] => waits.push(*after_ms),
                other => panic!("{other:?}"),
            }
            // A restart here resumes with the same wait, from the stored count.
            assert_eq!(
                next.pending_action(),
                Some(Action::ResumeTransfer {
                    after_ms: *waits.last().expect("one")
                })
            );
            d = step(&next, Event::TransferRestarted).expect("restarts").0;
        }
        assert_eq!(
            waits,
            vec![1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000]
        );
        let (d, actions) = step(&d, Event::TransferInterrupted("reset".into())).expect("applies");
        assert_eq!(d.status, S::Failing);
        assert!(d.message.contains("after 10 attempts: reset"), "{}", d.message);
        assert!(actions.contains(&Action::CleanupData));
    }

    #[test]
    fn what_a_restart_redoes_is_what_the_step_into_the_state_asked_for() {
        let steps = vec![
            Event::Accepted,
            Event::TransferStarted,
            Event::TransferCompleted {
                path: "/t/x.car".into(),
            },
            Event::DataVerified,
            Event::FundsReserved {
                amount: fil(1),
                message: Some(cid(7)),
            },
            Event::Funded,
            Event::PublishSent(cid(8)),
            Event::Published {
                deal_id: 0,
                message: cid(8),
            },
        ];
        let mut d = ProviderDeal::new(true, fil(1));
        for e in steps {
            let (next, actions) = step(&d, e).expect("applies");
            let expected = actions
                .into_iter()
                .find(|a| !matches!(a, Action::Respond { .. } | Action::ReleaseFunds { .. }));
            if next.status != S::Transferring {
                assert_eq!(next.pending_action(), expected, "in {:?}", next.status);
            }
            d = next;
        }
        let transferring = run(
            ProviderDeal::new(true, fil(1)),
            vec![Event::Accepted, Event::TransferStarted],
        )
        .0;
        assert_eq!(transferring.pending_action(), Some(Action::InterruptTransfer));
    }

    #[test]
    fn skip_commp_and_funds_already_available_go_straight_on() {
        let (d, actions) = run(
            ProviderDeal::new(false, fil(2)),
            vec![
                Event::Accepted,
                Event::DataImported {
                    path: "/p".into(),
                    skip_commp: true,
                },
                Event::FundsReserved {
                    amount: fil(2),
                    message: None,
                },
            ],
        );
        assert_eq!(d.status, S::Publish);
        assert_eq!(
            actions[1..],
            [Action::ReserveFunds { amount: fil(2) }, Action::QueueForPublish]
        );
    }

    #[test]
    fn rejection_answers_with_the_reason_and_ends_the_deal() {
        let (d, actions) = run(
            ProviderDeal::new(false, fil(1)),
            vec![Event::Rejected("incorrect provider for deal".into())],
        );
        assert_eq!(d.status, S::Rejecting);
        assert_eq!(d.message, "incorrect provider for deal");
        assert_eq!(
            actions,
            vec![Action::Respond {
                accepted: false,
                message: "incorrect provider for deal".into()
            }]
        );
        assert!(step(&d, Event::Accepted).is_err(), "a rejected deal stays rejected");
    }

    #[test]
    fn failures_release_reserved_funds_and_clean_up() {
        let mut until_publish = offline_until_publish_sent();
        until_publish.pop();
        let reserved = run(ProviderDeal::new(false, fil(1)), until_publish).0;
        let (d, actions) = step(&reserved, Event::PublishFailed("client escrow withdrawn".into())).expect("fails");
        assert_eq!(d.status, S::Failing);
        assert_eq!(d.message, "client escrow withdrawn");
        assert_eq!(
            actions,
            vec![Action::ReleaseFunds { amount: fil(1) }, Action::CleanupData]
        );

        let verifying = run(
            ProviderDeal::new(false, fil(1)),
            vec![
                Event::Accepted,
                Event::DataImported {
                    path: "/p".into(),
                    skip_commp: false,
                },
            ],
        )
        .0;
        let (d, actions) = step(
            &verifying,
            Event::DataVerificationFailed("proposal CommP doesn't match calculated CommP".into()),
        )
        .expect("fails");
        assert_eq!(d.status, S::Failing);
        assert_eq!(actions, vec![Action::CleanupData], "nothing reserved yet");

        let funding = run(
            ProviderDeal::new(false, fil(1)),
            vec![
                Event::Accepted,
                Event::DataImported {
                    path: "/p".into(),
                    skip_commp: true,
                },
                Event::FundsReserved {
                    amount: fil(1),
                    message: Some(cid(1)),
                },
            ],
        )
        .0;
        let (d, _) = step(&funding, Event::FundingFailed("AddFunds exit code: 16".into())).expect("fails");
        assert_eq!(d.status, S::Failing);
        let (d, _) = step(&funding, Event::Errored("node unreachable".into())).expect("errors anywhere");
        assert_eq!((d.status, d.message.as_str()), (S::Failing, "node unreachable"));
    }

    /// An offline deal with data imported (commP skipped), funds at hand, publish message sent.
    fn offline_until_publish_sent() -> Vec<Event> {
        vec![
            Event::Accepted,
            Event::DataImported {
                path: "/p".into(),
                skip_commp: true,
            },
            Event::FundsReserved {
                amount: fil(1),
                message: None,
            },
            Event::PublishSent(cid(1)),
        ]
    }

    #[test]
    fn a_published_deal_without_data_fails_and_still_releases_its_collateral() {
        let mut publishing = run(ProviderDeal::new(false, fil(1)), offline_until_publish_sent()).0;
        publishing.inbound_path = None;
        let (d, actions) = step(
            &publishing,
            Event::Published {
                deal_id: 3,
                message: cid(1),
            },
        )
        .expect("applies");
        assert_eq!(d.status, S::Failing);
        assert!(d.funds_reserved.is_zero());
        assert_eq!(
            actions,
            vec![Action::ReleaseFunds { amount: fil(1) }, Action::CleanupData],
            "the collateral goes back to the ledger"
        );
    }

    #[test]
    fn the_sealer_can_take_and_give_back_a_deal() {
        let awaiting = run(
            ProviderDeal::new(false, fil(1)),
            offline_until_publish_sent()
                .into_iter()
                .chain([
                    Event::Published {
                        deal_id: 1,
                        message: cid(1),
                    },
                    Event::PieceStored,
                ])
                .collect(),
        )
        .0;
        assert_eq!(
            (awaiting.status, awaiting.piece_status),
            (S::AwaitingPreCommit, PieceStatus::Undefine)
        );
        let (assigned, _) = step(
            &awaiting,
            Event::Assigned {
                sector: 3,
                offset: 2048,
            },
        )
        .expect("assign");
        assert_eq!(
            (assigned.piece_status, assigned.sector, assigned.offset),
            (PieceStatus::Assigned, Some(3), Some(2048))
        );
        assert!(
            step(&assigned, Event::Assigned { sector: 4, offset: 0 }).is_err(),
            "not assigned twice"
        );
        let (released, _) = step(&assigned, Event::Released).expect("release");
        assert_eq!((released.piece_status, released.sector), (PieceStatus::Undefine, None));
        // A missed pre-commit still activates; a deal never sealed expires.
        assert_eq!(step(&awaiting, Event::Activated).expect("activate").0.status, S::Active);
        assert_eq!(step(&awaiting, Event::Expired).expect("expire").0.status, S::Expired);
        let sealing = step(&assigned, Event::PreCommitted { sector: 3 }).expect("precommit").0;
        assert_eq!(
            (sealing.status, sealing.piece_status),
            (S::Sealing, PieceStatus::Packing)
        );
        let active = step(&sealing, Event::Activated).expect("active").0;
        assert_eq!(step(&active, Event::Slashed).expect("slash").0.status, S::Slashed);
        assert_eq!(step(&active, Event::Expired).expect("end").0.status, S::Expired);
    }

    #[test]
    fn the_legacy_sealer_path_marks_packs_and_the_operator_can_override_any_state() {
        let (awaiting, _) = run(
            ProviderDeal::new(false, fil(1)),
            vec![
                Event::Accepted,
                Event::DataImported {
                    path: "/d".into(),
                    skip_commp: false,
                },
                Event::DataVerified,
                Event::FundsReserved {
                    amount: fil(1),
                    message: None,
                },
                Event::PublishSent(cid(3)),
                Event::Published {
                    deal_id: 7,
                    message: cid(3),
                },
                Event::PieceStored,
            ],
        );
        assert_eq!(awaiting.status, S::AwaitingPreCommit);
        let (marked, _) = step(&awaiting, Event::MarkedPacking).expect("mark");
        assert_eq!((marked.piece_status, marked.sector), (PieceStatus::Assigned, None));
        assert!(step(&marked, Event::MarkedPacking).is_err(), "marked once");
        let (packed, _) = step(
            &marked,
            Event::Packed {
                sector: 9,
                offset: 4096,
            },
        )
        .expect("pack");
        assert_eq!(
            (packed.piece_status, packed.sector, packed.offset),
            (PieceStatus::Packing, Some(9), Some(4096))
        );
        assert!(step(&packed, Event::Packed { sector: 1, offset: 0 }).is_err());
        // The tracker still sees the pre-commit and activation.
        let sealing = step(&packed, Event::PreCommitted { sector: 9 }).expect("precommit").0;
        let active = step(&sealing, Event::Activated).expect("activate").0;
        assert_eq!(active.status, S::Active);
        // An override reaches even terminal states and emits nothing.
        let failed = fail(active.clone(), "x".into()).0;
        let (fixed, actions) = step(
            &failed,
            Event::Overridden {
                status: Some(S::Active),
                piece_status: Some(PieceStatus::Proving),
            },
        )
        .expect("override");
        assert_eq!((fixed.status, fixed.piece_status), (S::Active, PieceStatus::Proving));
        assert!(actions.is_empty());
        let (only_piece, _) = step(
            &awaiting,
            Event::Overridden {
                status: None,
                piece_status: Some(PieceStatus::Packing),
            },
        )
        .expect("override");
        assert_eq!(
            (only_piece.status, only_piece.piece_status),
            (S::AwaitingPreCommit, PieceStatus::Packing)
        );
        assert_eq!(PieceStatus::parse("packing"), Some(PieceStatus::Packing));
        assert_eq!(PieceStatus::parse("Sealed"), None);
    }

    #[test]
    fn events_out_of_place_are_refused_and_change_nothing() {
        let fresh = ProviderDeal::new(false, fil(1));
        for e in [
            Event::DataVerified,
            Event::Funded,
            Event::PublishSent(cid(1)),
            Event::Activated,
            Event::TransferStarted,
            Event::PieceStored,
        ] {
            let err = step(&fresh, e).expect_err("out of place");
            assert_eq!(err.from, S::Unknown);
        }
        let offline = step(&fresh, Event::Accepted).expect("accept").0;
        let err =
            step(&offline, Event::TransferCompleted { path: "/x".into() }).expect_err("offline deals do not transfer");
        assert_eq!(
            err.to_string(),
            "event TransferCompleted does not apply to a deal in state StorageDealWaitingForData"
        );
        let failed = step(&offline, Event::Errored("x".into())).expect("fail").0;
        assert!(
            step(&failed, Event::Errored("again".into())).is_err(),
            "terminal states take nothing"
        );
    }
}
