//! `--plot FILE.svg`: latency percentiles per second over the run, and the
//! latency histogram. SVG only: text is written as SVG text elements, so no
//! font files are needed.

use std::path::Path;

use anyhow::anyhow;
use hdrhistogram::Histogram;
use plotters::prelude::*;

use crate::load::Series;
use crate::report::Summary;

pub fn draw(path: &Path, summary: &Summary, latency: &Histogram<u64>, _series: &Series) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1200, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (upper, lower) = root.split_vertically(470);
    over_time(&upper, summary)?;
    histogram(&lower, latency)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

fn plot_error<E: std::fmt::Debug>(error: E) -> anyhow::Error {
    anyhow!("drawing the plot: {error:?}")
}

fn over_time(area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, summary: &Summary) -> anyhow::Result<()> {
    let seconds = summary.per_second.len().max(1) as f64;
    let highest = summary
        .per_second
        .iter()
        .map(|second| second.latency_us.max)
        .max()
        .unwrap_or(1)
        .max(10) as f64;
    let lowest = summary
        .per_second
        .iter()
        .map(|second| second.latency_us.p50)
        .min()
        .unwrap_or(1)
        .max(2) as f64
        / 2.0;
    let title = format!(
        "latency over time (µs, log scale): {} loop, {} connections × {} in flight, {:.0} msg/s",
        summary.mode, summary.connections, summary.in_flight, summary.throughput_per_s
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..seconds, (lowest..highest * 1.5).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("second of the run")
        .y_desc("latency µs")
        .y_label_formatter(&|value| format!("{value:.0}"))
        .draw()
        .map_err(plot_error)?;
    type Pick = fn(&crate::report::Percentiles) -> u64;
    let lines: [(&str, Pick, RGBColor); 5] = [
        ("p50", |p| p.p50, BLUE),
        ("p90", |p| p.p90, GREEN),
        ("p99", |p| p.p99, RGBColor(230, 140, 0)),
        ("p99.9", |p| p.p999, RED),
        ("max", |p| p.max, BLACK),
    ];
    for (name, pick, color) in lines {
        let points: Vec<(f64, f64)> = summary
            .per_second
            .iter()
            .map(|second| (second.second as f64 + 0.5, pick(&second.latency_us).max(1) as f64))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(plot_error)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

fn histogram(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    latency: &Histogram<u64>,
) -> anyhow::Result<()> {
    // Linear buckets up to p99.9; the rare slower ones are in the last bucket.
    let limit = latency.value_at_quantile(0.999).max(10);
    let width = (limit / 100).max(1);
    let buckets = (limit / width + 1) as usize;
    let mut counts = vec![0u64; buckets];
    for value in latency.iter_recorded() {
        let bucket = ((value.value_iterated_to() / width) as usize).min(buckets - 1);
        counts[bucket] += value.count_at_value();
    }
    let tallest = counts.iter().copied().max().unwrap_or(1).max(1);
    let title = format!(
        "latency histogram: {} answers, p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs",
        latency.len(),
        latency.value_at_quantile(0.5),
        latency.value_at_quantile(0.99),
        latency.value_at_quantile(0.999),
        latency.max()
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(0u64..(buckets as u64 * width), 0u64..tallest + tallest / 10 + 1)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("latency µs (last bar: p99.9 and above)")
        .y_desc("answers")
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(counts.iter().enumerate().map(|(index, &count)| {
            let left = index as u64 * width;
            Rectangle::new([(left, 0), (left + width, count)], BLUE.mix(0.6).filled())
        }))
        .map_err(plot_error)?;
    Ok(())
}
