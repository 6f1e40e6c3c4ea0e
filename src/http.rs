//! The HTTP listener: health and Prometheus metrics (the lifecycle API joins it later).

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

pub fn router(metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/metrics", get(move || std::future::ready(metrics.render())))
}
