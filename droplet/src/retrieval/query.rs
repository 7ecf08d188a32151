//! `/fil/retrieval/qry/1.0.0`: a payload CID (and optionally the piece) → whether and on what
//! terms it can be retrieved. Unlike droplet, `Available` means an unsealed copy is in piece
//! storage now; a payload held only sealed is `Unavailable`, saying so.

use market_types::Address;
use market_types::cbor;
use market_types::retrieval::{Query, QueryResponse, query_item_status, query_status};

use super::lookup::{Lookup, LookupError};

/// The answer to a query (`None`: the request did not decode; the stream is closed).
pub async fn answer(lookup: &Lookup, request: &[u8]) -> Option<Vec<u8>> {
    let q = cbor::from_slice::<Query>(request).ok()?;
    let piece = q.query_params.piece_cid;
    let response = match lookup.find(&q.payload_cid, piece.as_ref()).await {
        Ok(offer) => {
            let c = offer.candidate;
            QueryResponse {
                size: c.size,
                status: query_status::AVAILABLE,
                message: String::new(),
                unseal_price: c.ask.unseal_price,
                piece_cid_found: query_item_status::AVAILABLE,
                payment_address: offer.payment_address,
                min_price_per_byte: c.ask.price_per_byte,
                max_payment_interval: c.ask.payment_interval,
                max_payment_interval_increase: c.ask.payment_interval_increase,
            }
        }
        Err(e) => {
            let (status, found) = match e {
                LookupError::Sealed { .. } => (query_status::UNAVAILABLE, query_item_status::AVAILABLE),
                LookupError::NotFound { .. } => (query_status::ERROR, query_item_status::UNAVAILABLE),
                _ => (query_status::ERROR, query_item_status::UNKNOWN),
            };
            tracing::info!(payload = %q.payload_cid, "retrieval query: {e}");
            QueryResponse {
                size: 0,
                status,
                message: e.to_string(),
                unseal_price: Default::default(),
                piece_cid_found: found,
                // cbor-gen cannot write an empty address; droplet sends t00.
                payment_address: Address::new_id(0),
                min_price_per_byte: Default::default(),
                max_payment_interval: 0,
                max_payment_interval_increase: 0,
            }
        }
    };
    Some(cbor::to_vec(&response))
}
