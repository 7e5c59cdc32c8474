//! OpenAPI description (`/openapi.json`) and a self-contained docs page (`/docs`) that
//! renders it without fetching anything from the internet.

use axum::response::Html;
use axum::Json;
use triage_core::api;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "triage",
        description = "Customer-service NLU: intent, emotion, handoff and suggestions for every message. With API keys configured, every route but /health, /ready, /livez, /readyz, /docs and /openapi.json needs `Authorization: Bearer <key>` of a role that may call it (client: classify, embed, suggest, info and the compatibility routes; agent: also conversations, feedback and the agent console under /console; admin: also /admin/* and /metrics): 401 `unauthorized` without a known key, 403 `forbidden` for a role too low. Request bodies must be `application/json` (415 otherwise)."
    ),
    paths(
        super::classify::classify,
        super::embed::embed,
        super::suggest::suggest,
        super::feedback::feedback,
        super::conversations::get,
        super::admin::policy,
        super::admin::reload,
        super::admin::kb,
        super::admin::kb_reload,
        super::health::health,
        super::health::ready,
        super::health::livez,
        super::health::readyz,
        super::compat::tei::predict,
        super::compat::tei::embed,
        super::compat::tei::rerank,
        super::compat::tei::tokenize,
        super::compat::openai::embeddings,
        super::compat::rasa::parse,
        super::compat::dialogflow::webhook,
        super::console::queue::queue,
        super::console::overview::overview,
        super::console::events::events,
        super::info::info,
        super::metrics::render
    ),
    components(schemas(
        api::ClassifyRequest,
        api::BatchInput,
        api::Customer,
        api::ClassifyResponse,
        api::BatchClassifyResponse,
        api::EmbedRequest,
        api::EmbedResponse,
        api::SuggestRequest,
        api::SuggestResponse,
        api::FeedbackRequest,
        api::FeedbackResponse,
        api::Feedback,
        api::Suggestion,
        api::Mode,
        triage_core::kb::ScoreParts,
        triage_core::kb::ArticleType,
        triage_core::kb::FollowUp,
        triage_core::kb::KbStatus,
        triage_core::kb::KbState,
        api::ErrorBody,
        api::ErrorDetail,
        api::ModelInfo,
        api::ConversationContext,
        api::Decision,
        api::Reason,
        api::ReasonCode,
        api::Action,
        api::Priority,
        api::Severity,
        api::ShownSuggestion,
        api::StoredTurn,
        triage_core::policy::TurnIntent,
        triage_core::policy::TurnEmotion,
        triage_core::policy::PolicyStatus,
        triage_core::policy::Reloaded,
        super::admin::PolicyView,
        super::admin::ReloadResponse,
        triage_core::model::IntentResult,
        triage_core::model::EmotionResult,
        triage_core::model::LabelScore,
        triage_core::model::Sentiment
    )),
    modifiers(&BearerKey),
    security(("api_key" = []))
)]
struct ApiDoc;

/// The API key scheme: `Authorization: Bearer <key>` (auth/keys.rs). Declared once and
/// required by default; the open probes say `security(())`.
struct BearerKey;

impl utoipa::Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from the keys file (`triage keys add`). Without a keys file a loopback bind needs none.",
                    ))
                    .build(),
            ),
        );
    }
}

pub(crate) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

pub(crate) async fn page() -> Html<&'static str> {
    Html(PAGE)
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>triage API</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem}
.op{margin:1rem 0;padding:.6rem 1rem;border:1px solid #ddd;border-radius:6px}
.m{font-weight:bold;text-transform:uppercase;margin-right:.5rem}
.post{color:#1a7f37}.get{color:#0550ae}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;font-size:.85rem}
</style></head><body>
<h1>triage API</h1>
<p>Machine-readable description: <a href="/openapi.json">/openapi.json</a>.</p>
<div id="ops">Loading…</div>
<h2>Schemas</h2><div id="schemas"></div>
<script>
fetch('/openapi.json').then(r=>r.json()).then(spec=>{
  const ops=document.getElementById('ops'); ops.textContent='';
  for(const [path,item] of Object.entries(spec.paths)){
    for(const [method,op] of Object.entries(item)){
      const d=document.createElement('div'); d.className='op';
      const h=document.createElement('div');
      const m=document.createElement('span'); m.className='m '+method; m.textContent=method;
      const p=document.createElement('code'); p.textContent=path;
      h.append(m,p); d.append(h);
      if(op.description||op.summary){const s=document.createElement('p'); s.textContent=op.summary||op.description; d.append(s);}
      const ul=document.createElement('ul');
      for(const [code,r] of Object.entries(op.responses||{})){
        const li=document.createElement('li'); li.textContent=code+': '+(r.description||''); ul.append(li);}
      d.append(ul); ops.append(d);
    }
  }
  const sc=document.getElementById('schemas');
  for(const [name,s] of Object.entries((spec.components||{}).schemas||{})){
    const h=document.createElement('h3'); h.textContent=name;
    const pre=document.createElement('pre'); pre.textContent=JSON.stringify(s,null,2);
    sc.append(h,pre);
  }
});
</script></body></html>"#;

#[cfg(test)]
mod tests {
    use super::ApiDoc;
    use utoipa::OpenApi;

    #[test]
    fn the_spec_lists_the_compatibility_routes_and_says_which_need_a_key() {
        let spec = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = &spec["paths"];
        for p in [
            "/predict",
            "/embed",
            "/rerank",
            "/tokenize",
            "/v1/embeddings",
            "/model/parse",
            "/integrations/dialogflow-cx",
            "/console/api/queue",
            "/console/api/overview",
            "/console/api/events",
            "/livez",
            "/readyz",
        ] {
            assert!(paths.get(p).is_some(), "{p} missing from the spec");
        }
        assert_eq!(
            spec["components"]["securitySchemes"]["api_key"]["scheme"],
            "bearer"
        );
        assert_eq!(spec["security"][0]["api_key"], serde_json::json!([]));
        // The open probes override the default with "no key".
        for p in ["/health", "/ready", "/livez", "/readyz"] {
            assert_eq!(
                paths[p]["get"]["security"],
                serde_json::json!([{}]),
                "{p} should need no key"
            );
        }
        assert!(paths["/v1/classify"]["post"].get("security").is_none());
    }
}
