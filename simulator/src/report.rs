//! What a load run measured: per-connection outcomes, their totals, the
//! summary table, the JSON report, and the progress bar while it runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::time::Instant;

use crate::load::{Kind, LATENCY_US_MAX, LoadOptions, Series, Shared};

pub fn new_histogram(significant_figures: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, significant_figures).expect("valid histogram bounds")
}

/// One connection's measurements (requests due within the measured window).
#[derive(Debug)]
pub struct Outcome {
    pub sent: u64,
    pub approved: u64,
    pub declined: u64,
    /// Answered 9xxx (message error, malfunction, original not found).
    pub failed: u64,
    pub unreadable: u64,
    pub unmatched: u64,
    pub unanswered: u64,
    pub latency: Histogram<u64>,
    pub actions: BTreeMap<String, u64>,
    pub kinds: BTreeMap<Kind, u64>,
    pub last_answer: Option<Instant>,
}

impl Outcome {
    pub fn new() -> Outcome {
        Outcome {
            sent: 0,
            approved: 0,
            declined: 0,
            failed: 0,
            unreadable: 0,
            unmatched: 0,
            unanswered: 0,
            latency: new_histogram(3),
            actions: BTreeMap::new(),
            kinds: BTreeMap::new(),
            last_answer: None,
        }
    }

    pub fn record(&mut self, kind: Kind, action: &str, success: bool, latency_us: u64, received: Instant) {
        if success {
            self.approved += 1;
        } else if action.starts_with('9') || action.is_empty() {
            self.failed += 1;
        } else {
            self.declined += 1;
        }
        match self.actions.get_mut(action) {
            Some(count) => *count += 1,
            None => {
                self.actions.insert(action.to_owned(), 1);
            }
        }
        *self.kinds.entry(kind).or_default() += 1;
        self.latency.saturating_record(latency_us);
        self.last_answer = Some(self.last_answer.map_or(received, |last| last.max(received)));
    }
}

/// All connections together.
#[derive(Debug)]
pub struct Totals {
    pub start: Instant,
    pub measured_from: Instant,
    pub end: Instant,
    pub sum: Outcome,
    pub latency: Histogram<u64>,
    pub connection_errors: u64,
}

impl Totals {
    pub fn new(start: Instant, measured_from: Instant, end: Instant) -> Totals {
        Totals {
            start,
            measured_from,
            end,
            sum: Outcome::new(),
            latency: new_histogram(3),
            connection_errors: 0,
        }
    }

    pub fn add(&mut self, outcome: Outcome) {
        let sum = &mut self.sum;
        sum.sent += outcome.sent;
        sum.approved += outcome.approved;
        sum.declined += outcome.declined;
        sum.failed += outcome.failed;
        sum.unreadable += outcome.unreadable;
        sum.unmatched += outcome.unmatched;
        sum.unanswered += outcome.unanswered;
        for (action, count) in outcome.actions {
            *sum.actions.entry(action).or_default() += count;
        }
        for (kind, count) in outcome.kinds {
            *sum.kinds.entry(kind).or_default() += count;
        }
        sum.last_answer = match (sum.last_answer, outcome.last_answer) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.latency.add(&outcome.latency).ok();
    }

    pub fn answered(&self) -> u64 {
        self.sum.approved + self.sum.declined + self.sum.failed
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        Percentiles {
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
            mean: (histogram.mean() * 10.0).round() / 10.0,
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct SecondSummary {
    pub second: u64,
    pub answers: u64,
    pub latency_us: Percentiles,
}

/// The JSON report.
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub switch: String,
    pub mode: &'static str,
    pub connections: usize,
    pub in_flight: usize,
    pub rate_target_per_s: Option<f64>,
    pub mix: String,
    pub warmup_s: f64,
    pub requests: u64,
    pub answered: u64,
    pub approved: u64,
    pub declined: u64,
    /// 9xxx answers, unreadable or unmatched answers, requests left unanswered, failed connections.
    pub errors: u64,
    pub unanswered: u64,
    pub duration_s: f64,
    pub throughput_per_s: f64,
    pub latency_us: Percentiles,
    pub actions: BTreeMap<String, u64>,
    pub kinds: BTreeMap<&'static str, u64>,
    pub per_second: Vec<SecondSummary>,
}

pub fn summarize(options: &LoadOptions, totals: &Totals, series: &Series) -> Summary {
    let sum = &totals.sum;
    let last = sum.last_answer.unwrap_or(totals.end).max(totals.end);
    let duration_s = last.saturating_duration_since(totals.measured_from).as_secs_f64();
    let answered = totals.answered();
    let warmup_second = totals.measured_from.saturating_duration_since(totals.start).as_secs();
    Summary {
        switch: options.switch.to_string(),
        mode: if options.rate.is_some() { "open" } else { "closed" },
        connections: options.connections,
        in_flight: options.in_flight,
        rate_target_per_s: options.rate,
        mix: options.mix.to_string(),
        warmup_s: options.warmup.as_secs_f64(),
        requests: sum.sent,
        answered,
        approved: sum.approved,
        declined: sum.declined,
        errors: sum.failed + sum.unreadable + sum.unmatched + sum.unanswered + totals.connection_errors,
        unanswered: sum.unanswered,
        duration_s: (duration_s * 1000.0).round() / 1000.0,
        throughput_per_s: if duration_s > 0.0 {
            (answered as f64 / duration_s).round()
        } else {
            0.0
        },
        latency_us: Percentiles::of(&totals.latency),
        actions: sum.actions.clone(),
        kinds: sum.kinds.iter().map(|(kind, count)| (kind.name(), *count)).collect(),
        per_second: series
            .iter()
            .filter(|(second, _)| **second >= warmup_second)
            .map(|(second, histogram)| SecondSummary {
                second: *second - warmup_second,
                answers: histogram.len(),
                latency_us: Percentiles::of(histogram),
            })
            .collect(),
    }
}

impl Summary {
    pub fn table(&self) -> String {
        let mode = match self.rate_target_per_s {
            Some(rate) => format!("open loop at {rate:.0}/s"),
            None => "closed loop".to_owned(),
        };
        let latency = &self.latency_us;
        let actions: Vec<String> = self
            .actions
            .iter()
            .map(|(action, count)| format!("{action} × {count}"))
            .collect();
        format!(
            "load against {switch}: {mode}, {connections} connections × {in_flight} in flight, mix {mix}\n\
             {:<14}{:>12}{:>12}{:>12}{:>12}{:>12}{:>14}\n\
             {:<14}{:>12}{:>12}{:>12}{:>12}{:>12.3}{:>14.0}\n\
             {:<14}{:>12}{:>12}{:>12}{:>12}{:>12}{:>14}\n\
             {:<14}{:>12}{:>12}{:>12}{:>12}{:>12}{:>14.1}\n\
             actions: {}",
            "",
            "requests",
            "approved",
            "declined",
            "errors",
            "seconds",
            "per second",
            "messages",
            self.requests,
            self.approved,
            self.declined,
            self.errors,
            self.duration_s,
            self.throughput_per_s,
            "latency µs",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "mean",
            "",
            latency.p50,
            latency.p90,
            latency.p99,
            latency.p999,
            latency.max,
            latency.mean,
            if actions.is_empty() {
                "none".to_owned()
            } else {
                actions.join(", ")
            },
            switch = self.switch,
            connections = self.connections,
            in_flight = self.in_flight,
            mix = self.mix,
        )
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }
}

/// The progress bar (drawn only on a terminal).
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn start(total: Duration) -> Progress {
        let bar = ProgressBar::new(total.as_secs().max(1));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} s  {msg}")
                .expect("valid progress template")
                .progress_chars("=> "),
        );
        Progress { bar }
    }

    /// Updates the bar four times a second from the connections' counters.
    pub fn follow(&self, counters: Vec<Arc<Shared>>, start: Instant) -> tokio::task::JoinHandle<()> {
        let bar = self.bar.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(250));
            let (mut previous, mut previous_at) = (0u64, Instant::now());
            loop {
                ticker.tick().await;
                let answered: u64 = counters.iter().map(|c| c.answered.load(Ordering::Relaxed)).sum();
                let now = Instant::now();
                let rate = (answered - previous) as f64 / now.duration_since(previous_at).as_secs_f64();
                (previous, previous_at) = (answered, now);
                bar.set_position(now.saturating_duration_since(start).as_secs());
                bar.set_message(format!("{answered} answered, {rate:.0}/s"));
            }
        })
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
