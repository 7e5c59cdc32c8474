//! Phrase lists and negative-word lexicons. They are what lets the policy act on messages
//! the model cannot read (Chinese on the English-only bundle) and catch the explicit
//! "get me a person" that a classifier may miss.
//!
//! Latin-script phrases match whole words, case-insensitively, with any run of spaces
//! between their words; Chinese (and other spaceless scripts) match as substrings. A
//! phrase right after a negation in the same clause ("I don't need an agent", "不用转人工")
//! does not count. Phrases go through the same NFKC and traditional → simplified step as
//! messages, so "轉人工" in a policy file matches "转人工" in a request.

use crate::text::{normalize_common, NormalizeOptions};
use regex::Regex;
use std::collections::BTreeMap;

/// Words that cancel a following Latin phrase when they are among the three words before
/// it in the same clause.
const EN_NEGATIONS: &[&str] = &[
    "not", "no", "never", "don't", "dont", "do not", "doesn't", "didn't", "without", "won't",
    "wont", "nobody", "stop",
];

/// Negations that cancel a following Chinese phrase within a few characters. "没" is
/// left out: "没有人工客服吗" asks for a person.
const ZH_NEGATIONS: &[&str] = &["不要", "不用", "不需要", "不想", "别", "无需", "勿", "不必"];

/// Characters that end a clause: a negation before one of them does not reach past it.
/// (Full-width forms are already ASCII after NFKC; "。" and "、" have none.)
fn is_clause_break(c: char) -> bool {
    matches!(c, ',' | '.' | ';' | '!' | '?' | ':' | '。' | '、' | '\n')
}

fn is_spaceless(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F | 0xAC00..=0xD7AF)
}

enum Pattern {
    Words(Regex),
    Substring(String),
}

struct Entry {
    phrase: String,
    pattern: Pattern,
    score: f32,
}

/// A compiled list of phrases, each with a score (1 for plain phrase lists).
#[derive(Default)]
pub struct PhraseMatcher {
    entries: Vec<Entry>,
}

/// One match: the phrase as written in the policy file and its score.
#[derive(Debug, Clone, PartialEq)]
pub struct PhraseHit {
    pub phrase: String,
    pub score: f32,
}

fn canonical(phrase: &str) -> String {
    let opts = NormalizeOptions {
        emoji_to_words: false,
        to_simplified: true,
    };
    normalize_common(phrase, &opts).to_lowercase()
}

impl PhraseMatcher {
    /// Phrase lists by language (as in the policy file), each phrase scoring 1.
    pub fn from_lists(lists: &BTreeMap<String, Vec<String>>) -> Result<Self, String> {
        Self::new(
            lists
                .values()
                .flatten()
                .map(|p| (p.as_str(), 1.0))
                .collect::<Vec<_>>(),
        )
    }

    /// Lexicons by language: word → score.
    pub fn from_lexicon(lex: &BTreeMap<String, BTreeMap<String, f32>>) -> Result<Self, String> {
        Self::new(
            lex.values()
                .flatten()
                .map(|(p, &s)| (p.as_str(), s))
                .collect::<Vec<_>>(),
        )
    }

    pub fn new(phrases: Vec<(&str, f32)>) -> Result<Self, String> {
        let mut entries = Vec::with_capacity(phrases.len());
        for (phrase, score) in phrases {
            let canon = canonical(phrase);
            if canon.trim().is_empty() {
                return Err(format!("phrase {phrase:?} is empty once normalised"));
            }
            let pattern = if canon.chars().any(is_spaceless) {
                Pattern::Substring(canon)
            } else {
                let words: Vec<String> = canon.split_whitespace().map(regex::escape).collect();
                let body = words.join(r"\s+");
                // \b only works next to word characters: "$" or "!" ends need none.
                let first = canon.chars().next().is_some_and(|c| c.is_alphanumeric());
                let last = canon.chars().last().is_some_and(|c| c.is_alphanumeric());
                let re = format!(
                    "{}{}{}",
                    if first { r"\b" } else { "" },
                    body,
                    if last { r"\b" } else { "" }
                );
                Pattern::Words(Regex::new(&re).map_err(|e| format!("phrase {phrase:?}: {e}"))?)
            };
            entries.push(Entry {
                phrase: phrase.to_string(),
                pattern,
                score,
            });
        }
        Ok(Self { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first phrase (in file order) found un-negated in `text`.
    pub fn find(&self, text: &str) -> Option<PhraseHit> {
        self.find_lower(&text.to_lowercase())
    }

    /// [`find`](Self::find) on text already lower-cased.
    pub fn find_lower(&self, lower: &str) -> Option<PhraseHit> {
        self.entries
            .iter()
            .find(|e| matches(e, lower))
            .map(|e| PhraseHit {
                phrase: e.phrase.clone(),
                score: e.score,
            })
    }

    /// The highest-scoring phrase found un-negated in `text`.
    pub fn best(&self, text: &str) -> Option<PhraseHit> {
        self.best_lower(&text.to_lowercase())
    }

    /// [`best`](Self::best) on text already lower-cased.
    pub fn best_lower(&self, lower: &str) -> Option<PhraseHit> {
        self.entries
            .iter()
            .filter(|e| matches(e, lower))
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .map(|e| PhraseHit {
                phrase: e.phrase.clone(),
                score: e.score,
            })
    }
}

/// Whether the entry occurs in (lower-cased) `text` at least once without a negation
/// before it.
fn matches(e: &Entry, text: &str) -> bool {
    match &e.pattern {
        Pattern::Words(re) => re.find_iter(text).any(|m| !negated_en(&text[..m.start()])),
        Pattern::Substring(p) => text
            .match_indices(p.as_str())
            .any(|(i, _)| !negated_zh(&text[..i])),
    }
}

/// The clause of `before` that leads up to a match.
fn clause(before: &str) -> &str {
    match before.rfind(is_clause_break) {
        Some(i) => {
            let c = before[i..].chars().next().map(char::len_utf8).unwrap_or(1);
            &before[i + c..]
        }
        None => before,
    }
}

fn negated_en(before: &str) -> bool {
    let words: Vec<&str> = clause(before).split_whitespace().collect();
    let tail = &words[words.len().saturating_sub(3)..];
    let joined = tail.join(" ");
    EN_NEGATIONS.iter().any(|n| {
        if n.contains(' ') {
            joined.contains(n)
        } else {
            tail.iter()
                .any(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'') == *n)
        }
    })
}

fn negated_zh(before: &str) -> bool {
    let c = clause(before);
    let tail: String = {
        let chars: Vec<char> = c.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    };
    ZH_NEGATIONS.iter().any(|n| tail.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(list: &[&str]) -> PhraseMatcher {
        PhraseMatcher::new(list.iter().map(|p| (*p, 1.0)).collect()).unwrap()
    }

    #[test]
    fn whole_words_case_insensitive_any_spacing() {
        let p = m(&["real person", "agent"]);
        assert_eq!(
            p.find("Can I talk to a REAL  person?").unwrap().phrase,
            "real person"
        );
        assert!(
            p.find("agents are busy").is_none(),
            "agent must be a whole word"
        );
        assert!(p.find("reagent").is_none());
        assert_eq!(p.find("agent!").unwrap().phrase, "agent");
    }

    #[test]
    fn negation_in_the_same_clause_cancels() {
        let p = m(&["agent", "转人工"]);
        assert!(p.find("I don't need an agent").is_none());
        assert!(p.find("no, I want an agent").is_some());
        assert!(p.find("not happy. agent please").is_some());
        assert!(p.find("不用转人工了").is_none());
        assert!(p.find("别转人工").is_none());
        assert!(p.find("我要转人工").is_some());
        assert!(p.find("不行,转人工").is_some());
    }

    #[test]
    fn chinese_substrings_and_traditional_phrases() {
        let p = m(&["轉人工", "人工客服"]);
        assert_eq!(p.find("请帮我转人工").unwrap().phrase, "轉人工");
        assert!(p.find("我想找人工客服").is_some());
        assert!(p.find("人工智能很好").is_none());
    }

    #[test]
    fn lexicon_takes_the_strongest_word() {
        let p = PhraseMatcher::new(vec![("失望", 0.5), ("很失望", 0.6), ("气死", 0.9)]).unwrap();
        let hit = p.best("我很失望").unwrap();
        assert_eq!((hit.phrase.as_str(), hit.score), ("很失望", 0.6));
        assert_eq!(p.best("气死我了,很失望").unwrap().score, 0.9);
        assert!(p.best("谢谢").is_none());
    }
}
