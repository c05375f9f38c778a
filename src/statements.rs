//! Period statements at the edge of the program: closed statements written to the store (once),
//! and `meritflow statement`, which prints or exports one for payout jobs and audits.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use meritflow_connectors::statement_store::{by_statement, sha256, StatementStore, Written};
use meritflow_pipelines::statement::statement_table;
use meritflow_pipelines::statement::StatementRow;
use meritflow_queries::format::render;
use meritflow_queries::Catalog;

/// The store of a run: `--store` when given, else the config's `statements.storage_dir`.
pub fn store(flag: Option<&PathBuf>, config_dir: &str) -> StatementStore {
    StatementStore::new(flag.cloned().unwrap_or_else(|| PathBuf::from(config_dir)))
}

/// Writes each closed (policy, period) statement among `rows` unless stored already, and says
/// what happened on stderr. A statement that differs from the stored one is not written (the
/// stored one stands) and is reported as an error line.
pub fn persist(store: &StatementStore, rows: &[StatementRow]) -> anyhow::Result<()> {
    for ((policy, period), rows) in by_statement(rows) {
        let place = store.dir().display();
        match store.write(&rows)? {
            Written::New { sha256 } => eprintln!(
                "meritflow: statement {policy} {period} written to {place} ({} rows, sha256 {sha256})",
                rows.len()
            ),
            Written::Same { sha256 } => tracing::info!(policy, period, sha256, "statement already stored, identical"),
            Written::Conflict { stored, computed } => {
                eprintln!(
                    "meritflow: error: statement {policy} {period} in {place} is final (sha256 {stored}); these events give sha256 {computed}. The stored statement stands: events for a closed period are late. Use another --store to compare."
                );
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StatementFormat {
    Csv,
    Json,
    Table,
    /// The stored Parquet file itself (needs --output).
    Parquet,
}

#[derive(Args)]
pub struct StatementArgs {
    /// The period: 2026-10 (month), 2026-W41 (ISO week) or 2026-10-05 (day), as configured.
    #[arg(long)]
    period: String,
    /// The policy whose statement to print.
    #[arg(long, default_value = "icp")]
    policy: String,
    #[arg(long, value_enum, default_value_t = StatementFormat::Csv)]
    format: StatementFormat,
    /// Write to this file instead of stdout (required for parquet).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The statement store (default: the config's statements.storage_dir).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub fn run(args: StatementArgs) -> anyhow::Result<()> {
    let config = crate::load_config(args.config.as_ref())?;
    let store = store(args.store.as_ref(), &config.statements.storage_dir);
    let Some(rows) = store.read(&args.policy, &args.period)? else {
        let stored = store.periods()?;
        let list = if stored.is_empty() {
            "none".to_owned()
        } else {
            stored
                .iter()
                .map(|(policy, period)| format!("{policy} {period}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        anyhow::bail!(
            "no closed statement for policy {} period {} in {} (stored: {list}); a period's statement is written when it closes, by replay or run",
            args.policy,
            args.period,
            store.dir().display()
        );
    };
    let sha = sha256(&rows);
    match args.format {
        StatementFormat::Parquet => {
            let output = args
                .output
                .context("--format parquet writes a file: give --output FILE")?;
            std::fs::copy(store.file(&args.policy, &args.period)?, &output)
                .with_context(|| format!("cannot write {}", output.display()))?;
        }
        text_format => {
            let format = match text_format {
                StatementFormat::Csv => crate::OutputFormat::Csv,
                StatementFormat::Json => crate::OutputFormat::Json,
                _ => crate::OutputFormat::Table,
            };
            let catalog = Catalog::new(&[statement_table(&rows)])?;
            let runtime = tokio::runtime::Builder::new_current_thread().build()?;
            let result = runtime.block_on(
                catalog.query("SELECT * FROM statements ORDER BY provider, node NULLS FIRST"),
            )?;
            let text = render(&result, format.into())?;
            match &args.output {
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => crate::emit(&text)?,
            }
        }
    }
    eprintln!(
        "sha256 {sha}  ({} rows of statement {} {})",
        rows.len(),
        args.policy,
        args.period
    );
    Ok(())
}
