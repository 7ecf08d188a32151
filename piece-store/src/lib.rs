//! Data: commP and fr32, UnixFS import, CAR v1/v2, piece storage backends (filesystem, S3),
//! the piece index and the blockstore.
//!
//! Empty until the data-preparation issue.
