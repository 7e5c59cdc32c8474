//! The stateful shell around the pure policy: for each classified message it reads the
//! conversation's history, counts the surge of its issue type, asks [`Policy::decide`],
//! and stores the turn. A store that cannot be reached never fails the message: the
//! decision is made without history and says so (`memory_unavailable`).
//!
//! What is kept: each turn's intent, emotion, decision, the suggestions shown and, by
//! default, the customer's raw words, because the agent who takes over must read what the
//! customer already said (the point of the context package). `memory.store_text` can
//! mask personal data or drop the text. A turn keeps at most `memory.max_turn_text_bytes`
//! of text (cut with "…"), and a conversation at most `memory.max_conversation_bytes`
//! (the oldest turns go first). Kept turns expire `memory.ttl_secs` (default 24 h) after
//! a conversation's last message. Logs never contain message text.
//!
//! **Ordered turns.** A turn's read, decision and append happen under its
//! conversation's lock: in-process, one of [`STRIPES`] mutexes chosen by the key; in a
//! shared store, also the store's own lock ([`ConversationStore::lock_turn`], in Redis a
//! short `SET NX` lock with a fenced append), so that concurrent turns of one
//! conversation, on one replica or several, are decided one at a time, each on the
//! history of all the turns before it, and none is lost. Turns of different
//! conversations do not wait for each other (beyond sharing a stripe for microseconds).
//!
//! Everything is per tenant ([`TurnMeta::tenant`]): a conversation id names a
//! conversation of the caller's tenant only, and a surge is counted among one tenant's
//! customers.
//!
//! **Surge rule.** A message watched for surges counts its *customer* once per issue
//! type within the window: `customer.id` when the request gives one, else the
//! conversation id (one conversation is one customer), else the message alone (a
//! message without either is a customer of its own). The count is the tenant's: each
//! API key belongs to one tenant, so a client that invents ids can raise a surge (and
//! `major` severity) only for its own tenant's conversations, never for another's; and
//! one customer writing in several conversations counts once when its id is given.

use super::context::ConversationContext;
use super::feedback::Feedback;
use super::reload::PolicyHandle;
use super::rules::Policy;
use super::store::{self, ConversationStore, QueueEntry, StoreError};
use super::turn::{ShownSuggestion, StoredTurn, TurnInput};
use super::{Action, Decision, PolicyError, Reason, ReasonCode};
use crate::config::{Config, MemoryConfig, StoreText, DEFAULT_POLICY};
use crate::tenant::Tenant;
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// In-process turn locks: a conversation's turns take the mutex its key hashes to.
const STRIPES: usize = 256;

/// What the pipeline knows about a message besides the classifier's outputs.
#[derive(Debug, Clone, Default)]
pub struct TurnMeta {
    pub conversation_id: Option<String>,
    /// The text as received (stored for the agent per `memory.store_text`).
    pub raw_text: String,
    /// Knowledge-base suggestions returned with this message.
    pub suggestions: Vec<ShownSuggestion>,
    /// The answer the knowledge base offered the bot, kept as shown only when the policy
    /// lets the bot answer (otherwise the pipeline withholds it).
    pub bot_answer: Option<ShownSuggestion>,
    /// The bundle that classified the message.
    pub model: Option<String>,
    /// Whose conversation it is (the caller's API key's tenant).
    pub tenant: Tenant,
}

pub struct HandoffService {
    policy: Arc<PolicyHandle>,
    store: Box<dyn ConversationStore>,
    memory: MemoryConfig,
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
}

impl HandoffService {
    pub fn new(
        policy: Arc<PolicyHandle>,
        store: Box<dyn ConversationStore>,
        memory: MemoryConfig,
    ) -> Self {
        Self {
            policy,
            store,
            memory,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }

    /// The policy file and store the configuration names. The default policy path may be
    /// missing (built-in defaults, with a warning); a path given explicitly must load.
    /// With `watch`, the file is re-read when it changes.
    pub fn from_config(config: &Config, watch: bool) -> Result<Self, PolicyError> {
        let handle = if config.policy.as_path() == Path::new(DEFAULT_POLICY)
            && !config.policy.exists()
        {
            tracing::warn!(file = %config.policy.display(), "no policy file: using the built-in defaults");
            PolicyHandle::fixed(Policy::new(Default::default()).map_err(|message| {
                PolicyError::Invalid {
                    file: config.policy.clone(),
                    message,
                }
            })?)
        } else {
            PolicyHandle::load(&config.policy)?
        };
        let handle = Arc::new(handle);
        if watch {
            handle.watch(Duration::from_millis(config.policy_reload_ms));
        }
        let store = store::open(config.redis_url.as_deref(), &config.memory)?;
        tracing::info!(
            store = store.kind(),
            ttl_secs = config.memory.ttl_secs,
            "conversation memory"
        );
        Ok(Self::new(handle, store, config.memory.clone()))
    }

    pub fn policy(&self) -> &Arc<PolicyHandle> {
        &self.policy
    }

    pub fn store(&self) -> &dyn ConversationStore {
        self.store.as_ref()
    }

    /// Whether [`handle`](Self::handle) may block on the network.
    pub fn blocking(&self) -> bool {
        self.store.blocking()
    }

    /// Decides for one message and remembers it in its conversation.
    pub fn handle(&self, mut turn: TurnInput, meta: TurnMeta, now_ms: u64) -> Decision {
        let policy = self.policy.get();
        let tenant = &meta.tenant;
        // Ids are checked before they get here; one that could not be a key is treated
        // as no conversation at all rather than as somebody else's.
        let key = meta
            .conversation_id
            .as_deref()
            .and_then(|id| store::scoped(tenant, id));
        let mut unavailable = false;
        // Held until the turn is stored (see "Ordered turns" above). A poisoned stripe
        // only means another turn panicked: the conversation is still consistent.
        let _in_process = key.as_deref().map(|k| {
            let stripe = self.hasher.hash_one(k) as usize % self.stripes.len();
            self.stripes[stripe]
                .lock()
                .unwrap_or_else(|p| p.into_inner())
        });
        let mut lock = match key.as_deref().map(|k| self.store.lock_turn(k)) {
            Some(Ok(lock)) => lock,
            Some(Err(e)) => {
                note_unavailable(&e);
                unavailable = true;
                None
            }
            None => None,
        };
        let history = match key.as_deref().filter(|_| !unavailable) {
            Some(key) => self.store.turns(key, now_ms).unwrap_or_else(|e| {
                note_unavailable(&e);
                unavailable = true;
                Vec::new()
            }),
            None => Vec::new(),
        };
        if let Some(issue) = policy.issue_type(&turn).filter(|i| policy.watches_surge(i)) {
            let member = surge_member(&turn, meta.conversation_id.as_deref());
            let window = policy.config().surge.window_secs.saturating_mul(1000);
            if let (false, Some(issue)) = (unavailable, store::scoped(tenant, &issue)) {
                match self.store.count_recent(&issue, &member, now_ms, window) {
                    Ok(n) => turn.surge_count = Some(n),
                    Err(e) => {
                        note_unavailable(&e);
                        unavailable = true;
                    }
                }
            }
        }
        turn.memory_unavailable = unavailable;
        let mut decision = policy.decide(&turn, &history, now_ms);
        if let (Some(key), false) = (key.as_deref(), unavailable) {
            let stored = self.stored_turn(&policy, &turn, &meta, &decision, now_ms);
            if let Err(e) = self
                .store
                .append_locked(key, &stored, now_ms, lock.take().as_ref())
            {
                note_unavailable(&e);
                decision.reasons.push(Reason {
                    code: ReasonCode::MemoryUnavailable,
                    detail: "conversation store unreachable: turn not kept".into(),
                });
            } else if let Some(id) = meta.conversation_id.as_deref() {
                // The console's queue: the turn is kept, so its conversation is listed.
                // A failure here costs the agent's queue a refresh, not the message.
                let entry = QueueEntry::new(id, &history, &stored);
                if let Err(e) = self.store.note_latest(tenant, &entry, now_ms) {
                    note_unavailable(&e);
                }
            }
        }
        if let (Some(key), Some(lock)) = (key.as_deref(), lock) {
            // Nothing stored: free the conversation for its next turn now rather than
            // when the lock expires.
            if let Err(e) = self.store.unlock_turn(key, &lock) {
                tracing::debug!(error = %e, "turn lock not released: it expires");
            }
        }
        count(&decision);
        decision
    }

    fn stored_turn(
        &self,
        policy: &Policy,
        turn: &TurnInput,
        meta: &TurnMeta,
        decision: &Decision,
        now_ms: u64,
    ) -> StoredTurn {
        let max = self.memory.max_turn_text_bytes;
        let text = match self.memory.store_text {
            StoreText::Raw => Some(cut(&meta.raw_text, max)),
            StoreText::Masked => Some(cut(&crate::text::mask_pii(&meta.raw_text), max)),
            StoreText::None => None,
        };
        StoredTurn {
            at_ms: now_ms,
            text,
            channel: turn.channel.to_string(),
            lang: turn.lang.clone(),
            customer: turn.customer.clone(),
            intent: turn.intent.as_ref().map(Into::into),
            emotion: turn.emotion.as_ref().map(Into::into),
            negativity: policy.negativity(turn),
            handoff: decision.clone(),
            suggestions_shown: shown(meta, decision),
            model: meta.model.clone(),
        }
    }

    /// The handoff context package of a conversation of the default tenant, or `None`
    /// if it is unknown or expired.
    pub fn context(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<ConversationContext>, StoreError> {
        self.context_of(&Tenant::default(), id, now_ms)
    }

    /// The handoff context package of `tenant`'s conversation `id`, or `None` if that
    /// tenant has none (another tenant's conversation of the same id is not seen).
    pub fn context_of(
        &self,
        tenant: &Tenant,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<ConversationContext>, StoreError> {
        let Some(key) = store::scoped(tenant, id) else {
            return Ok(None);
        };
        let turns = self.store.turns(&key, now_ms)?;
        if turns.is_empty() {
            return Ok(None);
        }
        let feedback = self.store.feedback(&key, now_ms)?;
        Ok(Some(
            ConversationContext::from_turns(id, turns).with_feedback(feedback),
        ))
    }

    /// The turns of `tenant`'s conversation `id`, oldest first; empty when it has none.
    pub fn turns(
        &self,
        tenant: &Tenant,
        id: &str,
        now_ms: u64,
    ) -> Result<Vec<StoredTurn>, StoreError> {
        match store::scoped(tenant, id) {
            Some(key) => self.store.turns(&key, now_ms),
            None => Ok(Vec::new()),
        }
    }

    /// `tenant`'s conversations (the console's index), newest first, at most `limit`.
    pub fn latest(
        &self,
        tenant: &Tenant,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        self.store.latest(tenant, limit, now_ms)
    }

    /// Changes whenever `tenant`'s console index does ([`ConversationStore::stamp`]).
    pub fn stamp(&self, tenant: &Tenant) -> Result<u64, StoreError> {
        self.store.stamp(tenant)
    }

    /// Keeps feedback with `tenant`'s conversation `id`; `Ok(false)` when that tenant has
    /// no such conversation (see [`ConversationStore::add_feedback`]).
    pub fn add_feedback(
        &self,
        tenant: &Tenant,
        id: &str,
        feedback: &Feedback,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        match store::scoped(tenant, id) {
            Some(key) => self.store.add_feedback(&key, feedback, now_ms),
            None => Ok(false),
        }
    }
}

/// Who a surge-watched message counts as (see the surge rule above): its customer, else
/// its conversation, else itself. The prefixes keep a customer id from ever equalling a
/// conversation id.
fn surge_member(turn: &TurnInput, conversation_id: Option<&str>) -> String {
    let customer = turn
        .customer
        .as_ref()
        .and_then(|c| c.id.as_deref())
        .filter(|id| !id.trim().is_empty());
    match (customer, conversation_id) {
        (Some(c), _) => format!("customer:{c}"),
        (None, Some(conv)) => format!("conversation:{conv}"),
        (None, None) => format!("anon:{:016x}", rand::random::<u64>()),
    }
}

/// The suggestions a turn showed: the agent's list, with the bot's answer marked (or
/// added first) when the bot was allowed to send it.
fn shown(meta: &TurnMeta, decision: &Decision) -> Vec<ShownSuggestion> {
    let mut out = meta.suggestions.clone();
    if let Some(b) = meta
        .bot_answer
        .as_ref()
        .filter(|_| decision.action == Action::Bot)
    {
        match out.iter_mut().find(|s| s.id == b.id) {
            Some(s) => s.bot = true,
            None => out.insert(
                0,
                ShownSuggestion {
                    bot: true,
                    ..b.clone()
                },
            ),
        }
    }
    out
}

/// `text` within `max` bytes: cut at a character boundary and ended with "…" when
/// longer, so the agent sees that something is missing.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    const MORE: &str = "…";
    let mut end = max.saturating_sub(MORE.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MORE}", &text[..end])
}

fn note_unavailable(e: &StoreError) {
    ::metrics::counter!("triage_memory_unavailable_total").increment(1);
    tracing::debug!(error = %e, "deciding without conversation memory");
}

fn count(d: &Decision) {
    ::metrics::counter!("triage_handoff_decisions_total",
        "action" => d.policy_action().as_str(), "shadow" => if d.shadow.is_some() { "true" } else { "false" })
    .increment(1);
    for r in &d.reasons {
        ::metrics::counter!("triage_handoff_reasons_total", "code" => r.code.as_str()).increment(1);
    }
}
