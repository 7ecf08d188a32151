//! `VENUS_MARKET.Pieces*` and the piece storage methods, over [`crate::pieces::Pieces`].

use cid::Cid;
use jsonrpsee::core::{RpcResult, async_trait};
use market_proto::Json;
use market_proto::api::handler_error;
use market_proto::api::pieces::{
    CidInfo, FsStorageInfo, MarketPiecesServer, PieceBlockLocation, PieceDealInfo, PieceInfo, PieceStorageInfos,
    S3StorageInfo,
};
use piece_store::store::{FsStoreConfig, S3StoreConfig};

use super::{Api, fail};

#[async_trait]
impl MarketPiecesServer for Api {
    async fn pieces_list_pieces(&self) -> RpcResult<Vec<Json<Cid>>> {
        Ok(self
            .pieces
            .index()
            .pieces()
            .map_err(fail)?
            .into_iter()
            .map(Json)
            .collect())
    }

    async fn pieces_list_cid_infos(&self) -> RpcResult<Vec<Json<Cid>>> {
        Ok(self
            .pieces
            .index()
            .payloads()
            .map_err(fail)?
            .into_iter()
            .map(Json)
            .collect())
    }

    async fn pieces_get_piece_info(&self, piece: Json<Cid>) -> RpcResult<PieceInfo> {
        let rec = self
            .pieces
            .index()
            .piece(&piece.0)
            .map_err(fail)?
            .ok_or_else(|| handler_error(format!("piece {} is not in the piece index", piece.0)))?;
        Ok(PieceInfo {
            piece_cid: piece,
            deals: rec
                .deals
                .iter()
                .map(|d| PieceDealInfo {
                    deal_id: d.deal_id,
                    sector_id: d.sector,
                    offset: d.offset,
                    length: d.length,
                })
                .collect(),
        })
    }

    async fn pieces_get_cid_info(&self, payload: Json<Cid>) -> RpcResult<CidInfo> {
        let index = self.pieces.index();
        let mh = payload.0.hash().to_bytes();
        let mut locations = Vec::new();
        for piece in index.pieces_with_block(&mh).map_err(fail)? {
            if let Some(at) = index.block_location(&piece, &mh).map_err(fail)? {
                locations.push(PieceBlockLocation {
                    rel_offset: at.offset,
                    block_size: at.len,
                    piece_cid: Json(piece),
                });
            }
        }
        if locations.is_empty() {
            return Err(handler_error(format!("{} is not in any indexed piece", payload.0)));
        }
        Ok(CidInfo {
            cid: payload,
            piece_block_locations: locations,
        })
    }

    async fn add_fs_piece_storage(&self, name: String, path: String, read_only: bool) -> RpcResult<()> {
        self.pieces
            .add_fs(FsStoreConfig {
                name,
                read_only,
                path: path.into(),
            })
            .map_err(fail)
    }

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
    ) -> RpcResult<()> {
        self.pieces
            .add_s3(S3StoreConfig {
                name,
                read_only,
                end_point,
                bucket,
                sub_dir,
                access_key,
                secret_key,
                token,
            })
            .map_err(fail)
    }

    async fn remove_piece_storage(&self, name: String) -> RpcResult<()> {
        self.pieces.remove(&name).map_err(fail)
    }

    async fn list_piece_storage_infos(&self) -> RpcResult<PieceStorageInfos> {
        let mut out = PieceStorageInfos::default();
        self.config.read(|c| {
            for f in &c.piece_storage.fs {
                out.fs_storage.push(FsStorageInfo {
                    path: f.path.to_string_lossy().into_owned(),
                    name: f.name.clone(),
                    read_only: f.read_only,
                });
            }
            for s in &c.piece_storage.s3 {
                out.s3_storage.push(S3StorageInfo {
                    name: s.name.clone(),
                    read_only: s.read_only,
                    end_point: s.end_point.clone(),
                });
            }
        });
        Ok(out)
    }
}
