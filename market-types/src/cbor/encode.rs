//! A canonical CBOR writer: shortest headers, definite lengths, as cbor-gen writes.

/// Appends CBOR items to a buffer.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// An encoder whose buffer has room for `capacity` bytes (no regrowth for large items).
    pub fn with_capacity(capacity: usize) -> Self {
        Encoder {
            buf: Vec::with_capacity(capacity),
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Write a header with the shortest argument encoding.
    pub fn header(&mut self, major: u8, arg: u64) {
        let m = major << 5;
        if arg < 24 {
            self.buf.push(m | arg as u8);
        } else if arg <= 0xff {
            self.buf.extend_from_slice(&[m | 24, arg as u8]);
        } else if arg <= 0xffff {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(arg as u16).to_be_bytes());
        } else if arg <= 0xffff_ffff {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(arg as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&arg.to_be_bytes());
        }
    }

    pub fn u64(&mut self, v: u64) {
        self.header(0, v);
    }

    pub fn i64(&mut self, v: i64) {
        if v >= 0 {
            self.header(0, v as u64);
        } else {
            // -1 - n = v  =>  n = -1 - v, which is non-negative and fits u64.
            self.header(1, (-1 - v) as u64);
        }
    }

    pub fn bool(&mut self, v: bool) {
        self.buf.push(if v { 0xf5 } else { 0xf4 });
    }

    pub fn null(&mut self) {
        self.buf.push(0xf6);
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.header(2, v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    /// A text string from raw bytes (used for Go strings that need not be UTF-8).
    pub fn text_raw(&mut self, v: &[u8]) {
        self.header(3, v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    pub fn text(&mut self, v: &str) {
        self.text_raw(v.as_bytes());
    }

    pub fn array(&mut self, len: usize) {
        self.header(4, len as u64);
    }

    pub fn map(&mut self, len: usize) {
        self.header(5, len as u64);
    }

    pub fn cid<const S: usize>(&mut self, c: &cid::CidGeneric<S>) {
        let raw = c.to_bytes();
        self.header(6, 42);
        self.header(2, raw.len() as u64 + 1);
        self.buf.push(0);
        self.buf.extend_from_slice(&raw);
    }

    /// Append bytes that already are one well-formed CBOR item.
    pub fn raw(&mut self, item: &[u8]) {
        self.buf.extend_from_slice(item);
    }
}
