//! The `blendlab` command line: every subcommand (`commands`), the demo, the report and plan
//! commands, and `bench/` with every benchmark. `main` is thin.

pub mod bench;
pub mod commands;
pub mod demo;
pub mod environment;
pub mod export;
pub mod report;

pub use commands::Cli;
