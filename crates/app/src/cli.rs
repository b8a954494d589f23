//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// accountd — accounts, members, tokens, aliases, subscriptions and audit, over REST and gRPC.
///
/// Settings come from, in rising precedence: defaults, the `--config` file (TOML),
/// `DATABASE_URL`, `ACCOUNTD_*` environment variables, and these flags.
#[derive(Debug, Parser)]
#[command(name = "accountd", version)]
pub struct Cli {
    /// A TOML file with any of: http_addr, grpc_addr, database_url, log_format, data_dir, mfa_key.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where REST listens [default: 127.0.0.1:8080].
    #[arg(long, global = true, value_name = "ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Where gRPC listens [default: 127.0.0.1:50051].
    #[arg(long, global = true, value_name = "ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    /// `sqlite:FILE` (or a bare file path) or `postgres://…` [default: sqlite:accountd.db].
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Where accountd keeps its own files, such as the generated MFA key `mfa.key` [default: .].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Applies pending migrations, then serves REST and gRPC until SIGTERM or ctrl-c.
    Serve,
    /// Applies pending migrations and exits.
    Migrate,
    /// Creates the first root user and prints its platform token, once. Refused when a root
    /// user exists.
    Bootstrap {
        /// The root user's email address.
        #[arg(long)]
        email: String,
    },
}
