//! `accountd`: the account management service, REST and gRPC over SQLite or PostgreSQL.

mod cli;
mod connections;
mod mfa_key;
mod server;
mod settings;
mod telemetry;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let settings = settings::Settings::load(&cli, std::env::vars())?;
    telemetry::init(settings.log_format);
    match cli.command {
        cli::Command::Serve => server::serve(settings).await,
        cli::Command::Migrate => server::migrate(settings).await,
        cli::Command::Bootstrap { email } => server::bootstrap(settings, &email).await,
    }
}
