//! The bundles one process serves (issue 7) and how a request picks one.
//!
//! Why one process for several bundles: one address and one `/ready` for a client that
//! serves customers in several languages, and one conversation memory, so a conversation
//! that switches language keeps its history and handoff context without Redis. Each
//! bundle keeps its own engine queue and encoder threads; an idle bundle's threads sleep
//! (`model::fast::pool`), so a bundle that gets no traffic costs memory, not CPU.
//!
//! A request's bundle: its `model` field (the name in `bundle.toml`) wins; otherwise its
//! language — given, or detected as the classifier does — picks the first bundle, in the
//! configured order, whose `languages` include it; otherwise the default (the first).
//!
//! A detected language is detected on the default bundle's normalisation of the text.
//! A classify item carries that normalisation to the bundle it is routed to
//! ([`Routed`]), which reuses it rather than normalising the text a second time.

use crate::api::ClassifyRequest;
use crate::classify::{Classifier, Normalised, Prepared};
use crate::config::Config;
use crate::error::TriageError;
use crate::kb::LiveKb;
use crate::model::{Bundle, BundleError};
use crate::policy::HandoffService;
use std::sync::Arc;

/// One loaded bundle with what is built from its encoder.
#[derive(Clone)]
pub struct Served {
    pub classifier: Arc<Classifier>,
    /// Its knowledge base: articles embedded by *this* bundle's encoder, since query and
    /// article vectors must come from the same one. `None` when suggestions are off.
    pub kb: Option<Arc<LiveKb>>,
}

impl Served {
    pub fn name(&self) -> &str {
        &self.classifier.manifest.name
    }
}

/// Every loaded bundle, the default first. Never empty.
pub struct Bundles {
    served: Vec<Served>,
}

/// Why a set of bundles cannot be served together.
#[derive(Debug, thiserror::Error)]
pub enum BundlesError {
    #[error("no model bundle to serve")]
    Empty,
    /// Requests name bundles by their `bundle.toml` name, so two with one name are
    /// ambiguous.
    #[error("two bundles are named {0:?} (bundle.toml `name`): requests could not choose")]
    DuplicateName(String),
}

impl Bundles {
    pub fn new(served: Vec<Served>) -> Result<Self, BundlesError> {
        if served.is_empty() {
            return Err(BundlesError::Empty);
        }
        for (i, s) in served.iter().enumerate() {
            if served[..i].iter().any(|o| o.name() == s.name()) {
                return Err(BundlesError::DuplicateName(s.name().to_string()));
            }
        }
        Ok(Self { served })
    }

    /// The bundle used when a request says nothing that picks another.
    pub fn default_bundle(&self) -> &Served {
        &self.served[0]
    }

    pub fn all(&self) -> &[Served] {
        &self.served
    }

    /// The bundle named `name`, or 422 `unknown_model` listing the loaded ones.
    pub fn named(&self, name: &str) -> Result<&Served, TriageError> {
        self.served
            .iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| TriageError::UnknownModel {
                value: name.to_string(),
                available: self
                    .served
                    .iter()
                    .map(|s| format!("{:?}", s.name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The first bundle trained for `lang`, else the default.
    fn for_lang(&self, lang: &str) -> &Served {
        self.served
            .iter()
            .find(|s| s.classifier.covers_lang(lang))
            .unwrap_or(self.default_bundle())
    }

    /// Whether a request's language decides anything: with one bundle it does not, and
    /// the language need not be detected before the classifier does it anyway.
    fn routes_by_lang(&self) -> bool {
        self.served.len() > 1
    }

    /// The bundle for an explicit `model`, else for `lang` (the caller's, or what
    /// `detect` returns — called only when several bundles are loaded).
    fn pick(
        &self,
        model: Option<&str>,
        lang: Option<&str>,
        detect: impl FnOnce(&Classifier) -> String,
    ) -> Result<&Served, TriageError> {
        if let Some(name) = model {
            return self.named(name);
        }
        if !self.routes_by_lang() {
            return Ok(self.default_bundle());
        }
        Ok(match lang {
            Some(l) => self.for_lang(l),
            None => self.for_lang(&detect(&self.default_bundle().classifier)),
        })
    }

    /// Routes one request (`Self::pick`) and returns the language it is answered in:
    /// the given `lang`, else the one detected on the way (once, on the default bundle's
    /// normalisation of `text` for `channel`), else `None` when routing needed none. The
    /// one routing step of every handler that takes text.
    pub fn route(
        &self,
        model: Option<&str>,
        lang: Option<&str>,
        text: &str,
        channel: Option<&str>,
    ) -> Result<(&Served, Option<String>), TriageError> {
        let (served, seen) = self.route_text(model, lang, text, channel)?;
        let detected = seen.map(|n| n.lang().to_string());
        Ok((served, lang.map(str::to_string).or(detected)))
    }

    /// Routes one classify item as [`Self::route`] does, its `lang` set to the language
    /// it is answered in, and keeps the normalisation the language was detected on so
    /// that [`Routed::prepare`] need not normalise the text again.
    pub fn route_item(&self, mut item: ClassifyRequest) -> Result<Routed, TriageError> {
        let (served, seen) = self.route_text(
            item.model.as_deref(),
            item.lang.as_deref(),
            item.text.as_deref().unwrap_or(""),
            item.channel.as_deref(),
        )?;
        let served = served.clone();
        // The language that routed the message is the one it is answered in.
        if item.lang.is_none() {
            item.lang = seen.as_ref().map(|n| n.lang().to_string());
        }
        Ok(Routed {
            served,
            item,
            normalised: seen,
        })
    }

    /// [`Self::pick`], with the default bundle's normalisation of `text` when the
    /// language had to be detected on it.
    fn route_text(
        &self,
        model: Option<&str>,
        lang: Option<&str>,
        text: &str,
        channel: Option<&str>,
    ) -> Result<(&Served, Option<Normalised>), TriageError> {
        let mut seen = None;
        let served = self.pick(model, lang, |c| {
            let normalised = c.normalise(text, channel);
            let lang = normalised.lang().to_string();
            seen = Some(normalised);
            lang
        })?;
        Ok((served, seen))
    }

    /// Indices into [`Self::all`] of the bundle each item goes to, and the items of each
    /// bundle in input order, bundles in order of first appearance.
    pub fn group(routes: &[usize]) -> Vec<(usize, Vec<usize>)> {
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (item, &bundle) in routes.iter().enumerate() {
            match groups.iter_mut().find(|(b, _)| *b == bundle) {
                Some((_, items)) => items.push(item),
                None => groups.push((bundle, vec![item])),
            }
        }
        groups
    }

    /// Position of a served bundle in [`Self::all`].
    pub fn index_of(&self, served: &Served) -> usize {
        self.served
            .iter()
            .position(|s| Arc::ptr_eq(&s.classifier, &served.classifier))
            .unwrap_or(0)
    }
}

/// One classify item on its way to its bundle: the item (its `lang` the one it is
/// answered in) and, when routing detected that language, the text normalised as
/// routing saw it. The two are kept together so the normalisation is only ever reused
/// for the text it was made of.
pub struct Routed {
    served: Served,
    item: ClassifyRequest,
    normalised: Option<Normalised>,
}

impl Routed {
    /// The bundle the item goes to.
    pub fn served(&self) -> &Served {
        &self.served
    }

    /// Validates the item and prepares it on its bundle ([`Classifier::prepare`]),
    /// normalising its text again only if that bundle normalises differently from the
    /// one routing detected the language with.
    pub fn prepare(self) -> Result<Prepared, TriageError> {
        self.served
            .classifier
            .prepare_with(&self.item, self.normalised)
    }
}

/// Loads one bundle as it is served: the classifier of `model` (a bundle directory or a
/// Hugging Face id) with the handoff policy and conversation memory attached, warning
/// when the policy names labels the bundle does not have. The one assembler of the
/// server (each configured bundle) and `triage classify`.
pub fn load_classifier(
    model: &str,
    config: &Config,
    handoff: &Arc<HandoffService>,
) -> Result<Classifier, BundleError> {
    let bundle = Bundle::load(model)?;
    let unknown = handoff.policy().get().unknown_labels(&bundle.manifest);
    if !unknown.is_empty() {
        tracing::warn!(model = %bundle.manifest.name, labels = %unknown.join(", "), "the policy names labels this model does not have");
    }
    Ok(Classifier::new(bundle, config.clone()).with_handoff(handoff.clone()))
}

#[cfg(test)]
mod tests {
    use super::Bundles;

    #[test]
    fn groups_keep_input_order_and_first_appearance() {
        assert_eq!(
            Bundles::group(&[1, 0, 1, 1, 0]),
            vec![(1, vec![0, 2, 3]), (0, vec![1, 4])]
        );
        assert!(Bundles::group(&[]).is_empty());
    }
}
