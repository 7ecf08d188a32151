//! The JSON-RPC server path a request takes in droplet and droplet-client: HTTP, the token,
//! jsonrpsee's parse (single calls, batches, notifications), the per-method permission and
//! parameter-count check, and the parameters' Lotus JSON decoding into the API's types.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, header};
use jsonrpsee::RpcModule;
use jsonrpsee::server::{ServerHandle, StopHandle};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use market_proto::api::market::{DealQuery, ImportDataRef, MinerDeal};
use market_proto::api::market_client::{RetrievalOrder, StartDealParams};
use market_proto::api::wallet::MsgMeta;
use market_proto::api::{Json, MethodTable, direct_deal, full_node, market, market_client};
use market_proto::jwt::{self, JwtPayload, Perm};
use market_proto::server::{Authenticator, Endpoint, LocalSecret};
use market_types::bytes::{Bytes, Uuid};
use market_types::chain::{Message, MessageSendSpec, SignedMessage, TipSetKey};
use market_types::units::PaddedPieceSize;
use market_types::{Address, Cid, TokenAmount};
use serde::de::DeserializeOwned;
use tower::ServiceExt;

use crate::Target;

pub const REQUEST: Target = Target {
    name: "jsonrpc_request",
    covers: "the JSON-RPC server path: token, jsonrpsee's parse, batches, the permission and parameter-count check, Lotus JSON parameters",
    run: request,
    seeds: request_seeds,
};

/// The most of a response body the target reads.
const MAX_RESPONSE: usize = 1 << 20;

const SECRET: &[u8] = b"fuzz-target-secret-0123456789abc";

struct Server {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    tokens: Vec<String>,
    // Held so the endpoint is not told to stop.
    _stop: (StopHandle, ServerHandle),
}

/// Decode the parameters as `T` (a tuple of the method's parameters) and answer null.
fn typed<T: DeserializeOwned>(params: Params<'_>) -> Result<(), ErrorObjectOwned> {
    params.parse::<T>().map(drop)
}

type Check = fn(Params<'_>) -> Result<(), ErrorObjectOwned>;

/// Methods as the daemons serve them, each with its real parameter types.
fn methods() -> Vec<(&'static str, Check)> {
    vec![
        ("Filecoin.ChainGetTipSet", typed::<(Json<TipSetKey>,)>),
        ("Filecoin.StateMarketStorageDeal", typed::<(u64, Json<TipSetKey>)>),
        ("Filecoin.StateMinerInfo", typed::<(Json<Address>, Json<TipSetKey>)>),
        ("Filecoin.MpoolPush", typed::<(Json<SignedMessage>,)>),
        (
            "Filecoin.MpoolPushMessage",
            typed::<(Json<Message>, Option<Json<MessageSendSpec>>)>,
        ),
        (
            "Filecoin.WalletSign",
            typed::<(Json<Address>, Json<Bytes>, Option<MsgMeta>)>,
        ),
        (
            "VENUS_MARKET.MarketSetAsk",
            typed::<(
                Json<Address>,
                Json<TokenAmount>,
                Json<TokenAmount>,
                i64,
                Json<PaddedPieceSize>,
                Json<PaddedPieceSize>,
            )>,
        ),
        (
            "VENUS_MARKET.MarketAddBalance",
            typed::<(Json<Address>, Json<Address>, Json<TokenAmount>)>,
        ),
        ("VENUS_MARKET.MarketListIncompleteDeals", typed::<(Option<DealQuery>,)>),
        ("VENUS_MARKET.DealsImportData", typed::<(ImportDataRef, bool)>),
        ("VENUS_MARKET.MarketImportDealData", typed::<(Json<Cid>, String)>),
        (
            "VENUS_MARKET.ImportDirectDeal",
            typed::<(direct_deal::DirectDealParams,)>,
        ),
        ("VENUS_MARKET.GetDirectDeal", typed::<(Json<Uuid>,)>),
        ("VENUS_MARKET.MarketPublishPendingDeals", typed::<()>),
        ("VENUS_MARKET_CLIENT.ClientStatelessDeal", typed::<(StartDealParams,)>),
        ("VENUS_MARKET_CLIENT.ClientBatchDeal", typed::<(Vec<StartDealParams>,)>),
        ("VENUS_MARKET_CLIENT.ClientRetrieve", typed::<(RetrievalOrder,)>),
        ("VENUS_MARKET_CLIENT.ClientGetDealInfo", typed::<(Json<Cid>,)>),
        ("VENUS_MARKET_CLIENT.ClientRetrieveWait", typed::<(u64,)>),
        ("VENUS_MARKET.DealsImport", typed::<(Vec<MinerDeal>,)>),
    ]
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let mut module = RpcModule::new(());
        for (name, check) in methods() {
            module
                .register_method(name, move |params, _, _| {
                    check(params).map(|()| serde_json::Value::Null)
                })
                .expect("each method registers once");
        }
        let table = MethodTable::new()
            .with("Filecoin", full_node::METHODS)
            .with("VENUS_MARKET_CLIENT", market_client::METHODS)
            .with("VENUS_MARKET", market::METHODS)
            .with("VENUS_MARKET", direct_deal::METHODS);
        let auth: Arc<dyn Authenticator> = Arc::new(LocalSecret(SECRET.to_vec()));
        let (stop, handle) = jsonrpsee::server::stop_channel();
        let router = axum::Router::new().route("/rpc/v1", Endpoint::new(module, table, auth, stop.clone()).route());
        let tokens = Perm::ALL
            .iter()
            .map(|p| jwt::sign(SECRET, &JwtPayload::new("fuzz", *p)))
            .collect();
        Server {
            runtime,
            router,
            tokens,
            _stop: (stop, handle),
        }
    })
}

/// Byte 0 picks the token (none, a bad one, or one of each permission); the rest is the body.
/// Taken whole when answered with a JSON-RPC body (a result or an error), not refused at the
/// door.
fn request(data: &[u8]) -> bool {
    let Some((&pick, body)) = data.split_first() else {
        return false;
    };
    let s = server();
    let mut req = Request::post("/rpc/v1").header(header::CONTENT_TYPE, "application/json");
    match pick % 6 {
        0 => {}
        1 => req = req.header(header::AUTHORIZATION, "Bearer not.a.token"),
        n => req = req.header(header::AUTHORIZATION, format!("Bearer {}", s.tokens[n as usize - 2])),
    }
    let req = req.body(Body::from(body.to_vec())).expect("a well-formed HTTP request");
    s.runtime.block_on(async {
        let resp = s
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router answers every request");
        let ok = resp.status().is_success();
        let body = axum::body::to_bytes(resp.into_body(), MAX_RESPONSE).await;
        ok && body.is_ok_and(|b| serde_json::from_slice::<serde_json::Value>(&b).is_ok())
    })
}

fn request_seeds() -> Vec<Vec<u8>> {
    let addr = r#"{"/":"bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"}"#;
    let bodies = [
        r#"{"jsonrpc":"2.0","id":1,"method":"Filecoin.ChainGetTipSet","params":[[]]}"#.to_string(),
        format!(r#"{{"jsonrpc":"2.0","id":2,"method":"Filecoin.StateMarketStorageDeal","params":[7,[{addr}]]}}"#),
        r#"{"jsonrpc":"2.0","id":3,"method":"Filecoin.StateMinerInfo","params":["t01000",null]}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":4,"method":"Filecoin.MpoolPushMessage","params":[{"Version":0,"To":"t01000","From":"t3vvmn62lofvhjd2ugzca6sof2j2ubwok6cj4xxbfzz4yuxfkgobpihhd2thlanmsh3w2ptld2gqkn2jvlss4a","Nonce":1,"Value":"1000","GasLimit":100,"GasFeeCap":"1","GasPremium":"1","Method":2,"Params":"gA=="},{"MaxFee":"0"}]}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":5,"method":"Filecoin.WalletSign","params":["t01000","aGVsbG8=",{"Type":"message","Extra":null}]}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":6,"method":"VENUS_MARKET.MarketSetAsk","params":["t01000","0","0",518400,256,34359738368]}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":7,"method":"VENUS_MARKET.MarketListIncompleteDeals","params":[{"Miner":"t01000","State":null,"Client":"","DiscardFailedDeal":true,"Offset":0,"Limit":10}]}"#.to_string(),
        format!(r#"{{"jsonrpc":"2.0","id":8,"method":"VENUS_MARKET.MarketImportDealData","params":[{addr},"/tmp/x.car"]}}"#),
        r#"{"jsonrpc":"2.0","id":9,"method":"VENUS_MARKET.GetDirectDeal","params":["a5b0c1a2-7ae0-4d43-8e43-c28f6d8b0c11"]}"#.to_string(),
        r#"[{"jsonrpc":"2.0","id":10,"method":"VENUS_MARKET.MarketPublishPendingDeals","params":[]},{"jsonrpc":"2.0","method":"Filecoin.ChainGetTipSet","params":[[]]},{"jsonrpc":"2.0","id":11,"method":"Nope"}]"#.to_string(),
        r#"{"jsonrpc":"2.0","id":12,"method":"Filecoin.ChainGetTipSet","params":[[],1,2]}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":"x","method":"VENUS_MARKET_CLIENT.ClientGetDealInfo","params":{"a":1}}"#.to_string(),
    ];
    let mut out = Vec::new();
    for (i, b) in bodies.iter().enumerate() {
        // Each permission's token in turn (the fuzzer finds the bad and missing ones).
        let mut input = vec![[5u8, 4, 3, 2][i % 4]];
        input.extend_from_slice(b.as_bytes());
        out.push(input);
    }
    out
}
