//! Padding a commP to a larger piece, and the aggregate CommD of pieces in a sector
//! (go-commp-utils `ZeroPadPieceCommitment` and `GenerateUnsealedCID`).

use super::CommPError;
use super::tree::{MAX_LEVEL, Node, hash_pair, zero_node};

fn check_size(size: u64) -> Result<usize, CommPError> {
    if size < 128 || !size.is_power_of_two() || (size / 32).trailing_zeros() as usize > MAX_LEVEL {
        return Err(CommPError::BadPieceSize(size));
    }
    Ok((size / 32).trailing_zeros() as usize)
}

/// The commitment of a piece of `from` bytes zero-padded to `to` bytes: the piece becomes the
/// leftmost subtree and every sibling on the way up is a zero subtree.
pub fn pad_commp(commp: &Node, from: u64, to: u64) -> Result<Node, CommPError> {
    let (lo, hi) = (check_size(from)?, check_size(to)?);
    if hi < lo {
        return Err(CommPError::PadToSmaller { from, to });
    }
    let mut c = *commp;
    for level in lo..hi {
        c = hash_pair(&c, zero_node(level));
    }
    Ok(c)
}

/// The unsealed CID commitment (CommD) of a sector of `sector_size` bytes holding `pieces`
/// (commitment, padded size) in order. Each piece is aligned to its own size with zero pieces,
/// and the rest of the sector is zero.
pub fn aggregate_commd(pieces: &[(Node, u64)], sector_size: u64) -> Result<Node, CommPError> {
    check_size(sector_size)?;
    let mut stack: Vec<(Node, u64)> = Vec::new();
    let mut offset = 0u64;

    fn push(stack: &mut Vec<(Node, u64)>, node: Node, size: u64) {
        stack.push((node, size));
        while stack.len() >= 2 && stack[stack.len() - 1].1 == stack[stack.len() - 2].1 {
            let (right, size) = stack.pop().expect("two on the stack");
            let (left, _) = stack.pop().expect("two on the stack");
            stack.push((hash_pair(&left, &right), size * 2));
        }
    }
    let pad_to = |stack: &mut Vec<(Node, u64)>, offset: &mut u64, align: u64| {
        while !(*offset).is_multiple_of(align) {
            let fill = 1u64 << offset.trailing_zeros();
            push(stack, *zero_node((fill / 32).trailing_zeros() as usize), fill);
            *offset += fill;
        }
    };

    for &(commp, size) in pieces {
        check_size(size)?;
        pad_to(&mut stack, &mut offset, size);
        push(&mut stack, commp, size);
        offset += size;
        if offset > sector_size {
            return Err(CommPError::PiecesExceedSector { sector: sector_size });
        }
    }
    if offset == 0 {
        return Ok(*zero_node((sector_size / 32).trailing_zeros() as usize));
    }
    // Fill the sector: align to the sector size, i.e. wrap around to zero within it.
    while offset < sector_size {
        let fill = (1u64 << offset.trailing_zeros()).min(sector_size - offset);
        push(&mut stack, *zero_node((fill / 32).trailing_zeros() as usize), fill);
        offset += fill;
    }
    match stack.as_slice() {
        [(root, size)] if *size == sector_size => Ok(*root),
        _ => Err(CommPError::PiecesExceedSector { sector: sector_size }),
    }
}
