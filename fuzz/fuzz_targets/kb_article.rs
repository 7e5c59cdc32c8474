//! Knowledge-base articles as `kb::source::read` parses them: the whole input as a
//! Markdown file (YAML front matter between `---` lines, then the body), and each of its
//! non-blank lines as one line of a JSONL knowledge base. Like `read`, input that is not
//! UTF-8 goes no further (there it is an issue of the file). An article that parses is also put
//! through what indexing reads of it (embedding texts with the body snippet, BM25 text).

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use triage_core::kb::article::{parse_jsonl_line, parse_markdown, Article};
use triage_core::text::Channel;

fn index(article: &Article) {
    let _ = article.embedding_texts();
    let _ = article.lexical_text();
    for ch in Channel::ALL {
        let _ = article.suits_channel(ch);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_markdown(Path::new("fuzz.md"), text) {
        Ok(a) => index(&a),
        Err(issue) => {
            let _ = issue.to_string();
        }
    }
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_jsonl_line(Path::new("fuzz.jsonl"), i + 1, line) {
            Ok(a) => index(&a),
            Err(issue) => {
                let _ = issue.to_string();
            }
        }
    }
});
