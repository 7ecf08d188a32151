//! Client deals in the daemon's RocksDB: by deal UUID, with an index by proposal CID.

use std::sync::Arc;

use market_daemon::store::{Store, StoreError, Table};
use market_types::{Cid, Uuid};

use super::record::ClientDealRecord;

const DEALS: Table = Table("client-deals/");
const BY_PROPOSAL: Table = Table("client-deal-by-proposal/");

#[derive(Debug, Clone)]
pub struct ClientDealStore {
    store: Arc<Store>,
}

impl ClientDealStore {
    pub fn new(store: Arc<Store>) -> Self {
        ClientDealStore { store }
    }

    pub fn put(&self, d: &ClientDealRecord) -> Result<(), StoreError> {
        self.store.put_json(DEALS, &d.uuid.0.to_string(), d)?;
        self.store
            .put_json(BY_PROPOSAL, &d.proposal_cid.0.to_string(), &d.uuid.0.to_string())
    }

    pub fn get(&self, uuid: &Uuid) -> Result<Option<ClientDealRecord>, StoreError> {
        self.store.get_json(DEALS, &uuid.to_string())
    }

    pub fn by_proposal_cid(&self, cid: &Cid) -> Result<Option<ClientDealRecord>, StoreError> {
        let Some(uuid) = self.store.get_json::<String>(BY_PROPOSAL, &cid.to_string())? else {
            return Ok(None);
        };
        match uuid.parse::<Uuid>() {
            Ok(u) => self.get(&u),
            Err(_) => Ok(None),
        }
    }

    /// Every deal, oldest first.
    pub fn list(&self) -> Result<Vec<ClientDealRecord>, StoreError> {
        let mut all: Vec<ClientDealRecord> = self.store.list_json(DEALS)?;
        all.sort_by_key(|d| (d.created_at, d.proposal_cid.0.to_string()));
        Ok(all)
    }
}
