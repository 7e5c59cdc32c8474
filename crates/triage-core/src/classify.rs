//! The classification pipeline: text → normalise → tokenize → batch/encode (engine) →
//! heads → handoff policy → response. Validation happens first and for every input of a
//! batch before any work is queued, so a bad item rejects the request without wasting
//! encoder time.

use crate::api::{BatchInput, ClassifyRequest, ClassifyResponse, Customer, ModelInfo};
use crate::config::{Config, Limits};
use crate::engine::Engine;
use crate::error::TriageError;
use crate::kb::Suggestion;
use crate::model::bundle::BundleFiles;
use crate::model::fast::{EncoderInfo, FastEncoder, Isa};
use crate::model::heads::{emotion_result, intent_result};
use crate::model::{Bundle, Encoded, Head, HeadKind, Manifest, TextTokenizer};
use crate::policy::{Action, HandoffService, ShownSuggestion, TurnInput, TurnMeta};
use crate::suggest::{LiveKb, Lookup, Want};
use crate::tenant::Tenant;
use crate::text::{self, Channel, NormalizeOptions};
use crate::trace;
use ndarray::{Array2, Axis};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

/// Longest `conversation_id` accepted, in bytes.
const MAX_CONVERSATION_ID: usize = 256;

/// Longest `lang` accepted, in bytes: a BCP 47 tag (`en`, `zh-Hant-TW`) fits.
const MAX_LANG: usize = 35;

/// One validated, normalised, tokenized message.
pub struct Prepared {
    pub channel: Channel,
    pub lang: String,
    pub conversation_id: Option<String>,
    pub customer: Option<Customer>,
    pub intent_head: Option<usize>,
    pub top_k: usize,
    /// The normalised text (what the policy's phrase lists match).
    pub text: String,
    /// The text as received (what conversation memory keeps for the agent).
    pub raw: String,
    pub encoded: Encoded,
    /// Knowledge-base suggestions were asked for.
    pub suggest: bool,
    /// Whose conversation `conversation_id` names: the default tenant unless the caller
    /// sets it (the server, from the request's API key).
    pub tenant: Tenant,
}

/// What the suggestion and policy steps need of a message once the heads have answered.
struct Pending {
    text: String,
    raw: String,
    customer: Option<Customer>,
    conversation_id: Option<String>,
    top_k: usize,
    suggest: bool,
    /// Suggestions returned, as conversation memory keeps them.
    shown: Vec<ShownSuggestion>,
    bot_answer: Option<ShownSuggestion>,
    tenant: Tenant,
}

pub struct Classifier {
    pub manifest: Manifest,
    pub files: BundleFiles,
    tokenizer: TextTokenizer,
    heads: Vec<Head>,
    engine: Engine,
    encoder_info: EncoderInfo,
    normalize: NormalizeOptions,
    config: Config,
    emotion_head: Option<usize>,
    handoff: Option<Arc<HandoffService>>,
}

impl Classifier {
    pub fn new(bundle: Bundle, config: Config) -> Self {
        let Bundle {
            manifest,
            tokenizer,
            encoder,
            heads,
            files,
            ..
        } = bundle;
        let normalize = NormalizeOptions {
            // BERT's uncased vocabulary has no emoji: spell them out so "😡" still counts.
            emoji_to_words: tokenizer.is_unknown("😡"),
            to_simplified: true,
        };
        let emotion_head = heads
            .iter()
            .position(|h| h.spec.name == "emotion" && h.spec.kind == HeadKind::Sigmoid);
        // The CLI refuses a forced tier the CPU lacks before anything loads; a library
        // caller who forces one gets the best tier and an error in the log.
        let isa = Isa::resolve(config.isa).unwrap_or_else(|e| {
            tracing::error!(error = %e, "using the best instruction set instead");
            Isa::best()
        });
        let kind = config.encoder.resolve(isa);
        let mut encoder_info = EncoderInfo::candle();
        let backend: Arc<dyn crate::model::Backend> = match kind.precision() {
            None => Arc::new(encoder),
            Some(precision) => {
                let threads = config.threads.unwrap_or(0);
                match FastEncoder::with_isa(&encoder, precision, threads, isa) {
                    Ok(fast) => {
                        encoder_info = EncoderInfo {
                            kind,
                            isa: Some(fast.isa()),
                            threads: Some(fast.threads()),
                        };
                        Arc::new(fast)
                    }
                    Err(e) => {
                        // Cannot happen for weights candle loaded; serve rather than fail.
                        tracing::error!(error = %e, "fast encoder unavailable, using candle");
                        Arc::new(encoder)
                    }
                }
            }
        };
        tracing::info!(
            model = %manifest.name,
            encoder = encoder_info.kind.as_str(),
            isa = encoder_info.isa.map_or("-", Isa::as_str),
            threads = encoder_info.threads.unwrap_or(0),
            configured = config.encoder.as_str(),
            "encoder ready"
        );
        let engine = Engine::start(backend, config.engine.clone());
        Self {
            manifest,
            files,
            tokenizer,
            heads,
            engine,
            encoder_info,
            normalize,
            config,
            emotion_head,
            handoff: None,
        }
    }

    /// Attaches the handoff policy and conversation memory: every response then carries
    /// a `handoff` decision and turns with a `conversation_id` are remembered.
    pub fn with_handoff(mut self, handoff: Arc<HandoffService>) -> Self {
        self.handoff = Some(handoff);
        self
    }

    pub fn handoff(&self) -> Option<&Arc<HandoffService>> {
        self.handoff.as_ref()
    }

    /// The encoder this classifier runs (kind, kernel tier, threads).
    pub fn encoder_info(&self) -> EncoderInfo {
        self.encoder_info
    }

    pub fn model_info(&self) -> ModelInfo {
        ModelInfo {
            name: self.manifest.name.clone(),
            version: self.manifest.version.clone(),
        }
    }

    pub fn heads(&self) -> &[Head] {
        &self.heads
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn intent_sets(&self) -> Vec<String> {
        self.heads
            .iter()
            .filter_map(|h| h.spec.name.strip_prefix("intent.").map(String::from))
            .collect()
    }

    fn intent_head(&self, set: &str) -> Result<usize, TriageError> {
        let name = format!("intent.{set}");
        self.heads
            .iter()
            .position(|h| h.spec.name == name && h.spec.kind == HeadKind::Softmax)
            .ok_or_else(|| TriageError::UnknownIntentSet {
                value: set.to_string(),
                available: match self.intent_sets() {
                    s if s.is_empty() => "no intent heads".to_string(),
                    s => format!("intent sets {}", s.join(", ")),
                },
            })
    }

    /// Checks a text against the size limits; shared by classify and embed.
    pub fn check_text(&self, text: Option<&str>) -> Result<(), TriageError> {
        let text = text.unwrap_or("");
        if text.len() > self.config.limits.max_text_bytes {
            return Err(TriageError::TextTooLarge {
                bytes: text.len(),
                max: self.config.limits.max_text_bytes,
                index: None,
            });
        }
        // Whitespace, control and zero-width characters normalise to nothing.
        if !text::has_content(text) {
            return Err(TriageError::EmptyText { index: None });
        }
        Ok(())
    }

    pub fn prepare(&self, req: &ClassifyRequest) -> Result<Prepared, TriageError> {
        self.check_text(req.text.as_deref())?;
        let raw = req.text.as_deref().unwrap_or("");
        let channel: Channel = match &req.channel {
            None => Channel::Chat,
            Some(c) => c.parse().map_err(|_| TriageError::UnknownChannel {
                value: c.clone(),
                index: None,
            })?,
        };
        let set = req.intent_set.as_deref().unwrap_or(&self.config.intent_set);
        // A bundle without intent heads (a bare encoder) still answers emotion, if it has it.
        let intent_head = match (self.intent_sets().is_empty(), req.intent_set.is_some()) {
            (true, false) => None,
            _ => Some(self.intent_head(set)?),
        };
        if let Some(id) = &req.conversation_id {
            check_conversation_id(id)?;
        }
        if let Some(customer) = &req.customer {
            self.check_customer(customer)?;
        }
        if let Some(lang) = &req.lang {
            check_lang(lang)?;
        }
        let top_k = req.top_k.unwrap_or(self.config.top_k);
        if top_k == 0 || top_k > self.config.limits.max_top_k {
            return Err(TriageError::InvalidRequest(format!(
                "top_k must be between 1 and {}",
                self.config.limits.max_top_k
            )));
        }
        let (normalized, lang) = trace::step(|| tracing::info_span!("normalise")).in_scope(|| {
            let normalized = self.normalize_text(raw, channel);
            let lang = req
                .lang
                .clone()
                .unwrap_or_else(|| text::detect_lang(&normalized).to_string());
            (normalized, lang)
        });
        let encoded = trace::step(|| tracing::info_span!("tokenize"))
            .in_scope(|| self.tokenizer.encode(&normalized))
            .map_err(|e| TriageError::Internal(e.to_string()))?;
        Ok(Prepared {
            channel,
            lang,
            conversation_id: req.conversation_id.clone(),
            customer: req.customer.clone(),
            intent_head,
            top_k,
            text: normalized,
            raw: raw.to_string(),
            encoded,
            suggest: req.suggest.unwrap_or(false),
            tenant: Tenant::default(),
        })
    }

    /// `customer.id` within its length limit, `customer.tier` one the policy file names
    /// or `limits.customer_tiers` lists (case-insensitive): both are stored with every
    /// turn, and the tier steers the policy.
    pub fn check_customer(&self, customer: &Customer) -> Result<(), TriageError> {
        let limits = &self.config.limits;
        if let Some(id) = &customer.id {
            check_customer_id(id, limits)?;
        }
        let Some(tier) = &customer.tier else {
            return Ok(());
        };
        let mut known: Vec<String> = limits
            .customer_tiers
            .iter()
            .map(|t| t.to_lowercase())
            .collect();
        if let Some(h) = &self.handoff {
            known.extend(
                h.policy()
                    .get()
                    .config()
                    .tiers
                    .keys()
                    .map(|t| t.to_lowercase()),
            );
        }
        if known.iter().any(|t| t.eq_ignore_ascii_case(tier)) {
            return Ok(());
        }
        known.sort();
        known.dedup();
        // The value is not echoed: it may be megabytes long.
        Err(TriageError::InvalidCustomer(format!(
            "customer.tier must be one of {}",
            known.join(", ")
        )))
    }

    /// The language of a message that names none: detected on the text normalised for
    /// its channel, exactly as [`Self::prepare`] does (what routes it between bundles).
    pub fn detect_lang(&self, raw: &str, channel: Option<&str>) -> String {
        let channel = channel.and_then(|c| c.parse().ok()).unwrap_or_default();
        text::detect_lang(&self.normalize_text(raw, channel)).to_string()
    }

    /// A text normalised for its channel exactly as the encoder will see it.
    pub fn normalize_text(&self, raw: &str, channel: Channel) -> String {
        let normalized = text::normalize(raw, channel, &self.normalize);
        if normalized.trim().is_empty() {
            // e.g. a voice turn that was only "[noise] um": classify what was said.
            raw.trim().to_string()
        } else {
            normalized
        }
    }

    /// Whether the bundle was trained for `lang`: if not, its intent and emotion scores
    /// are not trusted (by the policy, and for suggestions).
    pub fn covers_lang(&self, lang: &str) -> bool {
        self.manifest.languages.iter().any(|l| l == lang)
    }

    /// Validates and prepares every item of a request, naming the first bad input.
    pub fn prepare_all(&self, items: &[ClassifyRequest]) -> Result<Vec<Prepared>, TriageError> {
        items
            .iter()
            .enumerate()
            .map(|(i, r)| {
                self.prepare(r)
                    .map_err(|e| if items.len() > 1 { e.at(i) } else { e })
            })
            .collect()
    }

    fn respond(
        &self,
        prepared: Vec<Prepared>,
        emb: &Array2<f32>,
    ) -> (Vec<ClassifyResponse>, Vec<Pending>) {
        let _heads = trace::step(|| tracing::info_span!("heads", texts = prepared.len())).entered();
        let model = self.model_info();
        let emotion = self
            .emotion_head
            .map(|i| (&self.heads[i], self.heads[i].scores(emb.view())));
        // Score each intent head once for all rows that asked for it.
        let mut intent_scores: Vec<Option<Array2<f32>>> = vec![None; self.heads.len()];
        for p in &prepared {
            if let Some(h) = p.intent_head {
                if intent_scores[h].is_none() {
                    intent_scores[h] = Some(self.heads[h].scores(emb.view()));
                }
            }
        }
        prepared
            .into_iter()
            .enumerate()
            .map(|(row, p)| {
                // The policy's ambiguity margin needs the top two, whatever top_k asks.
                let intent = p.intent_head.and_then(|h| {
                    let scores = intent_scores[h].as_ref()?.index_axis(Axis(0), row).to_vec();
                    Some(intent_result(&self.heads[h].spec, &scores, p.top_k.max(2)))
                });
                let emotion = emotion.as_ref().map(|(head, s)| {
                    emotion_result(&head.spec, &s.index_axis(Axis(0), row).to_vec())
                });
                let response = ClassifyResponse {
                    intent,
                    emotion,
                    handoff: None,
                    channel: p.channel.to_string(),
                    lang: p.lang,
                    conversation_id: p.conversation_id.clone(),
                    suggestions: None,
                    bot_answer: None,
                    model: model.clone(),
                    timing_ms: 0.0,
                };
                let pending = Pending {
                    text: p.text,
                    raw: p.raw,
                    customer: p.customer,
                    conversation_id: p.conversation_id,
                    top_k: p.top_k,
                    suggest: p.suggest,
                    shown: Vec::new(),
                    bot_answer: None,
                    tenant: p.tenant,
                };
                (response, pending)
            })
            .unzip()
    }

    /// Adds knowledge-base suggestions to the messages that asked for them, searched with
    /// the embeddings the heads already used (the encoder runs once per message). A base
    /// that is not loaded, or a failed search, leaves `suggestions` empty rather than
    /// failing the classification, which is still worth having.
    fn suggest(
        kb: Option<&LiveKb>,
        k: usize,
        languages: &[String],
        emb: &Array2<f32>,
        responses: &mut [ClassifyResponse],
        pending: &mut [Pending],
    ) {
        let _suggest = match pending.iter().any(|p| p.suggest) {
            true => trace::step(|| tracing::info_span!("suggest")).entered(),
            false => tracing::Span::none().entered(),
        };
        for (row, (r, p)) in responses.iter_mut().zip(pending.iter_mut()).enumerate() {
            if !p.suggest {
                continue;
            }
            r.suggestions = Some(Vec::new());
            let Some(kb) = kb else {
                ::metrics::counter!("triage_suggest_unavailable_total").increment(1);
                continue;
            };
            let lookup = Lookup {
                text: &p.text,
                embedding: Some(emb.row(row)),
                channel: r.channel.parse().unwrap_or_default(),
                lang: &r.lang,
                model_covers_lang: languages.contains(&r.lang),
                intent: r.intent.as_ref(),
                emotion: r.emotion.as_ref(),
                upset_before: false,
            };
            match kb.lookup(
                &lookup,
                Want {
                    bot: true,
                    agent_k: k,
                },
            ) {
                Ok(found) => {
                    p.shown = found.agent.iter().map(shown).collect();
                    p.bot_answer = found.bot.as_ref().map(shown);
                    r.suggestions = Some(found.agent);
                    r.bot_answer = found.bot;
                }
                Err(e) => {
                    ::metrics::counter!("triage_suggest_unavailable_total").increment(1);
                    // An unloaded base is reported by /ready and the loader's log already.
                    if matches!(e, TriageError::KbUnavailable(_)) {
                        tracing::debug!(error = %e, "no suggestions for this message");
                    } else {
                        tracing::warn!(error = %e, "no suggestions for this message");
                    }
                }
            }
        }
    }

    /// Runs the handoff policy on each response (in order, so turns of one conversation
    /// within a batch see each other), then trims `top` to the requested `top_k`. A bot
    /// answer the policy does not let the bot send is withheld.
    fn decide(
        handoff: Option<&HandoffService>,
        languages: &[String],
        responses: &mut [ClassifyResponse],
        pending: Vec<Pending>,
        started: Instant,
    ) {
        let _policy = match handoff {
            Some(_) => trace::step(|| tracing::info_span!("policy")).entered(),
            None => tracing::Span::none().entered(),
        };
        let now = crate::policy::now_ms();
        for (r, p) in responses.iter_mut().zip(pending) {
            if let Some(svc) = handoff {
                let Ok(channel) = r.channel.parse::<Channel>() else {
                    continue;
                };
                let turn = TurnInput {
                    text: p.text,
                    channel,
                    lang: r.lang.clone(),
                    model_covers_lang: languages.contains(&r.lang),
                    intent: r.intent.clone(),
                    emotion: r.emotion.clone(),
                    customer: p.customer,
                    surge_count: None,
                    memory_unavailable: false,
                };
                let meta = TurnMeta {
                    conversation_id: p.conversation_id,
                    raw_text: p.raw,
                    suggestions: p.shown,
                    bot_answer: p.bot_answer,
                    model: Some(r.model.name.clone()),
                    tenant: p.tenant,
                };
                let decision = svc.handle(turn, meta, now);
                if decision.action != Action::Bot {
                    r.bot_answer = None;
                }
                r.handoff = Some(decision);
            }
            if let Some(i) = &mut r.intent {
                i.top.truncate(p.top_k);
            }
        }
        let ms = started.elapsed().as_secs_f64() * 1e3;
        for r in responses.iter_mut() {
            r.timing_ms = ms;
        }
    }

    pub async fn classify(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
    ) -> Result<Vec<ClassifyResponse>, TriageError> {
        self.classify_with(prepared, started, None).await
    }

    /// [`Self::classify`] with suggestions from `kb` for the messages that ask for them
    /// (`suggest: true`; without a base they get an empty list).
    pub async fn classify_with(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
        kb: Option<Arc<LiveKb>>,
    ) -> Result<Vec<ClassifyResponse>, TriageError> {
        let encs = prepared.iter().map(|p| p.encoded.clone()).collect();
        let emb = self.engine.embed(encs).await?;
        let (mut responses, mut pending) = self.respond(prepared, &emb);
        let searches = kb.is_some() && pending.iter().any(|p| p.suggest);
        let k = self.config.suggest.k;
        match &self.handoff {
            // Redis calls block, and a search over a large base takes milliseconds:
            // keep both off the async workers.
            h if searches || h.as_ref().is_some_and(|s| s.blocking()) => {
                let svc = h.clone();
                let languages = self.manifest.languages.clone();
                let span = tracing::Span::current();
                responses = tokio::task::spawn_blocking(move || {
                    let _request = span.entered();
                    let (r, p) = (&mut responses, &mut pending);
                    Self::suggest(kb.as_deref(), k, &languages, &emb, r, p);
                    Self::decide(svc.as_deref(), &languages, r, pending, started);
                    responses
                })
                .await
                .map_err(|e| TriageError::Internal(e.to_string()))?;
            }
            h => {
                let languages = &self.manifest.languages;
                Self::suggest(None, k, languages, &emb, &mut responses, &mut pending);
                Self::decide(h.as_deref(), languages, &mut responses, pending, started);
            }
        }
        Ok(responses)
    }

    /// The heads' answers and the embeddings, without the policy and without storing a
    /// turn: what `/v1/suggest` needs to search for a text that is not a new message.
    /// Returns the responses, the normalised texts and their embeddings.
    pub async fn analyse(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
    ) -> Result<(Vec<ClassifyResponse>, Vec<String>, Array2<f32>), TriageError> {
        let encs = prepared.iter().map(|p| p.encoded.clone()).collect();
        let emb = self.engine.embed(encs).await?;
        let (mut responses, pending) = self.respond(prepared, &emb);
        let texts = pending.iter().map(|p| p.text.clone()).collect();
        Self::decide(
            None,
            &self.manifest.languages,
            &mut responses,
            pending,
            started,
        );
        Ok((responses, texts, emb))
    }

    pub fn classify_blocking(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
    ) -> Result<Vec<ClassifyResponse>, TriageError> {
        self.run_blocking(prepared, started, self.handoff.as_deref(), None)
    }

    /// [`Self::classify_blocking`] with suggestions from `kb` (`triage classify`).
    pub fn classify_blocking_with(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
        kb: Option<&LiveKb>,
    ) -> Result<Vec<ClassifyResponse>, TriageError> {
        self.run_blocking(prepared, started, self.handoff.as_deref(), kb)
    }

    fn run_blocking(
        &self,
        prepared: Vec<Prepared>,
        started: Instant,
        handoff: Option<&HandoffService>,
        kb: Option<&LiveKb>,
    ) -> Result<Vec<ClassifyResponse>, TriageError> {
        let encs = prepared.iter().map(|p| p.encoded.clone()).collect();
        let emb = self.engine.embed_blocking(encs)?;
        let (mut responses, mut pending) = self.respond(prepared, &emb);
        let languages = &self.manifest.languages;
        let k = self.config.suggest.k;
        Self::suggest(kb, k, languages, &emb, &mut responses, &mut pending);
        Self::decide(handoff, languages, &mut responses, pending, started);
        Ok(responses)
    }

    /// Runs a few texts of different lengths through the whole path so the first real
    /// request does not pay for allocator and thread-pool warm-up.
    pub fn warm_up(&self) {
        let texts = [
            "hello",
            "where is my parcel? it was supposed to arrive on monday",
            "I have been waiting for two weeks for my refund and nobody answers my emails, this is unacceptable",
        ];
        for _ in 0..2 {
            let reqs: Vec<ClassifyRequest> = texts
                .iter()
                .map(|t| ClassifyRequest {
                    text: Some(t.to_string()),
                    ..Default::default()
                })
                .collect();
            // Without the policy: warm-up texts must not count towards a surge.
            if let Ok(p) = self.prepare_all(&reqs) {
                let _ = self.run_blocking(p, Instant::now(), None, None);
            }
        }
    }

    /// Embeddings of many texts (training, evaluation), each normalised for its channel
    /// exactly as a request would be. Texts are sent to the engine sorted by length so
    /// batches carry little padding; rows come back in input order.
    pub fn embed_offline(
        &self,
        texts: &[(String, Channel)],
        progress: &dyn crate::progress::Progress,
    ) -> Result<Array2<f32>, TriageError> {
        let hidden = self.engine.hidden_size();
        let encs: Vec<Encoded> = texts
            .iter()
            .map(|(t, ch)| {
                let n = self.normalize_text(t, *ch);
                self.tokenizer
                    .encode(&n)
                    .map_err(|e| TriageError::Internal(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let mut order: Vec<usize> = (0..encs.len()).collect();
        order.sort_by_key(|&i| encs[i].len());
        let mut out = Array2::zeros((texts.len(), hidden));
        // Chunks of at most half the queue (texts and tokens): a small configured queue
        // slows indexing down rather than refusing it, and live requests keep room.
        let limits = self.engine.config();
        let max_texts = (limits.queue_capacity / 2).clamp(1, 256);
        let max_tokens = (limits.queue_tokens / 2).max(1);
        let mut chunks: Vec<Vec<usize>> = Vec::new();
        let mut tokens = 0;
        for &i in &order {
            let len = encs[i].len();
            match chunks.last_mut() {
                Some(c) if c.len() < max_texts && tokens + len <= max_tokens => {
                    c.push(i);
                    tokens += len;
                }
                _ => {
                    chunks.push(vec![i]);
                    tokens = len;
                }
            }
        }
        for chunk in &chunks {
            let batch = chunk.iter().map(|&i| encs[i].clone()).collect();
            let rows = self.engine.embed_blocking(batch)?;
            for (&i, row) in chunk.iter().zip(rows.outer_iter()) {
                out.row_mut(i).assign(&row);
            }
            progress.inc(chunk.len() as u64);
        }
        Ok(out)
    }

    /// Tokenizes texts for `/v1/embed` (normalised as chat, prefix applied).
    pub fn encode_texts(&self, texts: &[String]) -> Result<Vec<Encoded>, TriageError> {
        Ok(self
            .encode_texts_checked(texts)?
            .into_iter()
            .map(|(e, _)| e)
            .collect())
    }

    /// [`Self::encode_texts`], also saying of each text whether it was cut at the
    /// bundle's `max_seq_len` (for APIs whose clients ask for an error instead).
    pub fn encode_texts_checked(
        &self,
        texts: &[String],
    ) -> Result<Vec<(Encoded, bool)>, TriageError> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                self.check_text(Some(t)).map_err(|e| e.at(i))?;
                self.tokenizer
                    .encode_checked(&self.embed_text(t))
                    .map_err(|e| TriageError::Internal(e.to_string()))
            })
            .collect()
    }

    /// A text as the encoder reads it for `/v1/embed`: normalised as chat, or as given
    /// when normalisation leaves nothing (the bundle's prefix is added by the tokenizer).
    pub fn embed_text(&self, t: &str) -> String {
        let n = text::normalize(t, Channel::Chat, &self.normalize);
        if n.trim().is_empty() {
            t.to_string()
        } else {
            n
        }
    }

    /// The bundle's tokenizer (token listings for `/tokenize`).
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }
}

/// Rejects ids that cannot be a key of the conversation store or a log field.
pub fn check_conversation_id(id: &str) -> Result<(), TriageError> {
    if id.is_empty() || id.len() > MAX_CONVERSATION_ID || id.chars().any(char::is_control) {
        return Err(TriageError::InvalidRequest(format!(
            "conversation_id must be 1 to {MAX_CONVERSATION_ID} bytes without control characters"
        )));
    }
    Ok(())
}

/// Rejects a `customer.id` that is too long or has control characters.
pub fn check_customer_id(id: &str, limits: &Limits) -> Result<(), TriageError> {
    let max = limits.max_customer_id_bytes;
    if id.is_empty() || id.len() > max || id.chars().any(char::is_control) {
        return Err(TriageError::InvalidCustomer(format!(
            "customer.id must be 1 to {max} bytes without control characters (got {} bytes)",
            id.len()
        )));
    }
    Ok(())
}

/// Rejects a `lang` that is not a short language tag: it is echoed in every response and
/// stored with every turn.
pub fn check_lang(lang: &str) -> Result<(), TriageError> {
    let tag = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if lang.is_empty() || lang.len() > MAX_LANG || !lang.chars().all(tag) {
        return Err(TriageError::InvalidRequest(format!(
            "lang must be a language tag of 1 to {MAX_LANG} letters, digits and hyphens"
        )));
    }
    Ok(())
}

/// Turns a request into its items: one for `text`, or one per `inputs` entry with the
/// outer fields as defaults. Returns whether it was a batch. The outer fields that are
/// copied into every item are checked first, so an oversized one is refused before it
/// is copied a hundred times.
pub fn expand(
    req: ClassifyRequest,
    limits: &Limits,
) -> Result<(Vec<ClassifyRequest>, bool), TriageError> {
    let max_items = limits.max_batch_items;
    if let Some(id) = req.customer.as_ref().and_then(|c| c.id.as_deref()) {
        check_customer_id(id, limits)?;
    }
    if let Some(id) = &req.conversation_id {
        check_conversation_id(id)?;
    }
    if let Some(lang) = &req.lang {
        check_lang(lang)?;
    }
    // Names and enumerated values: an error message may echo them, so bound them too.
    let short = |field: Option<&str>, name: &str| match field {
        Some(v) if v.len() > MAX_CONVERSATION_ID => Err(TriageError::InvalidRequest(format!(
            "{name} is {} bytes; the limit is {MAX_CONVERSATION_ID}",
            v.len()
        ))),
        _ => Ok(()),
    };
    short(req.channel.as_deref(), "channel")?;
    short(req.intent_set.as_deref(), "intent_set")?;
    short(req.model.as_deref(), "model")?;
    if let Some(tier) = req.customer.as_ref().and_then(|c| c.tier.as_deref()) {
        if tier.len() > MAX_CONVERSATION_ID {
            return Err(TriageError::InvalidCustomer(format!(
                "customer.tier is {} bytes; the limit is {MAX_CONVERSATION_ID}",
                tier.len()
            )));
        }
    }
    match (&req.text, &req.inputs) {
        (Some(_), Some(_)) => Err(TriageError::InvalidRequest(
            "give either \"text\" or \"inputs\", not both".into(),
        )),
        (None, None) => Err(TriageError::InvalidRequest(
            "missing \"text\" (one message) or \"inputs\" (a batch)".into(),
        )),
        (Some(_), None) => Ok((vec![req], false)),
        (None, Some(inputs)) => {
            if inputs.is_empty() {
                return Err(TriageError::InvalidRequest("\"inputs\" is empty".into()));
            }
            if inputs.len() > max_items {
                return Err(TriageError::BatchTooLarge {
                    items: inputs.len(),
                    max: max_items,
                });
            }
            let items = inputs
                .iter()
                .map(|input| {
                    let mut item = match input {
                        BatchInput::Text(t) => ClassifyRequest {
                            text: Some(t.clone()),
                            ..Default::default()
                        },
                        BatchInput::Request(r) => (**r).clone(),
                    };
                    item.inputs = None;
                    item.channel = item.channel.or_else(|| req.channel.clone());
                    item.lang = item.lang.or_else(|| req.lang.clone());
                    item.conversation_id =
                        item.conversation_id.or_else(|| req.conversation_id.clone());
                    item.customer = item.customer.or_else(|| req.customer.clone());
                    item.intent_set = item.intent_set.or_else(|| req.intent_set.clone());
                    item.top_k = item.top_k.or(req.top_k);
                    item.suggest = item.suggest.or(req.suggest);
                    item.model = item.model.or_else(|| req.model.clone());
                    item
                })
                .collect();
            Ok((items, true))
        }
    }
}

/// A suggestion as conversation memory keeps it.
fn shown(s: &Suggestion) -> ShownSuggestion {
    ShownSuggestion {
        id: s.id.clone(),
        title: Some(s.title.clone()),
        score: Some(s.score),
        bot: false,
    }
}

// The knowledge base embeds its articles through this bundle's pipeline.
/// Articles are embedded exactly as a chat message would be (same normalisation and
/// prefix), so query and article vectors live in the same space.
impl crate::kb::Embedder for Classifier {
    fn embed(&self, texts: &[String]) -> Result<Array2<f32>, crate::kb::EmbedError> {
        let items: Vec<(String, Channel)> =
            texts.iter().map(|t| (t.clone(), Channel::Chat)).collect();
        let bar = crate::progress::bar(items.len() as u64, "kb index");
        let out = self.embed_offline(&items, &*bar)?;
        bar.finish();
        Ok(out)
    }

    /// Name, version, and the sha256 of the weights, tokenizer and manifest: a retrained
    /// bundle that kept its name and version still gets a new cache.
    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let files = [
            Some(&self.files.weights),
            Some(&self.files.tokenizer),
            self.files.manifest.as_ref(),
        ];
        for path in files.into_iter().flatten() {
            h.update(
                path.file_name()
                    .map(|n| n.as_encoded_bytes())
                    .unwrap_or(b""),
            );
            match std::fs::File::open(path) {
                Ok(mut f) => {
                    let mut buf = vec![0u8; 1 << 20];
                    loop {
                        match f.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => h.update(&buf[..n]),
                            Err(_) => {
                                h.update(b"unreadable");
                                break;
                            }
                        }
                    }
                }
                Err(_) => h.update(b"missing"),
            }
        }
        // Vectors of the fast encoders differ from candle's (int8 by design); candle keeps
        // the fingerprints of existing caches.
        let encoder = self.encoder_info();
        if encoder.kind != crate::model::fast::EncoderKind::Candle {
            h.update(b"encoder-");
            h.update(encoder.cache_tag());
        }
        format!(
            "{}@{}:{}",
            self.manifest.name,
            self.manifest.version,
            crate::kb::source::hex(&h.finalize())
        )
    }
}
