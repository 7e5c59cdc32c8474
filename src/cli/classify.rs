//! `triage classify`: the same pipeline, policy, suggestions and JSON as `/v1/classify`,
//! without a server. The knowledge base is loaded only when a request asks for
//! suggestions, so plain classification does not pay for indexing it.
//! One response object per line, in input order; a bad line gets an error object in its
//! place so the output stays aligned with the input.

use std::cell::OnceCell;
use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use triage_core::api::{ClassifyRequest, ErrorBody, ErrorDetail};
use triage_core::bundles::load_classifier;
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::kb::LiveKb;
use triage_core::policy::HandoffService;

/// Lines classified per engine call: large enough to batch, small enough to stream.
const CHUNK: usize = 64;

pub fn run(
    config: Config,
    text: Option<String>,
    input: Option<PathBuf>,
    channel: Option<String>,
    intent_set: Option<String>,
) -> anyhow::Result<()> {
    // Same policy and memory as the server: lines sharing a conversation_id see each
    // other's turns, in file order.
    let handoff = Arc::new(HandoffService::from_config(&config, false)?);
    let classifier = Arc::new(load_classifier(config.model(), &config, &handoff)?);
    let kb = Kb {
        classifier: classifier.clone(),
        loaded: OnceCell::new(),
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match (text, input) {
        (Some(text), None) => {
            let req = ClassifyRequest {
                text: Some(text),
                channel,
                intent_set,
                ..Default::default()
            };
            let p = classifier.prepare(&req)?;
            let kb = kb.get(p.suggest);
            let r = classifier.classify_blocking_with(vec![p], Instant::now(), kb)?;
            serde_json::to_writer(&mut out, &r[0])?;
            writeln!(out)?;
        }
        (None, Some(path)) => {
            let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&path).map_err(|e| {
                        let message = format!("{}: {e}", path.display());
                        anyhow::Error::new(e).context(message)
                    })?,
                ))
            };
            let mut chunk: Vec<(usize, Result<ClassifyRequest, String>)> = Vec::new();
            for (n, line) in reader.lines().enumerate() {
                let line = line.map_err(|e| {
                    let message = format!("{}: line {}: {e}", path.display(), n + 1);
                    anyhow::Error::new(e).context(message)
                })?;
                if line.trim().is_empty() {
                    continue;
                }
                let mut req =
                    serde_json::from_str::<ClassifyRequest>(&line).map_err(|e| e.to_string());
                if let Ok(r) = &mut req {
                    r.channel = r.channel.take().or_else(|| channel.clone());
                    r.intent_set = r.intent_set.take().or_else(|| intent_set.clone());
                }
                chunk.push((n + 1, req));
                if chunk.len() == CHUNK {
                    write_chunk(&classifier, &kb, std::mem::take(&mut chunk), &mut out)?;
                }
            }
            write_chunk(&classifier, &kb, chunk, &mut out)?;
        }
        _ => anyhow::bail!("give a TEXT or --input FILE.jsonl"),
    }
    out.flush()?;
    Ok(())
}

/// The knowledge base, loaded on the first request that asks for suggestions (not
/// watched: a run is short).
struct Kb {
    classifier: Arc<Classifier>,
    loaded: OnceCell<Option<LiveKb>>,
}

impl Kb {
    fn get(&self, wanted: bool) -> Option<&LiveKb> {
        if !wanted {
            return None;
        }
        self.loaded
            .get_or_init(|| {
                let config = self.classifier.config();
                if !config.suggest.enabled {
                    return None;
                }
                let options = triage_core::kb::KbOptions {
                    watch_interval_ms: 0,
                    ..config.suggest.search.clone()
                };
                Some(LiveKb::load_now(
                    &config.kb,
                    &config.suggest.cache_dir(),
                    options,
                    self.classifier.clone(),
                    Vec::new(),
                ))
            })
            .as_ref()
    }
}

fn error_line(code: &str, message: String) -> ErrorBody {
    ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message,
            index: None,
        },
    }
}

fn write_chunk(
    classifier: &Classifier,
    kb: &Kb,
    chunk: Vec<(usize, Result<ClassifyRequest, String>)>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let started = Instant::now();
    // Prepare every line; keep failures in place.
    let mut slots: Vec<Result<usize, ErrorBody>> = Vec::with_capacity(chunk.len());
    let mut prepared = Vec::new();
    for (line, req) in chunk {
        let p = req
            .map_err(|e| error_line("invalid_json", format!("line {line}: {e}")))
            .and_then(|r| {
                classifier
                    .prepare(&r)
                    .map_err(|e| error_line(e.code(), format!("line {line}: {e}")))
            });
        slots.push(p.map(|p| {
            prepared.push(p);
            prepared.len() - 1
        }));
    }
    let kb = kb.get(prepared.iter().any(|p| p.suggest));
    let results = classifier.classify_blocking_with(prepared, started, kb)?;
    for slot in slots {
        match slot {
            Ok(i) => serde_json::to_writer(&mut *out, &results[i])?,
            Err(e) => serde_json::to_writer(&mut *out, &e)?,
        }
        writeln!(out)?;
    }
    Ok(())
}
