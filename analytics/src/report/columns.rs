//! Reading the small collected frames into plain vectors (missing optional columns read as null).

use polars::prelude::*;

use crate::AnalyticsError;

pub fn strings(df: &DataFrame, name: &str) -> Result<Vec<String>, AnalyticsError> {
    let column = df.column(name)?.cast(&DataType::String)?;
    Ok(column
        .str()?
        .iter()
        .map(|value| value.unwrap_or_default().to_owned())
        .collect())
}

pub fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, AnalyticsError> {
    match df.column(name) {
        Ok(column) => {
            let column = column.cast(&DataType::Float64)?;
            // Read array by array: `get(i)` searches the chunks (stacked parts have many) and the
            // chunked iterator pays a dynamic call per value; blend cells number millions.
            let values = column.f64()?;
            let mut read = Vec::with_capacity(values.len());
            let no_nulls = values.null_count() == 0;
            for array in values.downcast_iter() {
                if no_nulls {
                    read.extend(array.values().iter().map(|v| Some(*v)));
                } else {
                    read.extend(array.iter().map(|v| v.copied()));
                }
            }
            Ok(read)
        }
        Err(_) => Ok(vec![None; df.height()]),
    }
}

pub fn counts(df: &DataFrame, name: &str) -> Result<Vec<u64>, AnalyticsError> {
    Ok(floats(df, name)?
        .into_iter()
        .map(|v| v.unwrap_or(0.0) as u64)
        .collect())
}

pub fn optional_counts(df: &DataFrame, name: &str) -> Result<Option<Vec<u64>>, AnalyticsError> {
    if df.column(name).is_err() {
        return Ok(None);
    }
    counts(df, name).map(Some)
}
