//! Phrase lists and negative-word lexicons. They are what lets the policy act on messages
//! the model cannot read (Chinese on the English-only bundle) and catch the explicit
//! "get me a person" that a classifier may miss.
//!
//! Latin-script phrases match whole words, case-insensitively, with any run of spaces
//! between their words; Chinese (and other spaceless scripts) match as substrings. A
//! phrase right after a negation in the same clause ("I don't need an agent", "不用转人工")
//! does not count. Phrases go through the same NFKC and traditional → simplified step as
//! messages, so "轉人工" in a policy file matches "转人工" in a request.
//!
//! Why no regex: a whole-word phrase used to be a regex (`\bword\s+word\b`) per phrase,
//! and Unicode `\b` makes each one expensive to build: compiling the shipped policy's
//! ~200 phrases dominated a reload, and a fuzzer ran barely a hundred policies a second.
//! [`WordPhrase`] matches the same language (same word characters, same white space,
//! same leftmost non-overlapping matches, checked against the regex in a test) with a
//! substring search and two boundary checks, and costs nothing to build.

use crate::text::{normalize_common, NormalizeOptions};
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
    Words(WordPhrase),
    Substring(String),
}

/// A Latin-script phrase: its words (lower case, canonical), any run of white space
/// between them, and a word boundary at either end that starts or ends with a letter or
/// digit, as the regex `\bw1\s+w2\b` would match it.
struct WordPhrase {
    words: Vec<String>,
    bound_start: bool,
    bound_end: bool,
}

/// A word character as the regex crate's Unicode `\w` (and so `\b`) sees it.
fn is_word(c: char) -> bool {
    regex_syntax::try_is_word_character(c).unwrap_or(c.is_alphanumeric() || c == '_')
}

/// Whether `at` in `text` is a word boundary (regex `\b`): a word character on exactly
/// one side.
fn is_boundary(text: &str, at: usize) -> bool {
    let before = text[..at].chars().next_back().is_some_and(is_word);
    let after = text[at..].chars().next().is_some_and(is_word);
    before != after
}

impl WordPhrase {
    fn new(canon: &str) -> Self {
        Self {
            words: canon.split_whitespace().map(str::to_string).collect(),
            // \b only works next to word characters: "$" or "!" ends need none.
            bound_start: canon.chars().next().is_some_and(|c| c.is_alphanumeric()),
            bound_end: canon.chars().last().is_some_and(|c| c.is_alphanumeric()),
        }
    }

    /// The end of a match starting at `start`, if one does.
    fn match_at(&self, text: &str, start: usize) -> Option<usize> {
        if self.bound_start && !is_boundary(text, start) {
            return None;
        }
        let mut at = start;
        for (i, word) in self.words.iter().enumerate() {
            if i > 0 {
                let rest = &text[at..];
                let gap = rest.len() - rest.trim_start_matches(char::is_whitespace).len();
                if gap == 0 {
                    return None;
                }
                at += gap;
            }
            if !text[at..].starts_with(word.as_str()) {
                return None;
            }
            at += word.len();
        }
        (!self.bound_end || is_boundary(text, at)).then_some(at)
    }

    /// Start offsets of the leftmost, non-overlapping matches in `text`, in order.
    fn starts<'t>(&'t self, text: &'t str) -> impl Iterator<Item = usize> + 't {
        let first = self.words.first().map_or("", String::as_str);
        let mut from = 0;
        std::iter::from_fn(move || {
            while from <= text.len() && !first.is_empty() {
                let start = from + text[from..].find(first)?;
                match self.match_at(text, start) {
                    Some(end) => {
                        from = end;
                        return Some(start);
                    }
                    None => {
                        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
                    }
                }
            }
            None
        })
    }
}

struct Entry {
    phrase: String,
    pattern: Pattern,
    score: f32,
}

/// A compiled list of phrases, each with a score (1 for plain phrase lists).
#[derive(Default)]
pub(crate) struct PhraseMatcher {
    entries: Vec<Entry>,
}

/// One match: the phrase as written in the policy file and its score.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PhraseHit {
    pub(crate) phrase: String,
    pub(crate) score: f32,
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
    pub(crate) fn from_lists(lists: &BTreeMap<String, Vec<String>>) -> Result<Self, String> {
        Self::new(
            lists
                .values()
                .flatten()
                .map(|p| (p.as_str(), 1.0))
                .collect::<Vec<_>>(),
        )
    }

    /// Lexicons by language: word → score.
    pub(crate) fn from_lexicon(
        lex: &BTreeMap<String, BTreeMap<String, f32>>,
    ) -> Result<Self, String> {
        Self::new(
            lex.values()
                .flatten()
                .map(|(p, &s)| (p.as_str(), s))
                .collect::<Vec<_>>(),
        )
    }

    fn new(phrases: Vec<(&str, f32)>) -> Result<Self, String> {
        let mut entries = Vec::with_capacity(phrases.len());
        for (phrase, score) in phrases {
            let canon = canonical(phrase);
            if canon.trim().is_empty() {
                return Err(format!("phrase {phrase:?} is empty once normalised"));
            }
            let pattern = if canon.chars().any(is_spaceless) {
                Pattern::Substring(canon)
            } else {
                Pattern::Words(WordPhrase::new(&canon))
            };
            entries.push(Entry {
                phrase: phrase.to_string(),
                pattern,
                score,
            });
        }
        Ok(Self { entries })
    }

    /// The first phrase (in file order) found un-negated in `text`.
    #[cfg(test)]
    fn find(&self, text: &str) -> Option<PhraseHit> {
        self.find_lower(&text.to_lowercase())
    }

    /// `find` on text already lower-cased.
    pub(crate) fn find_lower(&self, lower: &str) -> Option<PhraseHit> {
        self.entries
            .iter()
            .find(|e| matches(e, lower))
            .map(|e| PhraseHit {
                phrase: e.phrase.clone(),
                score: e.score,
            })
    }

    /// The highest-scoring phrase found un-negated in `text`.
    pub(crate) fn best(&self, text: &str) -> Option<PhraseHit> {
        self.best_lower(&text.to_lowercase())
    }

    /// [`best`](Self::best) on text already lower-cased.
    pub(crate) fn best_lower(&self, lower: &str) -> Option<PhraseHit> {
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
        Pattern::Words(w) => w.starts(text).any(|start| !negated_en(&text[..start])),
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

    /// The matcher finds exactly what the regex it replaced (`\bw1\s+w2\b`, escaped
    /// words) finds, start for start, on random text over an alphabet of the hard
    /// cases: accents and combining marks, `_`, superscript digits (numeric but not word
    /// characters), apostrophes, Unicode spaces, Chinese and punctuation.
    #[test]
    fn word_phrases_match_what_the_regex_matched() {
        const ALPHABET: &[char] = &[
            'a', 'b', 'n', 'a', 'b', ' ', ' ', ' ', '\t', '\u{a0}', '\u{3000}', '_', '\'', '-',
            '!', '$', '.', 'é', '\u{301}', '²', '7', '人', 'ß',
        ];
        fn pick(seed: &mut u64, len: usize) -> String {
            (0..len)
                .map(|_| {
                    *seed ^= *seed << 13;
                    *seed ^= *seed >> 7;
                    *seed ^= *seed << 17;
                    ALPHABET[(*seed % ALPHABET.len() as u64) as usize]
                })
                .collect()
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let (mut compared, mut found) = (0, 0);
        for _ in 0..4000 {
            let phrase_len = 1 + (seed % 5) as usize;
            let canon = pick(&mut seed, phrase_len);
            if canon.trim().is_empty() || canon.chars().any(is_spaceless) {
                continue;
            }
            let text = pick(&mut seed, 40);
            let words: Vec<String> = canon.split_whitespace().map(regex::escape).collect();
            let first = canon.chars().next().is_some_and(|c| c.is_alphanumeric());
            let last = canon.chars().last().is_some_and(|c| c.is_alphanumeric());
            let re = format!(
                "{}{}{}",
                if first { r"\b" } else { "" },
                words.join(r"\s+"),
                if last { r"\b" } else { "" }
            );
            let want: Vec<usize> = regex::Regex::new(&re)
                .unwrap()
                .find_iter(&text)
                .map(|m| m.start())
                .collect();
            let got: Vec<usize> = WordPhrase::new(&canon).starts(&text).collect();
            assert_eq!(got, want, "phrase {canon:?} in {text:?}");
            compared += 1;
            found += usize::from(!want.is_empty());
        }
        assert!(compared > 1000, "only {compared} cases compared");
        assert!(found > 200, "only {found} cases with a match");
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
