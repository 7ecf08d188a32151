//! What both deal machines answer when an event does not fit the deal's state.

use market_types::states::StorageDealStatus;

/// An event that does not fit the deal's state; the deal is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTransition {
    pub from: StorageDealStatus,
    pub event: String,
}

impl InvalidTransition {
    /// For event `e` (named by its variant) arriving in state `from`.
    pub fn new(from: StorageDealStatus, e: &impl std::fmt::Debug) -> Self {
        let dbg = format!("{e:?}");
        let event = dbg.split(['(', ' ', '{']).next().unwrap_or("").to_string();
        InvalidTransition { from, event }
    }
}

impl std::fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "event {} does not apply to a deal in state {}",
            self.event,
            self.from.name()
        )
    }
}

impl std::error::Error for InvalidTransition {}
