//! Tables as the dataflow hands them to the query layer: named, typed columns and rows of cells.
//! The query crate turns them into Arrow; keeping Arrow out of here keeps the dataflow crate lean.

use rust_decimal::Decimal;

use crate::time::{format_date, format_rfc3339, Millis};

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
impl From<crate::id::Id> for Cell {
    fn from(v: crate::id::Id) -> Cell {
        Cell::Text(Some(v.to_string()))
    }
}
impl From<Option<crate::id::Id>> for Cell {
    fn from(v: Option<crate::id::Id>) -> Cell {
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

/// The scale a column of these decimals takes in a 38-digit Decimal128: the largest scale among
/// them, less where their integer digits leave no room for it (those values then need rounding).
pub fn decimal128_scale(values: impl IntoIterator<Item = Decimal>) -> u32 {
    let (mut scale, mut int_digits) = (0u32, 1u32);
    for d in values {
        let d = d.normalize();
        scale = scale.max(d.scale());
        let int = d.trunc().abs().mantissa();
        int_digits = int_digits.max(int.checked_ilog10().map_or(1, |l| l + 1));
    }
    scale.min(DECIMAL128_DIGITS - int_digits)
}

/// Digits of Arrow's Decimal128.
pub const DECIMAL128_DIGITS: u32 = 38;

/// `d` as a Decimal128 value at `scale`, which must be at least its normalised scale.
pub fn decimal128_value(d: Decimal, scale: u32) -> i128 {
    let d = d.normalize();
    d.mantissa() * 10i128.pow(scale - d.scale())
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
