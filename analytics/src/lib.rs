//! The retention and engagement report. The polars pipeline lands with the analytics issue.
