//! The binary edge: parse the command line, set up logging, run a command, map its
//! outcome to an exit code. Everything else lives in the library.

use clap::Parser;
use stationd::cli::{self, Cli, Command, QueueCommand};
use stationd::daemon::{self, RunError};
use stationd::process::{EXIT_CONFIG, EXIT_JOURNAL, EXIT_OK, EXIT_RUNTIME};

// The workflow allocates a little per scan (event data, feedback text); mimalloc keeps that
// cheap and keeps a long-running daemon's heap compact. The workflow benchmark uses it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // rumqttc and reqwest build TLS configs from the process-wide provider: ring, only.
    let _ = rustls::crypto::ring::default_provider().install_default();
    stationd::process::restrict_umask();
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Run { .. }) { "info" } else { "warn" };
    stationd::logging::init(cli.log_format, cli.log_level.as_deref().unwrap_or(default_level));
    let code = match cli.command {
        Command::Run { config } => run(&config),
        Command::CheckConfig { path, json } => cli::check_config(&path, json),
        Command::Queue { command } => report(match command {
            QueueCommand::Status { config, json } => cli::queue_status(&config.config, json),
            QueueCommand::Export { config, from } => cli::queue_export(&config.config, from),
            QueueCommand::Salvage { path } => cli::queue_salvage(&path),
        }),
        Command::Monitor(args) => cli::monitor(args),
        Command::Doctor { json, config } => cli::doctor(&config.config, json),
        Command::Devices { json, config } => report(cli::devices(&config.config, json)),
        Command::PrintTest { printer, config } => report(cli::print_test(&config.config, &printer)),
        Command::Contract => match stationd::contract::asyncapi_yaml() {
            Ok(doc) => {
                print!("{doc}");
                EXIT_OK
            }
            Err(e) => {
                eprintln!("stationd contract: {e}");
                EXIT_RUNTIME
            }
        },
        Command::Version { json } => {
            cli::version(json);
            EXIT_OK
        }
    };
    std::process::exit(code);
}

fn report(r: Result<(), cli::Failure>) -> i32 {
    match r {
        Ok(()) => EXIT_OK,
        Err(f) => {
            eprintln!("stationd: {}", f.message);
            f.code
        }
    }
}

fn run(config_path: &std::path::Path) -> i32 {
    let config = match cli::load_config(config_path) {
        Ok(c) => c,
        Err(f) => return report(Err(f)),
    };
    match stationd::process::raise_open_file_limit() {
        Ok((soft, _)) => tracing::info!(open_files = soft, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit; keeping the soft limit"),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return report(Err(cli::Failure::new(EXIT_RUNTIME, format!("cannot start the runtime: {e}")))),
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let result = runtime.block_on(daemon::run(config, shutdown));
    // A blocked stdin read must not hold the process after an orderly shutdown.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => EXIT_OK,
        Err(RunError::Config(m)) => report(Err(cli::Failure::new(EXIT_CONFIG, m))),
        Err(RunError::Journal(e)) => report(Err(e.into())),
        Err(RunError::OrderStore(e)) => report(Err(cli::Failure::new(EXIT_JOURNAL, e.to_string()))),
        Err(RunError::Other(e)) => report(Err(cli::Failure::new(EXIT_RUNTIME, format!("{e:#}")))),
    }
}
