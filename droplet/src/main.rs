//! `droplet`: the storage provider's market daemon and its admin CLI.

use std::process::ExitCode;

use clap::Parser;

/// Filecoin storage and retrieval market for storage providers (a drop-in for the Go droplet).
#[derive(Debug, Parser)]
#[command(
    name = "droplet",
    version,
    about,
    long_about = "Filecoin storage and retrieval market for storage providers, compatible with the Go \
                  droplet (venus-market): same commands, config keys, JSON-RPC names and wire bytes.\n\n\
                  This build provides the market's wire types only. The daemon (`droplet run`) and the \
                  admin commands (storage, retrieval, actor, net, piece-storage, actor-funds) are not \
                  in this build yet."
)]
struct Cli {
    /// Repo directory: config.toml, api, token and the data store.
    #[arg(long, global = true, env = "DROPLET_PATH", default_value = "~/.droplet")]
    repo: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    eprintln!(
        "droplet: no command given (repo {}). This build has no commands yet; run `droplet --help`.",
        cli.repo
    );
    ExitCode::from(2)
}
