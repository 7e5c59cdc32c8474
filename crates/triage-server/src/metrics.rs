//! `GET /metrics` in Prometheus text format. One recorder per process (the `metrics`
//! facade is global), shared by every server started in it — tests start several.
//! With several bundles, `triage_queue_depth` counts every bundle's queue, the
//! `triage_kb_*` gauges describe the default bundle's base (as before several could be
//! served), and the `triage_model_*` gauges carry one series per bundle.
//! `triage_kb_indexing` (and `triage_model_kb_indexing{model}`) is 1 while a base is
//! first indexed after start-up, when `triage_kb_ready` is still 0.

use super::AppState;
use axum::extract::State;

#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format")))]
pub(crate) async fn render(State(state): State<AppState>) -> String {
    if let Ok(bundles) = state.bundles() {
        let all = bundles.all();
        let depth: usize = all
            .iter()
            .map(|s| s.classifier.engine().queue_depth())
            .sum();
        metrics::gauge!("triage_queue_depth").set(depth as f64);
        for s in all {
            let model = s.name().to_string();
            metrics::gauge!("triage_model_queue_depth", "model" => model.clone())
                .set(s.classifier.engine().queue_depth() as f64);
            let enc = s.classifier.encoder_info();
            metrics::gauge!(
                "triage_model_encoder_info",
                "model" => model.clone(),
                "encoder" => enc.kind.as_str(),
                "isa" => enc.isa.map_or("none", |i| i.as_str())
            )
            .set(1.0);
            let articles = s.kb.as_ref().and_then(|k| k.current()).map(|v| v.kb.len());
            let indexing = s.kb.as_ref().is_some_and(|k| k.is_indexing());
            metrics::gauge!("triage_model_kb_ready", "model" => model.clone())
                .set(if articles.is_some() { 1.0 } else { 0.0 });
            metrics::gauge!("triage_model_kb_indexing", "model" => model.clone())
                .set(if indexing { 1.0 } else { 0.0 });
            metrics::gauge!("triage_model_kb_articles", "model" => model)
                .set(articles.unwrap_or(0) as f64);
        }
    }
    if let Some(kb) = state.kb() {
        let current = kb.current();
        metrics::gauge!("triage_kb_ready").set(if current.is_some() { 1.0 } else { 0.0 });
        metrics::gauge!("triage_kb_indexing").set(if kb.is_indexing() { 1.0 } else { 0.0 });
        if let Some(v) = current {
            metrics::gauge!("triage_kb_articles").set(v.kb.len() as f64);
            metrics::gauge!("triage_kb_issues").set(v.issues.len() as f64);
            metrics::gauge!("triage_kb_generation").set(v.generation as f64);
        }
    }
    state.prometheus.render()
}
