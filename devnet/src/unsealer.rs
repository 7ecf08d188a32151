//! The devnet sealer's unsealing, as damocles-manager does it towards droplet: it listens on
//! droplet's market event stream for its miner (`ListenMarketEvent`, again after a second when
//! the stream ends), and answers each `SectorsUnsealPiece` with the task's state: the first ask
//! starts the task (`set_up`), later asks see `uploading`, then `finished` (once; the task is
//! then forgotten) or `failed`. Unsealing is reading the piece kept when it was sealed; the
//! upload is the unpadded piece (the data, then zeros) sent to `PUT /resource` for a
//! `market://<store>/<piece>` destination, or to the destination URL itself.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use market_proto::Json;
use market_proto::api::market_event::{
    INIT_CONNECT, MARKET_SCHEME, MarketEventClient, MarketRegisterPolicy, RequestEvent, ResponseEvent,
    SECTORS_UNSEAL_PIECE, UnsealRequest, UnsealState,
};
use market_proto::api_info::ApiInfo;
use market_types::{Address, Bytes, Cid};

use crate::sealer::{Sealer, kept_piece};

#[derive(Debug, Clone)]
enum Task {
    Uploading,
    Finished,
    Failed(String),
}

/// Answers droplet's unseal requests for one miner.
#[derive(Debug, Clone)]
pub struct Unsealer {
    droplet: ApiInfo,
    droplet_base: String,
    droplet_token: String,
    http: reqwest::Client,
    miner: Address,
    kept: PathBuf,
    tasks: Arc<Mutex<HashMap<(u64, Cid), Task>>>,
}

fn padded(unpadded: u64) -> u64 {
    unpadded / 127 * 128
}

impl Unsealer {
    pub fn new(sealer: &Sealer, droplet: ApiInfo) -> Unsealer {
        Unsealer {
            droplet,
            droplet_base: sealer.droplet_base.clone(),
            droplet_token: sealer.droplet_token.clone(),
            http: sealer.http.clone(),
            miner: sealer.miner,
            kept: sealer.kept.clone(),
            tasks: Default::default(),
        }
    }

    /// Listen and answer until the process ends.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.listen_once().await {
                tracing::warn!(miner = %self.miner, "market event stream: {e}");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn listen_once(&self) -> Result<(), String> {
        let client = market_proto::client::ws(&self.droplet, "v1", Duration::from_secs(60))
            .await
            .map_err(|e| e.to_string())?;
        let policy = MarketRegisterPolicy {
            miner: Json(self.miner),
        };
        let mut events = client
            .listen_market_event(policy)
            .await
            .map_err(|e| format!("ListenMarketEvent: {e}"))?;
        while let Some(ev) = events.next().await {
            let ev = ev.map_err(|e| e.to_string())?;
            if ev.method == INIT_CONNECT {
                tracing::info!(miner = %self.miner, "connected to droplet's market event stream");
                continue;
            }
            let resp = self.answer(&ev);
            client
                .response_market_event(resp)
                .await
                .map_err(|e| format!("ResponseMarketEvent: {e}"))?;
        }
        Ok(())
    }

    fn answer(&self, ev: &RequestEvent) -> ResponseEvent {
        let id = ev.id.clone();
        let reply = |r: Result<UnsealState, String>| match r {
            Ok(state) => ResponseEvent {
                id: id.clone(),
                payload: Some(Json(Bytes(serde_json::to_vec(&state).unwrap_or_default()))),
                error: String::new(),
            },
            Err(error) => ResponseEvent {
                id: id.clone(),
                payload: None,
                error,
            },
        };
        if ev.method != SECTORS_UNSEAL_PIECE {
            return reply(Err(format!("unknown market event {}", ev.method)));
        }
        match serde_json::from_slice::<UnsealRequest>(&ev.payload.0.0) {
            Ok(req) => reply(self.unseal(req)),
            Err(e) => reply(Err(format!("the unseal request does not decode: {e}"))),
        }
    }

    /// The state of the request's task, started if new.
    fn unseal(&self, req: UnsealRequest) -> Result<UnsealState, String> {
        if req.miner.0 != self.miner {
            return Err(format!("this sealer serves {}, not {}", self.miner, req.miner.0));
        }
        let key = (req.sid, req.piece_cid.0);
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        match tasks.get(&key).cloned() {
            Some(Task::Uploading) => return Ok(UnsealState::Uploading),
            Some(Task::Finished) => {
                tasks.remove(&key);
                return Ok(UnsealState::Finished);
            }
            Some(Task::Failed(why)) => {
                tasks.remove(&key);
                tracing::warn!(sector = req.sid, piece = %req.piece_cid.0, "unsealing failed: {why}");
                return Ok(UnsealState::Failed);
            }
            None => {}
        }
        let path = kept_piece(&self.kept, req.sid, padded(req.offset), &req.piece_cid.0);
        if !path.exists() {
            return Err(format!(
                "sector {} of {} holds no piece {} at offset {}",
                req.sid, self.miner, req.piece_cid.0, req.offset
            ));
        }
        tasks.insert(key, Task::Uploading);
        tracing::info!(sector = req.sid, piece = %req.piece_cid.0, dest = %req.dest, "unsealing");
        let this = self.clone();
        tokio::spawn(async move {
            let end = match this.upload(&path, &req).await {
                Ok(()) => {
                    tracing::info!(sector = req.sid, piece = %req.piece_cid.0, "unsealed and uploaded");
                    Task::Finished
                }
                Err(e) => Task::Failed(e),
            };
            this.tasks.lock().unwrap_or_else(|e| e.into_inner()).insert(key, end);
        });
        Ok(UnsealState::Set)
    }

    /// Send the unpadded piece (the kept data, then zeros up to `size`) to the destination,
    /// streamed a chunk at a time.
    async fn upload(&self, path: &std::path::Path, req: &UnsealRequest) -> Result<(), String> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let kept = file
            .metadata()
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        if kept > req.size {
            return Err(format!("the kept piece is {kept} bytes, more than {}", req.size));
        }
        let data = reqwest::Body::wrap_stream(unpadded_piece(file, req.size));
        let piece = req.piece_cid.0;
        let request = match req.dest.strip_prefix(MARKET_SCHEME) {
            Some(rest) => {
                let store = rest.split('/').next().unwrap_or_default();
                let url = format!(
                    "{}/resource?resource-id={piece}&store={store}&size={}",
                    self.droplet_base, req.size
                );
                self.http.put(url).bearer_auth(&self.droplet_token)
            }
            None => self.http.put(&req.dest),
        };
        let resp = request.body(data).send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            return Err(format!("the upload was answered {status}: {}", body.trim()));
        }
        Ok(())
    }
}

/// Bytes read from the kept piece at most per chunk of the upload.
const CHUNK: u64 = 1 << 20;

/// `file`, then zeros, `size` bytes in all, in chunks.
fn unpadded_piece(
    file: tokio::fs::File,
    size: u64,
) -> impl futures::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    futures::stream::unfold((file, 0u64), move |(mut file, sent)| async move {
        if sent >= size {
            return None;
        }
        // `want` is at most CHUNK: no allocation is sized by the request alone.
        let want = (size - sent).min(CHUNK) as usize;
        let mut buf = vec![0u8; want];
        let n = match tokio::io::AsyncReadExt::read(&mut file, &mut buf).await {
            Ok(n) => n,
            Err(e) => return Some((Err(e), (file, size))),
        };
        // Past the end of the kept data, the chunk stays zeros.
        let len = if n == 0 { want } else { n };
        buf.truncate(len);
        Some((Ok(buf), (file, sent + len as u64)))
    })
}
