//! Reading the small collected frames into plain vectors (missing optional columns read as null).

use polars::prelude::*;

use crate::AnalyticsError;

pub fn strings(df: &DataFrame, name: &str) -> Result<Vec<String>, AnalyticsError> {
    let column = df.column(name)?.cast(&DataType::String)?;
    let values = column.str()?;
    Ok((0..values.len())
        .map(|i| values.get(i).unwrap_or_default().to_owned())
        .collect())
}

pub fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, AnalyticsError> {
    match df.column(name) {
        Ok(column) => {
            let column = column.cast(&DataType::Float64)?;
            let values = column.f64()?;
            Ok((0..values.len()).map(|i| values.get(i)).collect())
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
