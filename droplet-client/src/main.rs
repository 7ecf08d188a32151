//! `droplet-client`: the data owner's market daemon and CLI.

mod data;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Filecoin storage and retrieval market for data owners (a drop-in for the Go droplet-client).
#[derive(Debug, Parser)]
#[command(
    name = "droplet-client",
    version,
    about,
    subcommand_required = true,
    long_about = "Filecoin storage and retrieval market for data owners, compatible with the Go \
                  droplet-client: same commands, config keys, JSON-RPC names and wire bytes.\n\n\
                  This build has the data-preparation commands (`data generate-car`, `data commP`). \
                  The daemon (`droplet-client run`) and the storage, retrieval and actor-funds \
                  commands are not in this build yet."
)]
struct Cli {
    /// Repo directory: config.toml, api, token, imports and the data store.
    #[arg(
        long,
        global = true,
        env = "DROPLET_CLIENT_PATH",
        default_value = "~/.droplet-client"
    )]
    repo: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prepare data: CARs and piece commitments.
    #[command(subcommand)]
    Data(data::DataCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data(cmd) => data::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR: {}", report(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping a cause whose text the message already
/// carries (library errors often include their source in their own message).
fn report(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
