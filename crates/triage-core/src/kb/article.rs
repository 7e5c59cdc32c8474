//! One knowledge-base article and how it is read: a Markdown file with YAML front matter
//! between `---` lines, or one line of a JSONL file with the same fields plus `body`.
//!
//! Parsing is strict (unknown fields are errors) because a misspelt `intnets:` would
//! otherwise silently drop the article out of intent matching; every problem names the
//! file and the line so whoever edits the knowledge base can fix it without reading code.

use super::KbIssue;
use crate::text::Channel;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use time::{Date, Month};

/// What an article is for: `answer`s can be sent to the customer (by a bot on its own or
/// by an agent), `script`s guide the agent, `empathy` scripts acknowledge an upset
/// customer before the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArticleType {
    Answer,
    Script,
    Empathy,
}

impl ArticleType {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleType::Answer => "answer",
            ArticleType::Script => "script",
            ArticleType::Empathy => "empathy",
        }
    }
}

/// An action a bot or agent can take after sending the article (e.g. open a return
/// ticket). `action` is a machine name the caller dispatches on; `label` is for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    params: BTreeMap<String, String>,
}

/// The front matter (or JSONL object) as written by people.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArticle {
    id: String,
    title: String,
    #[serde(default)]
    intents: Vec<String>,
    /// Channels the article suits; empty means every channel.
    #[serde(default)]
    channels: Vec<String>,
    language: String,
    #[serde(rename = "type")]
    kind: ArticleType,
    /// `YYYY-MM-DD`. A string rather than a YAML date so both formats read the same way.
    updated: String,
    /// Other ways customers ask for this; embedded beside the title so that short, noisy
    /// messages still land near the article.
    #[serde(default)]
    questions: Vec<String>,
    /// For empathy scripts: the emotions (goemotions labels) they are written for.
    #[serde(default)]
    emotions: Vec<String>,
    #[serde(default)]
    follow_up: Option<FollowUp>,
    /// Bot-mode threshold for this article, overriding the knowledge base's default.
    #[serde(default)]
    min_score: Option<f32>,
    #[serde(default)]
    tags: Vec<String>,
    /// JSONL only: the article text.
    #[serde(default)]
    body: Option<String>,
}

/// A parsed, validated article.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub id: String,
    pub title: String,
    pub intents: Vec<String>,
    /// Empty: every channel.
    pub channels: Vec<Channel>,
    pub language: String,
    pub kind: ArticleType,
    pub updated: Date,
    pub questions: Vec<String>,
    pub emotions: Vec<String>,
    pub follow_up: Option<FollowUp>,
    pub min_score: Option<f32>,
    pub tags: Vec<String>,
    /// Markdown text of the article.
    pub body: String,
    /// `file` or `file:line` it was read from, for messages and for agents' "edit" links.
    pub source: String,
}

impl Article {
    /// Texts embedded for dense retrieval: the title, each question and the opening of
    /// the body. An article's dense score is its best row, so any phrasing can match.
    pub fn embedding_texts(&self) -> Vec<String> {
        let mut texts = Vec::with_capacity(2 + self.questions.len());
        texts.push(self.title.clone());
        texts.extend(self.questions.iter().cloned());
        let snippet = snippet(&self.body, 240);
        if !snippet.is_empty() {
            texts.push(format!("{}. {}", self.title, snippet));
        }
        texts
    }

    /// Text indexed for BM25: title twice (titles are short and precise), questions,
    /// tags and body.
    pub fn lexical_text(&self) -> String {
        let mut s = String::with_capacity(self.body.len() + 256);
        for part in [&self.title, &self.title]
            .into_iter()
            .chain(&self.questions)
            .chain(&self.tags)
            .chain(std::iter::once(&self.body))
        {
            s.push_str(part);
            s.push('\n');
        }
        s
    }

    pub fn suits_channel(&self, channel: Channel) -> bool {
        self.channels.is_empty() || self.channels.contains(&channel)
    }
}

/// Parses one Markdown article. `path` is only used in issues.
pub fn parse_markdown(path: &Path, text: &str) -> Result<Article, KbIssue> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Err(KbIssue::new(
            path,
            Some(1),
            "missing front matter: the file must start with a line `---`, then the \
             article's fields (id, title, language, type, updated, ...), then `---`",
        ));
    }
    let mut front = String::new();
    let mut body_start = None;
    let mut offset = first.len();
    for (i, line) in lines.enumerate() {
        offset += line.len();
        if line.trim_end() == "---" {
            body_start = Some((offset, i + 2));
            break;
        }
        front.push_str(line);
    }
    let Some((body_offset, closing_line)) = body_start else {
        return Err(KbIssue::new(
            path,
            Some(1),
            "front matter is not closed: no second `---` line",
        ));
    };
    let raw: RawArticle = serde_yaml_ng::from_str(&front).map_err(|e| {
        // Lines are 1-based within the front matter, which starts on file line 2.
        let line = e
            .location()
            .map(|l| l.line() + 1)
            .or_else(|| missing_field_line(&e.to_string(), closing_line));
        KbIssue::new(path, line, yaml_message(&e))
    })?;
    if raw.body.is_some() {
        return Err(KbIssue::new(
            path,
            field_line(&front, "body", 2),
            "`body` is for JSONL knowledge bases; in Markdown the text goes after the front matter",
        ));
    }
    let body = text[body_offset..].trim().to_string();
    let line_of = |field: &str| field_line(&front, field, 2);
    validate(raw, body, path.display().to_string(), &line_of)
        .map_err(|(line, message)| KbIssue::new(path, line.or(Some(1)), message))
}

/// Parses one line of a JSONL knowledge base (`line` is 1-based).
pub fn parse_jsonl_line(path: &Path, line: usize, text: &str) -> Result<Article, KbIssue> {
    let raw: RawArticle = serde_json::from_str(text)
        .map_err(|e| KbIssue::new(path, Some(line), format!("invalid article: {e}")))?;
    let body = raw.body.clone().unwrap_or_default().trim().to_string();
    let source = format!("{}:{line}", path.display());
    validate(raw, body, source, &|_| Some(line))
        .map_err(|(_, message)| KbIssue::new(path, Some(line), message))
}

type Invalid = (Option<usize>, String);

fn validate(
    raw: RawArticle,
    body: String,
    source: String,
    line_of: &dyn Fn(&str) -> Option<usize>,
) -> Result<Article, Invalid> {
    let bad = |field: &str, message: String| (line_of(field), message);
    let id = raw.id.trim().to_string();
    if id.is_empty() || id.chars().any(char::is_whitespace) {
        return Err(bad(
            "id",
            format!("id {:?} must be non-empty without spaces", raw.id),
        ));
    }
    let title = raw.title.trim().to_string();
    if title.is_empty() {
        return Err(bad("title", "title is empty".into()));
    }
    let language = raw.language.trim().to_ascii_lowercase();
    if language.is_empty() {
        return Err(bad("language", "language is empty (e.g. en, zh)".into()));
    }
    if body.is_empty() {
        return Err(bad("id", format!("article {id:?} has no text")));
    }
    let channels = raw
        .channels
        .iter()
        .map(|c| {
            c.parse::<Channel>()
                .map_err(|e| bad("channels", e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let date = &raw.updated;
    let updated = parse_date(date).ok_or_else(|| {
        bad(
            "updated",
            format!("updated {date:?} is not a date of the form YYYY-MM-DD"),
        )
    })?;
    if let Some(s) = raw.min_score {
        if !(0.0..=1.0).contains(&s) {
            return Err(bad(
                "min_score",
                format!("min_score {s} must be between 0 and 1"),
            ));
        }
    }
    if raw.intents.iter().any(|i| i.trim().is_empty()) {
        return Err(bad("intents", "an intent is empty".into()));
    }
    if raw.kind == ArticleType::Empathy && raw.follow_up.is_some() {
        return Err(bad(
            "follow_up",
            "empathy scripts cannot carry a follow-up action".into(),
        ));
    }
    if let Some(f) = &raw.follow_up {
        if f.action.trim().is_empty() {
            return Err(bad("follow_up", "follow_up.action is empty".into()));
        }
    }
    Ok(Article {
        id,
        title,
        intents: raw.intents.iter().map(|i| i.trim().to_string()).collect(),
        channels,
        language,
        kind: raw.kind,
        updated,
        questions: raw
            .questions
            .into_iter()
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty())
            .collect(),
        emotions: raw.emotions,
        follow_up: raw.follow_up,
        min_score: raw.min_score,
        tags: raw.tags,
        body,
        source,
    })
}

/// `YYYY-MM-DD` → a calendar date (checked: 2026-02-30 is rejected).
pub fn parse_date(s: &str) -> Option<Date> {
    let mut parts = s.trim().splitn(3, '-');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u8 = parts.next()?.parse().ok()?;
    let d: u8 = parts.next()?.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

/// Line of `field:` at the start of a front-matter line, offset to file lines.
fn field_line(front: &str, field: &str, first_line: usize) -> Option<usize> {
    let key = format!("{field}:");
    front
        .lines()
        .position(|l| l.starts_with(&key))
        .map(|i| i + first_line)
}

/// serde reports a missing field without a position; point at the closing `---` so the
/// editor lands where the field would be added.
fn missing_field_line(message: &str, closing_line: usize) -> Option<usize> {
    message.contains("missing field").then_some(closing_line)
}

fn yaml_message(e: &serde_yaml_ng::Error) -> String {
    // The location is reported separately (as file:line), drop serde_yaml's own suffix.
    let msg = e.to_string();
    match msg.find(" at line ") {
        Some(i) => format!("invalid front matter: {}", &msg[..i]),
        None => format!("invalid front matter: {msg}"),
    }
}

/// The opening of a Markdown text as plain text, cut at a word boundary near `max`
/// characters: what an agent sees before opening the article.
pub(crate) fn snippet(markdown: &str, max: usize) -> String {
    let mut out = String::new();
    for para in markdown.split("\n\n") {
        let plain = plain_text(para);
        if plain.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&plain);
        if out.chars().count() >= max / 2 {
            break;
        }
    }
    if out.chars().count() <= max {
        return out;
    }
    let cut: String = out.chars().take(max).collect();
    // Cut at the last space for English; Chinese has none, keep the character cut.
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => cut[..i].to_string(),
        _ => cut,
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', ' ']))
}

/// Markdown markup removed from one paragraph: headings, list markers, emphasis, links
/// (`[text](url)` → `text`), inline code ticks; lines joined by spaces.
fn plain_text(para: &str) -> String {
    let mut words = Vec::new();
    for line in para.lines() {
        let mut l = line.trim();
        l = l.trim_start_matches('#').trim_start();
        for marker in ["- ", "* ", "+ ", "> "] {
            if let Some(rest) = l.strip_prefix(marker) {
                l = rest;
            }
        }
        if let Some((num, rest)) = l.split_once(". ") {
            if !num.is_empty() && num.chars().all(|c| c.is_ascii_digit()) {
                l = rest;
            }
        }
        if !l.is_empty() {
            words.push(strip_inline(l));
        }
    }
    words.join(" ")
}

fn strip_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' | '_' | '`' => {}
            ']' if chars.get(i + 1) == Some(&'(') => {
                // skip "(url)"
                if let Some(p) = chars[i + 1..].iter().position(|&c| c == ')') {
                    i += p + 1;
                }
            }
            '[' => {}
            c => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\nid: track-order\ntitle: Where is my order?\nintents: [track_order]\nlanguage: en\ntype: answer\nupdated: 2026-05-01\nquestions:\n  - where is my parcel\nfollow_up:\n  action: create_ticket\n  label: Open a delivery ticket\n---\n\n# Tracking\n\nOpen **Orders** and pick the order: the [tracking page](https://x.example) shows where it is.\n";

    #[test]
    fn reads_front_matter_and_body() {
        let a = parse_markdown(Path::new("a.md"), GOOD).unwrap();
        assert_eq!(a.id, "track-order");
        assert_eq!(a.intents, vec!["track_order"]);
        assert_eq!(a.kind, ArticleType::Answer);
        assert_eq!(a.updated, parse_date("2026-05-01").unwrap());
        assert_eq!(a.follow_up.as_ref().unwrap().action, "create_ticket");
        assert!(a.body.starts_with("# Tracking"));
        assert_eq!(
            snippet(&a.body, 240),
            "Tracking Open Orders and pick the order: the tracking page shows where it is."
        );
        assert_eq!(a.embedding_texts().len(), 3);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = GOOD.replace("type: answer", "type: answr");
        let e = parse_markdown(Path::new("kb/a.md"), &bad).unwrap_err();
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.to_string().starts_with("kb/a.md:6: "), "{e}");

        let bad = GOOD.replace("updated: 2026-05-01", "updated: 2026-02-30");
        let e = parse_markdown(Path::new("a.md"), &bad).unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");

        let bad = GOOD.replace("intents:", "intnets:");
        let e = parse_markdown(Path::new("a.md"), &bad).unwrap_err();
        assert!(e.message.contains("intnets"), "{e}");
        assert_eq!(e.line, Some(4), "{e}");

        let bad = GOOD.replace("language: en\n", "");
        let e = parse_markdown(Path::new("a.md"), &bad).unwrap_err();
        assert!(e.message.contains("language"), "{e}");

        let e = parse_markdown(Path::new("a.md"), "# no front matter").unwrap_err();
        assert_eq!(e.line, Some(1));
        let e = parse_markdown(Path::new("a.md"), "---\nid: x\n").unwrap_err();
        assert!(e.message.contains("not closed"), "{e}");
        let bad = GOOD
            .replace("channels", "x")
            .replace("language: en", "language: en\nchannels: [chat, fax]");
        let e = parse_markdown(Path::new("a.md"), &bad).unwrap_err();
        assert!(e.message.contains("fax"), "{e}");
        assert_eq!(e.line, Some(6), "{e}");
    }

    #[test]
    fn jsonl_lines() {
        let line = r#"{"id":"a","title":"T","language":"zh","type":"script","updated":"2026-01-02","body":"正文"}"#;
        let a = parse_jsonl_line(Path::new("kb.jsonl"), 3, line).unwrap();
        assert_eq!(a.source, "kb.jsonl:3");
        assert_eq!(a.body, "正文");
        let e = parse_jsonl_line(Path::new("kb.jsonl"), 4, "{\"id\":").unwrap_err();
        assert_eq!(e.line, Some(4));
        let e = parse_jsonl_line(Path::new("kb.jsonl"), 5, &line.replace("正文", "")).unwrap_err();
        assert!(e.message.contains("no text"), "{e}");
    }

    #[test]
    fn snippet_cuts_at_a_word() {
        let s = snippet(&"word ".repeat(100), 50);
        assert!(s.ends_with('…') && s.chars().count() <= 51, "{s}");
        assert_eq!(snippet("", 10), "");
    }
}
