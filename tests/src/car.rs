//! Reading a CARv1 in the tests: the CIDs of its blocks, in order.

use cid::Cid;

/// The CIDs of the blocks of CARv1 `car`, in file order (the header skipped).
pub fn car_cids(car: &[u8]) -> Vec<Cid> {
    let mut rest = car;
    let mut out = Vec::new();
    let mut first = true;
    while !rest.is_empty() {
        let (len, after) = unsigned_varint::decode::usize(rest).expect("section length");
        let (section, next) = after.split_at(len);
        rest = next;
        if std::mem::take(&mut first) {
            continue; // the header
        }
        let mut reader = std::io::Cursor::new(section);
        out.push(Cid::read_bytes(&mut reader).expect("cid"));
    }
    out
}
