//! Result formats of the CLI: `csv` (header, then rows; NULL as an empty cell), `json` (one
//! object per line; exact decimals as strings) and `table` (aligned, for people).

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::{QueryError, QueryResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Table,
}

pub fn render(result: &QueryResult, format: Format) -> Result<String, QueryError> {
    match format {
        Format::Csv => csv(result),
        Format::Json => json(result),
        Format::Table => {
            if result.batches.iter().all(|b| b.num_rows() == 0) {
                let names: Vec<_> = result
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                return Ok(format!("{}\n(0 rows)\n", names.join(" | ")));
            }
            let text = pretty_format_batches(&result.batches)
                .map_err(datafusion::error::DataFusionError::from)?;
            Ok(format!("{text}\n"))
        }
    }
}

fn options() -> FormatOptions<'static> {
    FormatOptions::default()
        .with_null("")
        .with_display_error(true)
}

/// Each row as its cells' display texts (None for NULL) with the column types.
fn rows(result: &QueryResult) -> Result<Vec<Vec<Option<String>>>, QueryError> {
    let options = options();
    let mut out = Vec::new();
    for batch in &result.batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(datafusion::error::DataFusionError::from)?;
        for row in 0..batch.num_rows() {
            let cells = batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(|(column, f)| (!column.is_null(row)).then(|| f.value(row).to_string()))
                .collect();
            out.push(cells);
        }
    }
    Ok(out)
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn csv(result: &QueryResult) -> Result<String, QueryError> {
    let mut out = String::new();
    let header: Vec<String> = result
        .schema
        .fields()
        .iter()
        .map(|f| csv_cell(f.name()))
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in rows(result)? {
        let cells: Vec<String> = row
            .iter()
            .map(|c| c.as_deref().map(csv_cell).unwrap_or_default())
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    Ok(out)
}

fn json(result: &QueryResult) -> Result<String, QueryError> {
    let fields = result.schema.fields();
    let mut out = String::new();
    for row in rows(result)? {
        let mut object = serde_json::Map::new();
        for (field, cell) in fields.iter().zip(row) {
            let value = match cell {
                None => serde_json::Value::Null,
                Some(text) => match field.data_type() {
                    DataType::Boolean => serde_json::Value::Bool(text == "true"),
                    t if t.is_integer() || t.is_floating() => {
                        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
                    }
                    _ => serde_json::Value::String(text),
                },
            };
            object.insert(field.name().clone(), value);
        }
        out.push_str(&serde_json::Value::Object(object).to_string());
        out.push('\n');
    }
    Ok(out)
}
