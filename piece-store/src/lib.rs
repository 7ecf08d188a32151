//! Data for the market: piece commitments (commP, piece CIDs, CommD), UnixFS import, CAR v1/v2,
//! piece storage (filesystem and S3) and the piece index.
//!
//! Layout: [`commp`] is pure computation; [`unixfs`] and [`car`] turn files into DAGs and CARs;
//! [`store`] keeps piece files; [`index`] records where pieces, payloads and blocks are.

pub mod car;
pub mod commp;
#[cfg(feature = "index")]
pub mod index;
mod io_util;
pub mod prepare;
pub mod split;
pub mod store;
pub mod unixfs;
mod varint;
