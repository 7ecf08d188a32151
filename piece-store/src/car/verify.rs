//! Verifying a CAR while its bytes stream past for another purpose (commP, upload), on a
//! thread of its own, so checking costs no second read of the file.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::{CarError, CarReader};
use crate::unixfs::BlockCid;

/// What a verified CAR held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarSummary {
    pub version: u64,
    pub roots: Vec<BlockCid>,
    pub blocks: u64,
}

/// Whether `prefix` (the first bytes of a file) starts with a CAR v1 or v2 header.
pub fn looks_like_car(prefix: &[u8]) -> bool {
    let Some((len, n)) = crate::varint::get(prefix) else {
        return false;
    };
    let Some(header) = usize::try_from(len)
        .ok()
        .and_then(|len| prefix.get(n..n.checked_add(len)?))
    else {
        return false;
    };
    super::decode_header(header).is_ok_and(|h| h.version == 1 || h.version == 2)
}

struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.buf = next;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A reader that hands every byte it reads to a CAR verifier on another thread.
pub struct VerifyingReader<R: Read> {
    inner: R,
    tx: Option<SyncSender<Vec<u8>>>,
    handle: Option<JoinHandle<Result<CarSummary, CarError>>>,
}

impl<R: Read> std::fmt::Debug for VerifyingReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingReader").finish_non_exhaustive()
    }
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R) -> Self {
        let (tx, rx) = sync_channel::<Vec<u8>>(8);
        let handle = std::thread::spawn(move || {
            let mut reader = CarReader::new(ChannelReader {
                rx,
                buf: Vec::new(),
                pos: 0,
            })?;
            let (version, roots) = (reader.version(), reader.roots().to_vec());
            let mut blocks = 0;
            while reader.next_block()?.is_some() {
                blocks += 1;
            }
            Ok(CarSummary { version, roots, blocks })
        });
        VerifyingReader {
            inner,
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    /// Waits for the verifier; call once everything has been read.
    pub fn finish(mut self) -> Result<CarSummary, CarError> {
        drop(self.tx.take());
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(CarError::Io(std::io::Error::other(
                "the CAR verifier thread stopped unexpectedly",
            ))),
        }
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let stopped = n > 0 && self.tx.as_ref().is_some_and(|tx| tx.send(buf[..n].to_vec()).is_err());
        if stopped {
            // The verifier already stopped (it found a fault); `finish` reports it.
            self.tx = None;
        }
        Ok(n)
    }
}
