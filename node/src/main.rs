//! `toxide-node`: a Tox DHT bootstrap node. See the library for the parts.

use std::process::ExitCode;

use clap::Parser;
use toxide_node::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match toxide_node::start(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("toxide-node: error: {error}");
            ExitCode::FAILURE
        }
    }
}
