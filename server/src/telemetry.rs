use tracing_subscriber::{fmt, EnvFilter};

/// How the program logs: the filter (`RUST_LOG` syntax) and whether lines are JSON, for machines.
pub struct LogSettings {
    pub filter: String,
    pub json: bool,
}

/// Structured logs to stderr.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if settings.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
