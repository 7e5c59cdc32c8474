//! `triage classify`: the same pipeline, policy and JSON as `/v1/classify`, without a
//! server.
//! One response object per line, in input order; a bad line gets an error object in its
//! place so the output stays aligned with the input.

use crate::api::{ClassifyRequest, ErrorBody, ErrorDetail};
use crate::classify::Classifier;
use crate::config::Config;
use crate::model::Bundle;
use crate::policy::HandoffService;
use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

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
    let handoff = std::sync::Arc::new(HandoffService::from_config(&config, false)?);
    let bundle = Bundle::load(&config.model)?;
    let classifier = Classifier::new(bundle, config).with_handoff(handoff);
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
            let r = classifier.classify_blocking(vec![p], Instant::now())?;
            serde_json::to_writer(&mut out, &r[0])?;
            writeln!(out)?;
        }
        (None, Some(path)) => {
            let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&path)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                ))
            };
            let mut chunk: Vec<(usize, Result<ClassifyRequest, String>)> = Vec::new();
            for (n, line) in reader.lines().enumerate() {
                let line =
                    line.map_err(|e| anyhow::anyhow!("{}: line {}: {e}", path.display(), n + 1))?;
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
                    write_chunk(&classifier, std::mem::take(&mut chunk), &mut out)?;
                }
            }
            write_chunk(&classifier, chunk, &mut out)?;
        }
        _ => anyhow::bail!("give a TEXT or --input FILE.jsonl"),
    }
    out.flush()?;
    Ok(())
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
    let results = classifier.classify_blocking(prepared, started)?;
    for slot in slots {
        match slot {
            Ok(i) => serde_json::to_writer(&mut *out, &results[i])?,
            Err(e) => serde_json::to_writer(&mut *out, &e)?,
        }
        writeln!(out)?;
    }
    Ok(())
}
