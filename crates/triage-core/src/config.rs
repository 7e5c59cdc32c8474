//! All settings in one struct. Sources, strongest first: command-line flag, `TRIAGE_*`
//! environment variable (both through clap), `config/triage.toml` (or `--config FILE`),
//! then the defaults below.

use crate::cause::Detail;
use crate::engine::EngineConfig;
use crate::kb::KbOptions;
use crate::model::fast::{EncoderKind, Isa};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "config/triage.toml";
pub const DEFAULT_POLICY: &str = "config/policy.toml";
pub const DEFAULT_MODEL: &str = "models/triage-en-small";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Bundle directories or Hugging Face model ids, served by one process (one shared
    /// set of encoder threads rather than two processes fighting over the cores). A
    /// request picks one by its `model` field or its language; the first is the default
    /// and the one `triage classify`, `eval` and `train` use. In the file: `model = "dir"`
    /// or `model = ["dir", "dir2"]` (`models` is accepted too). Empty: the default bundle.
    #[serde(rename = "model", alias = "models", deserialize_with = "one_or_many")]
    pub models: Vec<String>,
    pub addr: String,
    pub policy: PathBuf,
    /// How often the policy file is checked for changes, in ms (0: only on
    /// `POST /admin/policy/reload`).
    pub policy_reload_ms: u64,
    /// Knowledge base: a folder of Markdown articles or a JSONL file.
    pub kb: PathBuf,
    pub suggest: SuggestConfig,
    /// Conversation store; in-memory when absent.
    pub redis_url: Option<String>,
    pub memory: MemoryConfig,
    /// Intent set used when a request names none (`support` → head `intent.support`).
    pub intent_set: String,
    pub top_k: usize,
    /// Log raw message text. Off by default: messages carry personal data.
    pub log_text: bool,
    /// Threads for the encoder's matrix kernels (default: all cores).
    pub threads: Option<usize>,
    /// Which encoder computes embeddings: `candle` (the f32 reference, what training
    /// uses), or the fast path (`model::fast`) in `f32` or `int8`.
    pub encoder: EncoderKind,
    /// The fast encoder's kernel tier (`scalar`, `avx2`, `avxvnni`, `avx512`); absent:
    /// the best this CPU runs. Forcing a lower tier tests or benchmarks it; a tier the
    /// CPU lacks is refused at start-up.
    pub isa: Option<Isa>,
    pub limits: Limits,
    pub engine: EngineConfig,
    /// API keys, the audit log and CORS.
    pub auth: AuthConfig,
    /// The routes that speak other servers' APIs (TEI, OpenAI, Rasa, Dialogflow CX).
    pub compat: CompatConfig,
    /// OpenTelemetry collector to send traces to over OTLP/HTTP (`http://host:4318`;
    /// spans go to its `/v1/traces`). Absent: no traces.
    pub otlp_endpoint: Option<String>,
}

/// Who may call what (`[auth]`). Without `keys_file` a server on a loopback address is
/// open to anyone who can reach it (the quick start); on any other address it refuses
/// to start unless `allow_insecure` says that is intended.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// API keys (name, tenant, role, SHA-256 of the key), re-read when the file changes.
    /// Made with `triage keys add`.
    pub keys_file: Option<PathBuf>,
    /// Serve a non-loopback address without keys: anyone who reaches it is admin.
    pub allow_insecure: bool,
    /// JSON-lines audit log: admin calls, policy, knowledge-base and key-file reloads.
    /// Off when absent.
    pub audit_log: Option<PathBuf>,
    /// `/metrics` without a key (for a scraper on a trusted network); otherwise admin.
    pub public_metrics: bool,
    /// How often the keys file is checked for changes, in ms [default 1000; 0: never].
    pub reload_ms: Option<u64>,
    /// Browser origins allowed to call the API (CORS), e.g. `https://console.example.com`,
    /// or `*`. Empty: no CORS headers, so browsers refuse cross-site calls.
    pub cors_origins: Vec<String>,
}

impl AuthConfig {
    pub fn reload_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.reload_ms.unwrap_or(1000))
    }
}

/// Conversation memory (the handoff context package and the history rules).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// A conversation is forgotten this long after its last message. 24 h: an email
    /// thread's replies within a day still find their history; personal data does not
    /// linger for weeks.
    pub ttl_secs: u64,
    /// Newest turns kept per conversation.
    pub max_turns: usize,
    /// In-process store only: conversations held at most (the closest to expiring go
    /// first beyond it).
    pub max_conversations: usize,
    /// What is kept of the customer's words: `raw` (the agent reads what was said),
    /// `masked` (personal data replaced, as in logs) or `none`.
    pub store_text: StoreText,
    /// Connect, read and write timeout of each Redis call.
    pub redis_timeout_ms: u64,
    /// After a Redis failure, calls answer "unavailable" at once for this long before
    /// Redis is tried again.
    pub redis_retry_ms: u64,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    pub redis_prefix: String,
    /// Bytes of a turn's text kept for the agent; a longer text is cut at a character
    /// boundary and ends with "…". The whole text is still classified.
    pub max_turn_text_bytes: usize,
    /// Bytes one conversation may take in the store (its turns as stored JSON): beyond
    /// it the oldest turns are dropped, as beyond `max_turns`. The newest turn is always
    /// kept (it is bounded by `max_turn_text_bytes` and the customer and language limits).
    pub max_conversation_bytes: usize,
    /// Redis: how long a conversation's turn lock lives if its holder never releases it
    /// (a replica that died mid-turn). A turn holds it for its few Redis calls.
    pub redis_lock_ms: u64,
    /// Redis: how long a turn waits for its conversation's lock before it is decided
    /// without history (`memory_unavailable`). Longer than `redis_lock_ms`, so that a
    /// lock left by a dead replica delays the next turn but does not cost it its history.
    pub redis_lock_wait_ms: u64,
    /// Redis with replicas (Sentinel): each append waits (`WAIT`, at most half of
    /// `redis_timeout_ms`) until this many replicas have it; a turn acknowledged by fewer
    /// is marked `memory_unavailable` (a failover could lose it). 0: do not wait.
    pub redis_wait_replicas: u64,
}

/// Knowledge-base suggestions (`suggest: true` in `/v1/classify`, `/v1/suggest`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuggestConfig {
    /// Load the knowledge base `kb` at start (in the background: `/ready` does not wait
    /// for it) and answer suggestion requests. Off, the server classifies as before and
    /// `/v1/suggest` answers 503 `kb_unavailable`.
    pub enabled: bool,
    /// Where article embeddings are cached between restarts [default: `kb` under
    /// `TRIAGE_CACHE_DIR`, else `.cache/triage/kb`].
    pub cache_dir: Option<PathBuf>,
    /// Agent suggestions per message when a request does not say.
    pub k: usize,
    /// The most agent suggestions one request may ask for: beyond a handful an agent
    /// reads none of them, and a large k only costs time.
    pub max_k: usize,
    /// A conversation query (`/v1/suggest` with `conversation_id` or `texts`) joins this
    /// many of the newest customer turns: enough to carry the issue when the latest turn
    /// is only "and now?", few enough that an old topic does not drown the new one.
    pub conversation_turns: usize,
    /// Retrieval weights, bot thresholds, staleness and index settings; the file watch
    /// interval too (`watch_interval_ms`, 0: never re-read).
    pub search: KbOptions,
}

impl Default for SuggestConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            cache_dir: None,
            k: 3,
            max_k: 20,
            conversation_turns: 3,
            search: KbOptions::default(),
        }
    }
}

impl SuggestConfig {
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| crate::config::cache_dir().join("kb"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreText {
    Raw,
    Masked,
    None,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            ttl_secs: 24 * 3600,
            max_turns: 50,
            max_conversations: 100_000,
            store_text: StoreText::Raw,
            redis_timeout_ms: 250,
            redis_retry_ms: 1000,
            redis_prefix: "triage".into(),
            max_turn_text_bytes: 4 * 1024,
            max_conversation_bytes: 128 * 1024,
            redis_lock_ms: 2000,
            redis_lock_wait_ms: 3000,
            redis_wait_replicas: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// One text's size in bytes (413 beyond). The encoder reads at most the bundle's
    /// max_seq_len tokens, so longer texts only cost normalisation time.
    pub max_text_bytes: usize,
    /// Inputs in one `/v1/classify` or `/v1/embed` call (413 beyond).
    pub max_batch_items: usize,
    pub max_top_k: usize,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Seconds a client is told to wait after a 429.
    pub retry_after_secs: u64,
    /// Longest `customer.id`, in bytes (422 `invalid_customer` beyond): it is stored with
    /// every turn of the conversation.
    pub max_customer_id_bytes: usize,
    /// `customer.tier` values accepted besides the tiers the policy file names (`[tiers]`
    /// of config/policy.toml); compared case-insensitively. Any other tier is a 422
    /// `invalid_customer`: tiers are stored with every turn and steer the policy.
    pub customer_tiers: Vec<String>,
    /// A request head must arrive within this many ms: from the connection's accept for
    /// its first request, from the first byte of each later one. Slow-header
    /// connections are closed when it runs out.
    pub header_timeout_ms: u64,
    /// A request body must arrive within this many ms from when the handler starts
    /// reading it (408 `request_timeout` beyond).
    pub body_timeout_ms: u64,
    /// A connection with no request in progress and no byte read or written for this
    /// long is closed: a kept-alive connection waiting for its next request, or a client
    /// that stopped reading its response.
    pub idle_timeout_ms: u64,
    /// Open connections at most. Beyond it new connections wait in the listen backlog
    /// until one closes (the timeouts above bound how long any can be held). Keep it
    /// under the process's open-file limit.
    pub max_connections: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            models: vec![DEFAULT_MODEL.into()],
            addr: "127.0.0.1:8080".into(),
            policy: DEFAULT_POLICY.into(),
            policy_reload_ms: 1000,
            kb: "config/kb/support".into(),
            suggest: SuggestConfig::default(),
            redis_url: None,
            memory: MemoryConfig::default(),
            intent_set: "support".into(),
            top_k: 3,
            log_text: false,
            threads: None,
            encoder: EncoderKind::default(),
            isa: None,
            limits: Limits::default(),
            engine: EngineConfig::default(),
            auth: AuthConfig::default(),
            compat: CompatConfig::default(),
            otlp_endpoint: None,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_text_bytes: 32 * 1024,
            max_batch_items: 128,
            max_top_k: 50,
            shutdown_grace_secs: 30,
            retry_after_secs: 1,
            max_customer_id_bytes: 128,
            customer_tiers: vec!["basic".into(), "standard".into()],
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            max_connections: 512,
        }
    }
}

/// Settings of the compatibility routes (README "Compatibility"). Every one may be left
/// out: the routes then follow the server's own defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompatConfig {
    /// Head that TEI's `POST /predict` scores when the query names none (`?head=`): a
    /// head name (`emotion`, `intent.banking`) or an intent set (`banking`) [default: the
    /// head of `intent_set`].
    pub tei_head: Option<String>,
    /// Intent set `POST /model/parse` (Rasa) answers with when the query names none
    /// [default: `intent_set`].
    pub rasa_intent_set: Option<String>,
    /// Bundle `POST /model/parse` answers with when the query names none [default: by
    /// language, as `/v1/classify`].
    pub rasa_model: Option<String>,
    /// The name an out-of-scope prediction takes on `POST /model/parse`: Rasa's
    /// `FallbackClassifier` convention is `nlu_fallback`, which stories and rules already
    /// handle [default: the head's own out-of-scope label, e.g. `oos`].
    pub rasa_fallback: Option<String>,
}

/// A configuration file that cannot be read or parsed; the I/O or TOML error is the
/// source.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: PathBuf,
    #[source]
    pub message: Detail,
}

/// `"x"` or `["x", "y"]`: a single bundle stays spelled as it always was.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl Config {
    /// The bundles to serve, the default first.
    pub fn models(&self) -> Vec<String> {
        if self.models.is_empty() {
            vec![DEFAULT_MODEL.to_string()]
        } else {
            self.models.clone()
        }
    }

    /// The default bundle: the first configured.
    pub fn model(&self) -> &str {
        self.models.first().map_or(DEFAULT_MODEL, String::as_str)
    }

    /// Reads `path`, or the default file when it exists; defaults otherwise. A file that
    /// was named explicitly must exist.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let (file, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        if !required && !file.is_file() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&file).map_err(|e| ConfigError {
            file: file.clone(),
            message: Detail::of(e),
        })?;
        toml::from_str(&text).map_err(|e| ConfigError {
            file,
            message: Detail::of(e),
        })
    }

    /// Largest request body that can be valid: every input at its size limit, plus room
    /// for JSON syntax and the other fields.
    pub fn max_body_bytes(&self) -> usize {
        self.limits.max_text_bytes * self.limits.max_batch_items.max(1) * 2 + 64 * 1024
    }
}

/// Where derived files are cached (embeddings, knowledge-base indexes, checkpoints):
/// `$TRIAGE_CACHE_DIR`, else `.cache/triage` under the working directory.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("TRIAGE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".cache/triage"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses_and_matches_defaults_where_unset() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DEFAULT_CONFIG);
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.addr, "127.0.0.1:8080");
        assert_eq!(c.model(), "models/triage-en-small");
        // The shipped file serves both bundles; the English one is the default.
        assert_eq!(
            c.models(),
            vec![
                "models/triage-en-small".to_string(),
                "models/triage-multi-small".to_string()
            ]
        );
        // Rasa's stories and rules know the out-of-scope class as `nlu_fallback`.
        assert_eq!(c.compat.rasa_fallback.as_deref(), Some("nlu_fallback"));
        assert_eq!(c.compat.tei_head, None);
    }

    #[test]
    fn model_is_one_bundle_or_a_list() {
        let one: Config = toml::from_str("model = \"a\"\n").unwrap();
        assert_eq!(one.models, vec!["a"]);
        let two: Config = toml::from_str("model = [\"a\", \"b\"]\n").unwrap();
        assert_eq!((two.model(), two.models.len()), ("a", 2));
        let alias: Config = toml::from_str("models = [\"b\"]\n").unwrap();
        assert_eq!(alias.model(), "b");
        let empty: Config = toml::from_str("models = []\n").unwrap();
        assert_eq!(empty.models(), vec![DEFAULT_MODEL.to_string()]);
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_file_name() {
        let dir = std::env::temp_dir().join(format!("triage-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.toml");
        std::fs::write(&f, "adr = \"x\"\n").unwrap();
        let err = Config::load(Some(&f)).unwrap_err().to_string();
        assert!(err.contains("bad.toml") && err.contains("adr"), "{err}");
    }
}
