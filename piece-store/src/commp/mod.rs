//! Piece commitments (commP): Fr32 padding, the truncated SHA-256 binary tree, piece CIDs,
//! padding a commP to a larger piece, and the aggregate CommD of a sector.
//!
//! [`Hasher`] is an incremental, single-threaded [`std::io::Write`]; [`from_reader`] streams
//! a reader through all cores. Both hold at most a few 1 MiB chunks whatever the input size.

mod aggregate;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod cid;
pub mod fr32;
mod sha_ni;
#[cfg(test)]
mod test_util;
pub mod tree;

use std::io::Read;
use std::sync::{Mutex, mpsc};

pub use self::aggregate::{aggregate_commd, pad_commp};
pub use self::cid::{
    FIL_COMMITMENT_UNSEALED, FR32_SHA256_TRUNC254_PADBINTREE, SHA2_256_TRUNC254_PADDED, commp_from_cid_v1,
    parse_piece_cid_v2, piece_cid_v1, piece_cid_v2,
};
use self::fr32::{QUAD_IN, QUAD_OUT};
pub use self::tree::hash_path;
use self::tree::{Node, Scratch, Stack, subtree_root};
use crate::io_util::read_full;

/// Go's `MinPiecePayload`: below this commP refuses to work (go-fil-commp-hashhash).
pub const MIN_PAYLOAD: u64 = 65;
/// Go's `MaxPiecePayload`: the unpadded size of a 64 GiB piece.
pub const MAX_PAYLOAD: u64 = (64 << 30) / 128 * 127;

/// Quads per chunk: a chunk is the unit of work handed to a core (1 MiB once padded).
const CHUNK_QUADS: usize = 8192;
/// Payload bytes per chunk.
const CHUNK_IN: usize = CHUNK_QUADS * QUAD_IN;
/// Tree level of a chunk's root: 4 leaves per quad.
const CHUNK_LEVEL: usize = (CHUNK_QUADS * 4).trailing_zeros() as usize;

/// What can go wrong computing or reading piece commitments.
#[derive(Debug, thiserror::Error)]
pub enum CommPError {
    #[error(
        "the payload is {0} bytes; commP needs at least {MIN_PAYLOAD} bytes (as in Go); pad the file or use a larger one"
    )]
    PayloadTooSmall(u64),
    #[error(
        "the payload is over {MAX_PAYLOAD} bytes, the most a 64 GiB piece holds; split the data into several pieces"
    )]
    PayloadTooLarge(u64),
    #[error("reading the payload: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0} is not a piece CID")]
    NotAPieceCid(String),
    #[error("a piece CID v2 needs a payload of at least 127 bytes, not {0}")]
    V2PayloadTooSmall(u64),
    #[error("a payload of {payload_len} bytes does not fit a padded piece of {padded} bytes")]
    V2SizeMismatch { payload_len: u64, padded: u64 },
    #[error("{0} is not a valid padded piece size (a power of two, at least 128 bytes)")]
    BadPieceSize(u64),
    #[error("cannot pad a piece of {from} bytes to a smaller size of {to} bytes")]
    PadToSmaller { from: u64, to: u64 },
    #[error("the pieces add up to more than the sector size {sector} once aligned")]
    PiecesExceedSector { sector: u64 },
}

/// A piece commitment with the sizes that go with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PieceCommitment {
    /// The 32-byte root.
    pub commp: Node,
    /// Payload bytes that were hashed (before zero padding and Fr32).
    pub payload_size: u64,
    /// The padded piece size (a power of two, at least 128).
    pub padded_size: u64,
}

impl PieceCommitment {
    /// The piece CID v1 (`baga6ea4seaq…`), the form used on chain and in deals.
    pub fn piece_cid(&self) -> ::cid::Cid {
        piece_cid_v1(&self.commp)
    }

    /// The piece CID v2 (FRC-0069), which also carries the sizes.
    pub fn piece_cid_v2(&self) -> Result<::cid::Cid, CommPError> {
        piece_cid_v2(&self.commp, self.payload_size, self.padded_size)
    }

    /// The unpadded piece size (`Piece size` in `data commP`).
    pub fn unpadded_size(&self) -> u64 {
        self.padded_size - self.padded_size / 128
    }

    /// The same data as a piece of `padded` bytes (Boost `PadCommP`).
    pub fn padded_to(&self, padded: u64) -> Result<PieceCommitment, CommPError> {
        Ok(PieceCommitment {
            commp: pad_commp(&self.commp, self.padded_size, padded)?,
            padded_size: padded,
            ..*self
        })
    }
}

/// The padded piece size for a payload, as go-padreader sizes it: at least 128, whole quads,
/// rounded up to a power of two.
pub fn padded_size_for(payload: u64) -> u64 {
    let quads = payload.div_ceil(QUAD_IN as u64).max(1);
    (quads * QUAD_OUT as u64).next_power_of_two()
}

fn level_of(padded: u64) -> usize {
    (padded / 32).trailing_zeros() as usize
}

/// Incremental commP over bytes written to it, on the calling thread.
#[derive(Debug)]
pub struct Hasher {
    buf: Vec<u8>,
    scratch: Scratch,
    stack: Stack,
    chunks: u64,
    total: u64,
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    pub fn new() -> Self {
        Hasher {
            buf: Vec::with_capacity(CHUNK_IN),
            scratch: Scratch::default(),
            stack: Stack::default(),
            chunks: 0,
            total: 0,
        }
    }

    /// Payload bytes written so far.
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds bytes to the payload.
    pub fn update(&mut self, mut data: &[u8]) -> Result<(), CommPError> {
        let total = self.total.saturating_add(data.len() as u64);
        if total > MAX_PAYLOAD {
            return Err(CommPError::PayloadTooLarge(total));
        }
        self.total = total;
        while !data.is_empty() {
            if self.buf.is_empty() && data.len() >= CHUNK_IN {
                // Whole chunks straight from the caller's buffer.
                let (chunk, rest) = data.split_at(CHUNK_IN);
                let root = subtree_root(chunk, &mut self.scratch);
                self.push_chunk_root(root);
                data = rest;
                continue;
            }
            let take = (CHUNK_IN - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == CHUNK_IN {
                let root = subtree_root(&self.buf, &mut self.scratch);
                self.buf.clear();
                self.push_chunk_root(root);
            }
        }
        Ok(())
    }

    fn push_chunk_root(&mut self, root: Node) {
        self.stack.push(root, CHUNK_LEVEL);
        self.chunks += 1;
    }

    /// The commitment of everything written.
    pub fn finish(self) -> Result<PieceCommitment, CommPError> {
        finish(self.stack, self.chunks, self.buf, self.total, &mut { self.scratch })
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.update(data)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Completes a commitment from the full chunks already pushed and the partial tail.
fn finish(
    mut stack: Stack,
    chunks: u64,
    mut tail: Vec<u8>,
    total: u64,
    scratch: &mut Scratch,
) -> Result<PieceCommitment, CommPError> {
    if total < MIN_PAYLOAD {
        return Err(CommPError::PayloadTooSmall(total));
    }
    let padded = padded_size_for(total);
    let top = level_of(padded);
    let commp = if chunks == 0 {
        // The whole piece fits one chunk: hash it at its own size.
        tail.resize((padded / QUAD_OUT as u64) as usize * QUAD_IN, 0);
        subtree_root(&tail, scratch)
    } else {
        if !tail.is_empty() {
            tail.resize(CHUNK_IN, 0);
            stack.push(subtree_root(&tail, scratch), CHUNK_LEVEL);
        }
        stack.finish(CHUNK_LEVEL, top)
    };
    Ok(PieceCommitment {
        commp,
        payload_size: total,
        padded_size: padded,
    })
}

/// commP of bytes in memory.
pub fn of_bytes(data: &[u8]) -> Result<PieceCommitment, CommPError> {
    let mut h = Hasher::new();
    h.update(data)?;
    h.finish()
}

/// Streams `reader` through commP on `threads` cores (0 means all of them).
///
/// The calling thread reads 1 MiB chunks and hands them to the workers; roots come back in
/// any order and join the tree in order. `progress` is told the payload bytes read so far.
/// Memory stays at about three chunks per worker whatever the input size.
pub fn from_reader(
    mut reader: impl Read,
    threads: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<PieceCommitment, CommPError> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        threads
    };
    if threads == 1 {
        let mut h = Hasher::new();
        let mut buf = vec![0u8; CHUNK_IN];
        loop {
            let n = read_full(&mut reader, &mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n])?;
            progress(h.len());
        }
        return h.finish();
    }

    let in_flight_max = threads * 2;
    let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Vec<u8>)>(in_flight_max);
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<(u64, Node, Vec<u8>)>();
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let job_rx = &job_rx;
            scope.spawn(move || {
                let mut scratch = Scratch::default();
                loop {
                    let job = job_rx.lock().map_err(|_| ()).and_then(|rx| rx.recv().map_err(|_| ()));
                    let Ok((index, chunk)) = job else { return };
                    let root = subtree_root(&chunk, &mut scratch);
                    if done_tx.send((index, root, chunk)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);

        let mut stack = Stack::default();
        let mut free: Vec<Vec<u8>> = Vec::new();
        let mut waiting = std::collections::BTreeMap::new();
        let (mut sent, mut joined, mut total) = (0u64, 0u64, 0u64);
        let mut join = |(index, root, chunk): (u64, Node, Vec<u8>),
                        stack: &mut Stack,
                        free: &mut Vec<Vec<u8>>,
                        joined: &mut u64| {
            free.push(chunk);
            waiting.insert(index, root);
            while let Some(root) = waiting.remove(joined) {
                stack.push(root, CHUNK_LEVEL);
                *joined += 1;
            }
        };
        let tail = loop {
            let mut chunk = free.pop().unwrap_or_else(|| vec![0u8; CHUNK_IN]);
            chunk.resize(CHUNK_IN, 0);
            let n = read_full(&mut reader, &mut chunk)?;
            total += n as u64;
            if total > MAX_PAYLOAD {
                return Err(CommPError::PayloadTooLarge(total));
            }
            progress(total);
            if n < CHUNK_IN {
                chunk.truncate(n);
                break chunk;
            }
            if job_tx.send((sent, chunk)).is_err() {
                break Vec::new(); // a worker died; the count check below reports it
            }
            sent += 1;
            while sent - joined >= in_flight_max as u64 {
                match done_rx.recv() {
                    Ok(done) => join(done, &mut stack, &mut free, &mut joined),
                    Err(_) => break,
                }
            }
        };
        drop(job_tx);
        for done in done_rx.iter() {
            join(done, &mut stack, &mut free, &mut joined);
        }
        if joined != sent {
            return Err(CommPError::Io(std::io::Error::other(
                "a commP worker thread stopped early",
            )));
        }
        finish(stack, joined, tail, total, &mut Scratch::default())
    })
}
