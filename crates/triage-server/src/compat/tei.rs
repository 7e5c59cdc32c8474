//! Hugging Face Text Embeddings Inference (TEI): `POST /predict`, `/embed`, `/rerank`
//! and `/tokenize` with TEI's request fields, answers and error shape
//! (`{"error", "error_type"}`), so TEI clients (`huggingface_hub.InferenceClient`,
//! LangChain's and LlamaIndex's TEI integrations, plain `requests`) work unchanged.
//!
//! Where triage differs from TEI, on purpose:
//! * `/predict` scores each head as the head is trained: softmax for an intent head
//!   (temperature-calibrated, the `/v1/classify` confidences), **sigmoid for the
//!   multi-label emotion head**. TEI applies softmax to every model with more than one
//!   label, which turns independent emotion probabilities into a distribution that sums
//!   to one (a message both angry and disappointed gets neither score right). Which head
//!   answers: `?head=` (a head name or an intent set), else `compat.tei_head`, else the
//!   default intent set's head. `raw_scores` gives the head's logits (no temperature).
//! * `/rerank` scores each text by the cosine similarity of its sentence embedding to the
//!   query's (a bi-encoder, not TEI's cross-encoder): scores lie in [-1, 1], and
//!   `raw_scores` changes nothing. Without `texts` it ranks the bundle's knowledge-base
//!   articles the same way (with their `id` and `title`).
//! * Sentence pairs, token-id inputs, `normalize: false`, `prompt_name` and other
//!   `dimensions` are refused with a validation error instead of being answered with
//!   something else; left truncation is refused when a text is long enough to be cut.
//! * Too many inputs and too long texts are 413 (TEI documents 413 for the batch size
//!   and answers 422 for it in its current code).

use super::{embed_texts, read_json, read_query, Failure, Truncate};
use crate::error::status_of;
use crate::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ndarray::Axis;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use triage_core::classify::Classifier;
use triage_core::error::TriageError;
use triage_core::kb::Query;
use triage_core::model::TokenSpan;

/// TEI's error body.
#[derive(Serialize)]
struct TeiErrorBody {
    error: String,
    error_type: &'static str,
}

/// A failure in TEI's shape and with TEI's status for its type (`validation` 422 or 413,
/// `empty` 400, `overloaded` 429, `unhealthy` 503, `backend` 424).
fn error_response(f: Failure) -> Response {
    f.log("tei");
    let (status, error_type) = match &f {
        Failure::Empty { .. } => (StatusCode::BAD_REQUEST, "empty"),
        Failure::Unsupported { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        Failure::TooLong { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "validation"),
        Failure::Core(e) => match status_of(e) {
            StatusCode::TOO_MANY_REQUESTS => (StatusCode::TOO_MANY_REQUESTS, "overloaded"),
            StatusCode::SERVICE_UNAVAILABLE => (StatusCode::SERVICE_UNAVAILABLE, "unhealthy"),
            s if s.is_server_error() => (StatusCode::FAILED_DEPENDENCY, "backend"),
            s => (s, "validation"),
        },
    };
    let mut error = f.message();
    if matches!(f, Failure::TooLong { .. }) {
        error.push_str("; send `truncate: true` to cut it");
    }
    let body = TeiErrorBody { error, error_type };
    (status, Json(body)).into_response()
}

fn respond<T: Serialize>(r: Result<T, Failure>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(f) => error_response(f),
    }
}

/// One text, or a batch: TEI answers a batch with one list per input.
enum Inputs {
    One(String),
    Batch(Vec<String>),
}

impl Inputs {
    fn texts(self) -> (Vec<String>, bool) {
        match self {
            Inputs::One(t) => (vec![t], false),
            Inputs::Batch(b) => (b, true),
        }
    }
}

fn empty_inputs() -> Failure {
    Failure::Empty {
        param: "inputs",
        message: "`inputs` cannot be empty".into(),
    }
}

fn check_batch(state: &AppState, n: usize) -> Result<(), Failure> {
    let max = state.config.limits.max_batch_items;
    if n > max {
        return Err(TriageError::BatchTooLarge { items: n, max }.into());
    }
    Ok(())
}

/// `/embed` and `/tokenize` inputs: a string or a list of strings. Token ids (TEI takes
/// them on `/embed`) are refused: they would be ids of another model's vocabulary.
fn text_inputs(v: Value) -> Result<Inputs, Failure> {
    match v {
        Value::String(s) => Ok(Inputs::One(s)),
        Value::Array(items) if items.is_empty() => Err(empty_inputs()),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                Value::Number(_) | Value::Array(_) => Err(Failure::Unsupported {
                    param: "inputs",
                    message: "token-id inputs are not supported: send the text".into(),
                }),
                _ => Err(Failure::invalid(
                    "`inputs` must be a string or a list of strings",
                )),
            })
            .collect::<Result<_, _>>()
            .map(Inputs::Batch),
        _ => Err(Failure::invalid(
            "`inputs` must be a string or a list of strings",
        )),
    }
}

fn pair_refused() -> Failure {
    Failure::Unsupported {
        param: "inputs",
        message: "sentence pairs are not supported: triage's heads classify one text. A batch is a list of one-string lists: [[\"a\"], [\"b\"]]".into(),
    }
}

/// `/predict` inputs as TEI reads them: a string; `["text"]` (one text); `["a", "b"]`
/// (a sentence pair: refused); or a batch `[["a"], ["b"], ...]` of one-string lists.
fn predict_inputs(v: Value) -> Result<Inputs, Failure> {
    let shape = "`inputs` must be a string, a list with one string, or a batch of one-string lists [[\"a\"], [\"b\"]]";
    let one = |item: Value| -> Result<String, Failure> {
        match item {
            Value::Array(mut inner) if inner.len() == 1 => match inner.pop() {
                Some(Value::String(s)) => Ok(s),
                _ => Err(Failure::invalid(shape)),
            },
            Value::Array(inner) if inner.len() == 2 => Err(pair_refused()),
            _ => Err(Failure::invalid(shape)),
        }
    };
    match v {
        Value::String(s) => Ok(Inputs::One(s)),
        Value::Array(items) if items.is_empty() => Err(empty_inputs()),
        Value::Array(mut items) if items.first().is_some_and(Value::is_string) => {
            match items.len() {
                1 => match items.pop() {
                    Some(Value::String(s)) => Ok(Inputs::One(s)),
                    _ => Err(Failure::invalid(shape)),
                },
                2 if items.iter().all(Value::is_string) => Err(pair_refused()),
                _ => Err(Failure::invalid(shape)),
            }
        }
        Value::Array(items) => items
            .into_iter()
            .map(one)
            .collect::<Result<_, _>>()
            .map(Inputs::Batch),
        _ => Err(Failure::invalid(shape)),
    }
}

/// TEI's `truncate` (default false: refuse long texts) and `truncation_direction`.
fn truncation(truncate: Option<bool>, direction: Option<&str>) -> Result<Truncate, Failure> {
    let left = match direction {
        None | Some("right") | Some("Right") => false,
        Some("left") | Some("Left") => true,
        Some(other) => {
            return Err(Failure::invalid(format!(
                "`truncation_direction` must be \"left\" or \"right\", not {other:?}"
            )))
        }
    };
    Ok(match (truncate.unwrap_or(false), left) {
        (false, _) => Truncate::No,
        (true, false) => Truncate::Right,
        (true, true) => Truncate::Left,
    })
}

/// Query string of the TEI routes: which bundle, and for `/predict` which head.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeiQuery {
    /// A bundle name (`GET /info` lists them); absent: by the texts' language.
    model: Option<String>,
    /// `/predict` only: a head name (`emotion`, `intent.banking`) or an intent set.
    head: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PredictRequest {
    inputs: Value,
    truncate: Option<bool>,
    truncation_direction: Option<String>,
    #[serde(default)]
    raw_scores: bool,
}

#[derive(Debug, Serialize)]
struct Prediction {
    score: f32,
    label: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum PredictResponse {
    Single(Vec<Prediction>),
    Batch(Vec<Vec<Prediction>>),
}

/// The head `/predict` answers with: `wanted` as a head name, else as an intent set.
fn find_head(c: &Classifier, wanted: &str) -> Result<usize, Failure> {
    let heads = c.heads();
    heads
        .iter()
        .position(|h| h.spec.name == wanted)
        .or_else(|| {
            let intent = format!("intent.{wanted}");
            heads.iter().position(|h| h.spec.name == intent)
        })
        .ok_or_else(|| {
            let names: Vec<&str> = heads.iter().map(|h| h.spec.name.as_str()).collect();
            Failure::Unsupported {
                param: "head",
                message: format!(
                    "model {:?} has no head {wanted:?}; its heads: {}",
                    c.manifest.name,
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            }
        })
}

/// `POST /predict`: every label of one head with its score, best first; a list per
/// input for a batch.
#[utoipa::path(post, path = "/predict", tag = "compatibility", request_body(content = Object, description = "TEI's `/predict` body: `inputs` (a text, a list of texts), `raw_scores`, `truncate`. `?head=` names the head (a head or an intent set)."), responses((status = 200, description = "TEI's answer: `[{label, score}]` per input, softmax for an intent head, sigmoid for the emotion head"), (status = 400, description = "Malformed or empty input, in the family's own error shape"), (status = 413, description = "Text longer than the encoder reads"), (status = 422, description = "A field or option triage does not support")))]
pub(crate) async fn predict(State(state): State<AppState>, req: Request) -> Response {
    respond(run_predict(state, req).await)
}

async fn run_predict(state: AppState, req: Request) -> Result<PredictResponse, Failure> {
    let query: TeiQuery = read_query(&req)?;
    let body: PredictRequest = read_json(req, &state).await?;
    let (texts, batch) = predict_inputs(body.inputs)?.texts();
    check_batch(&state, texts.len())?;
    let truncate = truncation(body.truncate, body.truncation_direction.as_deref())?;
    let wanted = query
        .head
        .or_else(|| state.config.compat.tei_head.clone())
        .unwrap_or_else(|| format!("intent.{}", state.config.intent_set));
    let checked = wanted.clone();
    let embedded = embed_texts(&state, texts, query.model, truncate, move |c| {
        find_head(c, &checked).map(|_| ())
    })
    .await?;
    let c = &embedded.classifier;
    let head = &c.heads()[find_head(c, &wanted)?];
    let scores = if body.raw_scores {
        head.logits(embedded.vectors.view())
    } else {
        head.scores(embedded.vectors.view())
    };
    let mut out = Vec::with_capacity(scores.nrows());
    for row in scores.axis_iter(Axis(0)) {
        if row.iter().any(|s| !s.is_finite()) {
            return Err(TriageError::Internal("a score is not a finite number".into()).into());
        }
        let mut preds: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
        preds.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out.push(
            preds
                .into_iter()
                .map(|(i, score)| Prediction {
                    score,
                    label: head.spec.labels[i].clone(),
                })
                .collect::<Vec<_>>(),
        );
    }
    Ok(if batch {
        PredictResponse::Batch(out)
    } else {
        PredictResponse::Single(out.pop().unwrap_or_default())
    })
}

#[derive(Debug, Deserialize)]
struct EmbedRequest {
    inputs: Value,
    truncate: Option<bool>,
    truncation_direction: Option<String>,
    normalize: Option<bool>,
    prompt_name: Option<String>,
    dimensions: Option<usize>,
}

/// Refuses `dimensions` other than the encoder's (triage's vectors are not Matryoshka
/// embeddings: a cut vector would not mean anything).
pub(crate) fn check_dimensions(c: &Classifier, dimensions: Option<usize>) -> Result<(), Failure> {
    let hidden = c.engine().hidden_size();
    match dimensions {
        Some(d) if d != hidden => Err(Failure::Unsupported {
            param: "dimensions",
            message: format!(
                "model {:?} gives {hidden}-dimensional vectors only; `dimensions` {d} is not supported",
                c.manifest.name
            ),
        }),
        _ => Ok(()),
    }
}

fn prompt_refused(prompt_name: Option<&str>) -> Result<(), Failure> {
    match prompt_name {
        Some(p) => Err(Failure::Unsupported {
            param: "prompt_name",
            message: format!(
                "`prompt_name` {p:?} is not supported: triage adds the bundle's own prefix to every text"
            ),
        }),
        None => Ok(()),
    }
}

/// `POST /embed`: one L2-normalised vector per input (always a list of lists), equal to
/// `/v1/embed`'s.
#[utoipa::path(post, path = "/embed", tag = "compatibility", request_body(content = Object, description = "TEI's `/embed` body: `inputs`, `normalize`, `truncate`"), responses((status = 200, description = "One vector per input"), (status = 400, description = "Malformed or empty input, in the family's own error shape"), (status = 413, description = "Text longer than the encoder reads"), (status = 422, description = "A field or option triage does not support")))]
pub(crate) async fn embed(State(state): State<AppState>, req: Request) -> Response {
    respond(run_embed(state, req).await)
}

async fn run_embed(state: AppState, req: Request) -> Result<Vec<Vec<f32>>, Failure> {
    let query: TeiQuery = read_query(&req)?;
    let body: EmbedRequest = read_json(req, &state).await?;
    if body.normalize == Some(false) {
        return Err(Failure::Unsupported {
            param: "normalize",
            message: "`normalize: false` is not supported: triage's encoder gives L2-normalised vectors (the heads and the knowledge base read those)".into(),
        });
    }
    prompt_refused(body.prompt_name.as_deref())?;
    let (texts, _) = text_inputs(body.inputs)?.texts();
    check_batch(&state, texts.len())?;
    let truncate = truncation(body.truncate, body.truncation_direction.as_deref())?;
    let dimensions = body.dimensions;
    let embedded = embed_texts(&state, texts, query.model, truncate, move |c| {
        check_dimensions(c, dimensions)
    })
    .await?;
    Ok(embedded.vectors.outer_iter().map(|r| r.to_vec()).collect())
}

#[derive(Debug, Deserialize)]
struct RerankRequest {
    query: String,
    texts: Option<Vec<String>>,
    truncate: Option<bool>,
    truncation_direction: Option<String>,
    /// Accepted for TEI's clients; cosine similarity has no other scale to give.
    #[serde(default)]
    #[allow(dead_code)]
    raw_scores: bool,
    #[serde(default)]
    return_text: bool,
}

#[derive(Debug, Serialize)]
struct Rank {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    score: f32,
    /// Knowledge-base ranking only: the article's id and title.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
}

/// `POST /rerank`: the texts ordered by the cosine similarity of their embedding to the
/// query's, best first, each with its index in `texts`.
#[utoipa::path(post, path = "/rerank", tag = "compatibility", request_body(content = Object, description = "TEI's `/rerank` body: `query`, `texts` (or none: the knowledge base), `return_text`, `raw_scores`"), responses((status = 200, description = "`[{index, score, text?}]`, best first"), (status = 400, description = "Malformed or empty input, in the family's own error shape"), (status = 413, description = "Text longer than the encoder reads"), (status = 422, description = "A field or option triage does not support")))]
pub(crate) async fn rerank(State(state): State<AppState>, req: Request) -> Response {
    respond(run_rerank(state, req).await)
}

async fn run_rerank(state: AppState, req: Request) -> Result<Vec<Rank>, Failure> {
    let query: TeiQuery = read_query(&req)?;
    let body: RerankRequest = read_json(req, &state).await?;
    let truncate = truncation(body.truncate, body.truncation_direction.as_deref())?;
    let Some(texts) = body.texts else {
        return rerank_kb(&state, body.query, query.model, truncate, body.return_text).await;
    };
    if texts.is_empty() {
        return Err(Failure::Empty {
            param: "texts",
            message: "`texts` cannot be empty".into(),
        });
    }
    check_batch(&state, texts.len())?;
    let mut all = Vec::with_capacity(texts.len() + 1);
    all.push(body.query);
    all.extend(texts.iter().cloned());
    // The query and the texts go to one bundle (vectors of two bundles do not compare),
    // picked by the language of all of them, and to the engine in one call.
    let embedded = embed_texts(&state, all, query.model, truncate, |_| Ok(())).await?;
    let v = &embedded.vectors;
    let q = v.row(0);
    let mut ranks: Vec<Rank> = (1..v.nrows())
        .map(|row| Rank {
            index: row - 1,
            text: None,
            score: q.dot(&v.row(row)),
            id: None,
            title: None,
        })
        .collect();
    if ranks.iter().any(|r| !r.score.is_finite()) {
        return Err(TriageError::Internal("a score is not a finite number".into()).into());
    }
    ranks.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    if body.return_text {
        for r in &mut ranks {
            r.text = texts.get(r.index).cloned();
        }
    }
    Ok(ranks)
}

/// `/rerank` without `texts`: the knowledge-base articles of the query's bundle, ranked by
/// the encoder alone (each article's best embedding row's cosine with the query's,
/// floored at 0: the dense part of `/v1/suggest`'s score), in the query's language when
/// the base has articles in it, at most `suggest.max_k`.
/// `index` is the article's position in the base, `id` and `title` name it, `text` is
/// its answer.
async fn rerank_kb(
    state: &AppState,
    query: String,
    model: Option<String>,
    truncate: Truncate,
    return_text: bool,
) -> Result<Vec<Rank>, Failure> {
    let bundles = state.bundles()?.clone();
    // Before the encoder runs: a base still being indexed answers 503 anyway.
    let kb_of = move |c: &Classifier| -> Result<(), Failure> {
        let served = bundles.named(&c.manifest.name)?;
        match &served.kb {
            Some(kb) => kb.serving().map(|_| ()).map_err(Failure::from),
            None => Err(TriageError::KbUnavailable(format!(
                "model {:?} has no knowledge base: send `texts` to rank",
                c.manifest.name
            ))
            .into()),
        }
    };
    let embedded = embed_texts(state, vec![query.clone()], model, truncate, kb_of).await?;
    let c = embedded.classifier.clone();
    let served = state.bundles()?.named(&c.manifest.name)?;
    let version = served
        .kb
        .as_ref()
        .ok_or_else(|| TriageError::KbUnavailable("no knowledge base".into()))?
        .serving()?;
    let k = state.config.suggest.max_k;
    let vectors = embedded.vectors;
    tokio::task::spawn_blocking(move || {
        let text = c.embed_text(&query);
        // Articles in the query's language, when the base has any (as /v1/suggest).
        let lang = c.detect_lang(&query, None);
        let base = &version.kb;
        let q = Query {
            embedding: Some(vectors.row(0)),
            lang: Some(&lang),
            k: base.len(),
            ..Query::new(&text)
        };
        let mut found = base.search(&q).map_err(TriageError::internal)?;
        found.sort_by(|a, b| {
            b.scores
                .dense
                .total_cmp(&a.scores.dense)
                .then_with(|| a.id.cmp(&b.id))
        });
        found.truncate(k);
        let ranks: Vec<Rank> = found
            .into_iter()
            .map(|s| Rank {
                index: base
                    .articles()
                    .iter()
                    .position(|a| a.id == s.id)
                    .unwrap_or(0),
                text: return_text.then(|| s.answer.clone()),
                score: s.scores.dense,
                id: Some(s.id),
                title: Some(s.title),
            })
            .collect();
        Ok(ranks)
    })
    .await
    .map_err(TriageError::internal)?
}

#[derive(Debug, Deserialize)]
struct TokenizeRequest {
    inputs: Value,
    add_special_tokens: Option<bool>,
    prompt_name: Option<String>,
}

/// `POST /tokenize`: the tokens the encoder reads for each input (a list per input),
/// not truncated. Offsets are byte offsets into the text as the encoder reads it: the
/// bundle's prefix plus the text normalised for chat, which for plain text is the text
/// as sent.
#[utoipa::path(post, path = "/tokenize", tag = "compatibility", request_body(content = Object, description = "TEI's `/tokenize` body: `inputs`, `add_special_tokens`"), responses((status = 200, description = "Tokens with ids and offsets, per input"), (status = 400, description = "Malformed or empty input, in the family's own error shape"), (status = 413, description = "Text longer than the encoder reads"), (status = 422, description = "A field or option triage does not support")))]
pub(crate) async fn tokenize(State(state): State<AppState>, req: Request) -> Response {
    respond(run_tokenize(state, req).await)
}

async fn run_tokenize(state: AppState, req: Request) -> Result<Vec<Vec<TokenSpan>>, Failure> {
    let query: TeiQuery = read_query(&req)?;
    let body: TokenizeRequest = read_json(req, &state).await?;
    prompt_refused(body.prompt_name.as_deref())?;
    let (texts, _) = text_inputs(body.inputs)?.texts();
    check_batch(&state, texts.len())?;
    let special = body.add_special_tokens.unwrap_or(true);
    let bundles = state.bundles()?.clone();
    let model = query.model;
    tokio::task::spawn_blocking(move || {
        let (served, _) = bundles.route(model.as_deref(), None, &texts.join("\n"), None)?;
        let c = &served.classifier;
        let many = texts.len() > 1;
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let at = |e: TriageError| if many { e.at(i) } else { e };
                c.check_text(Some(t)).map_err(at)?;
                c.tokenizer()
                    .tokens(&c.embed_text(t), special)
                    .map_err(|e| TriageError::internal(e).into())
            })
            .collect::<Result<Vec<_>, Failure>>()
    })
    .await
    .map_err(TriageError::internal)?
}
