//! `/fil/datatransfer/1.2.0`: one dag-cbor `TransferMessage1_1` per stream, no length prefix;
//! the sender closes the stream after it (go-data-transfer `network/libp2p_impl.go`).

use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{PeerId, StreamProtocol};
use market_types::cbor;
use market_types::datatransfer::{PROTOCOL, TransferMessage};
use tokio::sync::mpsc;

/// Largest message read (vouchers, selectors and results are a few KiB at most).
pub const MAX_MESSAGE_SIZE: u64 = 1 << 20;
/// Time to open a stream and write a message, or to read one.
const TIMEOUT: Duration = Duration::from_secs(10);
/// go-data-transfer's default: five attempts to open, with growing back-off.
const ATTEMPTS: u32 = 5;

/// Why a message did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("could not open {PROTOCOL} to {peer} after {ATTEMPTS} attempts: {last}")]
    Open { peer: PeerId, last: String },
    #[error("writing to {peer}: {source}")]
    Write { peer: PeerId, source: std::io::Error },
}

fn protocol() -> StreamProtocol {
    StreamProtocol::new(PROTOCOL)
}

/// Send one message to `peer`.
pub async fn send(control: &libp2p_stream::Control, peer: PeerId, msg: &TransferMessage) -> Result<(), SendError> {
    let bytes = cbor::to_vec(msg);
    let mut control = control.clone();
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        let mut stream = match tokio::time::timeout(TIMEOUT, control.open_stream(peer, protocol())).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                last = e.to_string();
                continue;
            }
            Err(_) => {
                last = "timed out".into();
                continue;
            }
        };
        let write = async {
            stream.write_all(&bytes).await?;
            stream.close().await
        };
        return match tokio::time::timeout(TIMEOUT, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(SendError::Write { peer, source }),
            Err(_) => Err(SendError::Write {
                peer,
                source: std::io::Error::new(std::io::ErrorKind::TimedOut, "write timed out"),
            }),
        };
    }
    Err(SendError::Open { peer, last })
}

/// Accept `/fil/datatransfer/1.2.0` streams; each well-formed message comes out of the
/// returned receiver with its sender. A malformed, oversized or slow message is dropped with
/// its stream and logged.
pub fn receive(
    control: &libp2p_stream::Control,
) -> Result<mpsc::Receiver<(PeerId, TransferMessage)>, libp2p_stream::AlreadyRegistered> {
    let mut control = control.clone();
    let mut incoming = control.accept(protocol())?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        while let Some((peer, stream)) = incoming.next().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut body = Vec::new();
                let mut limited = stream.take(MAX_MESSAGE_SIZE + 1);
                let read = limited.read_to_end(&mut body);
                match tokio::time::timeout(TIMEOUT, read).await {
                    Ok(Ok(_)) if body.len() as u64 <= MAX_MESSAGE_SIZE => {}
                    Ok(Ok(_)) => {
                        tracing::info!(%peer, "data-transfer: message over {MAX_MESSAGE_SIZE} bytes dropped");
                        return;
                    }
                    _ => {
                        tracing::info!(%peer, "data-transfer: message not read in time or stream failed");
                        return;
                    }
                }
                match cbor::from_slice::<TransferMessage>(&body) {
                    Ok(msg) if msg.request.is_some() == msg.is_request => {
                        let _ = tx.send((peer, msg)).await;
                    }
                    Ok(_) => tracing::info!(%peer, "data-transfer: message without its request or response dropped"),
                    Err(e) => tracing::info!(%peer, "data-transfer: undecodable message dropped: {e}"),
                }
            });
        }
    });
    Ok(rx)
}
