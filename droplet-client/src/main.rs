//! `droplet-client`: the data owner's market daemon and CLI.

use std::process::ExitCode;

use clap::Parser;

/// Filecoin storage and retrieval market for data owners (a drop-in for the Go droplet-client).
#[derive(Debug, Parser)]
#[command(
    name = "droplet-client",
    version,
    about,
    long_about = "Filecoin storage and retrieval market for data owners, compatible with the Go \
                  droplet-client: same commands, config keys, JSON-RPC names and wire bytes.\n\n\
                  This build provides the market's wire types only. The daemon (`droplet-client run`) \
                  and the data, storage, retrieval and actor-funds commands are not in this build yet."
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    eprintln!(
        "droplet-client: no command given (repo {}). This build has no commands yet; run `droplet-client --help`.",
        cli.repo
    );
    ExitCode::from(2)
}
