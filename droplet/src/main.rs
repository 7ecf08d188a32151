//! `droplet`: the storage provider's market daemon and its admin CLI.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    market_daemon::malloc::limit_arenas();
    let args = cli::Cli::parse();
    market_daemon::cli::quiet_on_broken_pipe();
    market_daemon::api_server::init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("droplet: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(cli::dispatch(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("droplet: {e:#}");
            ExitCode::FAILURE
        }
    }
}
