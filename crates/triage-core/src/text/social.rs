//! Social: public posts (Twitter/X, Weibo, Facebook). The message is wrapped in platform
//! syntax — handles, links, hashtags, repost chains, emoji — that carries little intent
//! but much noise, and elongation is heavier than in chat.

use super::common::{collapse_whitespace, squeeze_letters, squeeze_punct, NormalizeOptions};
use super::emoji::emoji_to_words;
use super::lang::{detect_lang, is_cjk_script};
use regex::{Captures, Regex};
use std::sync::LazyLock;

/// Weibo repost separator "//@name:"; the text before the first one is the poster's own.
static REPOST_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"//\s*@[^\s:：/]{1,40}\s*[:：]").expect("valid regex"));

static URL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:https?://|www\.)[!-~]+|(?-u:\b)(?:t\.cn|t\.co|bit\.ly|goo\.gl|tinyurl\.com|url\.cn|dwz\.cn)/[!-~]*|网页链接",
    )
    .expect("valid regex")
});

/// "@name" not preceded by a word character, so e-mail addresses are not taken for
/// handles; a trailing ":" (reply and Weibo style) goes with it.
static MENTION_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[^\w@./])@([\w\-]{1,30})[:：]?").expect("valid regex"));

static RETWEET_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*RT\b[:\s]*").expect("valid regex"));

/// Social-specific cleanup. Mentions are removed (not replaced by "@user": our encoders
/// are fine-tuned on text without handles, and a handle names the addressee, not the
/// intent); URLs are removed; a retweet "RT" prefix is removed; hashtags become words
/// ("#NeverAgain" → "never again", "#worst_service_ever" → "worst service ever",
/// "#refund" → "refund"; an all-caps or all-lowercase tag stays one word, and "#12345"
/// stays as it is, being an order number rather than a tag); Weibo style: the
/// "//@user:" repost chain is cut off (the poster's own text is kept, or the first
/// reposted text when the poster added nothing), "#话题#" topics and 【】 titles keep
/// their text.
///
/// Elongation: runs of 3+ identical Latin letters collapse to ONE ("soooo" → "so",
/// "hellllp" → "help"; "goooood" → "god" is the accepted price of a rule that needs no
/// dictionary); CJK runs are cut to 2 (哈哈哈哈 → 哈哈). Repeated punctuation is cut as
/// in chat. Emoji and emoticons become words when `opts.emoji_to_words` (glue such as
/// variation selectors and ZWJ dropped).
pub fn normalize_social(text: &str, opts: &NormalizeOptions) -> String {
    let lang = detect_lang(text);
    let s = social_body(text);
    if opts.emoji_to_words {
        emoji_to_words(&s, lang)
    } else {
        s
    }
}

/// Everything of [`normalize_social`] except emoji, which [`super::normalize`] leaves to
/// the common finishing step.
pub(crate) fn social_body(text: &str) -> String {
    let own = own_post(text);
    let s = RETWEET_RE.replace(own, "");
    let s = URL_RE.replace_all(&s, " ");
    let s = remove_mentions(&s);
    let s = hashtags(&s);
    let s = s.replace(['【', '】', '〖', '〗'], " ");
    let s = squeeze_punct(&squeeze_letters(&s, 1));
    let s = s.trim_start_matches(|c: char| matches!(c, ',' | ':' | ';' | '-') || c.is_whitespace());
    collapse_whitespace(s)
}

/// Removes handles. A Chinese handle glued to the following text ("@京东客服我要投诉")
/// has no visible end, so only its "@" goes: better a stray name than a lost message.
fn remove_mentions(s: &str) -> String {
    MENTION_RE
        .replace_all(s, |c: &Captures| {
            let (start, end) = c.get(0).map_or((0, 0), |m| (m.start(), m.end()));
            let name = &c[2];
            // At the very end a handle is delimited only if the post had text before it.
            let delimited = c[0].ends_with([':', '：'])
                || match s[end..].chars().next() {
                    Some(ch) => !ch.is_alphanumeric(),
                    None => !s[..start].trim().is_empty(),
                };
            if delimited || !name.chars().any(is_cjk_script) {
                format!("{} ", &c[1])
            } else {
                format!("{} {name}", &c[1])
            }
        })
        .into_owned()
}

/// The poster's own text of a Weibo repost, or the first reposted text when the poster
/// only forwarded ("转发微博" is Weibo's default for an empty repost comment).
fn own_post(text: &str) -> &str {
    if !text.contains("//") {
        return text;
    }
    REPOST_RE
        .split(text)
        .map(str::trim)
        .find(|seg| !seg.is_empty() && !matches!(*seg, "转发微博" | "轉發微博" | "Repost"))
        .unwrap_or("")
}

/// Expands "#tag" and Weibo "#话题#" by scanning, not by regex: a topic needs its closing
/// "#" on the same line and CJK inside, and must not be confused with two hashtags.
fn hashtags(text: &str) -> String {
    if !text.contains('#') {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '#' {
            out.push(c);
            i += 1;
            continue;
        }
        // Weibo topic: #...# within 64 chars, containing CJK, no padding spaces.
        let close = chars[i + 1..]
            .iter()
            .take(64)
            .position(|&ch| ch == '#' || ch == '\n')
            .map(|p| i + 1 + p)
            .filter(|&j| chars[j] == '#' && j > i + 1);
        if let Some(j) = close {
            let inner = &chars[i + 1..j];
            if inner.iter().any(|&ch| is_cjk_script(ch))
                && !inner[0].is_whitespace()
                && !inner[inner.len() - 1].is_whitespace()
            {
                out.push(' ');
                out.extend(inner.iter());
                out.push(' ');
                i = j + 1;
                continue;
            }
        }
        // Hashtag: "#" after a non-word char, then word characters starting with a letter.
        let after_word = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let len = chars[i + 1..]
            .iter()
            .take_while(|ch| ch.is_alphanumeric() || **ch == '_')
            .count();
        if after_word || len == 0 || !chars[i + 1].is_alphabetic() {
            out.push('#');
            i += 1;
            continue;
        }
        let tag: String = chars[i + 1..i + 1 + len].iter().collect();
        out.push(' ');
        out.push_str(&split_hashtag(&tag));
        out.push(' ');
        i += 1 + len;
    }
    out
}

/// "NeverAgain" → "never again", "worst_service_ever" → "worst service ever",
/// "HTTPError" → "http error", "BlackFriday2024" → "black friday 2024". CJK tags are
/// returned as they are (underscores become spaces).
fn split_hashtag(tag: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for part in tag.split('_').filter(|p| !p.is_empty()) {
        if part.chars().any(is_cjk_script) {
            words.push(part.to_string());
            continue;
        }
        let cs: Vec<char> = part.chars().collect();
        let mut cur = String::new();
        for (k, &ch) in cs.iter().enumerate() {
            if k > 0 {
                let prev = cs[k - 1];
                let next_lower = cs.get(k + 1).is_some_and(|n| n.is_lowercase());
                let boundary = (prev.is_lowercase() && ch.is_uppercase())
                    || (prev.is_uppercase() && ch.is_uppercase() && next_lower)
                    || (prev.is_alphabetic() && ch.is_numeric())
                    || (prev.is_numeric() && ch.is_alphabetic());
                if boundary && !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            cur.extend(ch.to_lowercase());
        }
        if !cur.is_empty() {
            words.push(cur);
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn social(s: &str) -> String {
        normalize_social(s, &NormalizeOptions::default())
    }

    #[test]
    fn hashtags_split_into_words() {
        assert_eq!(social("#NeverAgain"), "never again");
        assert_eq!(
            social("this is the #worst_service_ever"),
            "this is the worst service ever"
        );
        assert_eq!(social("I want a #refund now"), "I want a refund now");
        assert_eq!(
            social("#HTTPError on #BlackFriday2024"),
            "http error on black friday 2024"
        );
        assert_eq!(social("#refund #help"), "refund help");
        assert_eq!(
            social("order #12345 and C# code"),
            "order #12345 and C# code"
        );
        assert_eq!(social("# alone"), "# alone");
    }

    #[test]
    fn mentions_urls_retweets_removed() {
        assert_eq!(social("@AcmeSupport my order is late"), "my order is late");
        assert_eq!(social("@acme: where is it? cc @bob_99"), "where is it? cc");
        assert_eq!(
            social("mail me at jo@example.com"),
            "mail me at jo@example.com"
        );
        assert_eq!(
            social("RT @acme: outage again https://t.co/abc123"),
            "outage again"
        );
        assert_eq!(
            social("see www.acme.com/status and bit.ly/x1 now"),
            "see and now"
        );
        assert_eq!(social("https://example.com/a?b=c"), "");
    }

    #[test]
    fn elongation_collapses_to_one() {
        assert_eq!(social("soooo slowwww hellllp"), "so slow help");
        assert_eq!(social("good too"), "good too");
        assert_eq!(social("WHYYYY!!!!!"), "WHY!");
        assert_eq!(social("哈哈哈哈哈"), "哈哈");
    }

    #[test]
    fn emoji_words_and_switch() {
        assert_eq!(
            social("worst airline ever 😡😡🤬"),
            "worst airline ever angry furious"
        );
        assert_eq!(social("😭😭😭"), "sobbing");
        let off = NormalizeOptions {
            emoji_to_words: false,
            ..Default::default()
        };
        assert_eq!(normalize_social("late again 😡", &off), "late again 😡");
    }

    #[test]
    fn weibo_style() {
        assert_eq!(social("#双十一# 我的订单呢"), "双十一 我的订单呢");
        assert_eq!(social("【投诉】快递三天没到"), "投诉 快递三天没到");
        assert_eq!(social("同问//@小王:快递丢了//@小李: 真的吗"), "同问");
        assert_eq!(social("//@小王:快递丢了//@小李: 真的吗"), "快递丢了");
        assert_eq!(social("转发微博//@小王：快递丢了"), "快递丢了");
        assert_eq!(
            social("@京东客服 #双十一 #退款太慢# 😡"),
            "双十一 退款太慢 愤怒"
        );
        assert_eq!(social("看这里 http://t.cn/A6xyz 网页链接"), "看这里");
        assert_eq!(social("链接http://t.cn/A6xyz看这里"), "链接 看这里");
        assert_eq!(social("@京东客服 我要投诉"), "我要投诉");
        assert_eq!(social("@京东客服:我要投诉"), "我要投诉");
        assert_eq!(social("@京东客服我要投诉"), "京东客服我要投诉");
        assert_eq!(social("投诉 @京东客服"), "投诉");
    }

    #[test]
    fn edge_cases() {
        assert_eq!(social(""), "");
        assert_eq!(social("   "), "");
        assert_eq!(social("@a @b @c"), "");
        assert_eq!(social("###"), "###");
        assert_eq!(social("#"), "#");
        assert_eq!(social("#_"), "#_");
    }

    #[test]
    fn long_input_is_fast() {
        let s = "@user #WorstServiceEver soooo bad 😡 https://x.co/a //@b: c ".repeat(1_600);
        let t = std::time::Instant::now();
        let out = social(&s);
        assert!(
            out.starts_with("worst service ever so bad angry"),
            "{}",
            &out[..50]
        );
        let hashes = "#".repeat(100_000);
        let _ = social(&hashes);
        let _ = social(&"#a".repeat(50_000));
        let _ = social(&"@".repeat(100_000));
        assert!(t.elapsed().as_millis() < 3000);
    }
}
