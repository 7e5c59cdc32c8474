//! Voice: ASR transcripts. Their noise is the recogniser's annotations and spoken
//! disfluency (fillers, restarts, stutters), which text-trained encoders never saw.
//! Removal is conservative: a filler is only dropped where it cannot be a content word,
//! because deleting "like" from "I would like a refund" changes the intent.

use super::common::collapse_whitespace;
use regex::{Captures, Regex};
use std::sync::LazyLock;

/// Recogniser annotations: anything in square or curly brackets, `<unk>`-style tokens,
/// and parenthesised event words. Parentheses are matched by word only, as customers also
/// dictate real parentheticals.
static TAG_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \[[^\[\]\n]{0,40}\]
        | \{[^{}\n]{0,40}\}
        | <\s*/?\s*[a-z][a-z_\-]{0,19}\s*>
        | \(\s*(?:inaudible|unintelligible|indistinct|unclear|crosstalk|cross\ talk|laughs?|laughter
            |laughing|noise|background\ noise|music|silence|pause|coughs?|coughing|sighs?|beep
            |static|applause|breath|breathing|foreign|听不清|笑声|噪音|杂音|咳嗽|音乐|静音)[^()\n]{0,20}\)",
    )
    .expect("valid regex")
});

/// Placeholders produced by `mask_pii`; they look like ASR tags but carry meaning.
const PII_TAGS: &[&str] = &["[EMAIL]", "[PHONE]", "[CARD]", "[ID]", "[NUMBER]", "[IP]"];

static ZH_HESITATION_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"呃+|嗯+").expect("valid regex"));

/// Clause-initial 那个 and what follows it; the closure decides whether it is a filler.
static ZH_NAGE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(^|[,.!?;:、。，！？；：\s])((?:那个[,，、\s]*)+)(.?)").expect("valid regex")
});

static ZH_JIUSHISHUO_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(^|[,.!?;:、。，！？；：\s])就是说[,，、\s]*").expect("valid regex")
});

static ZH_PRONOUN_STUTTER_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"我我+|你你+|他他+|她她+|它它+|就就+").expect("valid regex"));

/// um, umm, uh, uhm, er, erm, err, hmm, hm, ehm, mmm.
static FILLER_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:u+[mh]+|e+r+m*|e+h+m+|h+m+|m{3,})$").expect("valid regex"));

/// Voice-specific cleanup: ASR tags (`[noise]`, `<unk>`, `(inaudible)`, `[laughter]`) removed;
/// fillers removed (um, uh, uhm, er, erm, hmm; "you know" and "i mean" unless they are
/// the verb — "do you know where", "I mean it"; "like" only between commas or at the start
/// of a sentence, never in "I like it" / "would like to"); immediate repetitions collapsed
/// ("I I want want to" → "I want to", also "I want I want" and "w- want", but never number
/// words or digits, which are how callers read out order and phone numbers).
///
/// Chinese: 呃 and 嗯 are removed (嗯 is kept when it is the whole answer, where it means
/// "yes"); 那个 only at the start of a clause and before a pause or 我/你/就; 就是说 only at
/// the start of a clause; stuttered 我我/你你 collapse. Case is never changed and missing
/// punctuation is not restored: the encoder does not need it.
pub fn normalize_voice(text: &str) -> String {
    let text = TAG_RE.replace_all(text, |c: &Captures| {
        let m = &c[0];
        if PII_TAGS.contains(&m) {
            m.to_string()
        } else {
            " ".to_string()
        }
    });
    let text = chinese_fillers(&text);
    let kept = english_fillers(tokens(&text));
    let toks = collapse_repeats(kept);
    let mut out = String::with_capacity(text.len());
    for t in &toks {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&t.lead);
        out.push_str(&t.core);
        out.push_str(&t.trail);
    }
    tidy_commas(&out)
}

fn chinese_fillers(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    // A bare "嗯" answers a question with "yes": keep it when nothing else was said.
    let only_en = text
        .chars()
        .filter(|c| c.is_alphanumeric())
        .all(|c| c == '嗯');
    let mut s = if only_en {
        ZH_HESITATION_RE.replace_all(text, |c: &Captures| {
            if c[0].starts_with('嗯') {
                c[0].to_string()
            } else {
                String::new()
            }
        })
    } else {
        ZH_HESITATION_RE.replace_all(text, "")
    }
    .into_owned();
    s = ZH_NAGE_RE
        .replace_all(&s, |c: &Captures| {
            let (before, fillers, next) = (&c[1], &c[2], &c[3]);
            let paused = fillers.ends_with(|ch: char| ch != '个');
            let next_ch = next.chars().next();
            if paused || matches!(next_ch, Some('我' | '你' | '就')) {
                format!("{before}{next}")
            } else {
                // demonstrative ("那个订单"): keep one 那个, drop a stutter of it
                format!("{before}那个{next}")
            }
        })
        .into_owned();
    s = ZH_JIUSHISHUO_RE.replace_all(&s, "$1").into_owned();
    ZH_PRONOUN_STUTTER_RE
        .replace_all(&s, |c: &Captures| {
            c[0].chars().next().map(String::from).unwrap_or_default()
        })
        .into_owned()
}

#[derive(Debug, Clone)]
struct Tok {
    lead: String,
    core: String,
    trail: String,
}

impl Tok {
    fn lower(&self) -> String {
        self.core.to_lowercase()
    }
    fn ends_sentence(&self) -> bool {
        self.trail.contains(['.', '?', '!'])
    }
}

fn tokens(text: &str) -> Vec<Tok> {
    text.split_whitespace()
        .map(|w| {
            let start = w.find(|c: char| c.is_alphanumeric()).unwrap_or(w.len());
            let end = w
                .rfind(|c: char| c.is_alphanumeric())
                .map(|i| i + w[i..].chars().next().map_or(1, char::len_utf8))
                .unwrap_or(start)
                .max(start);
            Tok {
                lead: w[..start].to_string(),
                core: unstutter(&w[start..end]),
                trail: w[end..].to_string(),
            }
        })
        .collect()
}

/// "I-I" → "I", "w-want" → "want"; "e-mail", "re-read", "uh-huh" are left alone.
fn unstutter(core: &str) -> String {
    if !core.contains('-') {
        return core.to_string();
    }
    let parts: Vec<&str> = core.split('-').collect();
    let last = parts[parts.len() - 1];
    let last_l = last.to_lowercase();
    let stutter = !last.is_empty()
        && parts[..parts.len() - 1].iter().all(|p| {
            let p_l = p.to_lowercase();
            !p.is_empty() && (p_l == last_l || (p.chars().count() == 1 && last_l.starts_with(&p_l)))
        });
    if stutter {
        last.to_string()
    } else {
        core.to_string()
    }
}

const YOU_KNOW_VERB_BEFORE: &[&str] = &[
    "do", "does", "did", "don't", "dont", "didn't", "didnt", "if", "would", "will", "could", "can",
    "should", "as", "when", "how", "whether", "what", "let",
];
const YOU_KNOW_VERB_AFTER: &[&str] = &[
    "what",
    "where",
    "when",
    "how",
    "why",
    "who",
    "whom",
    "whose",
    "which",
    "whether",
    "if",
    "that",
    "about",
    "me",
    "him",
    "her",
    "it",
    "them",
    "us",
    "anything",
    "something",
    "nothing",
    "everything",
    "the",
    "a",
    "an",
    "my",
    "your",
    "his",
    "our",
    "their",
    "this",
    "these",
    "those",
];
const I_MEAN_VERB_BEFORE: &[&str] = &[
    "what", "that", "which", "if", "do", "you", "don't", "dont", "didn't", "didnt", "really",
    "just",
];
const I_MEAN_VERB_AFTER: &[&str] = &["it", "to", "that", "what", "this", "business", "well", "no"];
const LIKE_OBJECT_AFTER: &[&str] = &["it", "this", "that", "these", "those", "them", "him", "her"];

fn english_fillers(toks: Vec<Tok>) -> Vec<Tok> {
    let mut kept: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let low = t.lower();
        let next = toks.get(i + 1);
        let next_l = next.map(Tok::lower);
        let prev = kept.last();
        let prev_l = prev.filter(|p| p.trail.is_empty()).map(Tok::lower);
        let after2 = toks.get(i + 2).map(Tok::lower);
        let n = if !t.core.is_empty() && t.core != "ER" && FILLER_RE.is_match(&low) {
            1
        } else if low == "you" && t.trail.is_empty() && next_l.as_deref() == Some("know") {
            let know = &toks[i + 1];
            let verb = prev_l
                .as_deref()
                .is_some_and(|p| YOU_KNOW_VERB_BEFORE.contains(&p))
                || (know.trail.is_empty()
                    && after2
                        .as_deref()
                        .is_some_and(|a| YOU_KNOW_VERB_AFTER.contains(&a)));
            if verb {
                0
            } else {
                2
            }
        } else if low == "i" && t.trail.is_empty() && next_l.as_deref() == Some("mean") {
            let mean = &toks[i + 1];
            let verb = prev_l
                .as_deref()
                .is_some_and(|p| I_MEAN_VERB_BEFORE.contains(&p))
                || (mean.trail.is_empty()
                    && after2
                        .as_deref()
                        .is_some_and(|a| I_MEAN_VERB_AFTER.contains(&a)));
            if verb {
                0
            } else {
                2
            }
        } else if low == "like" {
            let between_commas =
                prev.is_some_and(|p| p.trail.ends_with(',')) && t.trail.contains(',');
            let initial = prev.is_none_or(Tok::ends_sentence);
            let object_follows = t.trail.is_empty()
                && next_l
                    .as_deref()
                    .is_some_and(|a| LIKE_OBJECT_AFTER.contains(&a));
            if between_commas || (initial && !object_follows) {
                1
            } else {
                0
            }
        } else {
            0
        };
        if n == 0 {
            kept.push(t.clone());
            i += 1;
            continue;
        }
        let trail = &toks[i + n - 1].trail;
        if let Some(prev) = kept.last_mut().filter(|p| !p.core.is_empty()) {
            if let Some(end) = trail.chars().find(|c| matches!(c, '.' | '?' | '!')) {
                // "refund, um." → "refund."
                let t = prev.trail.trim_end_matches([',', ';']).to_string();
                prev.trail = t;
                if !prev.ends_sentence() {
                    prev.trail.push(end);
                }
            } else if trail.contains(',') && prev.trail.ends_with(',') {
                // "want, uh, a refund" → "want a refund"
                prev.trail.pop();
            }
        }
        i += n;
    }
    kept
}

const NUMBER_WORDS: &[&str] = &[
    "zero", "oh", "o", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "ten", "double", "triple", "hundred", "thousand",
];

fn is_numeric(t: &Tok) -> bool {
    t.core.chars().any(|c| c.is_numeric()) || NUMBER_WORDS.contains(&t.lower().as_str())
}

fn same(a: &Tok, b: &Tok) -> bool {
    !a.core.is_empty() && a.lower() == b.lower()
}

fn collapse_repeats(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out = Vec::with_capacity(toks.len());
    let n = toks.len();
    let mut i = 0;
    while i < n {
        let t = &toks[i];
        if i + 3 < n
            && same(t, &toks[i + 2])
            && same(&toks[i + 1], &toks[i + 3])
            && !is_numeric(t)
            && !is_numeric(&toks[i + 1])
        {
            i += 2; // "I want I want to" → "I want to"
            continue;
        }
        if i + 1 < n
            && same(t, &toks[i + 1])
            && !is_numeric(t)
            && !matches!(t.lower().as_str(), "that" | "had")
        {
            i += 1; // "I I", "want want"; "that that" and "had had" can be grammatical
            continue;
        }
        if t.trail == "-"
            && !t.core.is_empty()
            && toks
                .get(i + 1)
                .is_some_and(|nx| nx.lower().starts_with(&t.lower()))
        {
            i += 1; // false start "wa- want"
            continue;
        }
        out.push(t.clone());
        i += 1;
    }
    out
}

/// Removals can leave ", ," or a leading comma behind; drop a comma that follows nothing
/// or another comma.
fn tidy_commas(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ',' | '，' | '、' | ';') {
            let prev = out.trim_end().chars().last();
            if prev.is_none() || matches!(prev, Some(',' | '，' | '、' | ';')) {
                continue;
            }
        }
        out.push(c);
    }
    collapse_whitespace(&out.replace(" ,", ","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_asr_tags() {
        assert_eq!(
            normalize_voice("[noise] I want a refund <unk> please"),
            "I want a refund please"
        );
        assert_eq!(
            normalize_voice("hello (inaudible) my card [laughter]"),
            "hello my card"
        );
        assert_eq!(
            normalize_voice("<s> cancel it </s> [NOISE] {breath}"),
            "cancel it"
        );
        assert_eq!(normalize_voice("call me at [PHONE]"), "call me at [PHONE]");
        // a real parenthetical stays
        assert_eq!(
            normalize_voice("the card (the blue one)"),
            "the card (the blue one)"
        );
    }

    #[test]
    fn removes_single_word_fillers() {
        assert_eq!(
            normalize_voice("um I uh want a uhm refund"),
            "I want a refund"
        );
        assert_eq!(
            normalize_voice("Umm, hmm, er, erm I need help"),
            "I need help"
        );
        assert_eq!(normalize_voice("I want, uh, a refund"), "I want a refund");
        assert_eq!(normalize_voice("it is broken, um."), "it is broken.");
        // meaningful look-alikes are kept
        assert_eq!(normalize_voice("mhm uh-huh yes"), "mhm uh-huh yes");
        assert_eq!(normalize_voice("I went to the ER"), "I went to the ER");
    }

    #[test]
    fn you_know_and_i_mean() {
        assert_eq!(
            normalize_voice("I want to you know cancel my order"),
            "I want to cancel my order"
        );
        assert_eq!(
            normalize_voice("it is late, you know, again"),
            "it is late again"
        );
        assert_eq!(
            normalize_voice("do you know where my order is"),
            "do you know where my order is"
        );
        assert_eq!(
            normalize_voice("you know what I mean"),
            "you know what I mean"
        );
        assert_eq!(
            normalize_voice("I mean, the package never came"),
            "the package never came"
        );
        assert_eq!(normalize_voice("I mean it"), "I mean it");
    }

    #[test]
    fn like_only_as_filler() {
        assert_eq!(normalize_voice("I like it"), "I like it");
        assert_eq!(
            normalize_voice("I would like to cancel"),
            "I would like to cancel"
        );
        assert_eq!(
            normalize_voice("it was, like, three weeks"),
            "it was three weeks"
        );
        assert_eq!(
            normalize_voice("like the app keeps crashing"),
            "the app keeps crashing"
        );
        assert_eq!(
            normalize_voice("ok. like I said it is broken"),
            "ok. I said it is broken"
        );
        assert_eq!(normalize_voice("like it? yes"), "like it? yes");
        assert_eq!(normalize_voice("looks like rain"), "looks like rain");
    }

    #[test]
    fn repeats_and_false_starts() {
        assert_eq!(normalize_voice("I I want want to"), "I want to");
        assert_eq!(
            normalize_voice("I want I want to cancel"),
            "I want to cancel"
        );
        assert_eq!(
            normalize_voice("I-I w-want a re- refund"),
            "I want a refund"
        );
        assert_eq!(normalize_voice("no no no"), "no");
        // numbers are read digit by digit: never collapse them
        assert_eq!(
            normalize_voice("five five five one two one two"),
            "five five five one two one two"
        );
        assert_eq!(normalize_voice("order 7 7 3"), "order 7 7 3");
        assert_eq!(
            normalize_voice("I know that that is wrong"),
            "I know that that is wrong"
        );
        assert_eq!(
            normalize_voice("my e-mail and re-read"),
            "my e-mail and re-read"
        );
    }

    #[test]
    fn case_is_kept() {
        assert_eq!(normalize_voice("Um Where Is My Order"), "Where Is My Order");
        assert_eq!(normalize_voice("where is my order"), "where is my order");
    }

    #[test]
    fn chinese_fillers() {
        assert_eq!(normalize_voice("嗯,我想退款"), "我想退款");
        assert_eq!(normalize_voice("呃我想呃退款"), "我想退款");
        assert_eq!(normalize_voice("嗯"), "嗯");
        assert_eq!(normalize_voice("嗯嗯。"), "嗯嗯。");
        assert_eq!(normalize_voice("那个,我的订单还没到"), "我的订单还没到");
        assert_eq!(normalize_voice("那个我想问一下"), "我想问一下");
        assert_eq!(normalize_voice("那个订单还没到"), "那个订单还没到");
        assert_eq!(normalize_voice("我要那个蓝色的"), "我要那个蓝色的");
        assert_eq!(normalize_voice("就是说,快递丢了"), "快递丢了");
        assert_eq!(
            normalize_voice("我的意思就是说快递丢了"),
            "我的意思就是说快递丢了"
        );
        assert_eq!(normalize_voice("我我我想退款"), "我想退款");
        assert_eq!(normalize_voice("[噪音] 嗯 那个 我要投诉"), "我要投诉");
    }

    #[test]
    fn empty_and_only_noise() {
        assert_eq!(normalize_voice(""), "");
        assert_eq!(normalize_voice("   "), "");
        assert_eq!(normalize_voice("[noise] um uh"), "");
        assert_eq!(normalize_voice(", , ,"), "");
    }

    #[test]
    fn long_input_is_fast() {
        let s = "um I I want [noise] a refund you know, like, 那个我 ".repeat(3_000);
        let t = std::time::Instant::now();
        let out = normalize_voice(&s);
        assert!(out.starts_with("I want a refund"), "{}", &out[..60]);
        assert!(t.elapsed().as_millis() < 2000);
        let brackets = "[".repeat(50_000) + &"(".repeat(50_000);
        let t = std::time::Instant::now();
        let _ = normalize_voice(&brackets);
        assert!(t.elapsed().as_millis() < 2000);
    }
}
