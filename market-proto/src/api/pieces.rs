//! droplet's piece index and piece storage API (`VENUS_MARKET.Pieces*` and the
//! `*PieceStorage*` methods): a trait of its own, merged into the same `VENUS_MARKET`
//! namespace as [`super::market`]. Names, parameters, result shapes and permissions as in
//! venus-shared (droplet-inventory §2.1); the piece types are go-fil-markets' `piecestore`.

use cid::Cid;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use serde::{Deserialize, Serialize};

use super::{Json, MethodSpec, spec};
use crate::jwt::Perm;

/// A deal that holds a piece, and where the piece sits in its sector (`piecestore.DealInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceDealInfo {
    #[serde(rename = "DealID")]
    pub deal_id: u64,
    #[serde(rename = "SectorID")]
    pub sector_id: u64,
    /// Padded offset and length in the sector.
    #[serde(rename = "Offset")]
    pub offset: u64,
    #[serde(rename = "Length")]
    pub length: u64,
}

/// `piecestore.PieceInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceInfo {
    #[serde(rename = "PieceCID")]
    pub piece_cid: Json<Cid>,
    #[serde(rename = "Deals")]
    pub deals: Vec<PieceDealInfo>,
}

/// Where a block sits in a piece (`piecestore.PieceBlockLocation`, with Go's embedded
/// `BlockLocation` fields inline): `RelOffset` is the offset of the block's bytes in the
/// piece's CAR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceBlockLocation {
    #[serde(rename = "RelOffset")]
    pub rel_offset: u64,
    #[serde(rename = "BlockSize")]
    pub block_size: u64,
    #[serde(rename = "PieceCID")]
    pub piece_cid: Json<Cid>,
}

/// `piecestore.CIDInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CidInfo {
    #[serde(rename = "CID")]
    pub cid: Json<Cid>,
    #[serde(rename = "PieceBlockLocations")]
    pub piece_block_locations: Vec<PieceBlockLocation>,
}

/// A filesystem piece store as `ListPieceStorageInfos` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsStorageInfo {
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "ReadOnly")]
    pub read_only: bool,
}

/// An S3 piece store as `ListPieceStorageInfos` lists it (no credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3StorageInfo {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "ReadOnly")]
    pub read_only: bool,
    #[serde(rename = "EndPoint")]
    pub end_point: String,
}

/// venus-shared `PieceStorageInfos`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceStorageInfos {
    #[serde(rename = "FsStorage")]
    pub fs_storage: Vec<FsStorageInfo>,
    #[serde(rename = "S3Storage")]
    pub s3_storage: Vec<S3StorageInfo>,
}

/// The methods (the macro's generated client and server take `AddS3PieceStorage`'s eight
/// positional parameters as arguments).
#[allow(clippy::too_many_arguments)]
mod methods {
    use super::*;

    #[rpc(server, client, namespace = "VENUS_MARKET", namespace_separator = ".")]
    pub trait MarketPieces {
        /// Every piece the index knows.
        #[method(name = "PiecesListPieces")]
        async fn pieces_list_pieces(&self) -> RpcResult<Vec<Json<Cid>>>;

        /// Every payload (DAG root) CID the index knows.
        #[method(name = "PiecesListCidInfos")]
        async fn pieces_list_cid_infos(&self) -> RpcResult<Vec<Json<Cid>>>;

        #[method(name = "PiecesGetPieceInfo")]
        async fn pieces_get_piece_info(&self, piece: Json<Cid>) -> RpcResult<PieceInfo>;

        /// The pieces holding a block (a payload root or any block in it), and where.
        #[method(name = "PiecesGetCIDInfo")]
        async fn pieces_get_cid_info(&self, payload: Json<Cid>) -> RpcResult<CidInfo>;

        #[method(name = "AddFsPieceStorage")]
        async fn add_fs_piece_storage(&self, name: String, path: String, read_only: bool) -> RpcResult<()>;

        /// venus-shared's positional form: name, endpoint, bucket, subdir, access key, secret key,
        /// token, read-only.
        #[method(name = "AddS3PieceStorage")]
        async fn add_s3_piece_storage(
            &self,
            name: String,
            end_point: String,
            bucket: String,
            sub_dir: String,
            access_key: String,
            secret_key: String,
            token: String,
            read_only: bool,
        ) -> RpcResult<()>;

        #[method(name = "RemovePieceStorage")]
        async fn remove_piece_storage(&self, name: String) -> RpcResult<()>;

        #[method(name = "ListPieceStorageInfos")]
        async fn list_piece_storage_infos(&self) -> RpcResult<PieceStorageInfos>;
    }
}

pub use methods::{MarketPiecesClient, MarketPiecesServer};

pub const METHODS: &[MethodSpec] = &[
    spec("PiecesListPieces", Perm::Read, 0),
    spec("PiecesListCidInfos", Perm::Read, 0),
    spec("PiecesGetPieceInfo", Perm::Read, 1),
    spec("PiecesGetCIDInfo", Perm::Read, 1),
    spec("AddFsPieceStorage", Perm::Admin, 3),
    spec("AddS3PieceStorage", Perm::Admin, 8),
    spec("RemovePieceStorage", Perm::Admin, 1),
    spec("ListPieceStorageInfos", Perm::Read, 0),
];
