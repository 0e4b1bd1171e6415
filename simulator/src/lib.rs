//! Simulated users for blendlab: the behavioural model (`synthetic`), its writers (Parquet, the
//! store in bulk), live chat traffic against a running server (`simulate`), and the calibration
//! suite that runs the report's own statistics on thousands of simulated experiments.

pub mod calibration;
pub mod simulate;
pub mod synthetic;
