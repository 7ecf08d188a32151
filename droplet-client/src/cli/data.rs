//! `droplet-client data …`: CARs and commP from files alone, and the daemon's imports.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use piece_store::prepare;
use piece_store::unixfs::{HashFunction, ImportOptions};

use market_daemon::progress::Progress;
use market_daemon::repo::Repo;
use market_proto::api::market_client::{FileRef, MarketClientClient};
use market_proto::client::call_error;

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Import a file or directory as UnixFS and write it as a CAR (depth-first from the root).
    #[command(name = "generate-car")]
    GenerateCar(GenerateCar),
    /// Compute the piece CID and size of a file (usually a CAR) as a deal would.
    #[command(name = "commP", alias = "commp")]
    CommP(CommP),
    /// Import a file (as UnixFS into a CAR in the repo) or a CAR (`--car`, used in place)
    /// into the daemon, with its piece CID, ready for a deal.
    Import {
        path: PathBuf,
        #[arg(long)]
        car: bool,
        /// Print only the root CID.
        #[arg(long)]
        quiet: bool,
    },
    /// The daemon's imports.
    Local {
        #[arg(long)]
        json: bool,
    },
    /// An import's sizes and piece, by root CID.
    Stat { cid: String },
    /// Forget imports by ID (deleting the CARs the daemon made for them).
    Drop { ids: Vec<u64> },
}

#[derive(Debug, Args)]
pub struct GenerateCar {
    /// The file or directory to import.
    input: PathBuf,
    /// The CAR file to write.
    output: PathBuf,
    /// Hash function for block CIDs: blake2b-256 (the Go client's) or sha2-256 (IPFS tools').
    #[arg(long, default_value = "blake2b-256")]
    hash: HashFunction,
    /// CAR version: 1 (as the Go client writes) or 2 (with an index).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    car_version: u8,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct CommP {
    /// The file to compute the piece commitment of.
    input: PathBuf,
    /// Threads to use (0 = every core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Do not check a CAR's blocks against their CIDs while hashing.
    #[arg(long)]
    no_verify: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(repo: &Repo, cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::GenerateCar(a) => generate_car(a),
        DataCommand::CommP(a) => commp(a),
        DataCommand::Import { path, car, quiet } => {
            let (rt, api) = daemon(repo)?;
            rt.block_on(import(&api, path, car, quiet))
        }
        DataCommand::Local { json } => {
            let (rt, api) = daemon(repo)?;
            rt.block_on(local(&api, json))
        }
        DataCommand::Stat { cid } => {
            let (rt, api) = daemon(repo)?;
            rt.block_on(stat(&api, cid))
        }
        DataCommand::Drop { ids } => {
            let (rt, api) = daemon(repo)?;
            rt.block_on(drop_imports(&api, ids))
        }
    }
}

type Api = jsonrpsee::http_client::HttpClient;

/// A runtime and the daemon's API, for the commands on its imports.
fn daemon(repo: &Repo) -> Result<(tokio::runtime::Runtime, Api)> {
    let info = repo.api_info("droplet-client")?;
    // Importing a large file takes as long as its CAR and commP take.
    let api = market_proto::client::http(&info, "v0", std::time::Duration::from_secs(3600))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    Ok((rt, api))
}

async fn import(api: &Api, path: PathBuf, car: bool, quiet: bool) -> Result<()> {
    let abs = std::fs::canonicalize(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let res = market_daemon::progress::waiting(
        &format!("droplet-client importing {}", abs.display()),
        api.client_import(FileRef {
            path: abs.display().to_string(),
            is_car: car,
        }),
    )
    .await
    .map_err(call_error)?;
    if quiet {
        println!("{}", res.root.0);
    } else {
        println!("Import {}, Root {}", res.import_id, res.root.0);
    }
    Ok(())
}

async fn local(api: &Api, json: bool) -> Result<()> {
    let imports = api.client_list_imports().await.map_err(call_error)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&imports)?);
    } else {
        for i in imports {
            let root = i.root.map_or_else(|| "<nil>".to_string(), |r| r.0.to_string());
            println!("{} {} {} {}", i.key, i.source, root, i.car_path);
        }
    }
    Ok(())
}

async fn stat(api: &Api, cid: String) -> Result<()> {
    let root: cid::Cid = cid.parse().map_err(|e| anyhow::anyhow!("{cid:?} is not a CID: {e}"))?;
    let imports = api.client_list_imports().await.map_err(call_error)?;
    let Some(i) = imports
        .into_iter()
        .rev()
        .find(|i| i.root.as_ref().map(|r| r.0) == Some(root))
    else {
        anyhow::bail!("{root} is not imported here (see `droplet-client data local`)");
    };
    println!("Root: {root}");
    println!("Import: {}", i.key);
    println!("Source: {}", i.source);
    println!("CAR: {} ({})", i.car_path, market_types::units::format_size(i.car_size));
    if let Some(p) = i.piece_cid {
        println!("Piece CID: {}", p.0);
    }
    println!("Piece size: {}", market_types::units::format_size(i.piece_size));
    Ok(())
}

async fn drop_imports(api: &Api, ids: Vec<u64>) -> Result<()> {
    if ids.is_empty() {
        anyhow::bail!("give the import IDs to drop (see `droplet-client data local`)");
    }
    for id in ids {
        api.client_remove_import(id).await.map_err(call_error)?;
    }
    Ok(())
}

fn input_size(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        return Ok(dir_size(path));
    }
    Ok(meta.len())
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

fn generate_car(a: GenerateCar) -> Result<()> {
    let total = input_size(&a.input)?;
    let opts = ImportOptions {
        hash: a.hash,
        ..ImportOptions::default()
    };
    let mut bar = Progress::bytes("importing", total);
    let car = prepare::generate_car(&a.input, &a.output, opts, a.car_version, &mut |n| bar.set(n));
    bar.finish();
    let car = car?;
    if a.json {
        let v = serde_json::json!({
            "Root": { "/": car.root.to_string() },
            "CarPath": a.output.display().to_string(),
            "CarVersion": car.car_version,
            "CarSize": car.car_size,
            "PayloadSize": car.payload_bytes,
            "Blocks": car.blocks,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("Root CID: {}", car.root);
        println!(
            "CAR: {} (v{}, {} blocks, {})",
            a.output.display(),
            car.car_version,
            car.blocks,
            market_types::units::format_size(car.car_size)
        );
    }
    Ok(())
}

fn commp(a: CommP) -> Result<()> {
    let size = input_size(&a.input)?;
    let mut bar = Progress::bytes("commP", size);
    let result = prepare::commp_file(&a.input, a.threads, !a.no_verify, &mut |n| bar.set(n));
    bar.finish();
    let pc = result?.commitment;
    if a.json {
        let v = serde_json::json!({
            "Root": { "/": pc.piece_cid().to_string() },
            "Size": pc.unpadded_size(),
            "PaddedSize": pc.padded_size,
            "PayloadSize": pc.payload_size,
            "PieceCIDv2": pc.piece_cid_v2().ok().map(|c| c.to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("CID: {}", pc.piece_cid());
        println!("Piece size: {}", market_types::units::format_size(pc.unpadded_size()));
    }
    Ok(())
}
