//! The client's storage deal, with go-fil-markets' client states: funds are reserved in the
//! client's escrow (AddBalance when short), the proposal is sent, the provider accepts or
//! rejects it, an online deal's data is fetched from the client, and the client follows the
//! deal through publishing, pre-commit and activation from the provider's status answers and
//! the chain.

use market_types::states::StorageDealStatus as S;

pub use super::transition::InvalidTransition;
use market_types::units::DealId;
use market_types::{Cid, TokenAmount};

/// The deal as the client's machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientDeal {
    pub status: S,
    pub message: String,
    pub online: bool,
    /// What the deal needs in escrow (`ClientBalanceRequirement`).
    pub required: TokenAmount,
    pub funds_reserved: TokenAmount,
    pub add_funds_msg: Option<Cid>,
    pub publish_msg: Option<Cid>,
    pub deal_id: Option<DealId>,
}

impl ClientDeal {
    pub fn new(online: bool, required: TokenAmount) -> Self {
        ClientDeal {
            status: S::Unknown,
            message: String::new(),
            online,
            required,
            funds_reserved: TokenAmount::default(),
            add_funds_msg: None,
            publish_msg: None,
            deal_id: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The deal was created (by `storage deals init`).
    Start,
    FundsReserved {
        amount: TokenAmount,
        message: Option<Cid>,
    },
    Funded,
    ProposalSent,
    ProviderAccepted,
    ProviderRejected(String),
    /// The provider has all of an online deal's data.
    TransferCompleted,
    Published {
        deal_id: DealId,
        message: Cid,
    },
    PreCommitted,
    Activated,
    Expired,
    Slashed,
    Errored(String),
}

impl Event {
    /// The event's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Start => "Start",
            Event::FundsReserved { .. } => "FundsReserved",
            Event::Funded => "Funded",
            Event::ProposalSent => "ProposalSent",
            Event::ProviderAccepted => "ProviderAccepted",
            Event::ProviderRejected(..) => "ProviderRejected",
            Event::TransferCompleted => "TransferCompleted",
            Event::Published { .. } => "Published",
            Event::PreCommitted => "PreCommitted",
            Event::Activated => "Activated",
            Event::Expired => "Expired",
            Event::Slashed => "Slashed",
            Event::Errored(..) => "Errored",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    ReserveFunds {
        amount: TokenAmount,
    },
    WaitFunding {
        message: Cid,
    },
    SendProposal,
    /// Serve the deal's CAR over HTTP for the provider to fetch.
    ServeData,
    StopServingData,
    /// Ask the provider for the deal's status from time to time, and watch the chain.
    Track,
    ReleaseFunds {
        amount: TokenAmount,
    },
}

fn release(d: &mut ClientDeal, actions: &mut Vec<Action>) {
    if !d.funds_reserved.is_zero() {
        actions.push(Action::ReleaseFunds {
            amount: d.funds_reserved.clone(),
        });
        d.funds_reserved = TokenAmount::default();
    }
}

fn fail(mut d: ClientDeal, reason: String) -> (ClientDeal, Vec<Action>) {
    let mut actions = Vec::new();
    if d.online {
        actions.push(Action::StopServingData);
    }
    release(&mut d, &mut actions);
    d.status = S::Failing;
    d.message = reason;
    (d, actions)
}

pub fn step(deal: &ClientDeal, event: Event) -> Result<(ClientDeal, Vec<Action>), InvalidTransition> {
    use Event as E;
    let mut d = deal.clone();
    let invalid = || InvalidTransition::new(deal.status, event.name());
    if deal.status.is_terminal() {
        return Err(invalid());
    }
    let out = match (deal.status, event.clone()) {
        (_, E::Errored(reason)) => fail(d, reason),
        (S::Unknown, E::Start) => {
            d.status = S::ReserveClientFunds;
            let amount = d.required.clone();
            (d, vec![Action::ReserveFunds { amount }])
        }
        (S::ReserveClientFunds, E::FundsReserved { amount, message }) => {
            d.funds_reserved += &amount;
            match message {
                Some(m) => {
                    d.status = S::ClientFunding;
                    d.add_funds_msg = Some(m);
                    (d, vec![Action::WaitFunding { message: m }])
                }
                None => {
                    d.status = S::FundsReserved;
                    (d, vec![Action::SendProposal])
                }
            }
        }
        (S::ClientFunding, E::Funded) => {
            d.status = S::FundsReserved;
            (d, vec![Action::SendProposal])
        }
        (S::FundsReserved, E::ProposalSent) => {
            d.status = S::CheckForAcceptance;
            let mut actions = Vec::new();
            if d.online {
                actions.push(Action::ServeData);
            }
            actions.push(Action::Track);
            (d, actions)
        }
        (S::CheckForAcceptance, E::ProviderAccepted) => {
            d.status = if d.online { S::Transferring } else { S::ProposalAccepted };
            (d, vec![])
        }
        (S::CheckForAcceptance, E::ProviderRejected(reason)) => fail(d, reason),
        (S::Transferring, E::TransferCompleted) => {
            d.status = S::ProposalAccepted;
            (d, vec![Action::StopServingData])
        }
        (S::CheckForAcceptance | S::Transferring | S::ProposalAccepted, E::Published { deal_id, message }) => {
            let mut actions = Vec::new();
            if d.status == S::Transferring {
                actions.push(Action::StopServingData);
            }
            // Locked on chain now: the local reservation is no longer needed.
            release(&mut d, &mut actions);
            d.status = S::AwaitingPreCommit;
            d.deal_id = Some(deal_id);
            d.publish_msg = Some(message);
            (d, actions)
        }
        (S::AwaitingPreCommit, E::PreCommitted) => {
            d.status = S::Sealing;
            (d, vec![])
        }
        (S::AwaitingPreCommit | S::Sealing, E::Activated) => {
            d.status = S::Active;
            (d, vec![])
        }
        (S::CheckForAcceptance | S::ProposalAccepted | S::AwaitingPreCommit | S::Sealing | S::Active, E::Expired) => {
            let mut actions = Vec::new();
            release(&mut d, &mut actions);
            d.status = S::Expired;
            (d, actions)
        }
        (S::Sealing | S::Active, E::Slashed) => {
            d.status = S::Slashed;
            (d, vec![])
        }
        _ => return Err(invalid()),
    };
    Ok(out)
}

/// What the client makes of a deal the provider has not published (as far as the client
/// knows) once the chain is at `head`: the market actor refuses a proposal whose start epoch
/// has passed, so such a deal can never be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpublished {
    /// Still in time.
    InTime,
    /// Past its start epoch: the provider's answer settles it.
    TooLate { start_epoch: i64, head: i64 },
}

impl Unpublished {
    pub fn at(start_epoch: i64, head: i64) -> Unpublished {
        if head > start_epoch {
            Unpublished::TooLate { start_epoch, head }
        } else {
            Unpublished::InTime
        }
    }

    /// The failure for a deal the provider answered about without a publish message (none
    /// sent, or no record of the deal at all): None while the deal is in time.
    pub fn failure(&self, provider_has_it: bool) -> Option<String> {
        let Unpublished::TooLate { start_epoch, head } = *self else {
            return None;
        };
        Some(if provider_has_it {
            format!(
                "the deal's start epoch {start_epoch} passed (the chain is at {head}) before the provider published it: the market actor will not take it now; propose it again"
            )
        } else {
            format!(
                "the provider has no record of this deal and its start epoch {start_epoch} has passed (the chain is at {head}): it can never be published; propose it again"
            )
        })
    }

    /// What to tell the user while the provider does not answer.
    pub fn unanswered(&self, why: &str) -> String {
        match *self {
            Unpublished::InTime => format!("the provider did not answer the last status query: {why}"),
            Unpublished::TooLate { start_epoch, head } => format!(
                "the provider has not answered since the deal's start epoch {start_epoch} passed (the chain is at {head}): unless it published the deal in time, it never will; last error: {why}"
            ),
        }
    }
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

    fn run(mut d: ClientDeal, events: Vec<Event>) -> (ClientDeal, Vec<Action>) {
        let mut all = Vec::new();
        for e in events {
            let (next, a) = step(&d, e.clone()).unwrap_or_else(|err| panic!("{err} ({e:?})"));
            d = next;
            all.extend(a);
        }
        (d, all)
    }

    #[test]
    fn an_online_deal_from_funds_to_active() {
        let (d, actions) = run(
            ClientDeal::new(true, fil(3)),
            vec![
                Event::Start,
                Event::FundsReserved {
                    amount: fil(3),
                    message: Some(cid(1)),
                },
                Event::Funded,
                Event::ProposalSent,
                Event::ProviderAccepted,
                Event::TransferCompleted,
                Event::Published {
                    deal_id: 9,
                    message: cid(2),
                },
                Event::PreCommitted,
                Event::Activated,
            ],
        );
        assert_eq!((d.status, d.deal_id), (S::Active, Some(9)));
        assert_eq!(
            actions,
            vec![
                Action::ReserveFunds { amount: fil(3) },
                Action::WaitFunding { message: cid(1) },
                Action::SendProposal,
                Action::ServeData,
                Action::Track,
                Action::StopServingData,
                Action::ReleaseFunds { amount: fil(3) },
            ]
        );
    }

    #[test]
    fn an_offline_deal_waits_for_publishing_after_acceptance() {
        let (d, actions) = run(
            ClientDeal::new(false, fil(1)),
            vec![
                Event::Start,
                Event::FundsReserved {
                    amount: fil(1),
                    message: None,
                },
                Event::ProposalSent,
                Event::ProviderAccepted,
            ],
        );
        assert_eq!(d.status, S::ProposalAccepted);
        assert!(!actions.contains(&Action::ServeData));
        let (d, _) = step(
            &d,
            Event::Published {
                deal_id: 1,
                message: cid(1),
            },
        )
        .expect("published");
        assert_eq!(d.status, S::AwaitingPreCommit);
        assert_eq!(
            step(&d, Event::Activated).expect("active").0.status,
            S::Active,
            "pre-commit may be missed"
        );
    }

    #[test]
    fn rejection_and_errors_fail_the_deal_and_release_funds() {
        let sent = run(
            ClientDeal::new(true, fil(2)),
            vec![
                Event::Start,
                Event::FundsReserved {
                    amount: fil(2),
                    message: None,
                },
                Event::ProposalSent,
            ],
        )
        .0;
        let (d, actions) =
            step(&sent, Event::ProviderRejected("incorrect provider for deal".into())).expect("rejected");
        assert_eq!(
            (d.status, d.message.as_str()),
            (S::Failing, "incorrect provider for deal")
        );
        assert_eq!(
            actions,
            vec![Action::StopServingData, Action::ReleaseFunds { amount: fil(2) }]
        );
        assert!(step(&d, Event::ProviderAccepted).is_err(), "failed deals stay failed");
        let (d, _) = step(&sent, Event::Expired).expect("never published");
        assert_eq!(d.status, S::Expired);
        assert!(step(&ClientDeal::new(false, fil(1)), Event::ProposalSent).is_err());
    }

    #[test]
    fn an_unpublished_deal_fails_only_once_its_start_epoch_has_passed() {
        let in_time = Unpublished::at(100, 100);
        assert_eq!(in_time, Unpublished::InTime, "the start epoch itself is still in time");
        assert_eq!(in_time.failure(true), None);
        assert_eq!(in_time.failure(false), None);
        assert!(in_time.unanswered("refused").ends_with("refused"));
        let late = Unpublished::at(100, 101);
        assert_eq!(
            late,
            Unpublished::TooLate {
                start_epoch: 100,
                head: 101
            }
        );
        let held = late.failure(true).expect("too late");
        assert!(held.contains("before the provider published it"), "{held}");
        let unknown = late.failure(false).expect("too late");
        assert!(unknown.contains("no record"), "{unknown}");
        assert!(late.unanswered("refused").contains("start epoch 100 passed"));
    }
}
