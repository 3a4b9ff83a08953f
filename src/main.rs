//! The `branchdb` command line: `serve` runs the server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use branchdb::config::{Overrides, Settings};
use branchdb::server::{shutdown_signal, Server};

#[derive(Parser)]
#[command(name = "branchdb", version, about = "A branchable document database that speaks the MongoDB wire protocol")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Config file [default: config/branchdb.toml when it exists]
        #[arg(long, env = "BRANCHDB_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        overrides: Overrides,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config, overrides } => serve(config, overrides),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("branchdb: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Option<PathBuf>, overrides: Overrides) -> branchdb::error::Result<()> {
    let settings = Settings::load(config.as_deref(), &overrides)?;
    branchdb::log::init(&settings.log, settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let server = Server::bind(settings, std::env::args().collect()).await?;
        server.run(shutdown_signal()).await
    })
}
