//! Validation and the wire request → [`Prepared`]: every check a message passes before
//! encoder work is queued, its text normalised for its channel (once per request: see
//! [`Normalised`]), its language, and its tokens.

use super::Classifier;
use crate::api::{ClassifyRequest, Customer};
use crate::config::Limits;
use crate::error::TriageError;
use crate::model::{Encoded, HeadKind};
use crate::tenant::Tenant;
use crate::text::{self, Channel, NormalizeOptions};
use crate::trace;

/// Longest `conversation_id` accepted, in bytes.
pub(super) const MAX_CONVERSATION_ID: usize = 256;

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

/// A message's text normalised for one channel with one bundle's options. Routing between
/// bundles detects the language on it; it then travels with the message
/// ([`crate::bundles::Routed`]) to its preparation, so that a request's text is
/// normalised once.
/// Normalisation depends on nothing but the text, the channel and the options, so the
/// bundle the message is routed to reuses it when its options and the message's channel
/// are the same, and normalises again only when they differ (a bundle whose vocabulary
/// has emoji keeps them as they are; the default bundle's may spell them out).
#[derive(Debug, Clone)]
pub struct Normalised {
    text: String,
    /// The language detected on `text`: what routes a message that names none.
    lang: &'static str,
    channel: Channel,
    options: NormalizeOptions,
}

impl Normalised {
    /// The normalised text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The language detected on it, as a message that names none gets.
    pub(crate) fn lang(&self) -> &'static str {
        self.lang
    }
}

impl Classifier {
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

    /// Validates one request item and prepares it for the encoder.
    pub fn prepare(&self, req: &ClassifyRequest) -> Result<Prepared, TriageError> {
        self.prepare_with(req, None)
    }

    /// [`Self::prepare`], reusing `normalised` when routing already normalised the item's
    /// text for its channel with this bundle's options (see [`Normalised`]). It must be
    /// the normalisation of `req.text`: [`crate::bundles::Routed`] keeps the two together.
    pub(crate) fn prepare_with(
        &self,
        req: &ClassifyRequest,
        normalised: Option<Normalised>,
    ) -> Result<Prepared, TriageError> {
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
            let normalized = match normalised {
                Some(n) if n.channel == channel && n.options == self.normalize => n.text,
                _ => self.normalize_text(raw, channel),
            };
            let lang = req
                .lang
                .clone()
                .unwrap_or_else(|| text::detect_lang(&normalized).to_string());
            (normalized, lang)
        });
        let encoded = trace::step(|| tracing::info_span!("tokenize"))
            .in_scope(|| self.tokenizer.encode(&normalized))
            .map_err(TriageError::internal)?;
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
    fn check_customer(&self, customer: &Customer) -> Result<(), TriageError> {
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
        self.normalise(raw, channel).lang().to_string()
    }

    /// A text normalised for `channel` (a name; chat when absent or unknown, which
    /// [`Self::prepare`] then refuses) with this bundle's options, and its language:
    /// kept with what it was normalised for, so that preparing the message can reuse it.
    pub(crate) fn normalise(&self, raw: &str, channel: Option<&str>) -> Normalised {
        let channel = channel.and_then(|c| c.parse().ok()).unwrap_or_default();
        let text = self.normalize_text(raw, channel);
        Normalised {
            lang: text::detect_lang(&text),
            text,
            channel,
            options: self.normalize,
        }
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
