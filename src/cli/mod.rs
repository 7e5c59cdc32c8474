//! Command-line interface: flags (also config keys and TRIAGE_* variables) and the
//! subcommands. `main.rs` only parses and reports errors.

mod classify;
mod eval;
mod keys;
mod logging;
pub mod progress;
mod serve;
mod train;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use triage_core::config::Config;

#[derive(Parser)]
#[command(
    name = "triage",
    version,
    about = "Customer-service NLU: intent, emotion, handoff, suggestions"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand shares; each is also a key of config/triage.toml and a
/// TRIAGE_* environment variable.
#[derive(Args)]
pub struct Common {
    /// Configuration file [default: config/triage.toml if present]
    #[arg(long, env = "TRIAGE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Model bundle directory or Hugging Face model id; repeat (or separate with commas)
    /// to serve several, the first being the default
    #[arg(long, env = "TRIAGE_MODEL", global = true, value_delimiter = ',')]
    model: Vec<String>,
    /// Address to listen on
    #[arg(long, env = "TRIAGE_ADDR", global = true)]
    addr: Option<String>,
    /// Handoff policy file
    #[arg(long, env = "TRIAGE_POLICY", global = true)]
    policy: Option<PathBuf>,
    /// Knowledge base folder or JSONL file
    #[arg(long, env = "TRIAGE_KB", global = true)]
    kb: Option<PathBuf>,
    /// Redis URL for conversation memory (in-memory when absent)
    #[arg(long, env = "TRIAGE_REDIS_URL", global = true)]
    redis_url: Option<String>,
    /// Encoder threads [default: all cores]
    #[arg(long, env = "TRIAGE_THREADS", global = true)]
    threads: Option<usize>,
    /// Encoder: auto (int8 on this CPU's best SIMD tier, else candle), candle (f32
    /// reference), f32 or int8 (the fast encoder)
    #[arg(long, env = "TRIAGE_ENCODER", global = true)]
    encoder: Option<triage_core::model::fast::EncoderKind>,
    /// Force the fast encoder's kernel tier: scalar, avx2, avxvnni or avx512 [default:
    /// the best this CPU runs]
    #[arg(long, env = "TRIAGE_ISA", global = true)]
    isa: Option<triage_core::model::fast::Isa>,
    /// API keys file (auth.keys_file); without one, only a loopback address is served
    #[arg(long, env = "TRIAGE_KEYS_FILE", global = true)]
    keys_file: Option<PathBuf>,
    /// Serve a non-loopback address without API keys: anyone who reaches it is admin
    /// (auth.allow_insecure)
    #[arg(long, env = "TRIAGE_INSECURE", global = true)]
    insecure: bool,
    /// OpenTelemetry collector for traces over OTLP/HTTP, e.g. http://localhost:4318
    /// [default: no traces]
    #[arg(long, env = "TRIAGE_OTLP_ENDPOINT", global = true)]
    otlp_endpoint: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Start the HTTP server
    Serve,
    /// Classify a text, or every request line of a JSONL file (results as JSONL on stdout)
    Classify {
        /// The message to classify
        text: Option<String>,
        /// JSONL file of /v1/classify request objects (or canonical records); - for stdin
        #[arg(long, conflicts_with = "text")]
        input: Option<PathBuf>,
        /// Channel of TEXT
        #[arg(long)]
        channel: Option<String>,
        /// Intent set (head intent.<SET>)
        #[arg(long)]
        intent_set: Option<String>,
    },
    /// Train: a new head on a frozen encoder (--head-only)
    Train(train::TrainArgs),
    /// Evaluate: a suite of tasks with reports and a CI gate, or one labelled file
    Eval(eval::EvalArgs),
    /// API keys: make one (`add`) or list them (`list`)
    Keys(keys::KeysArgs),
}

impl Common {
    pub fn resolve(self) -> anyhow::Result<Config> {
        let mut c = Config::load(self.config.as_deref())?;
        if !self.model.is_empty() {
            c.models = self.model;
        }
        if let Some(v) = self.addr {
            c.addr = v;
        }
        if let Some(v) = self.policy {
            c.policy = v;
        }
        if let Some(v) = self.kb {
            c.kb = v;
        }
        if let Some(v) = self.redis_url {
            c.redis_url = Some(v);
        }
        if let Some(v) = self.threads {
            c.threads = Some(v);
        }
        if let Some(v) = self.encoder {
            c.encoder = v;
        }
        if let Some(v) = self.isa {
            c.isa = Some(v);
        }
        if let Some(v) = self.keys_file {
            c.auth.keys_file = Some(v);
        }
        if self.insecure {
            c.auth.allow_insecure = true;
        }
        if let Some(v) = self.otlp_endpoint {
            c.otlp_endpoint = Some(v);
        }
        // A forced tier this CPU cannot run stops here, before any model loads.
        triage_core::model::fast::Isa::resolve(c.isa)?;
        Ok(c)
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.common.resolve()?;
    // Kept to the end: dropping it sends the traces still buffered.
    let _telemetry = logging::init(config.otlp_endpoint.as_deref())?;
    if let Some(n) = config.threads {
        // candle's CPU kernels size their pool from this, read on first use.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    match cli.command {
        Command::Serve => serve::run(config),
        Command::Classify {
            text,
            input,
            channel,
            intent_set,
        } => classify::run(config, text, input, channel, intent_set),
        Command::Train(args) => train::run(config, args),
        Command::Eval(args) => eval::run(config, args),
        Command::Keys(args) => keys::run(config, args),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::Parser;

    fn models(args: &[&str]) -> Vec<String> {
        let cli = Cli::try_parse_from(args).unwrap();
        cli.common.resolve().unwrap().models
    }

    #[test]
    fn a_forced_instruction_set_is_refused_when_the_cpu_lacks_it() {
        use triage_core::model::fast::Isa;
        for isa in Isa::ALL {
            let cli =
                Cli::try_parse_from(["triage", "--isa", isa.as_str(), "classify", "x"]).unwrap();
            match cli.common.resolve() {
                Ok(c) => {
                    assert!(isa.supported(), "{isa} accepted");
                    assert_eq!(c.isa, Some(isa));
                }
                Err(e) => {
                    assert!(!isa.supported(), "{isa} refused: {e}");
                    assert!(e.to_string().contains("not available on this CPU"), "{e}");
                }
            }
        }
        assert!(Cli::try_parse_from(["triage", "--isa", "neon", "serve"]).is_err());
    }

    #[test]
    fn model_may_be_repeated_or_comma_separated() {
        assert_eq!(models(&["triage", "--model", "a", "serve"]), ["a"]);
        assert_eq!(
            models(&["triage", "serve", "--model", "a", "--model", "b"]),
            ["a", "b"]
        );
        assert_eq!(models(&["triage", "--model", "a,b", "serve"]), ["a", "b"]);
    }
}
