//! Reading CARs, v1 or v2, verifying every block.

use std::io::Read;

use super::{CarError, CarHeader, MAX_HEADER, MAX_SECTION, V2_HEADER_LEN, V2_PRAGMA, decode_header};
use crate::unixfs::{BlockCid, verify_block};

/// One verified block and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarBlock {
    pub cid: BlockCid,
    pub data: Vec<u8>,
    /// Offset of the section (its length varint) in the file.
    pub section_offset: u64,
    /// Offset of the block's bytes in the file.
    pub data_offset: u64,
}

/// Reads the blocks of a CAR in order, checking each against its CID.
#[derive(Debug)]
pub struct CarReader<R: Read> {
    input: R,
    pos: u64,
    /// For v2: where the payload ends.
    end: Option<u64>,
    header: CarHeader,
    /// For v2: where the v1 payload starts in the file.
    data_start: u64,
    version: u64,
}

impl<R: Read> CarReader<R> {
    pub fn new(input: R) -> Result<Self, CarError> {
        let mut r = CarReader {
            input,
            pos: 0,
            end: None,
            header: CarHeader {
                version: 0,
                roots: Vec::new(),
            },
            data_start: 0,
            version: 1,
        };
        let first = r.read_header_section()?;
        match first.version {
            1 => r.header = first,
            2 => {
                let mut h = [0u8; V2_HEADER_LEN as usize];
                r.read_exact(&mut h, "the CARv2 header")?;
                let data_offset = u64::from_le_bytes(h[16..24].try_into().expect("8 bytes"));
                let data_size = u64::from_le_bytes(h[24..32].try_into().expect("8 bytes"));
                if data_offset < r.pos {
                    return Err(CarError::BadHeader(format!(
                        "CARv2 data offset {data_offset} points into the header"
                    )));
                }
                let skip = data_offset - r.pos;
                let skipped = std::io::copy(&mut (&mut r.input).take(skip), &mut std::io::sink())?;
                r.pos += skipped;
                if skipped < skip {
                    return Err(CarError::Truncated {
                        what: "the CARv2 padding",
                        offset: r.pos,
                    });
                }
                r.version = 2;
                r.data_start = data_offset;
                r.end = Some(
                    data_offset
                        .checked_add(data_size)
                        .ok_or_else(|| CarError::BadHeader("CARv2 data size overflows".into()))?,
                );
                let inner = r.read_header_section()?;
                if inner.version != 1 {
                    return Err(CarError::BadHeader(format!(
                        "CARv2 payload has version {}, not 1",
                        inner.version
                    )));
                }
                r.header = inner;
            }
            v => return Err(CarError::UnsupportedVersion(v)),
        }
        if r.header.roots.is_empty() {
            return Err(CarError::BadHeader("the CAR has no roots".into()));
        }
        Ok(r)
    }

    /// 1 or 2.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn roots(&self) -> &[BlockCid] {
        &self.header.roots
    }

    /// Where the v1 payload starts in the file (0 for a CARv1).
    pub fn data_start(&self) -> u64 {
        self.data_start
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), CarError> {
        match self.input.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(CarError::Truncated { what, offset: self.pos })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a varint; `None` at a clean end of input. The bytes are gathered (an
    /// interrupted read is retried without losing its place) and decoded by
    /// `unsigned-varint`, which refuses overlong and non-minimal forms.
    fn read_varint(&mut self, what: &'static str) -> Result<Option<u64>, CarError> {
        let mut buf = [0u8; 10];
        let mut n = 0;
        loop {
            let mut b = [0u8];
            match self.input.read(&mut b) {
                Ok(0) if n == 0 => return Ok(None),
                Ok(0) => return Err(CarError::Truncated { what, offset: self.pos }),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            self.pos += 1;
            buf[n] = b[0];
            n += 1;
            if unsigned_varint::decode::is_last(b[0]) || n == buf.len() {
                break;
            }
        }
        unsigned_varint::decode::u64(&buf[..n])
            .map(|(v, _)| Some(v))
            .map_err(|e| CarError::BadHeader(format!("bad varint in {what} at byte {}: {e}", self.pos)))
    }

    fn read_header_section(&mut self) -> Result<CarHeader, CarError> {
        let len = self.read_varint("the header length")?.ok_or(CarError::Truncated {
            what: "the header",
            offset: 0,
        })?;
        if len == 0 || len > MAX_HEADER {
            return Err(CarError::BadHeader(format!("header length {len} is out of range")));
        }
        let mut buf = vec![0u8; len as usize];
        self.read_exact(&mut buf, "the header")?;
        if self.pos == V2_PRAGMA.len() as u64 && buf == V2_PRAGMA[1..] {
            return Ok(CarHeader {
                version: 2,
                roots: Vec::new(),
            });
        }
        decode_header(&buf)
    }

    /// The next block, verified; `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<CarBlock>, CarError> {
        if self.end.is_some_and(|end| self.pos >= end) {
            return Ok(None);
        }
        let section_offset = self.pos;
        let Some(len) = self.read_varint("a section length")? else {
            return match self.end {
                Some(_) => Err(CarError::Truncated {
                    what: "the CARv2 payload",
                    offset: self.pos,
                }),
                None => Ok(None),
            };
        };
        if len > MAX_SECTION || self.end.is_some_and(|end| self.pos + len > end) {
            return Err(CarError::SectionTooLarge {
                offset: section_offset,
                len,
            });
        }
        let mut buf = vec![0u8; len as usize];
        self.read_exact(&mut buf, "a block")?;
        let mut cursor = std::io::Cursor::new(&buf[..]);
        let cid = BlockCid::read_bytes(&mut cursor).map_err(|e| CarError::BadCid {
            offset: section_offset,
            reason: e.to_string(),
        })?;
        let cid_len = cursor.position() as usize;
        let data = buf.split_off(cid_len);
        match verify_block(&cid, &data) {
            Ok(true) => {}
            Ok(false) => {
                return Err(CarError::HashMismatch {
                    cid: cid.to_string(),
                    offset: section_offset,
                });
            }
            Err(hash) => {
                return Err(CarError::UnverifiableHash {
                    cid: cid.to_string(),
                    offset: section_offset,
                    hash,
                });
            }
        }
        Ok(Some(CarBlock {
            cid,
            data,
            section_offset,
            data_offset: section_offset + (self.pos - section_offset - len) + cid_len as u64,
        }))
    }
}

impl<R: Read> Iterator for CarReader<R> {
    type Item = Result<CarBlock, CarError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::car::write::CarV1Writer;

    /// Hands out one byte per call and is interrupted before every other byte, as a read cut
    /// by a signal is.
    struct Interrupting {
        data: Vec<u8>,
        at: usize,
        interrupt: bool,
    }

    impl Read for Interrupting {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            if self.at == self.data.len() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.data[self.at];
            self.at += 1;
            Ok(1)
        }
    }

    #[test]
    fn interrupted_reads_do_not_corrupt_section_lengths() {
        let data = vec![7u8; 300];
        let cid = crate::unixfs::ImportOptions::default().cid_for(0x55, &data);
        let mut w = CarV1Writer::new(Vec::new(), &[cid]).expect("header");
        w.write_block(&cid, &data).expect("block");
        let (car, _) = w.finish().expect("car");
        let mut r = CarReader::new(Interrupting {
            data: car,
            at: 0,
            interrupt: false,
        })
        .expect("the header reads through the interruptions");
        let block = r.next_block().expect("reads").expect("a block");
        assert_eq!(block.data, data, "a 2-byte section length read right");
        assert!(r.next_block().expect("clean end").is_none());
    }
}
