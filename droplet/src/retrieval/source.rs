//! Blocks for graphsync from piece storage: the piece index says which pieces hold a block and
//! where in their CAR; the bytes are read from the piece's store (filesystem or S3) by range,
//! never by loading a whole piece. Open pieces are kept for the next block.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cid::Cid;
use piece_store::store::OpenPiece;

use crate::pieces::Pieces;

/// Open pieces kept at most; beyond this the cache starts again.
const OPEN_PIECES: usize = 64;

#[derive(Debug)]
pub struct PieceBlocks {
    pieces: Arc<Pieces>,
    runtime: tokio::runtime::Handle,
    open: Mutex<HashMap<Cid, Arc<OpenPiece>>>,
}

impl PieceBlocks {
    /// Must be called within the tokio runtime the reads will run on.
    pub fn new(pieces: Arc<Pieces>) -> Self {
        PieceBlocks {
            pieces,
            runtime: tokio::runtime::Handle::current(),
            open: Mutex::new(HashMap::new()),
        }
    }

    fn open(&self, piece: &Cid) -> std::io::Result<Arc<OpenPiece>> {
        if let Some(p) = self.open.lock().unwrap_or_else(|e| e.into_inner()).get(piece) {
            return Ok(p.clone());
        }
        let storage = self.pieces.storage();
        let opened = self
            .runtime
            .block_on(storage.open(&piece.to_string()))
            .map_err(std::io::Error::other)?;
        let opened = Arc::new(opened);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() >= OPEN_PIECES {
            open.clear();
        }
        open.insert(*piece, opened.clone());
        Ok(opened)
    }
}

impl graphsync::BlockSource for PieceBlocks {
    /// Called on graphsync's blocking threads.
    fn get(&self, cid: &graphsync::Cid) -> std::io::Result<Option<Bytes>> {
        let index = self.pieces.index();
        let mh = cid.hash().to_bytes();
        let holders = index.pieces_with_block(&mh).map_err(std::io::Error::other)?;
        for piece in holders {
            let Some(at) = index.block_location(&piece, &mh).map_err(std::io::Error::other)? else {
                continue;
            };
            let open = match self.open(&piece) {
                Ok(o) => o,
                Err(e) => {
                    tracing::debug!(%piece, "no unsealed copy to read {cid} from: {e}");
                    continue;
                }
            };
            match self.runtime.block_on(open.read(at.offset..at.offset + at.len)) {
                Ok(data) => return Ok(Some(data)),
                Err(e) => {
                    tracing::warn!(%piece, %cid, "reading a block from piece storage: {e}");
                    self.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&piece);
                }
            }
        }
        Ok(None)
    }
}
