//! The command line: `branchdb serve`, `branchdb branch ...` and `branchdb ping`
//! against a running server, and `branchdb wal verify|dump` for the log.

mod branch;
mod client;
mod wal;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Overrides, Settings};
use crate::server::{shutdown_signal, Server};

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
        overrides: Box<Overrides>,
    },
    /// Branches on a running server: create, list, info, drop, diff, merge, reset,
    /// update, log.
    Branch {
        /// The server, with a user if it asks for one
        /// (mongodb://user:password@host:port/?authSource=admin)
        #[arg(long, env = "BRANCHDB_URI", default_value = branch::DEFAULT_URI, global = true)]
        uri: String,
        /// Print the server's replies as JSON (one document per line), for scripts
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: branch::BranchCommand,
    },
    /// Ask a running server whether it answers (exit 0 when it does): a container's
    /// health check.
    Ping {
        /// The server [default: mongodb://127.0.0.1:27017]
        #[arg(long, env = "BRANCHDB_URI", default_value = branch::DEFAULT_URI)]
        uri: String,
    },
    /// Inspect the write-ahead log of a data directory (the server need not run).
    Wal {
        #[command(subcommand)]
        command: wal::WalCommand,
    },
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config, overrides } => serve(config, *overrides),
        Command::Branch { uri, json, command } => branch::run(&uri, json, command),
        Command::Ping { uri } => ping(&uri),
        Command::Wal { command } => wal::run(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("branchdb: {e}");
            ExitCode::FAILURE
        }
    }
}

fn ping(uri: &str) -> crate::error::Result<ExitCode> {
    let reply = client::send(uri, "admin", bson::doc! {"ping": 1})?;
    match reply.get_f64("ok") {
        Ok(1.0) => Ok(ExitCode::SUCCESS),
        _ => {
            eprintln!("branchdb: the server answered {reply}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn serve(config: Option<PathBuf>, overrides: Overrides) -> crate::error::Result<ExitCode> {
    let settings = Settings::load(config.as_deref(), &overrides)?;
    crate::log::init(&settings.log, settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let server = Server::bind(settings, std::env::args().collect()).await?;
        server.run(shutdown_signal()).await
    })?;
    Ok(ExitCode::SUCCESS)
}
