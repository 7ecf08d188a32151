//! `droplet-client data …`: the commands that need only files.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use piece_store::car;
use piece_store::commp::{self, PieceCommitment};
use piece_store::unixfs::{HashFunction, ImportOptions, Importer};

use crate::progress::Progress;

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Import a file or directory as UnixFS and write it as a CAR (depth-first from the root).
    #[command(name = "generate-car")]
    GenerateCar(GenerateCar),
    /// Compute the piece CID and size of a file (usually a CAR) as a deal would.
    #[command(name = "commP", alias = "commp")]
    CommP(CommP),
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

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::GenerateCar(a) => generate_car(a),
        DataCommand::CommP(a) => commp(a),
    }
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
    let dag = Importer::new(opts)
        .import_path(&a.input, &mut |n| bar.set(n))
        .context("import failed")?;
    bar.finish();

    let out = File::create(&a.output).with_context(|| format!("cannot create {}", a.output.display()))?;
    let blocks = match a.car_version {
        1 => {
            let (w, index) = car::write_dag(&dag, BufWriter::with_capacity(1 << 20, out))
                .with_context(|| format!("writing {}", a.output.display()))?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            index.len()
        }
        _ => {
            let mut count = 0;
            let w = car::wrap_v2(BufWriter::with_capacity(1 << 20, out), |f| {
                let (_, index) = car::write_dag(&dag, f)?;
                count = index.len();
                Ok(index)
            })
            .with_context(|| format!("writing {}", a.output.display()))?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            count
        }
    };
    let car_size = std::fs::metadata(&a.output)?.len();
    let root = dag.root();
    if a.json {
        let v = serde_json::json!({
            "Root": { "/": root.to_string() },
            "CarPath": a.output.display().to_string(),
            "CarVersion": a.car_version,
            "CarSize": car_size,
            "PayloadSize": dag.payload_bytes(),
            "Blocks": blocks,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("Root CID: {root}");
        println!(
            "CAR: {} (v{}, {} blocks, {})",
            a.output.display(),
            a.car_version,
            blocks,
            market_types::units::format_size(car_size)
        );
    }
    Ok(())
}

fn commp(a: CommP) -> Result<()> {
    let meta = std::fs::metadata(&a.input).with_context(|| format!("cannot read {}", a.input.display()))?;
    if meta.is_dir() {
        bail!(
            "{} is a directory; commP needs a file (make a CAR first with `data generate-car`)",
            a.input.display()
        );
    }
    let open = || File::open(&a.input).with_context(|| format!("cannot open {}", a.input.display()));
    let mut prefix = Vec::with_capacity(64 << 10);
    open()?.take(64 << 10).read_to_end(&mut prefix)?;
    // A CAR is checked block by block as it streams through commP: a deal over a corrupt or
    // truncated CAR would be paid for and then fail at retrieval.
    let verify = !a.no_verify && car::looks_like_car(&prefix);
    let mut bar = Progress::bytes("commP", meta.len());
    let pc: PieceCommitment = if verify {
        let mut reader = car::VerifyingReader::new(open()?);
        let pc = commp::from_reader(&mut reader, a.threads, &mut |n| bar.set(n));
        let checked = reader.finish();
        bar.finish();
        checked.with_context(|| {
            format!(
                "{} is not a valid CAR (use --no-verify to hash it anyway)",
                a.input.display()
            )
        })?;
        pc.with_context(|| format!("commP of {}", a.input.display()))?
    } else {
        let pc = commp::from_reader(open()?, a.threads, &mut |n| bar.set(n));
        bar.finish();
        pc.with_context(|| format!("commP of {}", a.input.display()))?
    };
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
