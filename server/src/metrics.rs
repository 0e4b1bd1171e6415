//! The counters behind `GET /metrics` (`routes/metrics.rs`) and their Prometheus text format:
//! requests by route and status with latency histograms, tokens per model, admitted chats and
//! replies in progress, exposures per arm and database errors. Counters live in this process;
//! Prometheus sums replicas.

use std::{collections::BTreeMap, fmt::Write as _, sync::Mutex, time::Duration};

use blendlab_inference::ModelRegistry;

/// Upper bounds, in seconds, of the latency histogram's buckets: from an event batch to a long
/// reply on a busy CPU.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(bucket) = LATENCY_BUCKETS.iter().position(|&le| seconds <= le) {
            self.counts[bucket] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    tokens: Mutex<BTreeMap<(String, &'static str), u64>>,
    exposures: Mutex<BTreeMap<(String, String), u64>>,
    replies_in_progress: Mutex<BTreeMap<String, i64>>,
}

impl Metrics {
    pub fn record_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        *self
            .requests
            .lock()
            .unwrap()
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        self.latency
            .lock()
            .unwrap()
            .entry(route.to_owned())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    pub fn record_tokens(&self, model: &str, prompt: u32, completion: u32) {
        let mut tokens = self.tokens.lock().unwrap();
        *tokens.entry((model.to_owned(), "in")).or_default() += u64::from(prompt);
        *tokens.entry((model.to_owned(), "out")).or_default() += u64::from(completion);
    }

    /// A new exposure that this replica stored.
    pub fn record_exposure(&self, experiment: &str, arm: &str) {
        *self
            .exposures
            .lock()
            .unwrap()
            .entry((experiment.to_owned(), arm.to_owned()))
            .or_default() += 1;
    }

    /// Counts a reply of `model` as in progress until the guard drops.
    pub fn reply_started(&self, model: &str) -> ReplyInProgress<'_> {
        *self
            .replies_in_progress
            .lock()
            .unwrap()
            .entry(model.to_owned())
            .or_default() += 1;
        ReplyInProgress {
            metrics: self,
            model: model.to_owned(),
        }
    }
}

pub struct ReplyInProgress<'a> {
    metrics: &'a Metrics,
    model: String,
}

impl Drop for ReplyInProgress<'_> {
    fn drop(&mut self) {
        if let Some(n) = self
            .metrics
            .replies_in_progress
            .lock()
            .unwrap()
            .get_mut(&self.model)
        {
            *n -= 1;
        }
    }
}

impl Metrics {
    /// Every family in Prometheus' text format, with the gauges the registry does not own passed
    /// in: the models' pending catch-ups and the chat admission counts.
    pub fn exposition(
        &self,
        models: &ModelRegistry,
        chat_capacity: usize,
        chats_admitted: usize,
    ) -> String {
        let metrics = self;
        let mut out = String::new();
        family(
            &mut out,
            "blendlab_http_requests_total",
            "counter",
            "HTTP requests answered, by route pattern, method and status.",
        );
        for ((route, method, status), n) in metrics.requests.lock().unwrap().iter() {
            sample(
                &mut out,
                "blendlab_http_requests_total",
                &[
                    ("route", route),
                    ("method", method),
                    ("status", &status.to_string()),
                ],
                *n as f64,
            );
        }
        family(
            &mut out,
            "blendlab_http_request_duration_seconds",
            "histogram",
            "Time to the response head (a stream's first event), by route pattern.",
        );
        for (route, histogram) in metrics.latency.lock().unwrap().iter() {
            let name = "blendlab_http_request_duration_seconds";
            let mut cumulative = 0;
            for (le, n) in LATENCY_BUCKETS.iter().zip(histogram.counts) {
                cumulative += n;
                sample(
                    &mut out,
                    &format!("{name}_bucket"),
                    &[("route", route), ("le", &le.to_string())],
                    cumulative as f64,
                );
            }
            sample(
                &mut out,
                &format!("{name}_bucket"),
                &[("route", route), ("le", "+Inf")],
                histogram.count as f64,
            );
            sample(
                &mut out,
                &format!("{name}_sum"),
                &[("route", route)],
                histogram.sum,
            );
            sample(
                &mut out,
                &format!("{name}_count"),
                &[("route", route)],
                histogram.count as f64,
            );
        }
        family(
            &mut out,
            "blendlab_tokens_total",
            "counter",
            "Tokens per model: prompt tokens in, generated tokens out.",
        );
        for ((model, direction), n) in metrics.tokens.lock().unwrap().iter() {
            sample(
                &mut out,
                "blendlab_tokens_total",
                &[("model", model), ("direction", direction)],
                *n as f64,
            );
        }
        family(
            &mut out,
            "blendlab_replies_in_progress",
            "gauge",
            "Replies being generated or waiting for the engine, per model.",
        );
        for (model, n) in metrics.replies_in_progress.lock().unwrap().iter() {
            sample(
                &mut out,
                "blendlab_replies_in_progress",
                &[("model", model)],
                *n as f64,
            );
        }
        family(
            &mut out,
            "blendlab_catch_ups_pending",
            "gauge",
            "Background catch-ups of blend components waiting or under way, per model.",
        );
        for model in models.models() {
            sample(
                &mut out,
                "blendlab_catch_ups_pending",
                &[("model", model.id())],
                model.catch_ups_pending() as f64,
            );
        }
        let (capacity, admitted) = (chat_capacity, chats_admitted);
        family(&mut out, "blendlab_chat_admitted", "gauge",
        "Chat requests admitted (queued or running); at blendlab_chat_capacity the server answers 429.");
        sample(&mut out, "blendlab_chat_admitted", &[], admitted as f64);
        family(
            &mut out,
            "blendlab_chat_capacity",
            "gauge",
            "Chat requests admitted at most.",
        );
        sample(&mut out, "blendlab_chat_capacity", &[], capacity as f64);
        family(
            &mut out,
            "blendlab_exposures_total",
            "counter",
            "Users newly exposed by this replica, per experiment and arm.",
        );
        for ((experiment, arm), n) in metrics.exposures.lock().unwrap().iter() {
            sample(
                &mut out,
                "blendlab_exposures_total",
                &[("experiment", experiment), ("arm", arm)],
                *n as f64,
            );
        }
        family(
            &mut out,
            "blendlab_database_errors_total",
            "counter",
            "Store operations that failed other than by a conflict.",
        );
        sample(
            &mut out,
            "blendlab_database_errors_total",
            &[],
            blendlab_store::database_errors() as f64,
        );
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        let rendered: Vec<String> = labels
            .iter()
            .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
            .collect();
        let _ = write!(out, "{{{}}}", rendered.join(","));
    }
    let _ = writeln!(out, " {value}");
}

/// Label values escape backslash, double quote and newline (the exposition format's rule).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_histograms_are_cumulative() {
        let mut out = String::new();
        sample(&mut out, "m", &[("a", "x\"y\\z\nw")], 2.0);
        assert_eq!(out, "m{a=\"x\\\"y\\\\z\\nw\"} 2\n");
        let mut histogram = Histogram::default();
        for seconds in [0.0005, 0.003, 0.003, 100.0] {
            histogram.observe(seconds);
        }
        assert_eq!(histogram.counts[0], 1);
        assert_eq!(histogram.counts[2], 2);
        assert_eq!(
            histogram.counts.iter().sum::<u64>(),
            3,
            "100 s is only in +Inf"
        );
        assert_eq!(histogram.count, 4);
    }
}
