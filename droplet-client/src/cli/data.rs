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
    /// Cut a dataset into CARs of a fixed amount of file data, as go-graphsplit's `chunk
    /// --calc-commp` does (the same CARs and root CIDs), with each piece CID in manifest.csv.
    Split(Split),
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
pub struct Split {
    /// The directory (or file) to split.
    target: String,
    /// File bytes per slice (graphsplit's default is 16 GiB; a slice's CAR is slightly
    /// larger, so leave room below the piece size a deal wants).
    #[arg(long, default_value = "16GiB", value_parser = parse_size)]
    slice_size: u64,
    /// Prefix of the slice names in the manifest.
    #[arg(long)]
    graph_name: String,
    /// Where the CARs and manifest.csv go (created if missing; manifest rows are appended).
    #[arg(long)]
    car_dir: PathBuf,
    /// Stripped from file paths to place them in the tree (default: the target, so its own
    /// name is not in the tree).
    #[arg(long)]
    parent_path: Option<String>,
    /// Slices built at once (0 = one per core).
    #[arg(long, default_value_t = 0)]
    parallel: usize,
    /// Name each CAR by its piece CID, without extension (as droplet's batch import finds it).
    #[arg(long)]
    rename: bool,
    /// Pad each CAR with zeros to its unpadded piece size.
    #[arg(long)]
    add_padding: bool,
    /// CID version of the DAG: 1 as graphsplit's current source, 0 as its v0.5.0 release.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    cid_version: u8,
    /// Print the slices as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_size(s: &str) -> Result<u64, String> {
    market_types::units::parse_size(s).map_err(|e| e.to_string())
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
        DataCommand::Split(a) => split(a),
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

fn split(a: Split) -> Result<()> {
    use piece_store::split::{self, SplitOptions};
    std::fs::create_dir_all(&a.car_dir).with_context(|| format!("cannot create {}", a.car_dir.display()))?;
    let opts = SplitOptions {
        slice_size: a.slice_size,
        graph_name: a.graph_name,
        car_dir: a.car_dir,
        parent_path: a.parent_path,
        parallel: a.parallel,
        rename: a.rename,
        add_padding: a.add_padding,
        cid_v0: a.cid_version == 0,
    };
    let plan = split::plan_for(&a.target, &opts)?;
    if plan.slices.is_empty() {
        anyhow::bail!(
            "{} holds no file data to split (hidden files are skipped, as graphsplit does)",
            a.target
        );
    }
    let started = std::time::Instant::now();
    let bar = std::sync::Mutex::new(Progress::bytes(
        &format!("splitting into {} slices", plan.slices.len()),
        plan.total_bytes,
    ));
    let outcome = split::split(&plan, &opts, 0, &|n| {
        bar.lock().unwrap_or_else(|e| e.into_inner()).set(n);
    });
    bar.into_inner().unwrap_or_else(|e| e.into_inner()).finish();
    let outcome = outcome?;
    let secs = started.elapsed().as_secs_f64().max(1e-3);
    if a.json {
        let slices: Vec<_> = outcome
            .slices
            .iter()
            .map(|s| {
                serde_json::json!({
                    "Name": s.name,
                    "PayloadCid": s.root.to_string(),
                    "Path": s.path.display().to_string(),
                    "PayloadSize": s.car_size,
                    "PieceCid": s.piece.piece_cid().to_string(),
                    "PieceSize": s.piece.unpadded_size(),
                    "ContentBytes": s.content_bytes,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&slices)?);
        return Ok(());
    }
    for s in &outcome.slices {
        println!(
            "{}  {}  {}  piece {} ({})",
            s.name,
            s.root,
            market_types::units::format_size(s.car_size),
            s.piece.piece_cid(),
            market_types::units::format_size(s.piece.padded_size)
        );
    }
    println!(
        "{} slices, {} of files in {:.1} s ({:.0} MB/s); manifest: {}",
        outcome.slices.len(),
        market_types::units::format_size(outcome.plan_bytes),
        secs,
        outcome.plan_bytes as f64 / secs / 1e6,
        opts.car_dir.join("manifest.csv").display()
    );
    Ok(())
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
