//! What a retrieval client owes and when the provider pauses for it (go-fil-markets
//! `retrievalmarket/types.go`, `Params`).
//!
//! Payment intervals grow: the provider may send up to B1 = `interval` bytes before the first
//! payment, then up to B2 = B1 + `interval` + `increase`, B3 = B2 + `interval` + 2·`increase`,
//! and so on. Payments are cumulative: the unseal price first, then `price_per_byte` for every
//! byte up to the boundary reached.

use market_types::TokenAmount;
use market_types::bigint::BigInt;

/// How far past a payment boundary a provider goes on sending while the payment it asked for
/// there is on its way: the payment interval [`CREDIT_INTERVALS`] times over, at most
/// [`CREDIT_MAX`] bytes. go-fil-markets' provider stops at the boundary itself, so every
/// interval costs a whole payment round trip with nothing moving (a thousand of them for 1 GiB
/// paid by the MiB); with credit the payment overlaps the transfer. The client still pays only
/// for data it has received; the provider risks the credit's worth more than one interval.
///
/// The credit must cover what is in flight between the two (a block counts as sent once
/// graphsync queues it: its send queue holds up to 16 MiB per peer, the socket buffers a few
/// more, and the payment request waits behind them) plus what is sent during one payment (a
/// voucher signed and stored, sent, checked and stored): about 25 MiB at 300 MB/s on loopback.
/// With four intervals of 1 MiB the provider paused at nearly every payment and a paid 1 GiB
/// retrieval ran at 190 MB/s against 300 MB/s free; with sixteen it still paused at most
/// payments (BENCHMARKS.md).
pub const CREDIT_INTERVALS: u64 = 32;
/// The most credit, in bytes, whatever the interval (64 ms of data at 1 GB/s).
pub const CREDIT_MAX: u64 = 64 << 20;

/// The price terms of one retrieval deal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Terms {
    pub price_per_byte: TokenAmount,
    pub unseal_price: TokenAmount,
    pub payment_interval: u64,
    pub payment_interval_increase: u64,
}

/// Why terms cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermsError {
    #[error("a priced retrieval needs a payment interval above 0 bytes")]
    ZeroInterval,
    #[error("negative prices are not allowed")]
    Negative,
}

impl Terms {
    pub fn is_free(&self) -> bool {
        self.price_per_byte.is_zero() && self.unseal_price.is_zero()
    }

    /// Terms every computation below can use: Go loops for ever on a priced deal with a zero
    /// interval, so such terms are refused here.
    pub fn check(&self) -> Result<(), TermsError> {
        if self.price_per_byte.is_negative() || self.unseal_price.is_negative() {
            return Err(TermsError::Negative);
        }
        if !self.price_per_byte.is_zero() && self.payment_interval == 0 {
            return Err(TermsError::ZeroInterval);
        }
        Ok(())
    }

    /// Interval boundaries B1, B2, … in order (saturating at `u64::MAX`).
    fn boundaries(&self) -> impl Iterator<Item = u64> + '_ {
        let mut size = self.payment_interval.max(1);
        let mut at = 0u64;
        std::iter::from_fn(move || {
            at = at.saturating_add(size);
            size = size.saturating_add(self.payment_interval_increase);
            Some(at)
        })
    }

    /// The bytes a provider sends past a boundary before it stops for the payment asked for
    /// there (see [`CREDIT_INTERVALS`]).
    pub fn credit(&self) -> u64 {
        self.payment_interval.saturating_mul(CREDIT_INTERVALS).min(CREDIT_MAX)
    }

    /// The largest boundary at or below `sent` (0 before the first).
    pub fn interval_lower_bound(&self, sent: u64) -> u64 {
        let mut lower = 0;
        for b in self.boundaries() {
            if b > sent || b == u64::MAX {
                break;
            }
            lower = b;
        }
        lower
    }

    /// The data limit once `funds` have been paid: the first boundary above the bytes they pay
    /// for (0, no limit, when the data is free).
    pub fn next_interval(&self, funds: &TokenAmount) -> u64 {
        if self.price_per_byte.is_zero() {
            return 0;
        }
        let paid = funds.atto() - self.unseal_price.atto();
        let bytes = if paid > BigInt::from(0) {
            let b = paid / self.price_per_byte.atto();
            u64::try_from(b).unwrap_or(u64::MAX)
        } else {
            0
        };
        self.boundaries()
            .find(|&b| b > bytes || b == u64::MAX)
            .unwrap_or(u64::MAX)
    }

    /// What is still owed after `funds` for `sent` bytes: the unseal price first; then, while
    /// sending, the bytes up to the last boundary crossed, and when finalizing every byte.
    pub fn outstanding(&self, funds: &TokenAmount, sent: u64, finalizing: bool) -> TokenAmount {
        if funds < &self.unseal_price {
            return &self.unseal_price - funds;
        }
        if self.price_per_byte.is_zero() {
            return TokenAmount::default();
        }
        let for_data = funds - &self.unseal_price;
        let bytes = if finalizing {
            sent
        } else {
            self.interval_lower_bound(sent)
        };
        let required = &self.price_per_byte * bytes;
        if required > for_data {
            required - for_data
        } else {
            TokenAmount::default()
        }
    }

    /// The cumulative amount a client pays after receiving `received` bytes: unseal price plus
    /// every byte received.
    pub fn cumulative(&self, received: u64) -> TokenAmount {
        &self.unseal_price + &self.price_per_byte * received
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(ppb: u64, unseal: u64, interval: u64, increase: u64) -> Terms {
        Terms {
            price_per_byte: TokenAmount::from_atto(ppb),
            unseal_price: TokenAmount::from_atto(unseal),
            payment_interval: interval,
            payment_interval_increase: increase,
        }
    }

    #[test]
    fn boundaries_grow_by_the_increase() {
        let t = terms(2, 0, 100, 10);
        // B1 = 100, B2 = 210, B3 = 330.
        assert_eq!(t.next_interval(&TokenAmount::from_atto(0)), 100);
        assert_eq!(t.next_interval(&TokenAmount::from_atto(199)), 100);
        assert_eq!(t.next_interval(&TokenAmount::from_atto(200)), 210);
        assert_eq!(t.next_interval(&TokenAmount::from_atto(420)), 330);
        assert_eq!(t.interval_lower_bound(99), 0);
        assert_eq!(t.interval_lower_bound(100), 100);
        assert_eq!(t.interval_lower_bound(329), 210);
    }

    #[test]
    fn unseal_price_comes_first() {
        let t = terms(1, 50, 100, 0);
        assert_eq!(
            t.outstanding(&TokenAmount::from_atto(20), 0, false),
            TokenAmount::from_atto(30)
        );
        assert_eq!(t.next_interval(&TokenAmount::from_atto(50)), 100);
        assert_eq!(t.next_interval(&TokenAmount::from_atto(150)), 200);
        // 130 bytes sent, 50 paid (unseal only): the first interval is owed while sending, all
        // 130 bytes when finalizing.
        assert_eq!(
            t.outstanding(&TokenAmount::from_atto(50), 130, false),
            TokenAmount::from_atto(100)
        );
        assert_eq!(
            t.outstanding(&TokenAmount::from_atto(50), 130, true),
            TokenAmount::from_atto(130)
        );
        assert_eq!(
            t.outstanding(&TokenAmount::from_atto(180), 130, true),
            TokenAmount::default()
        );
        assert_eq!(t.cumulative(130), TokenAmount::from_atto(180));
    }

    #[test]
    fn free_deals_have_no_limit_and_owe_nothing() {
        let t = terms(0, 0, 0, 0);
        assert!(t.is_free());
        assert_eq!(t.check(), Ok(()));
        assert_eq!(t.next_interval(&TokenAmount::default()), 0);
        assert_eq!(
            t.outstanding(&TokenAmount::default(), 1 << 30, true),
            TokenAmount::default()
        );
    }

    #[test]
    fn a_priced_deal_with_no_interval_is_refused_not_looped_on() {
        let t = terms(1, 0, 0, 0);
        assert_eq!(t.check(), Err(TermsError::ZeroInterval));
        // Still terminates if asked.
        assert_eq!(t.next_interval(&TokenAmount::from_atto(5)), 6);
    }

    #[test]
    fn huge_payments_saturate() {
        let t = terms(1, 0, u64::MAX / 2, u64::MAX / 2);
        let rich = TokenAmount::from_atto(BigInt::from(u64::MAX) * 4);
        assert_eq!(t.next_interval(&rich), u64::MAX);
        assert_eq!(t.interval_lower_bound(u64::MAX), u64::MAX / 2);
    }
}
