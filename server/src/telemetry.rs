use tracing_subscriber::{fmt, EnvFilter};

/// Structured logs to stderr; `RUST_LOG` overrides `default_filter`, `BLENDLAB_LOG_FORMAT=json`
/// switches to JSON lines for machines.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if std::env::var("BLENDLAB_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
