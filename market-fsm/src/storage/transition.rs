//! What both deal machines answer when an event does not fit the deal's state.

use market_types::states::StorageDealStatus;

/// An event that does not fit the deal's state; the deal is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTransition {
    pub from: StorageDealStatus,
    pub event: &'static str,
}

impl InvalidTransition {
    /// For the event named `event` arriving in state `from`.
    pub fn new(from: StorageDealStatus, event: &'static str) -> Self {
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
