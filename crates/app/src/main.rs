//! `accountd`: the account management service, REST and gRPC over SQLite or PostgreSQL.

mod cli;
mod connections;
mod mfa_key;
mod server;
mod settings;
mod telemetry;
mod traceparent;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let settings = settings::Settings::load(&cli, std::env::vars())?;
    let database = if settings.uses_postgres() { "postgresql" } else { "sqlite" };
    let telemetry = telemetry::init(settings.log_format, database)?;
    let done = match cli.command {
        cli::Command::Serve => server::serve(settings, telemetry.tracing()).await,
        cli::Command::Migrate => server::migrate(settings).await,
        cli::Command::Bootstrap { email } => server::bootstrap(settings, &email).await,
    };
    telemetry.shutdown();
    done
}
