//! Tables as the dataflow hands them to the query layer: named, typed columns and rows of cells.
//! The query crate turns them into Arrow; keeping Arrow out of here keeps the dataflow crate lean.

use rust_decimal::Decimal;

use crate::time::{format_rfc3339, Millis};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Int,
    Float,
    Bool,
    /// Exact amounts; the query layer picks the scale from the values.
    Decimal,
    /// Event time, milliseconds since the epoch (UTC).
    Timestamp,
    /// A UTC day, days since 1970-01-01.
    Date,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Decimal(Option<Decimal>),
    Timestamp(Option<Millis>),
    Date(Option<i32>),
}

impl From<String> for Cell {
    fn from(v: String) -> Cell {
        Cell::Text(Some(v))
    }
}
impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Text(Some(v.to_owned()))
    }
}
impl From<std::sync::Arc<str>> for Cell {
    fn from(v: std::sync::Arc<str>) -> Cell {
        Cell::Text(Some(v.to_string()))
    }
}
impl From<Option<std::sync::Arc<str>>> for Cell {
    fn from(v: Option<std::sync::Arc<str>>) -> Cell {
        Cell::Text(v.map(|s| s.to_string()))
    }
}
impl From<Option<String>> for Cell {
    fn from(v: Option<String>) -> Cell {
        Cell::Text(v)
    }
}
impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        Cell::Float(Some(v))
    }
}
impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Cell {
        Cell::Float(v)
    }
}
impl From<bool> for Cell {
    fn from(v: bool) -> Cell {
        Cell::Bool(Some(v))
    }
}
impl From<Decimal> for Cell {
    fn from(v: Decimal) -> Cell {
        Cell::Decimal(Some(v))
    }
}
impl From<Option<Decimal>> for Cell {
    fn from(v: Option<Decimal>) -> Cell {
        Cell::Decimal(v)
    }
}

/// Integer cells from any unsigned or signed count.
pub fn int(v: impl TryInto<i64>) -> Cell {
    Cell::Int(v.try_into().ok())
}

pub fn opt_int(v: Option<u64>) -> Cell {
    Cell::Int(v.and_then(|v| i64::try_from(v).ok()))
}

/// A day (days since 1970-01-01) as `YYYY-MM-DD`.
pub fn format_date(day: i32) -> String {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .expect("epoch")
        .checked_add_signed(chrono::TimeDelta::days(day as i64))
        .map_or_else(
            || format!("day {day}"),
            |d| d.format("%Y-%m-%d").to_string(),
        )
}

pub fn timestamp(v: Millis) -> Cell {
    Cell::Timestamp(Some(v))
}

#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: &'static str,
    pub columns: Vec<(&'static str, ColumnType)>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(name: &'static str, columns: &[(&'static str, ColumnType)]) -> Table {
        Table {
            name,
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Row `index` as a JSON object: exact decimals and timestamps (RFC 3339) as strings,
    /// non-finite floats as null.
    pub fn row_json(&self, index: usize) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::Value;
        let mut object = serde_json::Map::new();
        for ((name, _), cell) in self.columns.iter().zip(&self.rows[index]) {
            let value = match cell {
                Cell::Text(v) => v.clone().map_or(Value::Null, Value::String),
                Cell::Int(v) => v.map_or(Value::Null, Value::from),
                Cell::Float(v) => v
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number),
                Cell::Bool(v) => v.map_or(Value::Null, Value::Bool),
                Cell::Decimal(v) => v.map_or(Value::Null, |d| Value::String(d.to_string())),
                Cell::Timestamp(v) => v.map_or(Value::Null, |t| Value::String(format_rfc3339(t))),
                Cell::Date(v) => v.map_or(Value::Null, |d| Value::String(format_date(d))),
            };
            object.insert((*name).to_owned(), value);
        }
        object
    }

    /// The index of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| *n == name)
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(
            row.len(),
            self.columns.len(),
            "row width of table {}",
            self.name
        );
        self.rows.push(row);
    }
}
