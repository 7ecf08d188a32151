//! Asking a provider about a payload: `/fil/retrieval/qry/1.0.0` to the miner's peer (found
//! on chain), answered with whether and on what terms it serves the data.

use anyhow::{Context, Result};
use cid::Cid;
use jsonrpsee::http_client::HttpClient;
use market_p2p::{Frame, Host, StreamProtocol, protocols};
use market_proto::Json;
use market_proto::api::market_client::{QueryOffer, RetrievalPeer};
use market_types::retrieval::{Query, QueryParams, QueryResponse, query_status};
use market_types::{Address, TokenAmount, cbor};

/// `miner`'s answer for `root` (in `piece`); an offer the provider cannot honour carries its
/// reason in `err`, as lotus reports it.
pub async fn query_offer(
    host: &Host,
    node: &HttpClient,
    miner: &Address,
    root: &Cid,
    piece: Option<Cid>,
) -> Result<QueryOffer> {
    let (peer, addrs, _) = crate::asks::miner_peer(node, miner, None).await?;
    let query = Query {
        payload_cid: *root,
        query_params: QueryParams { piece_cid: piece },
    };
    let answer = host
        .request(
            peer,
            addrs,
            Frame::new(StreamProtocol::new(protocols::QUERY_1_0_0), cbor::to_vec(&query)),
        )
        .await
        .with_context(|| format!("querying miner {miner} ({peer}) for {root}"))?;
    let r: QueryResponse = cbor::from_slice(&answer.bytes).context("decoding the query response")?;
    let err = match r.status {
        query_status::AVAILABLE => String::new(),
        query_status::UNAVAILABLE => format!("provider cannot serve the data now: {}", r.message),
        _ => format!("provider answered with an error: {}", r.message),
    };
    let min_price = &r.min_price_per_byte * r.size + &r.unseal_price;
    Ok(QueryOffer {
        err,
        root: Json(*root),
        piece: piece.map(Json),
        size: r.size,
        min_price: Json(min_price),
        unseal_price: Json(r.unseal_price),
        price_per_byte: Json(r.min_price_per_byte),
        payment_interval: r.max_payment_interval,
        payment_interval_increase: r.max_payment_interval_increase,
        miner: Json(r.payment_address),
        miner_peer: RetrievalPeer {
            address: Json(*miner),
            id: peer.to_string(),
            piece_cid: piece.map(Json),
        },
    })
}

/// The price per byte an order pays: what remains of its total after unsealing, per byte.
pub fn price_per_byte(total: &TokenAmount, unseal: &TokenAmount, size: u64) -> TokenAmount {
    if size == 0 || total <= unseal {
        return TokenAmount::default();
    }
    TokenAmount::from_atto((total - unseal).atto() / size)
}
