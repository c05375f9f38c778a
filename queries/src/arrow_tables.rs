//! `Table` (the dataflow's view) to Arrow, with the column types of the table contract:
//! times `Timestamp(Millisecond, UTC)`, days `Date32`, exact amounts `Decimal128`, scores `Float64`, counts
//! `Int64`, flags `Boolean`.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder,
    StringBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use meritflow_pipelines::table::{
    decimal128_scale, decimal128_value, Cell, ColumnType, Table, DECIMAL128_DIGITS,
};

use crate::QueryError;

fn decimal_scale(table: &Table, column: usize) -> u32 {
    decimal128_scale(table.rows.iter().filter_map(|row| match &row[column] {
        Cell::Decimal(v) => *v,
        _ => None,
    }))
}

pub fn to_batch(table: &Table) -> Result<RecordBatch, QueryError> {
    let wrong = |column: &str, cell: &Cell| QueryError::Table {
        table: table.name.to_owned(),
        message: format!("column `{column}` got {cell:?}"),
    };
    let mut fields = Vec::with_capacity(table.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for (i, (name, kind)) in table.columns.iter().enumerate() {
        let cells = table.rows.iter().map(|row| &row[i]);
        let (data_type, array): (DataType, ArrayRef) = match kind {
            ColumnType::Text => {
                let mut b = StringBuilder::new();
                for cell in cells {
                    match cell {
                        Cell::Text(v) => b.append_option(v.as_deref()),
                        other => return Err(wrong(name, other)),
                    }
                }
                (DataType::Utf8, Arc::new(b.finish()))
            }
            ColumnType::Int => {
                let mut b = Int64Builder::new();
                for cell in cells {
                    match cell {
                        Cell::Int(v) => b.append_option(*v),
                        other => return Err(wrong(name, other)),
                    }
                }
                (DataType::Int64, Arc::new(b.finish()))
            }
            ColumnType::Float => {
                let mut b = Float64Builder::new();
                for cell in cells {
                    match cell {
                        Cell::Float(v) => b.append_option(*v),
                        other => return Err(wrong(name, other)),
                    }
                }
                (DataType::Float64, Arc::new(b.finish()))
            }
            ColumnType::Bool => {
                let mut b = BooleanBuilder::new();
                for cell in cells {
                    match cell {
                        Cell::Bool(v) => b.append_option(*v),
                        other => return Err(wrong(name, other)),
                    }
                }
                (DataType::Boolean, Arc::new(b.finish()))
            }
            ColumnType::Decimal => {
                let scale = decimal_scale(table, i);
                let data_type = DataType::Decimal128(DECIMAL128_DIGITS as u8, scale as i8);
                let mut b = Decimal128Builder::new().with_data_type(data_type.clone());
                for cell in cells {
                    match cell {
                        Cell::Decimal(Some(d)) => {
                            b.append_value(decimal128_value(d.round_dp(scale), scale))
                        }
                        Cell::Decimal(None) => b.append_null(),
                        other => return Err(wrong(name, other)),
                    }
                }
                (data_type, Arc::new(b.finish()))
            }
            ColumnType::Date => {
                let mut b = Date32Builder::new();
                for cell in cells {
                    match cell {
                        Cell::Date(v) => b.append_option(*v),
                        other => return Err(wrong(name, other)),
                    }
                }
                (DataType::Date32, Arc::new(b.finish()))
            }
            ColumnType::Timestamp => {
                let mut b = TimestampMillisecondBuilder::new().with_timezone("UTC");
                for cell in cells {
                    match cell {
                        Cell::Timestamp(v) => b.append_option(v.map(|t| t as i64)),
                        other => return Err(wrong(name, other)),
                    }
                }
                (
                    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                    Arc::new(b.finish()),
                )
            }
        };
        fields.push(Field::new(*name, data_type, true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| QueryError::Table {
        table: table.name.to_owned(),
        message: e.to_string(),
    })
}
