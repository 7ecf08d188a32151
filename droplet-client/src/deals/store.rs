//! Client deals in the daemon's RocksDB: by deal UUID, with an index by proposal CID.

use std::sync::Arc;

use market_daemon::store::{Batch, Store, StoreError, Table};
use market_types::{Address, BigInt, Cid, TokenAmount, Uuid};

use super::record::ClientDealRecord;

const DEALS: Table = Table("client-deals/");
const BY_PROPOSAL: Table = Table("client-deal-by-proposal/");
/// Escrow reserved by hand (`MarketReserveFunds`), attoFIL by address.
const MANUAL_RESERVED: Table = Table("client-reserved/");

#[derive(Debug, Clone)]
pub struct ClientDealStore {
    store: Arc<Store>,
}

impl ClientDealStore {
    /// Escrow of `addr` reserved by hand; zero removes the entry.
    pub fn put_manual_reservation(&self, addr: &Address, amount: &TokenAmount) -> Result<(), StoreError> {
        if amount.is_zero() {
            return self.store.delete(MANUAL_RESERVED, &addr.to_string());
        }
        self.store.put_json(
            MANUAL_RESERVED,
            &addr.to_string(),
            &(addr.to_string(), amount.atto().to_string()),
        )
    }

    pub fn manual_reservations(&self) -> Result<Vec<(Address, TokenAmount)>, StoreError> {
        let raw: Vec<(String, String)> = self.store.list_json(MANUAL_RESERVED)?;
        Ok(raw
            .into_iter()
            .filter_map(|(a, v)| {
                Some((
                    market_types::address::parse(&a).ok()?,
                    TokenAmount::from_atto(v.parse::<BigInt>().ok()?),
                ))
            })
            .collect())
    }

    pub fn new(store: Arc<Store>) -> Self {
        ClientDealStore { store }
    }

    /// Store a deal and its proposal-CID index in one write, in the current record version.
    pub fn put(&self, d: &ClientDealRecord) -> Result<(), StoreError> {
        let mut d = d.clone();
        d.version = super::record::RECORD_VERSION;
        let mut b = Batch::default();
        b.put_json(DEALS, &d.uuid.0.to_string(), &d);
        b.put_json(BY_PROPOSAL, &d.proposal_cid.0.to_string(), &d.uuid.0.to_string());
        self.store.write(b, true)
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

    /// Every deal, oldest first. A record that cannot be read is reported and left out.
    pub fn list(&self) -> Result<Vec<ClientDealRecord>, StoreError> {
        let mut all: Vec<ClientDealRecord> = Vec::new();
        for (key, raw) in self.store.scan_raw(DEALS, "")? {
            match serde_json::from_slice(&raw) {
                Ok(d) => all.push(d),
                Err(e) => {
                    tracing::error!(key = %format!("client-deals/{key}"), error = %e, "a stored deal cannot be read")
                }
            }
        }
        all.sort_by_key(|d| (d.created_at, d.proposal_cid.0.to_string()));
        Ok(all)
    }
}
