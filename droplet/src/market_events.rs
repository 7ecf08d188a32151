//! The market event hub: sealers connected per miner (`ListenMarketEvent`), requests sent to
//! them and their answers (`ResponseMarketEvent`) matched by ID, as sophon-gateway's
//! `marketevent` stream (embedded in droplet) does. droplet asks a sealer to unseal a piece
//! through it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use market_proto::Json;
use market_proto::api::market_event::{
    ConnectedCompleted, INIT_CONNECT, RequestEvent, ResponseEvent, SECTORS_UNSEAL_PIECE, UnsealRequest, UnsealState,
};
use market_types::{Address, Bytes};
use tokio::sync::{mpsc, oneshot};

/// Requests queued for a sealer at most before it is skipped (sophon-gateway's default).
const QUEUE: usize = 30;

/// Why a request to a sealer did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum MarketEventError {
    #[error("no sealer of miner {miner} is connected to droplet's market event stream (ListenMarketEvent)")]
    NoSealer { miner: Address },
    #[error("every sealer of miner {miner} has {QUEUE} requests waiting; try again later")]
    Busy { miner: Address },
    #[error("the sealer of miner {miner} did not answer {method} within {secs} s")]
    Timeout { miner: Address, method: String, secs: u64 },
    #[error("the sealer answered: {0}")]
    Sealer(String),
    #[error("the sealer's answer does not decode: {0}")]
    Answer(String),
    #[error("no request {0} is waiting for an answer")]
    UnknownRequest(String),
}

#[derive(Debug)]
struct Connection {
    id: String,
    tx: mpsc::Sender<RequestEvent>,
}

#[derive(Debug, Default)]
struct Hub {
    connections: HashMap<Address, Vec<Connection>>,
    pending: HashMap<String, oneshot::Sender<ResponseEvent>>,
}

/// The sealers' connections and the requests waiting for their answers.
#[derive(Debug, Default)]
pub struct MarketEvents {
    hub: Mutex<Hub>,
}

fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    market_types::units::rfc3339(secs)
}

fn event(method: &str, payload: Vec<u8>) -> RequestEvent {
    RequestEvent {
        id: uuid::Uuid::new_v4().to_string(),
        method: method.into(),
        payload: Json(Bytes(payload)),
        create_time: now(),
    }
}

impl MarketEvents {
    fn hub(&self) -> std::sync::MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A sealer connects for `miner`: its connection ID and the requests it will receive,
    /// starting with `InitConnect`.
    pub fn connect(&self, miner: Address) -> (String, mpsc::Receiver<RequestEvent>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = uuid::Uuid::new_v4().to_string();
        let hello = serde_json::to_vec(&ConnectedCompleted { channel_id: id.clone() }).unwrap_or_default();
        let _ = tx.try_send(event(INIT_CONNECT, hello));
        self.hub()
            .connections
            .entry(miner)
            .or_default()
            .push(Connection { id: id.clone(), tx });
        tracing::info!(%miner, connection = %id, "a sealer connected to the market event stream");
        (id, rx)
    }

    /// The sealer's stream closed.
    pub fn disconnect(&self, miner: &Address, id: &str) {
        let mut hub = self.hub();
        if let Some(list) = hub.connections.get_mut(miner) {
            list.retain(|c| c.id != id);
            if list.is_empty() {
                hub.connections.remove(miner);
            }
        }
        tracing::info!(%miner, connection = %id, "a sealer left the market event stream");
    }

    /// Whether a sealer of `miner` is connected.
    pub fn connected(&self, miner: &Address) -> bool {
        self.hub()
            .connections
            .get(miner)
            .is_some_and(|l| l.iter().any(|c| !c.tx.is_closed()))
    }

    /// A sealer's answer.
    pub fn respond(&self, resp: ResponseEvent) -> Result<(), MarketEventError> {
        let waiting = self.hub().pending.remove(&resp.id);
        match waiting {
            Some(tx) => {
                let _ = tx.send(resp);
                Ok(())
            }
            None => Err(MarketEventError::UnknownRequest(resp.id)),
        }
    }

    /// Send `method(payload)` to a sealer of `miner` and wait up to `timeout` for its answer.
    pub async fn request(
        &self,
        miner: &Address,
        method: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, MarketEventError> {
        let ev = event(method, payload);
        let id = ev.id.clone();
        let (tx, rx) = oneshot::channel();
        {
            let mut hub = self.hub();
            let mut full = false;
            let sent = hub.connections.get(miner).is_some_and(|list| {
                list.iter().any(|c| match c.tx.try_send(ev.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        full = true;
                        false
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                })
            });
            if !sent {
                return Err(if full {
                    MarketEventError::Busy { miner: *miner }
                } else {
                    MarketEventError::NoSealer { miner: *miner }
                });
            }
            hub.pending.insert(id.clone(), tx);
        }
        let answer = tokio::time::timeout(timeout, rx).await;
        self.hub().pending.remove(&id);
        let resp = match answer {
            Ok(Ok(r)) => r,
            // The waiting side was dropped: the stream went away.
            Ok(Err(_)) => return Err(MarketEventError::NoSealer { miner: *miner }),
            Err(_) => {
                return Err(MarketEventError::Timeout {
                    miner: *miner,
                    method: method.into(),
                    secs: timeout.as_secs(),
                });
            }
        };
        if !resp.error.is_empty() {
            return Err(MarketEventError::Sealer(resp.error));
        }
        Ok(resp.payload.map(|p| p.0.0).unwrap_or_default())
    }

    /// Ask a sealer of the request's miner to unseal a piece (or how far it is).
    pub async fn unseal_piece(&self, req: &UnsealRequest, timeout: Duration) -> Result<UnsealState, MarketEventError> {
        let payload = serde_json::to_vec(req).map_err(|e| MarketEventError::Answer(e.to_string()))?;
        let answer = self
            .request(&req.miner.0, SECTORS_UNSEAL_PIECE, payload, timeout)
            .await?;
        serde_json::from_slice(&answer).map_err(|e| MarketEventError::Answer(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miner() -> Address {
        Address::new_id(1000)
    }

    #[tokio::test]
    async fn a_request_reaches_the_sealer_and_its_answer_comes_back() {
        let events = std::sync::Arc::new(MarketEvents::default());
        let err = events
            .request(&miner(), "X", Vec::new(), Duration::from_secs(1))
            .await
            .expect_err("no sealer");
        assert!(matches!(err, MarketEventError::NoSealer { .. }), "{err}");
        let (conn, mut rx) = events.connect(miner());
        assert!(events.connected(&miner()));
        let hello = rx.recv().await.expect("hello");
        assert_eq!(hello.method, INIT_CONNECT);
        let e2 = events.clone();
        let answering = tokio::spawn(async move {
            let req = rx.recv().await.expect("a request");
            assert_eq!(req.method, SECTORS_UNSEAL_PIECE);
            e2.respond(ResponseEvent {
                id: req.id,
                payload: Some(Json(Bytes(b"\"finished\"".to_vec()))),
                error: String::new(),
            })
            .expect("someone waits");
            rx
        });
        let req = UnsealRequest {
            piece_cid: Json(
                "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"
                    .parse()
                    .expect("cid"),
            ),
            miner: Json(miner()),
            sid: 1,
            offset: 0,
            size: 127,
            dest: "market://store/x".into(),
        };
        let state = events
            .unseal_piece(&req, Duration::from_secs(5))
            .await
            .expect("answered");
        assert_eq!(state, UnsealState::Finished);
        let rx = answering.await.expect("task");
        // An answer nobody waits for is refused; a closed stream is no sealer.
        assert!(
            events
                .respond(ResponseEvent {
                    id: "nope".into(),
                    payload: None,
                    error: String::new()
                })
                .is_err()
        );
        drop(rx);
        assert!(!events.connected(&miner()));
        events.disconnect(&miner(), &conn);
        let err = events
            .request(&miner(), "X", Vec::new(), Duration::from_secs(1))
            .await
            .expect_err("gone");
        assert!(matches!(err, MarketEventError::NoSealer { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_sealer_whose_queue_is_full_is_busy_not_gone() {
        let events = std::sync::Arc::new(MarketEvents::default());
        let (_conn, _rx) = events.connect(miner());
        // InitConnect holds one place; fill the rest with requests nobody answers.
        let mut waiting = Vec::new();
        for _ in 1..QUEUE {
            let e = events.clone();
            waiting.push(tokio::spawn(async move {
                e.request(&miner(), "X", Vec::new(), Duration::from_secs(5)).await
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let err = events
            .request(&miner(), "X", Vec::new(), Duration::from_secs(1))
            .await
            .expect_err("full");
        assert!(matches!(err, MarketEventError::Busy { .. }), "{err}");
        for w in waiting {
            w.abort();
        }
    }

    #[tokio::test]
    async fn a_sealer_that_does_not_answer_times_out() {
        let events = MarketEvents::default();
        let (_conn, _rx) = events.connect(miner());
        let err = events
            .request(&miner(), "X", Vec::new(), Duration::from_millis(50))
            .await
            .expect_err("no answer");
        assert!(matches!(err, MarketEventError::Timeout { .. }), "{err}");
    }
}
