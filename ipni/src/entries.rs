//! Entry chunks as index-provider's chain chunker makes them: multihashes in the order given,
//! `chunk_size` to a chunk, each chunk linking to the one made before it; the advertisement
//! links to the last. Built as the multihashes stream past, one chunk in memory at a time.

use cid::Cid;

use crate::schema::entry_chunk_block;

/// Builds an entries chain.
#[derive(Debug)]
pub struct EntriesBuilder {
    chunk_size: usize,
    pending: Vec<Vec<u8>>,
    last: Option<Cid>,
    count: u64,
}

impl EntriesBuilder {
    /// `chunk_size` multihashes per chunk (at least 1).
    pub fn new(chunk_size: usize) -> Self {
        let chunk_size = chunk_size.max(1);
        EntriesBuilder {
            chunk_size,
            pending: Vec::with_capacity(chunk_size.min(1 << 16)),
            last: None,
            count: 0,
        }
    }

    /// Adds a multihash; returns the chunk it completed, if any, as (CID, dag-json bytes).
    pub fn push(&mut self, multihash: Vec<u8>) -> Option<(Cid, Vec<u8>)> {
        self.pending.push(multihash);
        self.count += 1;
        (self.pending.len() >= self.chunk_size).then(|| self.cut())
    }

    fn cut(&mut self) -> (Cid, Vec<u8>) {
        let block = entry_chunk_block(&self.pending, self.last);
        self.pending.clear();
        self.last = Some(block.0);
        block
    }

    /// The last, partial chunk (if any) and the link the advertisement takes: `None` when no
    /// multihash was pushed.
    pub fn finish(mut self) -> (Option<(Cid, Vec<u8>)>, Option<Cid>) {
        let block = (!self.pending.is_empty()).then(|| self.cut());
        (block, self.last)
    }

    /// Multihashes pushed so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_link_backwards_and_the_head_is_the_last() {
        let mut b = EntriesBuilder::new(2);
        let mut blocks = Vec::new();
        for i in 0..5u8 {
            blocks.extend(b.push(vec![i]));
        }
        assert_eq!(b.count(), 5);
        let (tail, head) = b.finish();
        blocks.extend(tail);
        assert_eq!(blocks.len(), 3);
        assert_eq!(head, Some(blocks[2].0));
        let texts: Vec<String> = blocks
            .iter()
            .map(|b| String::from_utf8(b.1.clone()).expect("test value"))
            .collect();
        assert!(!texts[0].contains("Next"));
        assert!(texts[1].contains(&blocks[0].0.to_string()));
        assert!(texts[2].contains(&blocks[1].0.to_string()) && texts[2].contains(r#""BA""#));
        assert!(
            !texts[2].contains(r#""AQ""#),
            "the first multihashes are in the first chunk"
        );
        assert_eq!(EntriesBuilder::new(16384).finish(), (None, None));
    }
}
