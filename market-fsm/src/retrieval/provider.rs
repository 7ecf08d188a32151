//! The provider's retrieval deal (go-fil-markets `providerstates`, with its status numbers):
//! accepted (New), data flowing (Ongoing), paused until paid (FundsNeeded), all data sent but
//! not all paid (FundsNeededLastPayment), and the ends: Completed, Errored, Cancelled. The
//! daemon persists the deal after every event that changes it, then performs the actions.
//!
//! Payment with credit: at each payment boundary ([`ProviderDeal::current_interval`]) the
//! client is asked for what it owes and the data goes on flowing; the transfer pauses only
//! [`Terms::credit`] bytes further ([`ProviderDeal::pause_limit`]) if the payment has not come
//! by then. go-fil-markets' provider pauses at the boundary itself: its clients, which pay for
//! what they received when asked (or for the interval, in older versions), work with both.

use market_types::TokenAmount;
use market_types::states::RetrievalDealStatus as S;

use super::payment::Terms;

/// The deal as the provider's machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDeal {
    pub status: S,
    pub message: String,
    pub terms: Terms,
    /// Bytes sent so far (as go-data-transfer counts them: block data).
    pub total_sent: u64,
    /// Cumulative value of the vouchers accepted.
    pub funds_received: TokenAmount,
    /// The next payment boundary: the client is asked to pay once this many bytes are sent
    /// (0: never, the data is free).
    pub current_interval: u64,
}

impl ProviderDeal {
    /// A deal just accepted on `terms` (checked with [`Terms::check`]).
    pub fn new(terms: Terms) -> Self {
        let current_interval = terms.next_interval(&TokenAmount::default());
        ProviderDeal {
            status: S::New,
            message: String::new(),
            terms,
            total_sent: 0,
            funds_received: TokenAmount::default(),
            current_interval,
        }
    }

    /// The data limit: the transfer pauses once this many bytes are sent unless paid for past
    /// [`Self::current_interval`] by then (0: no limit).
    pub fn pause_limit(&self) -> u64 {
        match self.current_interval {
            0 => 0,
            b => b.saturating_add(self.terms.credit()),
        }
    }

    /// What the client owes now.
    pub fn owed(&self) -> TokenAmount {
        let finalizing = self.status == S::FundsNeededLastPayment;
        self.terms
            .outstanding(&self.funds_received, self.total_sent, finalizing)
    }

    pub fn is_terminal(&self) -> bool {
        is_terminal(self.status)
    }
}

/// Whether a provider deal in `status` is over.
pub fn is_terminal(status: S) -> bool {
    matches!(
        status,
        S::Completed | S::Errored | S::Cancelled | S::Rejected | S::DealNotFound
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Blocks went out; `total` bytes sent in all.
    Sent {
        total: u64,
    },
    /// A payment boundary was passed with `total` bytes sent; the transfer goes on.
    PaymentDue {
        total: u64,
    },
    /// The data limit was reached with `total` bytes sent; the transfer is paused.
    LimitReached {
        total: u64,
    },
    /// A voucher was accepted, worth `delta` over the lane's best before.
    PaymentReceived {
        delta: TokenAmount,
    },
    /// A voucher was refused.
    PaymentRefused(String),
    /// Every block the selector names was sent (`total` bytes).
    AllSent {
        total: u64,
    },
    ClientCancelled,
    /// The operator cancelled the transfer.
    ProviderCancelled,
    /// The transfer failed (storage, a refused request).
    Failed(String),
    /// The connection was cut or droplet stopped during the transfer: the deal waits, as it
    /// was, for the client to restart the transfer.
    Interrupted(String),
    /// The client restarted the transfer: it is sent again from the first block the client
    /// lacks, so the bytes sent are counted again from there (the restarted channel counts
    /// the blocks the client holds); what was paid stays.
    Restarted,
    /// The piece has no unsealed copy in piece storage: the sealer was asked to unseal it.
    UnsealStarted,
    /// The piece is in piece storage (it was, or the sealer unsealed it): the data can flow.
    Prepared,
}

impl Event {
    /// Whether the deal must be on disk (synced) before the actions follow: every event but
    /// the bytes-sent count and a payment asked for while the data flows, which change
    /// nothing a restart keeps (the restarted channel counts the bytes sent again).
    pub fn durable(&self) -> bool {
        !matches!(self, Event::Sent { .. } | Event::PaymentDue { .. })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Event::Sent { .. } => "Sent",
            Event::PaymentDue { .. } => "PaymentDue",
            Event::LimitReached { .. } => "LimitReached",
            Event::PaymentReceived { .. } => "PaymentReceived",
            Event::PaymentRefused(_) => "PaymentRefused",
            Event::AllSent { .. } => "AllSent",
            Event::ClientCancelled => "ClientCancelled",
            Event::ProviderCancelled => "ProviderCancelled",
            Event::Failed(_) => "Failed",
            Event::Interrupted(_) => "Interrupted",
            Event::Restarted => "Restarted",
            Event::UnsealStarted => "UnsealStarted",
            Event::Prepared => "Prepared",
        }
    }
}

/// What the daemon does after persisting the deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Tell the client what it owes (`FundsNeeded` or `FundsNeededLastPayment`).
    RequestPayment { owed: TokenAmount, last: bool },
    /// Resume sending up to the new limit (0: no limit).
    Resume { data_limit: u64 },
    /// Tell the client the deal is complete.
    Complete,
    /// Stop the transfer with this message.
    Stop { message: String },
}

/// An event that does not fit the deal's state; the deal is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event} does not apply to a retrieval deal in state {}", from.name())]
pub struct InvalidTransition {
    pub from: S,
    pub event: &'static str,
}

/// Apply `event` to `deal`: the actions to perform, or the deal unchanged and why.
pub fn apply(deal: &mut ProviderDeal, event: Event) -> Result<Vec<Action>, InvalidTransition> {
    let invalid = InvalidTransition {
        from: deal.status,
        event: event.name(),
    };
    if deal.is_terminal() {
        return Err(invalid);
    }
    let sending = matches!(deal.status, S::New | S::Unsealed | S::Ongoing);
    let mut actions = Vec::new();
    match event {
        Event::Sent { total } if sending || deal.status == S::FundsNeeded => {
            deal.total_sent = deal.total_sent.max(total);
            if deal.status != S::FundsNeeded {
                deal.status = S::Ongoing;
            }
        }
        Event::PaymentDue { total } if sending || deal.status == S::FundsNeeded => {
            deal.total_sent = deal.total_sent.max(total);
            if sending {
                deal.status = S::Ongoing;
            }
            let owed = deal.terms.outstanding(&deal.funds_received, deal.total_sent, false);
            if !owed.is_zero() {
                actions.push(Action::RequestPayment { owed, last: false });
            }
        }
        Event::LimitReached { total } if sending || deal.status == S::FundsNeeded => {
            deal.total_sent = deal.total_sent.max(total);
            let owed = deal.terms.outstanding(&deal.funds_received, deal.total_sent, false);
            let paid_up = owed.is_zero();
            if !paid_up {
                actions.push(Action::RequestPayment { owed, last: false });
            }
            if paid_up || deal.total_sent < deal.pause_limit() {
                // A limit set before the last payment came: go on to the one it moved to.
                deal.status = S::Ongoing;
                actions.push(Action::Resume {
                    data_limit: deal.pause_limit(),
                });
            } else {
                deal.status = S::FundsNeeded;
            }
        }
        // The unseal price may be paid while the piece is being unsealed.
        Event::PaymentReceived { delta } if deal.status == S::Unsealing => {
            deal.funds_received += delta;
            deal.current_interval = deal.terms.next_interval(&deal.funds_received);
        }
        Event::PaymentReceived { delta } if sending || deal.status == S::FundsNeeded => {
            deal.funds_received += delta;
            deal.current_interval = deal.terms.next_interval(&deal.funds_received);
            // Still owed: asked for again, the data flowing meanwhile if within the credit.
            let owed = deal.terms.outstanding(&deal.funds_received, deal.total_sent, false);
            if !owed.is_zero() {
                actions.push(Action::RequestPayment { owed, last: false });
            }
            let paused = deal.status == S::FundsNeeded;
            if !paused || deal.total_sent < deal.pause_limit() {
                deal.status = if deal.status == S::New { S::New } else { S::Ongoing };
            }
            if paused && deal.status == S::Ongoing {
                actions.push(Action::Resume {
                    data_limit: deal.pause_limit(),
                });
            }
        }
        Event::PaymentReceived { delta } if deal.status == S::FundsNeededLastPayment => {
            deal.funds_received += delta;
            let owed = deal.terms.outstanding(&deal.funds_received, deal.total_sent, true);
            if owed.is_zero() {
                deal.status = S::Completed;
                actions.push(Action::Complete);
            } else {
                actions.push(Action::RequestPayment { owed, last: true });
            }
        }
        Event::AllSent { total } if sending || deal.status == S::FundsNeeded => {
            deal.total_sent = deal.total_sent.max(total);
            let owed = deal.terms.outstanding(&deal.funds_received, deal.total_sent, true);
            if owed.is_zero() {
                deal.status = S::Completed;
                actions.push(Action::Complete);
            } else {
                deal.status = S::FundsNeededLastPayment;
                actions.push(Action::RequestPayment { owed, last: true });
            }
        }
        Event::PaymentRefused(message) => {
            deal.status = S::Cancelled;
            deal.message = format!("payment refused: {message}");
            actions.push(Action::Stop {
                message: deal.message.clone(),
            });
        }
        Event::ClientCancelled => {
            deal.status = S::Cancelled;
            deal.message = "Client cancelled retrieval".into();
        }
        Event::ProviderCancelled => {
            deal.status = S::Cancelled;
            deal.message = "cancelled by the provider".into();
        }
        Event::Failed(message) => {
            deal.status = S::Errored;
            deal.message = message;
        }
        Event::Interrupted(message) => {
            deal.message = format!("{message}; waiting for the client to restart the transfer");
        }
        Event::Restarted => {
            deal.message.clear();
            deal.total_sent = 0;
            // Not prepared yet: it still is not (the restart prepares the piece again).
            if !matches!(deal.status, S::New | S::Unsealing) {
                deal.status = S::Ongoing;
            }
            deal.current_interval = deal.terms.next_interval(&deal.funds_received);
        }
        Event::UnsealStarted if deal.status == S::New => {
            deal.status = S::Unsealing;
        }
        Event::Prepared if matches!(deal.status, S::New | S::Unsealing) => {
            deal.status = S::Unsealed;
        }
        _ => return Err(invalid),
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The credit of [`priced`]'s deals (its interval is 100 bytes).
    const C: u64 = 100 * crate::retrieval::payment::CREDIT_INTERVALS;

    fn atto(n: u64) -> TokenAmount {
        TokenAmount::from_atto(n)
    }

    fn priced() -> ProviderDeal {
        ProviderDeal::new(Terms {
            price_per_byte: atto(2),
            unseal_price: atto(0),
            payment_interval: 100,
            payment_interval_increase: 0,
        })
    }

    #[test]
    fn a_sealed_piece_is_unsealed_before_anything_is_sent() {
        let mut d = ProviderDeal::new(Terms {
            price_per_byte: atto(2),
            unseal_price: atto(50),
            payment_interval: 100,
            payment_interval_increase: 0,
        });
        assert_eq!(apply(&mut d, Event::UnsealStarted), Ok(vec![]));
        assert_eq!(d.status, S::Unsealing);
        // The unseal price paid while unsealing counts, and moves the limit on.
        assert_eq!(d.owed(), atto(50));
        assert_eq!(apply(&mut d, Event::PaymentReceived { delta: atto(50) }), Ok(vec![]));
        assert_eq!(d.status, S::Unsealing);
        assert!(d.owed().is_zero());
        assert_eq!(d.current_interval, 100);
        // A restart while unsealing leaves it unsealing; a second start is refused.
        assert_eq!(apply(&mut d, Event::Restarted), Ok(vec![]));
        assert_eq!(d.status, S::Unsealing);
        assert!(apply(&mut d, Event::UnsealStarted).is_err());
        assert_eq!(apply(&mut d, Event::Prepared), Ok(vec![]));
        assert_eq!(d.status, S::Unsealed);
        assert!(apply(&mut d, Event::Prepared).is_err(), "prepared once");
        assert_eq!(apply(&mut d, Event::Sent { total: 60 }), Ok(vec![]));
        assert_eq!(d.status, S::Ongoing);
        // A piece that was in storage goes straight from New.
        let mut e = priced();
        assert_eq!(apply(&mut e, Event::Prepared), Ok(vec![]));
        assert_eq!(e.status, S::Unsealed);
        // Unsealing can fail.
        let mut f = priced();
        apply(&mut f, Event::UnsealStarted).expect("starts");
        apply(&mut f, Event::Failed("unsealing failed".into())).expect("fails");
        assert_eq!(f.status, S::Errored);
    }

    #[test]
    fn a_free_deal_completes_when_all_is_sent() {
        let mut d = ProviderDeal::new(Terms::default());
        assert_eq!(d.current_interval, 0);
        assert_eq!(apply(&mut d, Event::Sent { total: 10 }), Ok(vec![]));
        assert_eq!(d.status, S::Ongoing);
        assert_eq!(apply(&mut d, Event::AllSent { total: 20 }), Ok(vec![Action::Complete]));
        assert_eq!(d.status, S::Completed);
        assert!(apply(&mut d, Event::Sent { total: 30 }).is_err());
    }

    #[test]
    fn three_intervals_and_a_last_payment() {
        let mut d = priced();
        // Asked at 100 bytes, paused C (the credit) further if still unpaid.
        assert_eq!((d.current_interval, d.pause_limit()), (100, 100 + C));
        apply(&mut d, Event::Sent { total: 60 }).expect("applies");
        let a = apply(&mut d, Event::PaymentDue { total: 120 }).expect("applies");
        assert_eq!(
            a,
            vec![Action::RequestPayment {
                owed: atto(200),
                last: false
            }]
        );
        assert_eq!(d.status, S::Ongoing, "asked, still sending");
        let a = apply(&mut d, Event::LimitReached { total: 100 + C }).expect("applies");
        assert_eq!(
            a,
            vec![Action::RequestPayment {
                owed: atto(2 * (100 + C)),
                last: false
            }]
        );
        assert_eq!(d.status, S::FundsNeeded);
        // A short voucher: still owed, still paused (the credit is used up).
        let a = apply(&mut d, Event::PaymentReceived { delta: atto(150) }).expect("applies");
        assert_eq!(
            a,
            vec![Action::RequestPayment {
                owed: atto(2 * (100 + C) - 150),
                last: false
            }]
        );
        assert_eq!(d.status, S::FundsNeeded);
        // The rest, and a little more: resume, asking at the next boundary above what is paid
        // (200 + C) and pausing C further if still unpaid then.
        let a = apply(
            &mut d,
            Event::PaymentReceived {
                delta: atto(2 * C + 150),
            },
        )
        .expect("applies");
        assert_eq!(
            a,
            vec![Action::Resume {
                data_limit: 200 + 2 * C
            }]
        );
        assert_eq!((d.status, d.current_interval), (S::Ongoing, 200 + C));
        let a = apply(&mut d, Event::AllSent { total: 200 + C }).expect("applies");
        assert_eq!(
            a,
            vec![Action::RequestPayment {
                owed: atto(100),
                last: true
            }]
        );
        assert_eq!(d.status, S::FundsNeededLastPayment);
        assert_eq!(d.owed(), atto(100));
        let a = apply(&mut d, Event::PaymentReceived { delta: atto(100) }).expect("applies");
        assert_eq!(a, vec![Action::Complete]);
        assert_eq!(d.status, S::Completed);
        assert_eq!(d.funds_received, atto(2 * (200 + C)));
    }

    #[test]
    fn a_payment_on_its_way_overlaps_the_transfer() {
        let mut d = priced();
        apply(&mut d, Event::PaymentDue { total: 100 }).expect("applies");
        // The client paid for the 180 bytes it had when asked; more went out meanwhile.
        apply(&mut d, Event::Sent { total: 260 }).expect("applies");
        let a = apply(&mut d, Event::PaymentReceived { delta: atto(360) }).expect("applies");
        // 200 was passed already: asked for at once, nothing paused.
        assert_eq!(
            a,
            vec![Action::RequestPayment {
                owed: atto(40),
                last: false
            }]
        );
        assert_eq!(
            (d.status, d.current_interval, d.pause_limit()),
            (S::Ongoing, 200, 200 + C)
        );
        // Paused at the limit, then paid for less than it: resumes within the new credit and
        // asks for the rest.
        apply(&mut d, Event::LimitReached { total: 200 + C }).expect("applies");
        assert_eq!(d.status, S::FundsNeeded);
        let a = apply(&mut d, Event::PaymentReceived { delta: atto(640) }).expect("applies");
        assert_eq!(
            a,
            vec![
                Action::RequestPayment {
                    owed: atto(2 * C - 600),
                    last: false
                },
                Action::Resume { data_limit: 600 + C }
            ]
        );
        assert_eq!((d.status, d.current_interval), (S::Ongoing, 600));
        // A payment due with nothing owed (paid ahead) asks for nothing.
        let mut e = priced();
        apply(&mut e, Event::PaymentReceived { delta: atto(400) }).expect("applies");
        assert_eq!(apply(&mut e, Event::PaymentDue { total: 150 }), Ok(vec![]));
        // Free deals have no boundary.
        let free = ProviderDeal::new(Terms::default());
        assert_eq!((free.current_interval, free.pause_limit()), (0, 0));
    }

    #[test]
    fn a_refused_payment_stops_the_deal() {
        let mut d = priced();
        apply(&mut d, Event::LimitReached { total: 100 + C }).expect("applies");
        let a = apply(&mut d, Event::PaymentRefused("bad signature".into())).expect("applies");
        assert_eq!(d.status, S::Cancelled);
        assert!(matches!(&a[..], [Action::Stop { message }] if message.contains("bad signature")));
    }

    #[test]
    fn payment_ahead_of_the_limit_moves_it_on_without_pausing() {
        let mut d = priced();
        apply(&mut d, Event::Sent { total: 50 }).expect("applies");
        assert_eq!(apply(&mut d, Event::PaymentReceived { delta: atto(200) }), Ok(vec![]));
        assert_eq!(d.current_interval, 200);
        assert_eq!(
            apply(&mut d, Event::LimitReached { total: 100 }),
            Ok(vec![Action::Resume { data_limit: 200 + C }])
        );
        assert_eq!(d.status, S::Ongoing);
    }

    #[test]
    fn an_interrupted_deal_waits_and_a_restart_counts_again_from_what_was_paid() {
        let mut d = priced();
        apply(&mut d, Event::LimitReached { total: 120 + C }).expect("applies");
        apply(
            &mut d,
            Event::PaymentReceived {
                delta: atto(2 * (120 + C)),
            },
        )
        .expect("applies");
        assert_eq!(
            (d.status, d.current_interval, d.pause_limit()),
            (S::Ongoing, 200 + C, 200 + 2 * C)
        );
        apply(&mut d, Event::LimitReached { total: 210 + 2 * C }).expect("applies");
        assert_eq!(d.status, S::FundsNeeded);
        apply(&mut d, Event::Interrupted("peer hung up".into())).expect("applies");
        assert_eq!(d.status, S::FundsNeeded, "not over");
        assert!(d.message.contains("peer hung up"), "{}", d.message);
        assert_eq!(apply(&mut d, Event::Restarted), Ok(vec![]));
        // Nothing counted as sent until the restarted channel counts it; the boundary is the
        // next one above what was paid.
        assert_eq!((d.status, d.total_sent, d.current_interval), (S::Ongoing, 0, 200 + C));
        assert!(d.message.is_empty());
        let a = apply(&mut d, Event::LimitReached { total: 210 + 2 * C }).expect("applies");
        assert_eq!(
            a,
            vec![Action::RequestPayment {
                owed: atto(160 + 2 * C),
                last: false
            }]
        );
        assert_eq!(d.status, S::FundsNeeded);
        // A cut at the last payment: the restart sends nothing new, completion asks again.
        let mut d = priced();
        apply(&mut d, Event::LimitReached { total: 100 + C }).expect("applies");
        apply(
            &mut d,
            Event::PaymentReceived {
                delta: atto(2 * (100 + C)),
            },
        )
        .expect("applies");
        apply(&mut d, Event::AllSent { total: 150 + C }).expect("applies");
        assert_eq!(d.status, S::FundsNeededLastPayment);
        apply(&mut d, Event::Restarted).expect("applies");
        let a = apply(&mut d, Event::AllSent { total: 150 + C }).expect("applies");
        assert_eq!(
            a,
            vec![Action::RequestPayment {
                owed: atto(100),
                last: true
            }]
        );
        // Over is over.
        let mut d = priced();
        apply(&mut d, Event::ClientCancelled).expect("applies");
        assert!(apply(&mut d, Event::Restarted).is_err());
    }

    #[test]
    fn a_limit_set_before_a_payment_came_does_not_pause() {
        let mut d = priced();
        apply(&mut d, Event::PaymentDue { total: 150 }).expect("applies");
        // Paid for 50 + C bytes while the transfer ran on to the old limit (100 + C): it goes on
        // to the new one (100 + 2C), asking for what passed the boundary after the payment.
        apply(
            &mut d,
            Event::PaymentReceived {
                delta: atto(2 * (50 + C)),
            },
        )
        .expect("applies");
        let a = apply(&mut d, Event::LimitReached { total: 105 + C }).expect("applies");
        assert_eq!(
            a,
            vec![
                Action::RequestPayment {
                    owed: atto(100),
                    last: false
                },
                Action::Resume {
                    data_limit: 100 + 2 * C
                }
            ]
        );
        assert_eq!(d.status, S::Ongoing);
        // Asked again while paused (a limit reached twice): still paused, asked again.
        apply(&mut d, Event::LimitReached { total: 100 + 2 * C }).expect("applies");
        let a = apply(&mut d, Event::LimitReached { total: 105 + 2 * C }).expect("applies");
        assert_eq!(
            a,
            vec![Action::RequestPayment {
                owed: atto(100 + 2 * C),
                last: false
            }]
        );
        assert_eq!(d.status, S::FundsNeeded);
    }

    #[test]
    fn failure_and_cancel_end_the_deal_with_a_message() {
        let mut d = priced();
        apply(&mut d, Event::Failed("piece store unreachable".into())).expect("applies");
        assert_eq!((d.status, d.message.as_str()), (S::Errored, "piece store unreachable"));
        let mut d = priced();
        apply(&mut d, Event::ClientCancelled).expect("applies");
        assert_eq!(d.status, S::Cancelled);
        let mut by_provider = priced();
        apply(&mut by_provider, Event::ProviderCancelled).expect("applies");
        assert_eq!(
            (by_provider.status, by_provider.message.as_str()),
            (S::Cancelled, "cancelled by the provider")
        );
        let err = apply(&mut d, Event::AllSent { total: 1 }).expect_err("refused");
        assert_eq!(err.from, S::Cancelled);
    }
}
