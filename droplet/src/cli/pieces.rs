//! `droplet pieces list-pieces|list-cids|piece-info|cid-info` (the piece index) and
//! `droplet piece-storage add-fs|add-s3|list|remove`.

use std::io::{BufRead, Write};

use anyhow::{Result, anyhow};
use clap::Subcommand;
use droplet::repo::Repo;
use market_proto::Json;
use market_proto::api::pieces::MarketPiecesClient;
use market_proto::client::call_error;

#[derive(Debug, Subcommand)]
pub enum PiecesCmd {
    /// Every piece in the piece index.
    ListPieces,
    /// Every payload (DAG root) CID in the piece index.
    ListCids {
        /// Also the pieces holding each.
        #[arg(short, long)]
        verbose: bool,
    },
    /// The deals holding a piece, with their sectors.
    PieceInfo { piece_cid: String },
    /// The pieces holding a payload CID (or any block CID), and where in each.
    CidInfo { cid: String },
}

#[derive(Debug, Subcommand)]
pub enum PieceStorageCmd {
    /// Add a filesystem piece store (used at once, saved to config.toml).
    AddFs {
        #[arg(long)]
        name: String,
        #[arg(long)]
        path: String,
        #[arg(long)]
        read_only: bool,
    },
    /// Add an S3 piece store; the keys are asked for when not given.
    AddS3 {
        #[arg(long)]
        name: String,
        /// `https://host[:port]`.
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "")]
        subdir: String,
        #[arg(long, alias = "read-only")]
        readonly: bool,
        #[arg(long)]
        access_key: Option<String>,
        #[arg(long)]
        secret_key: Option<String>,
        #[arg(long)]
        token: Option<String>,
    },
    /// The piece stores in use.
    List,
    /// Stop using a piece store (its data stays where it is).
    Remove { name: String },
}

/// A header row and rows, aligned.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut all = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    all.extend(rows.iter().cloned());
    print!("{}", market_daemon::cli::table(&all));
}

fn cid(s: &str) -> Result<cid::Cid> {
    s.parse().map_err(|e| anyhow!("{s:?} is not a CID: {e}"))
}

pub async fn pieces(repo: &Repo, cmd: PiecesCmd) -> Result<()> {
    let api = super::daemon(repo)?;
    match cmd {
        PiecesCmd::ListPieces => {
            for p in api.pieces_list_pieces().await.map_err(call_error)? {
                println!("{}", p.0);
            }
        }
        PiecesCmd::ListCids { verbose } => {
            for c in api.pieces_list_cid_infos().await.map_err(call_error)? {
                if !verbose {
                    println!("{}", c.0);
                    continue;
                }
                let info = api.pieces_get_cid_info(c.clone()).await.map_err(call_error)?;
                let pieces: Vec<String> = info
                    .piece_block_locations
                    .iter()
                    .map(|l| l.piece_cid.0.to_string())
                    .collect();
                println!("{}\t{}", c.0, pieces.join(","));
            }
        }
        PiecesCmd::PieceInfo { piece_cid } => {
            let info = api
                .pieces_get_piece_info(Json(cid(&piece_cid)?))
                .await
                .map_err(call_error)?;
            println!("Piece: {}", info.piece_cid.0);
            println!("Deals:");
            let rows: Vec<Vec<String>> = info
                .deals
                .iter()
                .map(|d| {
                    vec![
                        d.deal_id.to_string(),
                        d.sector_id.to_string(),
                        d.length.to_string(),
                        d.offset.to_string(),
                    ]
                })
                .collect();
            print_table(&["DealID", "SectorID", "Length", "Offset"], &rows);
        }
        PiecesCmd::CidInfo { cid: c } => {
            let info = api.pieces_get_cid_info(Json(cid(&c)?)).await.map_err(call_error)?;
            println!("Info for: {}", info.cid.0);
            let rows: Vec<Vec<String>> = info
                .piece_block_locations
                .iter()
                .map(|l| {
                    vec![
                        l.piece_cid.0.to_string(),
                        l.rel_offset.to_string(),
                        l.block_size.to_string(),
                    ]
                })
                .collect();
            print_table(&["PieceCid", "Offset", "Size"], &rows);
        }
    }
    Ok(())
}

/// `value`, or a line read from stdin after `prompt`.
fn or_ask(value: Option<String>, prompt: &str) -> Result<String> {
    if let Some(v) = value {
        return Ok(v);
    }
    print!("{prompt}: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

pub async fn piece_storage(repo: &Repo, cmd: PieceStorageCmd) -> Result<()> {
    let api = super::daemon(repo)?;
    match cmd {
        PieceStorageCmd::AddFs { name, path, read_only } => {
            let path = std::fs::canonicalize(&path)
                .map_err(|e| anyhow!("{path}: {e}"))?
                .to_string_lossy()
                .into_owned();
            api.add_fs_piece_storage(name.clone(), path, read_only)
                .await
                .map_err(call_error)?;
            println!("added piece store {name}");
        }
        PieceStorageCmd::AddS3 {
            name,
            endpoint,
            bucket,
            subdir,
            readonly,
            access_key,
            secret_key,
            token,
        } => {
            let access_key = or_ask(access_key, "access key")?;
            let secret_key = or_ask(secret_key, "secret key")?;
            let token = or_ask(token, "token (may be empty)")?;
            api.add_s3_piece_storage(
                name.clone(),
                endpoint,
                bucket,
                subdir,
                access_key,
                secret_key,
                token,
                readonly,
            )
            .await
            .map_err(call_error)?;
            println!("added piece store {name}");
        }
        PieceStorageCmd::List => {
            let infos = api.list_piece_storage_infos().await.map_err(call_error)?;
            let mut rows: Vec<Vec<String>> = Vec::new();
            for f in infos.fs_storage {
                rows.push(vec![f.name, "fs".into(), f.read_only.to_string(), f.path]);
            }
            for s in infos.s3_storage {
                rows.push(vec![s.name, "s3".into(), s.read_only.to_string(), s.end_point]);
            }
            print_table(&["Name", "Type", "ReadOnly", "Location"], &rows);
        }
        PieceStorageCmd::Remove { name } => {
            api.remove_piece_storage(name.clone()).await.map_err(call_error)?;
            println!("removed piece store {name}");
        }
    }
    Ok(())
}
