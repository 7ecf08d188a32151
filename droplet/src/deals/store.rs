//! Provider deals in the store, by deal UUID.

use std::sync::Arc;

use cid::Cid;
use market_types::Uuid;

use super::record::DealRecord;
use crate::store::{Store, StoreError, Table};

const DEALS: Table = Table("deal/");
/// Proposal CID → deal UUID.
const BY_PROPOSAL: Table = Table("deal-by-proposal/");

#[derive(Debug, Clone)]
pub struct DealStore {
    store: Arc<Store>,
}

impl DealStore {
    pub fn new(store: Arc<Store>) -> Self {
        DealStore { store }
    }

    /// Write a deal (before acting on its new state).
    pub fn put(&self, d: &DealRecord) -> Result<(), StoreError> {
        let uuid = d.uuid.0.to_string();
        self.store.put_json(BY_PROPOSAL, &d.proposal_cid.0.to_string(), &uuid)?;
        self.store.put_json(DEALS, &uuid, d)
    }

    pub fn get(&self, uuid: &Uuid) -> Result<Option<DealRecord>, StoreError> {
        self.store.get_json(DEALS, &uuid.to_string())
    }

    pub fn list(&self) -> Result<Vec<DealRecord>, StoreError> {
        self.store.list_json(DEALS)
    }

    /// A deal by its proposal CID.
    pub fn by_proposal_cid(&self, cid: &Cid) -> Result<Option<DealRecord>, StoreError> {
        let Some(uuid) = self.store.get_json::<String>(BY_PROPOSAL, &cid.to_string())? else {
            return Ok(None);
        };
        match uuid.parse::<Uuid>() {
            Ok(u) => self.get(&u),
            Err(_) => Ok(None),
        }
    }

    /// A deal by proposal CID or UUID, as the CLI takes either.
    pub fn find(&self, id: &str) -> Result<Option<DealRecord>, StoreError> {
        if let Ok(uuid) = id.parse::<Uuid>() {
            return self.get(&uuid);
        }
        match id.parse::<Cid>() {
            Ok(c) => self.by_proposal_cid(&c),
            Err(_) => Ok(None),
        }
    }
}
