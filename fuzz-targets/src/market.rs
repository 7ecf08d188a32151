//! The market's CBOR wire types, alone and as read off a libp2p stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::AsyncRead;
use market_types::testing::WIRE_TYPES;

use crate::Target;

pub const CBOR: Target = Target {
    name: "market_cbor",
    covers: "every market wire type's CBOR decoder (storage, boost, retrieval, chain, data-transfer)",
    run: cbor,
    seeds: typed_samples,
};

pub const P2P_STREAM: Target = Target {
    name: "p2p_stream",
    covers: "market-p2p's message reader (one CBOR item off a stream in uneven reads) and the decode after it",
    run: p2p_stream,
    seeds: stream_samples,
};

/// The first byte picks the type, the rest is decoded as it.
fn cbor(data: &[u8]) -> bool {
    let Some((&pick, body)) = data.split_first() else {
        return false;
    };
    let t = &WIRE_TYPES[pick as usize % WIRE_TYPES.len()];
    (t.decode)(body).is_ok()
}

/// A value of every wire type, each behind the byte that picks it, from several generator
/// seeds.
fn typed_samples() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, t) in WIRE_TYPES.iter().enumerate() {
        for seed in [&b""[..], b"seed", &[0xff; 64], &[7; 512]] {
            let mut input = vec![i as u8];
            input.extend((t.sample)(seed));
            out.push(input);
        }
    }
    out
}

/// The limit the reader is given (small, so the fuzzer reaches it).
const STREAM_LIMIT: usize = 4096;

/// Byte 0 picks the type, byte 1 the size of each read; the rest is the stream.
fn p2p_stream(data: &[u8]) -> bool {
    let [pick, step, stream @ ..] = data else {
        return false;
    };
    let mut io = Uneven {
        data: stream,
        step: usize::from(*step).max(1),
    };
    let Ok(item) = futures::executor::block_on(market_p2p::codec::read_item(&mut io, STREAM_LIMIT)) else {
        return false;
    };
    assert!(item.len() <= STREAM_LIMIT, "read_item returned more than its limit");
    assert!(
        stream.starts_with(&item),
        "read_item returned bytes that are not the stream's first"
    );
    let t = &WIRE_TYPES[*pick as usize % WIRE_TYPES.len()];
    (t.decode)(&item).is_ok()
}

fn stream_samples() -> Vec<Vec<u8>> {
    typed_samples()
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            // Read sizes 1, 7, 64 and 255 across the samples, with trailing bytes on some.
            s.insert(1, [1u8, 7, 64, 255][i % 4]);
            if i % 3 == 0 {
                s.extend_from_slice(b"next");
            }
            s
        })
        .collect()
}

/// A stream that gives at most `step` bytes a read.
struct Uneven<'a> {
    data: &'a [u8],
    step: usize,
}

impl AsyncRead for Uneven<'_> {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut [u8]) -> Poll<std::io::Result<usize>> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(n))
    }
}
