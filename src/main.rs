//! `meritflow`: the command line. Wiring only: the work is in the library crates.

mod cluster;
mod demo;
mod explain;
mod exporter;
mod history;
mod produce;
mod replay;
mod run;
mod simulate;
mod sql;
mod statements;
mod tables;
mod topics;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use meritflow_pipelines::config::{Config, ConfigError, DEFAULTS_TOML};

#[derive(Parser)]
#[command(
    name = "meritflow",
    version,
    about = "Incentive metrics of decentralized compute networks, kept current by incremental dataflows"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay JSONL event files deterministically and print query results over the final state.
    Replay(replay::ReplayArgs),
    /// Production mode: consume events from Kafka, keep every policy current, write results back.
    Run(run::RunArgs),
    /// Create the Kafka topics of a configuration (partitions, retention, compaction).
    Topics(topics::TopicsArgs),
    /// Write JSONL event files into the Kafka input topics.
    Produce(produce::ProduceArgs),
    /// Run a simulated fleet and watch the live `crynux_qos` table move (nothing to install).
    Demo(demo::DemoArgs),
    /// Write a seeded simulated fleet's events as JSONL to stdout.
    Simulate(simulate::SimulateArgs),
    /// Print or export a closed period's statement from the statement store, with its sha256.
    Statement(statements::StatementArgs),
    /// Read this node's GPUs (NVML, or --simulate N) and push gpu_sample events into Kafka.
    Exporter(exporter::ExporterArgs),
    /// Explain, step by step, how a node's figures came out: its icp reward for one day
    /// (--policy icp --day D) or its sla performance and penalties (--policy sla).
    Explain(explain::ExplainArgs),
    /// Print or check the configuration file.
    Config {
        /// Print the full configuration with every field at its default, documented.
        #[arg(long)]
        print_defaults: bool,
        /// Check a configuration file and report every problem.
        #[arg(long, value_name = "FILE")]
        check: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputFormat {
    Csv,
    Json,
    Table,
}

impl From<OutputFormat> for meritflow_queries::format::Format {
    fn from(f: OutputFormat) -> Self {
        match f {
            OutputFormat::Csv => Self::Csv,
            OutputFormat::Json => Self::Json,
            OutputFormat::Table => Self::Table,
        }
    }
}

/// Exit code for a problem with the configuration or the command line.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours only for a terminal: logs read from files and pipes stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MERITFLOW_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let matches = Cli::command().get_matches();
    let query_order = replay::query_order(&matches);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Replay(args) => replay::run(args, query_order),
        Command::Run(args) => run::run(args),
        Command::Produce(args) => produce::run(args),
        Command::Topics(args) => topics::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Statement(args) => statements::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Exporter(args) => exporter::run(args),
        Command::Config {
            print_defaults,
            check,
        } => config_command(print_defaults, check),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            if e.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Writes to stdout. A reader that went away (`| head`) ends the output, not the program with a
/// panic, as `print!` would.
pub fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The error and its causes, each cause only when the text so far does not already say it
/// (library errors often repeat their source in their own message).
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if text.contains(message.trim()) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(message.trim());
    }
    text
}

fn config_command(print_defaults: bool, check: Option<PathBuf>) -> anyhow::Result<()> {
    if let Some(path) = check {
        load_config(Some(&path))?;
        emit(&format!("{}: valid\n", path.display()))?;
        return Ok(());
    }
    if print_defaults {
        emit(DEFAULTS_TOML)?;
        return Ok(());
    }
    let mut cmd = Cli::command();
    cmd.find_subcommand_mut("config")
        .expect("config subcommand")
        .print_help()?;
    Ok(())
}

/// Loads the config file, or the defaults when none is given. Errors are [`ConfigError`]s
/// (exit code 2) that name the file and every problem.
/// `MERITFLOW_SQL_PASSWORD`, when set, replaces `sql.password` (a secret belongs in the
/// environment, e.g. from a Kubernetes Secret, rather than in a config map).
pub fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    let (mut config, source_name) = match path {
        None => (Config::default(), "the defaults".to_owned()),
        Some(path) => {
            let source_name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Syntax {
                source_name: source_name.clone(),
                message: format!("cannot read: {e}"),
            })?;
            (Config::parse_toml(&text, &source_name)?, source_name)
        }
    };
    if let Some(password) = std::env::var("MERITFLOW_SQL_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
    {
        config.sql.password = Some(password);
    }
    config.validate(&source_name)?;
    Ok(config)
}
