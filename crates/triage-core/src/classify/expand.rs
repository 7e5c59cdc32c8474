//! A wire request → its items: one for `text`, or one per `inputs` entry with the outer
//! fields as defaults (each item is then prepared on its own, see [`super::prepare`]).

use super::prepare::{check_conversation_id, check_customer_id, check_lang, MAX_CONVERSATION_ID};
use crate::api::{BatchInput, ClassifyRequest};
use crate::config::Limits;
use crate::error::TriageError;

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
