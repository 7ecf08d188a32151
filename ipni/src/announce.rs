//! The announce message (go-libipni `announce/message`) an HTTP announce sends: dag-cbor
//! `[head CID, [multiaddr bytes …], extra data]`, the publisher's addresses ending in
//! `/p2p/<peer>`.

use cid::Cid;

use crate::cbor;

/// The message's CBOR bytes.
pub fn message(head: &Cid, addrs: &[Vec<u8>], extra_data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x83];
    cbor::link(&mut out, head);
    cbor::head(&mut out, 4, addrs.len() as u64);
    for a in addrs {
        cbor::head(&mut out, 2, a.len() as u64);
        out.extend_from_slice(a);
    }
    cbor::head(&mut out, 2, extra_data.len() as u64);
    out.extend_from_slice(extra_data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_a_three_element_cbor_array() {
        let head = crate::schema::block_cid(b"ad");
        let m = message(&head, &[vec![4, 127, 0, 0, 1]], &[]);
        let cid = head.to_bytes();
        assert_eq!(m[0], 0x83);
        assert_eq!(&m[1..3], &[0xd8, 0x2a]);
        assert_eq!(m[3], 0x58);
        assert_eq!(m[4] as usize, cid.len() + 1);
        assert_eq!(&m[6..6 + cid.len()], &cid[..]);
        assert_eq!(&m[6 + cid.len()..], &[0x81, 0x45, 4, 127, 0, 0, 1, 0x40]);
    }
}
