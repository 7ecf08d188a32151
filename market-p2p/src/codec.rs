//! Request-response framing as go-fil-markets does it: one CBOR item each way. A request is
//! read as exactly one complete CBOR item, without waiting for the writer to close (Go clients
//! keep their side open while they wait for the answer), and never beyond a size limit.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use libp2p::request_response::Codec;
use market_types::cbor::{DecodeError, Decoder, ItemScanner};

/// One CBOR item on a stream, with the protocol it travelled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub protocol: StreamProtocol,
    pub bytes: Vec<u8>,
    /// For an outbound request: the encoding for each protocol version, since the version is
    /// only known once negotiated (the 1.0.1 protocols use tuples where 1.1.0 uses maps).
    pub variants: Vec<(StreamProtocol, Vec<u8>)>,
}

impl Frame {
    pub fn new(protocol: StreamProtocol, bytes: Vec<u8>) -> Self {
        Frame {
            protocol,
            bytes,
            variants: Vec::new(),
        }
    }

    /// An outbound request with one encoding per protocol version.
    pub fn versions(variants: Vec<(StreamProtocol, Vec<u8>)>) -> Self {
        let (protocol, bytes) = variants
            .first()
            .cloned()
            .unwrap_or_else(|| (StreamProtocol::new("/"), Vec::new()));
        Frame {
            protocol,
            bytes,
            variants,
        }
    }

    fn bytes_for(&self, protocol: &StreamProtocol) -> &[u8] {
        self.variants
            .iter()
            .find(|(p, _)| p == protocol)
            .map_or(&self.bytes, |(_, b)| b)
    }
}

/// Limits for one protocol: message sizes, and how long the peer has to send a whole one.
#[derive(Debug, Clone, Copy)]
pub struct CborCodec {
    pub max_request: usize,
    pub max_response: usize,
    /// A message not complete by then is refused and its stream closed, whatever the peer
    /// does: a stalled or trickling sender holds nothing for longer.
    pub read_deadline: std::time::Duration,
}

impl CborCodec {
    async fn read_within<T: AsyncRead + Unpin + Send>(&self, io: &mut T, max: usize) -> io::Result<Vec<u8>> {
        match tokio::time::timeout(self.read_deadline, read_item(io, max)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no complete message within {:?}", self.read_deadline),
            )),
        }
    }
}

/// Read one complete CBOR item (its raw bytes) of at most `max` bytes. Each byte read is
/// scanned once for the item's end (a peer sending a byte at a time costs no more than one
/// sending it whole), then the item is checked by the decoder.
pub async fn read_item<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let invalid = |e: DecodeError| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 4096];
    let mut scanner = ItemScanner::new();
    loop {
        let room = (max + 1).saturating_sub(buf.len()).min(chunk.len());
        if room == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("message exceeds the {max}-byte limit"),
            ));
        }
        let n = io.read(&mut chunk[..room]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                if buf.is_empty() {
                    "stream closed before a message".to_string()
                } else {
                    "stream closed mid-message".to_string()
                },
            ));
        }
        match scanner.feed(&chunk[..n]).map_err(invalid)? {
            Some(end) if buf.len() + end > max => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("message exceeds the {max}-byte limit"),
                ));
            }
            Some(end) => {
                buf.extend_from_slice(&chunk[..end]);
                // The whole item, with every rule the decoder keeps (depth, map keys, CIDs).
                Decoder::new(&buf).skip().map_err(invalid)?;
                return Ok(buf);
            }
            None => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

impl Codec for CborCodec {
    type Protocol = StreamProtocol;
    type Request = Frame;
    type Response = Frame;

    async fn read_request<T>(&mut self, protocol: &StreamProtocol, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = self.read_within(io, self.max_request).await?;
        Ok(Frame::new(protocol.clone(), bytes))
    }

    async fn read_response<T>(&mut self, protocol: &StreamProtocol, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = self.read_within(io, self.max_response).await?;
        Ok(Frame::new(protocol.clone(), bytes))
    }

    async fn write_request<T>(&mut self, protocol: &StreamProtocol, io: &mut T, req: Frame) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(req.bytes_for(protocol)).await?;
        io.flush().await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: Frame) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&res.bytes).await?;
        io.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    #[test]
    fn reads_exactly_one_item_without_waiting_for_eof() {
        // A map {"Miner": …} followed by bytes of a next message: only the first is taken.
        let item = market_types::cbor::to_vec(&market_types::Address::new_id(1000));
        let mut stream = item.clone();
        stream.extend_from_slice(&[0x01, 0x02]);
        let mut r = futures::io::Cursor::new(stream);
        assert_eq!(block_on(read_item(&mut r, 1024)).expect("item"), item);
    }

    #[test]
    fn refuses_oversized_truncated_and_invalid_input() {
        let big = market_types::cbor::to_vec(&market_types::Bytes(vec![7u8; 5000]));
        let mut r = futures::io::Cursor::new(big.clone());
        assert!(block_on(read_item(&mut r, 1000)).is_err(), "over the limit");
        let mut r = futures::io::Cursor::new(big[..100].to_vec());
        assert_eq!(
            block_on(read_item(&mut r, 10_000)).expect_err("eof").kind(),
            io::ErrorKind::UnexpectedEof
        );
        let mut r = futures::io::Cursor::new(vec![0xff, 0x00]);
        assert_eq!(
            block_on(read_item(&mut r, 10_000)).expect_err("bad").kind(),
            io::ErrorKind::InvalidData
        );
        let mut r = futures::io::Cursor::new(Vec::new());
        assert!(block_on(read_item(&mut r, 10)).is_err());
    }

    /// Sends the start of a message, then nothing, never closing.
    struct Stalled(futures::io::Cursor<Vec<u8>>);

    impl AsyncRead for Stalled {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<io::Result<usize>> {
            match std::pin::Pin::new(&mut self.0).poll_read(cx, buf) {
                std::task::Poll::Ready(Ok(0)) => std::task::Poll::Pending,
                other => other,
            }
        }
    }

    #[tokio::test]
    async fn a_message_never_finished_is_refused_at_the_deadline() {
        let mut codec = CborCodec {
            max_request: 10_000,
            max_response: 10_000,
            read_deadline: std::time::Duration::from_millis(300),
        };
        let big = market_types::cbor::to_vec(&market_types::Bytes(vec![7u8; 5000]));
        let mut r = Stalled(futures::io::Cursor::new(big[..100].to_vec()));
        let started = std::time::Instant::now();
        let protocol = StreamProtocol::new("/fil/storage/mk/1.2.1");
        let err = codec.read_request(&protocol, &mut r).await.expect_err("stalled");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let took = started.elapsed();
        assert!(
            took >= std::time::Duration::from_millis(300) && took < std::time::Duration::from_secs(5),
            "{took:?}"
        );
        // A complete message within the deadline is read as usual.
        let mut ok = futures::io::Cursor::new(big.clone());
        assert_eq!(codec.read_request(&protocol, &mut ok).await.expect("read").bytes, big);
    }
}
