//! Graphsync 2.0.0 messages, as go-graphsync's `message/ipldbind` schema lays them out and its
//! `message/v2` handler writes them.
//!
//! A frame is `uvarint(len) || dag-cbor({"gs2": Message})`, at most [`MAX_MESSAGE_SIZE`].
//! Map keys go in dag-cbor's length-first order; optional parts are left out when empty, as Go
//! leaves them out (a zero priority, no extensions, no metadata, no requests…), so a message
//! that went through Go comes back byte for byte.

use std::cell::RefCell;

use crate::Cid;
use bytes::Bytes;
use market_types::cbor::{self, Decode, DecodeError, Decoder, Encode, Encoder, key_before};
use market_types::ipld::RawCbor;

/// go-libp2p's `network.MessageSizeMax`, the most go-graphsync reads in one frame.
pub const MAX_MESSAGE_SIZE: usize = 4 << 20;

/// Longest extension name we read (Go's are about 40 bytes).
const MAX_NAME_LEN: u64 = 1024;

/// Why a frame or message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("graphsync frame of {0} bytes is over the {MAX_MESSAGE_SIZE}-byte limit")]
    TooLarge(u64),
    #[error("graphsync frame length prefix is not a valid varint")]
    BadLength,
    #[error("graphsync frame is truncated: {needed} bytes announced, {have} present")]
    Truncated { needed: usize, have: usize },
    #[error("graphsync message: {0}")]
    Decode(#[from] DecodeError),
}

/// A request's ID: 16 raw bytes (a UUID on the Go side), unrelated to data-transfer's IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub [u8; 16]);

impl Encode for RequestId {
    fn encode(&self, e: &mut Encoder) {
        e.bytes(&self.0);
    }
}

impl Decode for RequestId {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        let raw = d.bytes("request id", 16)?;
        let id: [u8; 16] = raw.try_into().map_err(|_| DecodeError::Invalid {
            what: "request id",
            reason: format!("{} bytes instead of 16", raw.len()),
            at,
        })?;
        Ok(RequestId(id))
    }
}

/// Named extension values (inline IPLD nodes, or null), written in dag-cbor key order.
///
/// go-graphsync writes an extension without data as null but refuses a null value when it
/// reads one (found by the interop suite): read nulls, never send one to a Go peer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extensions(Vec<(String, Option<RawCbor>)>);

impl Extensions {
    pub fn new() -> Self {
        Extensions::default()
    }

    /// Set `name` (replacing an earlier value).
    pub fn insert(&mut self, name: impl Into<String>, value: Option<RawCbor>) {
        let name = name.into();
        let at = self.0.iter().position(|(n, _)| !key_before(n, &name));
        match at {
            Some(i) if self.0[i].0 == name => self.0[i].1 = value,
            Some(i) => self.0.insert(i, (name, value)),
            None => self.0.push((name, value)),
        }
    }

    /// The value of `name`: `None` when absent, `Some(None)` when present as null.
    pub fn get(&self, name: &str) -> Option<Option<&RawCbor>> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_ref())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&RawCbor>)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_ref()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Encode for Extensions {
    fn encode(&self, e: &mut Encoder) {
        e.map(self.0.len());
        for (name, value) in &self.0 {
            e.text(name);
            match value {
                Some(v) => v.encode(e),
                None => e.null(),
            }
        }
    }
}

impl Decode for Extensions {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let n = d.map(MAX_MESSAGE_SIZE as u64)?;
        let mut ext = Extensions::new();
        for _ in 0..n {
            let at = d.position();
            let name = d.text(MAX_NAME_LEN)?.to_owned();
            let value = if d.peek_null() {
                d.null()?;
                None
            } else {
                Some(<RawCbor as Decode>::decode(d)?)
            };
            if ext.get(&name).is_some() {
                return Err(duplicate("extension", at));
            }
            ext.insert(name, value);
        }
        Ok(ext)
    }
}

fn duplicate(what: &'static str, at: usize) -> DecodeError {
    DecodeError::Invalid {
        what,
        reason: "repeated map key".into(),
        at,
    }
}

/// Keep a map entry's value, refusing a key seen before (as Go's bindnode does).
fn set_once<T>(slot: &mut Option<T>, value: T, what: &'static str, at: usize) -> Result<(), DecodeError> {
    match slot.replace(value) {
        Some(_) => Err(duplicate(what, at)),
        None => Ok(()),
    }
}

fn required<T>(slot: Option<T>, ty: &'static str, field: &'static str) -> Result<T, DecodeError> {
    slot.ok_or(DecodeError::Missing { ty, field })
}

fn unknown(what: &'static str, key: &str, at: usize) -> DecodeError {
    DecodeError::Invalid {
        what,
        reason: format!("unknown key {key:?}"),
        at,
    }
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// Walk `selector` from `root` and send the blocks.
    New {
        root: Cid,
        /// The selector node, inline.
        selector: RawCbor,
        /// Go's `graphsync.Priority`; 0 is left off the wire.
        priority: i32,
        extensions: Extensions,
    },
    /// Stop the request with this ID.
    Cancel,
    /// New extensions for a running request (data-transfer messages, for one).
    Update { extensions: Extensions },
}

/// One request: `{id, type, pri?, root?, sel?, ext?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: RequestId,
    pub kind: RequestKind,
}

impl Request {
    pub fn extensions(&self) -> Option<&Extensions> {
        match &self.kind {
            RequestKind::New { extensions, .. } | RequestKind::Update { extensions } => Some(extensions),
            RequestKind::Cancel => None,
        }
    }
}

impl Encode for Request {
    fn encode(&self, e: &mut Encoder) {
        // Keys in dag-cbor order: id, ext, pri, sel, root, type.
        let (type_code, ext, pri, sel, root) = match &self.kind {
            RequestKind::New {
                root,
                selector,
                priority,
                extensions,
            } => (
                "n",
                Some(extensions).filter(|x| !x.is_empty()),
                Some(*priority).filter(|p| *p != 0),
                Some(selector),
                Some(root),
            ),
            RequestKind::Cancel => ("c", None, None, None, None),
            RequestKind::Update { extensions } => ("u", Some(extensions).filter(|x| !x.is_empty()), None, None, None),
        };
        let n = 2
            + usize::from(ext.is_some())
            + usize::from(pri.is_some())
            + usize::from(sel.is_some())
            + usize::from(root.is_some());
        e.map(n);
        e.text("id");
        self.id.encode(e);
        if let Some(ext) = ext {
            e.text("ext");
            ext.encode(e);
        }
        if let Some(pri) = pri {
            e.text("pri");
            e.i64(i64::from(pri));
        }
        if let Some(sel) = sel {
            e.text("sel");
            sel.encode(e);
        }
        if let Some(root) = root {
            e.text("root");
            e.cid(root);
        }
        e.text("type");
        e.text(type_code);
    }
}

impl Decode for Request {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let n = d.map(6)?;
        let (mut id, mut type_code, mut pri, mut root, mut sel, mut ext) = (None, None, None, None, None, None);
        for _ in 0..n {
            let at = d.position();
            let key = d.text(8)?;
            let what = "graphsync request";
            match key {
                "id" => set_once(
                    &mut id,
                    RequestId::decode(d).map_err(|e| e.in_field("Request", "id"))?,
                    what,
                    at,
                )?,
                "type" => {
                    let t = d.text(1).map_err(|e| e.in_field("Request", "type"))?;
                    set_once(&mut type_code, t.to_owned(), what, at)?
                }
                "pri" => {
                    let p = d.i64().map_err(|e| e.in_field("Request", "pri"))?;
                    let p = i32::try_from(p).map_err(|_| DecodeError::OutOfRange {
                        value: p.to_string(),
                        target: "graphsync priority (int32)",
                        at,
                    })?;
                    set_once(&mut pri, p, what, at)?
                }
                "root" => set_once(
                    &mut root,
                    d.cid_sized().map_err(|e| e.in_field("Request", "root"))?,
                    what,
                    at,
                )?,
                "sel" => {
                    let v = <RawCbor as Decode>::decode(d).map_err(|e| e.in_field("Request", "sel"))?;
                    set_once(&mut sel, v, what, at)?
                }
                "ext" => {
                    let v = Extensions::decode(d).map_err(|e| e.in_field("Request", "ext"))?;
                    set_once(&mut ext, v, what, at)?
                }
                other => return Err(unknown(what, other, at)),
            }
        }
        let id = required(id, "Request", "id")?;
        let type_code = required(type_code, "Request", "type")?;
        let extensions = ext.unwrap_or_default();
        let kind = match type_code.as_str() {
            "n" => RequestKind::New {
                root: required(root, "Request", "root")?,
                selector: required(sel, "Request", "sel")?,
                priority: pri.unwrap_or(0),
                extensions,
            },
            // Go keeps nothing but the ID of a cancel, and only the extensions of an update.
            "c" => RequestKind::Cancel,
            "u" => RequestKind::Update { extensions },
            other => {
                return Err(DecodeError::Invalid {
                    what: "graphsync request type",
                    reason: format!("{other:?} is not n, c or u"),
                    at: d.position(),
                });
            }
        };
        Ok(Request { id, kind })
    }
}

macro_rules! status_codes {
    ($($name:ident = $code:literal),* $(,)?) => {
        /// A response's status (`stat`); any other number makes Go drop the whole frame.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ResponseStatus { $($name = $code),* }

        impl ResponseStatus {
            pub const ALL: &[ResponseStatus] = &[$(ResponseStatus::$name),*];

            pub fn code(self) -> u64 {
                self as u64
            }

            pub fn from_code(code: u64) -> Option<Self> {
                match code {
                    $($code => Some(ResponseStatus::$name),)*
                    _ => None,
                }
            }
        }
    };
}

status_codes! {
    RequestAcknowledged = 10,
    AdditionalPeers = 11,
    NotEnoughGas = 12,
    OtherProtocol = 13,
    PartialResponse = 14,
    RequestPaused = 15,
    RequestCompletedFull = 20,
    RequestCompletedPartial = 21,
    RequestRejected = 30,
    RequestFailedBusy = 31,
    RequestFailedUnknown = 32,
    RequestFailedLegal = 33,
    RequestFailedContentNotFound = 34,
    RequestCancelled = 35,
}

impl ResponseStatus {
    /// The request is over (completed or failed).
    pub fn is_terminal(self) -> bool {
        self.code() >= 20
    }

    pub fn is_success(self) -> bool {
        matches!(
            self,
            ResponseStatus::RequestCompletedFull | ResponseStatus::RequestCompletedPartial
        )
    }
}

/// What the responder did with one link of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkAction {
    /// Loaded; its block is in this message unless it was sent before.
    Present,
    DuplicateNotSent,
    Missing,
    DuplicateDagSkipped,
}

impl LinkAction {
    pub const ALL: &[LinkAction] = &[
        LinkAction::Present,
        LinkAction::DuplicateNotSent,
        LinkAction::Missing,
        LinkAction::DuplicateDagSkipped,
    ];

    fn code(self) -> &'static str {
        match self {
            LinkAction::Present => "p",
            LinkAction::DuplicateNotSent => "d",
            LinkAction::Missing => "m",
            LinkAction::DuplicateDagSkipped => "s",
        }
    }
}

/// One `[link, action]` entry of a response's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataEntry {
    pub link: Cid,
    pub action: LinkAction,
}

impl Encode for MetadataEntry {
    fn encode(&self, e: &mut Encoder) {
        e.array(2);
        e.cid(&self.link);
        e.text(self.action.code());
    }
}

impl Decode for MetadataEntry {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        let n = d.array(2)?;
        if n != 2 {
            return Err(DecodeError::Arity {
                ty: "GraphSyncMetadatum",
                expected: 2,
                got: n as u64,
            });
        }
        let link = d.cid_sized()?;
        let action = match d.text(1)? {
            "p" => LinkAction::Present,
            "d" => LinkAction::DuplicateNotSent,
            "m" => LinkAction::Missing,
            "s" => LinkAction::DuplicateDagSkipped,
            other => {
                return Err(DecodeError::Invalid {
                    what: "graphsync link action",
                    reason: format!("{other:?} is not p, d, m or s"),
                    at,
                });
            }
        };
        Ok(MetadataEntry { link, action })
    }
}

/// One response: `{reqid, stat, meta?, ext?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub request_id: RequestId,
    pub status: ResponseStatus,
    pub metadata: Vec<MetadataEntry>,
    pub extensions: Extensions,
}

impl Encode for Response {
    fn encode(&self, e: &mut Encoder) {
        // Keys in dag-cbor order: ext, meta, stat, reqid.
        let n = 2 + usize::from(!self.extensions.is_empty()) + usize::from(!self.metadata.is_empty());
        e.map(n);
        if !self.extensions.is_empty() {
            e.text("ext");
            self.extensions.encode(e);
        }
        if !self.metadata.is_empty() {
            e.text("meta");
            list(e, &self.metadata);
        }
        e.text("stat");
        e.u64(self.status.code());
        e.text("reqid");
        self.request_id.encode(e);
    }
}

impl Decode for Response {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let n = d.map(4)?;
        let (mut id, mut status, mut meta, mut ext) = (None, None, None, None);
        for _ in 0..n {
            let at = d.position();
            let what = "graphsync response";
            match d.text(8)? {
                "reqid" => {
                    let v = RequestId::decode(d).map_err(|e| e.in_field("Response", "reqid"))?;
                    set_once(&mut id, v, what, at)?
                }
                "stat" => {
                    let code = d.u64().map_err(|e| e.in_field("Response", "stat"))?;
                    let s = ResponseStatus::from_code(code).ok_or_else(|| DecodeError::Invalid {
                        what: "graphsync response status",
                        reason: format!("{code} is not a graphsync status code"),
                        at,
                    })?;
                    set_once(&mut status, s, what, at)?
                }
                "meta" => set_once(
                    &mut meta,
                    read_list(d).map_err(|e| e.in_field("Response", "meta"))?,
                    what,
                    at,
                )?,
                "ext" => {
                    let v = Extensions::decode(d).map_err(|e| e.in_field("Response", "ext"))?;
                    set_once(&mut ext, v, what, at)?
                }
                other => return Err(unknown(what, other, at)),
            }
        }
        Ok(Response {
            request_id: required(id, "Response", "reqid")?,
            status: required(status, "Response", "stat")?,
            metadata: meta.unwrap_or_default(),
            extensions: ext.unwrap_or_default(),
        })
    }
}

/// A block as sent: the CID prefix (version, codec, hash function and length) and the data;
/// the receiver hashes the data to get the CID. The data is shared, not copied: a block read
/// by [`Message::from_body`] is a slice of the frame it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub prefix: Vec<u8>,
    pub data: Bytes,
}

thread_local! {
    /// The frame [`Message::from_body`] is decoding, so blocks can be slices of it.
    static FRAME: RefCell<Option<Bytes>> = const { RefCell::new(None) };
}

/// `data` as a slice of the frame being decoded when it lies inside it, else a copy.
fn share(data: &[u8]) -> Bytes {
    FRAME.with(|f| match &*f.borrow() {
        Some(frame) => {
            let (base, start) = (frame.as_ptr() as usize, data.as_ptr() as usize);
            if start >= base && start + data.len() <= base + frame.len() {
                frame.slice_ref(data)
            } else {
                Bytes::copy_from_slice(data)
            }
        }
        None => Bytes::copy_from_slice(data),
    })
}

impl Encode for Block {
    fn encode(&self, e: &mut Encoder) {
        e.array(2);
        e.bytes(&self.prefix);
        e.bytes(&self.data);
    }
}

impl Decode for Block {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let n = d.array(2)?;
        if n != 2 {
            return Err(DecodeError::Arity {
                ty: "GraphSyncBlock",
                expected: 2,
                got: n as u64,
            });
        }
        let prefix = d.bytes("block prefix", 64)?.to_vec();
        let data = share(d.bytes("block data", MAX_MESSAGE_SIZE as u64)?);
        Ok(Block { prefix, data })
    }
}

/// One graphsync message: any mix of requests, responses and blocks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub requests: Vec<Request>,
    pub responses: Vec<Response>,
    pub blocks: Vec<Block>,
}

impl Message {
    /// The frame as it goes on a stream: the varint length, then the message.
    pub fn to_frame(&self) -> Vec<u8> {
        self.to_frame_bytes().to_vec()
    }

    /// The frame, built in one buffer: block data is copied once, into it.
    pub fn to_frame_bytes(&self) -> Bytes {
        const HEAD: usize = 10;
        let blocks: usize = self.blocks.iter().map(|b| b.data.len() + b.prefix.len() + 16).sum();
        let mut e = Encoder::with_capacity(HEAD + blocks + 1024);
        e.raw(&[0u8; HEAD]);
        self.encode(&mut e);
        let mut buf = e.into_bytes();
        let body_len = buf.len() - HEAD;
        let mut varint = unsigned_varint::encode::usize_buffer();
        let len = unsigned_varint::encode::usize(body_len, &mut varint);
        let start = HEAD - len.len();
        buf[start..HEAD].copy_from_slice(len);
        Bytes::from(buf).slice(start..)
    }

    /// Decode a message from the body of a frame (without its length), sharing block data
    /// with `body` rather than copying it.
    pub fn from_body(body: Bytes) -> Result<Message, MessageError> {
        FRAME.with(|f| *f.borrow_mut() = Some(body.clone()));
        let decoded = cbor::from_slice(&body);
        FRAME.with(|f| *f.borrow_mut() = None);
        Ok(decoded?)
    }

    /// Read one frame from the front of `input`; returns the message and the bytes it used.
    pub fn from_frame(input: &[u8]) -> Result<(Message, usize), MessageError> {
        let (len, rest) = match unsigned_varint::decode::u64(input) {
            Ok(v) => v,
            Err(unsigned_varint::decode::Error::Insufficient) => {
                return Err(MessageError::Truncated {
                    needed: 1,
                    have: input.len(),
                });
            }
            Err(_) => return Err(MessageError::BadLength),
        };
        if len > MAX_MESSAGE_SIZE as u64 {
            return Err(MessageError::TooLarge(len));
        }
        let len = len as usize;
        if rest.len() < len {
            return Err(MessageError::Truncated {
                needed: len,
                have: rest.len(),
            });
        }
        let used = input.len() - rest.len() + len;
        Ok((cbor::from_slice(&rest[..len])?, used))
    }
}

fn list<T: Encode>(e: &mut Encoder, items: &[T]) {
    e.array(items.len());
    for item in items {
        item.encode(e);
    }
}

fn read_list<T: Decode>(d: &mut Decoder<'_>) -> Result<Vec<T>, DecodeError> {
    let n = d.array(MAX_MESSAGE_SIZE as u64)?;
    // Every item takes at least a byte of the input, so `n` is bounded by it; still, grow as read.
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        out.push(T::decode(d)?);
    }
    Ok(out)
}

impl Encode for Message {
    fn encode(&self, e: &mut Encoder) {
        e.map(1);
        e.text("gs2");
        // Keys in dag-cbor order: blk, req, rsp; each left out when empty.
        let n = usize::from(!self.blocks.is_empty())
            + usize::from(!self.requests.is_empty())
            + usize::from(!self.responses.is_empty());
        e.map(n);
        if !self.blocks.is_empty() {
            e.text("blk");
            list(e, &self.blocks);
        }
        if !self.requests.is_empty() {
            e.text("req");
            list(e, &self.requests);
        }
        if !self.responses.is_empty() {
            e.text("rsp");
            list(e, &self.responses);
        }
    }
}

impl Decode for Message {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        if d.map(1)? != 1 {
            return Err(DecodeError::Invalid {
                what: "graphsync message root",
                reason: "a keyed union has exactly one key".into(),
                at,
            });
        }
        let at = d.position();
        match d.text(8)? {
            "gs2" => {}
            other => return Err(unknown("graphsync message root", other, at)),
        }
        let n = d.map(3)?;
        let (mut blk, mut req, mut rsp) = (None, None, None);
        for _ in 0..n {
            let at = d.position();
            let what = "graphsync message";
            match d.text(8)? {
                "blk" => set_once(&mut blk, read_list(d)?, what, at)?,
                "req" => set_once(&mut req, read_list(d)?, what, at)?,
                "rsp" => set_once(&mut rsp, read_list(d)?, what, at)?,
                other => return Err(unknown(what, other, at)),
            }
        }
        Ok(Message {
            requests: req.unwrap_or_default(),
            responses: rsp.unwrap_or_default(),
            blocks: blk.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_selector() -> RawCbor {
        let bytes = hex::decode("a16152a2616ca1646e6f6e65a0623a3ea16161a1613ea16140a0").expect("hex");
        RawCbor::from_bytes(&bytes).expect("selector")
    }

    #[test]
    fn extension_keys_go_in_dag_cbor_order() {
        let mut ext = Extensions::new();
        for name in [
            "fil/data-transfer/incoming-request/1.1",
            "graphsync/do-not-send-cids",
            "fil/data-transfer/1.1",
            "fil/data-transfer/outgoing-block/1.1",
            "graphsync/dedup-by-key",
        ] {
            ext.insert(name, None);
        }
        let names: Vec<&str> = ext.iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "fil/data-transfer/1.1",
                "graphsync/dedup-by-key",
                "graphsync/do-not-send-cids",
                "fil/data-transfer/outgoing-block/1.1",
                "fil/data-transfer/incoming-request/1.1",
            ]
        );
        ext.insert("graphsync/dedup-by-key", Some(RawCbor::from_value(&1u64)));
        assert_eq!(ext.len(), 5);
        assert_eq!(
            ext.get("graphsync/dedup-by-key"),
            Some(Some(&RawCbor::from_value(&1u64)))
        );
    }

    #[test]
    fn a_new_request_frame_round_trips_and_leaves_out_zero_parts() {
        let root: Cid = "bafkqaaa".parse().expect("cid");
        let msg = Message {
            requests: vec![Request {
                id: RequestId([7; 16]),
                kind: RequestKind::New {
                    root,
                    selector: all_selector(),
                    priority: 0,
                    extensions: Extensions::new(),
                },
            }],
            ..Message::default()
        };
        let frame = msg.to_frame();
        let (back, used) = Message::from_frame(&frame).expect("decode");
        assert_eq!((back, used), (msg.clone(), frame.len()));
        let body = cbor::to_vec(&msg);
        // {"gs2": {"req": [{"id", "sel", "root", "type"}]}}: no pri, no ext, no rsp, no blk.
        assert_eq!(
            &body[..11],
            &[0xa1, 0x63, b'g', b's', b'2', 0xa1, 0x63, b'r', b'e', b'q', 0x81]
        );
        assert_eq!(body[11], 0xa4);
    }

    #[test]
    fn go_rejects_what_we_reject() {
        // A 15-byte request ID, an unknown status, an unknown key.
        let mut bad_id = Encoder::new();
        bad_id.map(2);
        bad_id.text("id");
        bad_id.bytes(&[0; 15]);
        bad_id.text("type");
        bad_id.text("c");
        assert!(cbor::from_slice::<Request>(bad_id.as_bytes()).is_err());
        // A repeated key (Go's bindnode refuses the map).
        let mut twice = Encoder::new();
        twice.map(3);
        for _ in 0..2 {
            twice.text("id");
            twice.bytes(&[0; 16]);
        }
        twice.text("type");
        twice.text("c");
        assert!(cbor::from_slice::<Request>(twice.as_bytes()).is_err());
        let resp = Response {
            request_id: RequestId([1; 16]),
            status: ResponseStatus::RequestCompletedFull,
            metadata: vec![],
            extensions: Extensions::new(),
        };
        let mut bytes = cbor::to_vec(&resp);
        let stat = bytes.iter().position(|b| *b == 20).expect("status byte");
        bytes[stat] = 19;
        assert!(cbor::from_slice::<Response>(&bytes).is_err());
        assert!(Message::from_frame(&[0xff, 0xff, 0xff, 0x7f]).is_err());
        let mut too_long = unsigned_varint::encode::u64_buffer();
        let prefix = unsigned_varint::encode::u64(MAX_MESSAGE_SIZE as u64 + 1, &mut too_long);
        assert_eq!(
            Message::from_frame(prefix),
            Err(MessageError::TooLarge(MAX_MESSAGE_SIZE as u64 + 1))
        );
    }
}

#[cfg(test)]
mod generated {
    use super::*;
    use market_types::testing::generate;

    #[test]
    fn generated_messages_round_trip_through_frames() {
        for i in 0u32..2000 {
            let seed: Vec<u8> = (0..600u32)
                .map(|j| (i.wrapping_mul(2654435761) >> (j % 24)) as u8 ^ j as u8)
                .collect();
            let msg: Message = generate(&seed);
            let frame = msg.to_frame();
            let (back, used) = Message::from_frame(&frame).expect("own frame decodes");
            assert_eq!(used, frame.len());
            assert_eq!(back, msg);
            assert_eq!(back.to_frame(), frame);
        }
    }
}

/// Frames go-graphsync v0.17.0's `message/v2` handler wrote (`ToNet`).
#[cfg(test)]
mod go_vectors {
    use super::*;

    const ID: RequestId = RequestId([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const BLOCK_CID: &str = "QmP1kQMpZNdb22xz4WQmE6FjLjzkhSGUgh7uLcEdgcfqTq";

    /// A new request for the all-selector from a block, asking to skip the first 3 blocks.
    const NEW_REQUEST: &str = "9b01a163677332a16372657181a5626964500102030405060708090a0b0c0d0e0f1063657874a17822677261706873796e632f646f2d6e6f742d73656e642d66697273742d626c6f636b73036373656ca16152a2616ca1646e6f6e65a0623a3ea16161a1613ea16140a064726f6f74d82a58230012200a0416fd4be37a6140d0ed890c250fecc8c97146f2aaa72a669063aae058edd46474797065616e";
    /// Its completed response: the block, and metadata naming it present.
    const COMPLETED: &str = "74a163677332a263626c6b818244007012204f68656c6c6f20677261706873796e636372737081a3646d6574618182d82a58230012200a0416fd4be37a6140d0ed890c250fecc8c97146f2aaa72a669063aae058edd46170647374617414657265716964500102030405060708090a0b0c0d0e0f10";

    fn decode(hex_frame: &str) -> Message {
        let frame = hex::decode(hex_frame).expect("hex");
        let (msg, used) = Message::from_frame(&frame).expect("Go's frame decodes");
        assert_eq!(used, frame.len());
        assert_eq!(msg.to_frame(), frame, "re-encoded byte for byte");
        msg
    }

    #[test]
    fn a_go_new_request_reads_as_written() {
        let msg = decode(NEW_REQUEST);
        assert!(msg.responses.is_empty() && msg.blocks.is_empty());
        let [req] = msg.requests.as_slice() else {
            panic!("one request")
        };
        assert_eq!(req.id, ID);
        let RequestKind::New {
            root,
            selector,
            priority,
            extensions,
        } = &req.kind
        else {
            panic!("a new request")
        };
        assert_eq!(root.to_string(), BLOCK_CID);
        assert_eq!(
            hex::encode(selector.as_bytes()),
            "a16152a2616ca1646e6f6e65a0623a3ea16161a1613ea16140a0"
        );
        assert_eq!(*priority, 0);
        let skip = extensions
            .get("graphsync/do-not-send-first-blocks")
            .flatten()
            .expect("extension");
        assert_eq!(skip.decode::<u64>(), Ok(3));
    }

    #[test]
    fn a_go_completed_response_reads_as_written() {
        let msg = decode(COMPLETED);
        let [rsp] = msg.responses.as_slice() else {
            panic!("one response")
        };
        assert_eq!(rsp.request_id, ID);
        assert_eq!(rsp.status, ResponseStatus::RequestCompletedFull);
        assert_eq!(rsp.metadata.len(), 1);
        assert_eq!(rsp.metadata[0].link.to_string(), BLOCK_CID);
        assert_eq!(rsp.metadata[0].action, LinkAction::Present);
        let [block] = msg.blocks.as_slice() else {
            panic!("one block")
        };
        assert_eq!(block.prefix, [0x00, 0x70, 0x12, 0x20], "CIDv0 dag-pb sha2-256");
        assert_eq!(block.data.as_ref(), b"hello graphsync");
    }
}
