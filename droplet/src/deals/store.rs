//! Provider deals in the store, by deal UUID.

use std::sync::Arc;

use cid::Cid;
use market_types::Uuid;

use super::record::DealRecord;
use crate::store::{Store, StoreError, Table};

const DEALS: Table = Table("deal/");

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
        self.store.put_json(DEALS, &d.uuid.0.to_string(), d)
    }

    pub fn get(&self, uuid: &Uuid) -> Result<Option<DealRecord>, StoreError> {
        self.store.get_json(DEALS, &uuid.to_string())
    }

    pub fn list(&self) -> Result<Vec<DealRecord>, StoreError> {
        self.store.list_json(DEALS)
    }

    /// A deal by its proposal CID.
    pub fn by_proposal_cid(&self, cid: &Cid) -> Result<Option<DealRecord>, StoreError> {
        Ok(self.list()?.into_iter().find(|d| &d.proposal_cid.0 == cid))
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
