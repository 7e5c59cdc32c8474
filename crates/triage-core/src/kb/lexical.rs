//! BM25 over article texts. The dense encoder misses exact terms (order numbers, product
//! names, "PIN") and knows no Chinese; BM25 catches both.
//!
//! Tokens: English by words (lowercased, a short stop list removed, a plural `s` dropped
//! so "refunds" meets "refund"), Chinese by characters and character bigrams, which is
//! the usual dictionary-free way to index Chinese and needs no segmenter.

use std::collections::HashMap;

const K1: f32 = 1.2;
const B: f32 = 0.75;

const STOP: &[&str] = &[
    "a", "an", "the", "to", "of", "is", "it", "i", "my", "me", "for", "and", "or", "do", "be",
    "in", "on", "at", "you", "your", "can", "how", "what", "with", "this", "that", "am", "are",
    "was", "we", "us", "our", "please", "want", "need", "help", "would", "like", "could", "um",
    "uh", "so", "if", "have", "has", "get", "there", "here", "some", "any", "from", "by", "about",
    "will", "just", "im", "ya", "u", "ur", "wanna",
];

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2EBEF)
}

/// Index terms of a text.
fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_cjk: Option<char> = None;
    let flush = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            let w = std::mem::take(word);
            if !STOP.contains(&w.as_str()) {
                out.push(stem(w));
            }
        }
    };
    for c in text.chars() {
        if is_cjk(c) {
            flush(&mut word, &mut out);
            out.push(c.to_string());
            if let Some(p) = prev_cjk {
                out.push(format!("{p}{c}"));
            }
            prev_cjk = Some(c);
        } else if c.is_alphanumeric() {
            prev_cjk = None;
            word.extend(c.to_lowercase());
        } else if c == '\'' || c == '’' {
            // "don't" → "dont", "customer's" → "customers" → "customer"
        } else {
            prev_cjk = None;
            flush(&mut word, &mut out);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn stem(mut w: String) -> String {
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && w.is_ascii() {
        w.pop();
    }
    w
}

/// An inverted index with BM25 scoring.
#[derive(Debug, Default)]
pub(crate) struct Bm25 {
    /// term → (document, term frequency)
    postings: HashMap<String, Vec<(u32, u32)>>,
    doc_len: Vec<f32>,
    avg_len: f32,
}

impl Bm25 {
    pub(crate) fn build<'a>(docs: impl IntoIterator<Item = &'a str>) -> Self {
        let mut postings: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        let mut doc_len = Vec::new();
        for (d, text) in docs.into_iter().enumerate() {
            let tokens = tokenize(text);
            doc_len.push(tokens.len() as f32);
            let mut tf: HashMap<String, u32> = HashMap::new();
            for t in tokens {
                *tf.entry(t).or_default() += 1;
            }
            for (t, n) in tf {
                postings.entry(t).or_default().push((d as u32, n));
            }
        }
        let avg_len = if doc_len.is_empty() {
            1.0
        } else {
            (doc_len.iter().sum::<f32>() / doc_len.len() as f32).max(1.0)
        };
        Self {
            postings,
            doc_len,
            avg_len,
        }
    }

    /// BM25 score of every document that shares a term with the query, as
    /// `(document, score)` in no particular order. Each distinct query term counts once.
    pub(crate) fn scores(&self, query: &str) -> Vec<(u32, f32)> {
        let mut terms = tokenize(query);
        terms.sort();
        terms.dedup();
        let n = self.doc_len.len() as f32;
        // A dense accumulator: common terms touch a large share of a big base, where a
        // hash map per posting costs more than the whole rest of the search.
        let mut acc = vec![0.0f32; self.doc_len.len()];
        let mut touched: Vec<u32> = Vec::new();
        for t in &terms {
            let Some(list) = self.postings.get(t) else {
                continue;
            };
            let df = list.len() as f32;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            for &(d, tf) in list {
                let tf = tf as f32;
                let norm = K1 * (1.0 - B + B * self.doc_len[d as usize] / self.avg_len);
                let slot = &mut acc[d as usize];
                if *slot == 0.0 {
                    touched.push(d);
                }
                *slot += idf * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        touched.into_iter().map(|d| (d, acc[d as usize])).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_words_and_chinese_bigrams() {
        assert_eq!(
            tokenize("Where are my Refunds? Order #123"),
            vec!["where", "refund", "order", "123"]
        );
        assert_eq!(
            tokenize("退款进度"),
            vec!["退", "款", "退款", "进", "款进", "度", "进度"]
        );
        assert_eq!(tokenize("我的order"), vec!["我", "的", "我的", "order"]);
        assert_eq!(tokenize("don't"), vec!["dont"]);
    }

    #[test]
    fn rare_terms_weigh_more_and_unrelated_docs_score_nothing() {
        let idx = Bm25::build([
            "reset your password from the login page",
            "track your order from the orders page",
            "cancel your order before it ships",
        ]);
        let mut s = idx.scores("how do I cancel my order");
        s.sort_by(|a, b| b.1.total_cmp(&a.1));
        assert_eq!(s[0].0, 2);
        assert_eq!(s.len(), 2, "doc 0 shares no term: {s:?}");
        assert!(idx.scores("xylophone").is_empty());
        assert!(Bm25::build(std::iter::empty()).scores("x").is_empty());
    }
}
