//! Where a host keeps its unfinished pulls, so that after a cut connection or a process restart
//! they can be restarted (what arrived is counted again from the block sink, not stored here).
//! Written before the request goes out and removed when the channel is over.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use cid::Cid;
use market_types::bytes::Bytes;
use market_types::cbor::{Decode, DecodeError, Decoder, Encode, Encoder};
use market_types::ipld::RawCbor;

/// One pull of ours: enough to restart it. Stored as a dag-cbor map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRecord {
    pub peer: Bytes,
    pub root: Cid,
    pub transfer_id: u64,
    pub selector: RawCbor,
    pub voucher_type: String,
    pub voucher: RawCbor,
}

impl Encode for PullRecord {
    fn encode(&self, e: &mut Encoder) {
        // Keys in dag-cbor order.
        e.map(6);
        e.text("Peer");
        self.peer.encode(e);
        e.text("Root");
        e.cid(&self.root);
        e.text("XferID");
        e.u64(self.transfer_id);
        e.text("Voucher");
        self.voucher.encode(e);
        e.text("Selector");
        self.selector.encode(e);
        e.text("VoucherType");
        e.text(&self.voucher_type);
    }
}

impl Decode for PullRecord {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let n = d.map(16)?;
        let (mut peer, mut root, mut xfer, mut voucher, mut selector, mut kind) = (None, None, None, None, None, None);
        for _ in 0..n {
            match d.text(16)? {
                "Peer" => peer = Some(Bytes::decode(d)?),
                "Root" => root = Some(d.cid()?),
                "XferID" => xfer = Some(d.u64()?),
                "Voucher" => voucher = Some(<RawCbor as Decode>::decode(d)?),
                "Selector" => selector = Some(<RawCbor as Decode>::decode(d)?),
                "VoucherType" => kind = Some(d.text(1024)?.to_owned()),
                _ => {
                    d.skip()?;
                }
            }
        }
        let missing = |field| DecodeError::Missing {
            ty: "PullRecord",
            field,
        };
        Ok(PullRecord {
            peer: peer.ok_or(missing("Peer"))?,
            root: root.ok_or(missing("Root"))?,
            transfer_id: xfer.ok_or(missing("XferID"))?,
            selector: selector.ok_or(missing("Selector"))?,
            voucher_type: kind.ok_or(missing("VoucherType"))?,
            voucher: voucher.ok_or(missing("Voucher"))?,
        })
    }
}

impl PullRecord {
    pub fn new(
        peer: libp2p::PeerId,
        transfer_id: u64,
        root: Cid,
        selector: RawCbor,
        voucher: &crate::message::TypedVoucher,
    ) -> Self {
        PullRecord {
            peer: Bytes(peer.to_bytes()),
            root,
            transfer_id,
            selector,
            voucher_type: voucher.kind.clone(),
            voucher: voucher.node.clone(),
        }
    }

    pub fn peer_id(&self) -> Option<libp2p::PeerId> {
        libp2p::PeerId::from_bytes(&self.peer.0).ok()
    }

    fn file_name(&self) -> String {
        let peer = self.peer_id().map_or_else(|| "unknown".to_string(), |p| p.to_string());
        format!("{peer}-{}.cbor", self.transfer_id)
    }
}

/// Storage for unfinished pulls.
pub trait ChannelStore: Send + Sync + 'static {
    fn save(&self, record: &PullRecord) -> std::io::Result<()>;
    fn remove(&self, record: &PullRecord) -> std::io::Result<()>;
    fn list(&self) -> std::io::Result<Vec<PullRecord>>;
}

/// In memory: nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryChannels(Mutex<Vec<PullRecord>>);

impl ChannelStore for MemoryChannels {
    fn save(&self, record: &PullRecord) -> std::io::Result<()> {
        let mut all = self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        all.retain(|r| !(r.peer == record.peer && r.transfer_id == record.transfer_id));
        all.push(record.clone());
        Ok(())
    }
    fn remove(&self, record: &PullRecord) -> std::io::Result<()> {
        let mut all = self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        all.retain(|r| !(r.peer == record.peer && r.transfer_id == record.transfer_id));
        Ok(())
    }
    fn list(&self) -> std::io::Result<Vec<PullRecord>> {
        Ok(self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.clone())
    }
}

/// One file per pull in a directory, each written whole (temporary file, fsync, rename).
#[derive(Debug)]
pub struct DirChannels {
    dir: PathBuf,
}

impl DirChannels {
    pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<DirChannels> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(DirChannels { dir })
    }
}

impl ChannelStore for DirChannels {
    fn save(&self, record: &PullRecord) -> std::io::Result<()> {
        let path = self.dir.join(record.file_name());
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&market_types::cbor::to_vec(record))?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&self.dir)?.sync_all()
    }
    fn remove(&self, record: &PullRecord) -> std::io::Result<()> {
        match std::fs::remove_file(self.dir.join(record.file_name())) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
    fn list(&self) -> std::io::Result<Vec<PullRecord>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "cbor") {
                continue;
            }
            // A record that does not read is skipped with a warning, not fatal.
            match std::fs::read(&path).map(|b| market_types::cbor::from_slice::<PullRecord>(&b)) {
                Ok(Ok(r)) => out.push(r),
                Ok(Err(e)) => tracing::warn!(path = %path.display(), "data-transfer: unreadable channel record: {e}"),
                Err(e) => tracing::warn!(path = %path.display(), "data-transfer: channel record: {e}"),
            }
        }
        out.sort_by_key(|r| r.transfer_id);
        Ok(out)
    }
}
