//! `/fil/retrieval/transports/1.0.0` (Boost's, which droplet and lassie speak): the client opens
//! a stream and sends nothing; the provider writes one dag-cbor `QueryResponse` (the retrieval
//! transports it serves and their addresses) and closes the stream.

use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{PeerId, StreamProtocol};
use market_types::boost::{TRANSPORTS_PROTOCOL, TransportsQueryResponse};
use market_types::cbor;

/// Largest answer read: a few protocols with a few addresses each.
const MAX_ANSWER: u64 = 64 << 10;
/// Time to open the stream and read the answer, or to write it (droplet: 30 s).
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why the transports could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum TransportsError {
    #[error("opening {TRANSPORTS_PROTOCOL} to {peer}: {reason}")]
    Open { peer: PeerId, reason: String },
    #[error("reading the transports of {peer}: {reason}")]
    Read { peer: PeerId, reason: String },
    #[error("the transports answer of {peer} does not decode: {reason}")]
    Decode { peer: PeerId, reason: String },
    #[error("{peer} did not answer within {} s", TIMEOUT.as_secs())]
    Timeout { peer: PeerId },
}

fn protocol() -> StreamProtocol {
    StreamProtocol::new(TRANSPORTS_PROTOCOL)
}

/// Serve the protocol on `control` until the host stops: each stream gets `answer()`.
pub fn serve(
    control: &libp2p_stream::Control,
    answer: Arc<dyn Fn() -> TransportsQueryResponse + Send + Sync>,
) -> Result<(), libp2p_stream::AlreadyRegistered> {
    let mut incoming = control.clone().accept(protocol())?;
    tokio::spawn(async move {
        while let Some((peer, mut stream)) = incoming.next().await {
            let bytes = cbor::to_vec(&answer());
            tokio::spawn(async move {
                let written = tokio::time::timeout(TIMEOUT, async {
                    stream.write_all(&bytes).await?;
                    stream.close().await
                })
                .await;
                if !matches!(written, Ok(Ok(()))) {
                    tracing::debug!(%peer, "the transports answer was not delivered");
                }
            });
        }
    });
    Ok(())
}

/// Ask `peer` (connected, or reachable from the host's address book) for its transports.
pub async fn query(control: &libp2p_stream::Control, peer: PeerId) -> Result<TransportsQueryResponse, TransportsError> {
    let mut control = control.clone();
    let asked = tokio::time::timeout(TIMEOUT, async {
        let stream = control
            .open_stream(peer, protocol())
            .await
            .map_err(|e| TransportsError::Open {
                peer,
                reason: e.to_string(),
            })?;
        let mut buf = Vec::new();
        stream
            .take(MAX_ANSWER)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| TransportsError::Read {
                peer,
                reason: e.to_string(),
            })?;
        cbor::from_slice::<TransportsQueryResponse>(&buf).map_err(|e| TransportsError::Decode {
            peer,
            reason: e.to_string(),
        })
    })
    .await;
    asked.unwrap_or(Err(TransportsError::Timeout { peer }))
}
