//! Cleanup shared by every channel, plus the small helpers the channel passes reuse.
//!
//! The pipeline is split in two halves so that line-based channel work (email) can run in
//! between: [`prepare`] (NFKC, control characters, traditional → simplified) keeps line
//! breaks when asked, and [`finish`] (emoji, whitespace) runs after the channel pass.

use super::emoji;
use super::lang::{detect_lang, is_cjk_script};
use serde::{Deserialize, Serialize};
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Switches for the parts of normalisation that depend on the model being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NormalizeOptions {
    /// Spell emoji out as words ("😡" → "angry"), because most BERT vocabularies have no
    /// emoji and would turn the strongest emotion cue of a message into `[UNK]`.
    pub emoji_to_words: bool,
    /// Convert traditional Chinese to simplified, because the Chinese training sets are
    /// simplified and a model should not treat 訂單 and 订单 as different words.
    pub to_simplified: bool,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        Self {
            emoji_to_words: true,
            to_simplified: true,
        }
    }
}

/// The cleanup every channel needs, on its own (chat-like, single line): NFKC, control
/// and invisible characters removed, traditional → simplified Chinese (when
/// `opts.to_simplified`), emoji spelled out (when `opts.emoji_to_words`; Chinese phrases
/// for Chinese text so the language is not flipped), whitespace collapsed.
///
/// NFKC is what makes "ＡＢＣ１２３" and "ABC123" one string; it also turns full-width
/// punctuation into ASCII ("，" → ","; "。" and "、" have no ASCII form and stay). Training
/// and serving both go through here, so the model only ever sees the ASCII forms.
pub fn normalize_common(text: &str, opts: &NormalizeOptions) -> String {
    let pre = prepare(text, false, opts.to_simplified);
    let lang = detect_lang(&pre);
    finish(&pre, opts, lang)
}

/// First half of the common cleanup. Line breaks survive only when `keep_newlines`, as
/// email needs them to find quotes and signatures; all other whitespace becomes a space.
pub(crate) fn prepare(text: &str, keep_newlines: bool, to_simplified: bool) -> String {
    let nfkc: std::borrow::Cow<str> = if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        text.into()
    } else {
        text.nfkc().collect::<String>().into()
    };
    let mut out = String::with_capacity(nfkc.len());
    let mut prev_cr = false;
    for c in nfkc.chars() {
        let was_cr = std::mem::replace(&mut prev_cr, c == '\r');
        match c {
            '\n' if was_cr => {} // the '\r' of "\r\n" already produced the break
            '\r' | '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                out.push(if keep_newlines { '\n' } else { ' ' })
            }
            c if c.is_whitespace() => out.push(' '),
            c if c.is_control() || is_invisible(c) => {}
            c => out.push(c),
        }
    }
    if to_simplified && out.chars().any(super::lang::is_cjk_ideograph) {
        out = zhconv::zhconv(&out, zhconv::Variant::ZhHans);
        if out.contains(HANS_LEFTOVERS) {
            out = out.replace(HANS_LEFTOVERS, "蒙");
        }
    }
    out
}

/// Traditional characters that zhconv's phrase rules turn out of simplified text but do
/// not turn back: 雨蒙蒙 → 雨濛濛 in traditional, and 濛濛 survives the way back, so the
/// same message would reach the model in two spellings (found by tests/zh_variants.rs).
/// All three were merged into 蒙 in simplified Chinese.
const HANS_LEFTOVERS: [char; 3] = ['濛', '矇', '懞'];

/// Second half of the common cleanup, after the channel pass.
pub(crate) fn finish(text: &str, opts: &NormalizeOptions, lang: &str) -> String {
    if opts.emoji_to_words {
        emoji::emoji_to_words(text, lang)
    } else {
        collapse_whitespace(text)
    }
}

/// Format characters that render as nothing (zero-width space and joiners, bidi controls,
/// BOM, soft hyphen, tag characters). They split words invisibly, so "re\u{200B}fund"
/// would not match "refund"; BERT's tokenizer drops them too.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFEFF
        | 0xFFA0 | 0xFFF0..=0xFFFB | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

/// Whether a text has anything to classify: a character that normalisation keeps and
/// that is not whitespace. Text of only whitespace, control characters (NUL included),
/// invisible format characters (`is_invisible`: zero-width space, BOM, bidi marks) or
/// variation selectors normalises to nothing, and is refused as `empty_text` rather than
/// sent to the encoder as an empty sequence (which still gets a confident intent).
pub fn has_content(text: &str) -> bool {
    text.chars().any(|c| {
        !(c.is_whitespace()
            || c.is_control()
            || is_invisible(c)
            || matches!(c as u32, 0xFE00..=0xFE0F | 0xE0100..=0xE01EF))
    })
}

/// Single spaces, no leading or trailing whitespace.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for w in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Cuts runs of 3 or more identical letters (case-insensitive): Latin and other alphabets
/// to `keep` letters, CJK/kana/hangul to 2 (哈哈哈哈 → 哈哈, because doubled characters
/// are ordinary words there). Runs of 1 or 2 are never touched. Tokens that contain
/// digits, "@", "/" or "www." are left alone so URLs, handles and codes survive. The
/// output has collapsed whitespace.
pub(crate) fn squeeze_letters(text: &str, keep: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run: Vec<char> = Vec::new();
    for tok in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        let protected = tok.contains(['@', '/'])
            || tok.contains("www.")
            || tok.chars().any(|c| c.is_ascii_digit());
        if protected {
            out.push_str(tok);
            continue;
        }
        for c in tok.chars() {
            if run.last().is_some_and(|&r| !same_letter(r, c)) {
                flush_run(&mut out, &mut run, keep);
            }
            run.push(c);
        }
        flush_run(&mut out, &mut run, keep);
    }
    out
}

fn flush_run(out: &mut String, run: &mut Vec<char>, keep: usize) {
    let n = match run.first() {
        Some(&c) if run.len() >= 3 && c.is_alphabetic() => {
            if is_cjk_script(c) {
                2
            } else {
                keep.max(1)
            }
        }
        _ => run.len(),
    };
    out.extend(run.iter().take(n));
    run.clear();
}

fn same_letter(a: char, b: char) -> bool {
    a == b || (a.is_alphabetic() && b.is_alphabetic() && a.to_lowercase().eq(b.to_lowercase()))
}

/// Collapses runs of repeated punctuation: "!!!!" → "!", "???" → "?", mixed "?!?!" → "?!",
/// ",,," → ",", "~~~" → "~", "。。。" → "。", and 4+ dots → "..." (an ellipsis is kept).
pub(crate) fn squeeze_punct(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '!' || c == '?' {
            let mut j = i;
            let (mut bang, mut q) = (false, false);
            while j < chars.len() && (chars[j] == '!' || chars[j] == '?') {
                bang |= chars[j] == '!';
                q |= chars[j] == '?';
                j += 1;
            }
            out.push_str(match (q, bang) {
                (true, true) => "?!",
                (true, false) => "?",
                _ => "!",
            });
            i = j;
        } else if matches!(c, '.' | ',' | '~' | '。' | '、' | ';') {
            let mut j = i;
            while j < chars.len() && chars[j] == c {
                j += 1;
            }
            let n = j - i;
            if c == '.' && n >= 3 {
                out.push_str("...");
            } else if c == '.' {
                (0..n).for_each(|_| out.push('.'));
            } else {
                out.push(c);
            }
            i = j;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_of_only_invisible_characters_has_no_content() {
        use super::has_content;
        for blank in [
            "",
            "   \t\n",
            "\0\0\0",
            "\u{200B}\u{200C}\u{200D}\u{FEFF}",
            "\u{1}\u{7F}\u{9F} \u{2060}\u{E0041}",
            "\u{FE0F}\u{00AD}",
        ] {
            assert!(!has_content(blank), "{blank:?}");
        }
        for text in ["a", "\0refund\0", "\u{200B}退款", "😡", "?"] {
            assert!(has_content(text), "{text:?}");
        }
    }

    #[test]
    fn traditional_round_trip_reaches_one_spelling() {
        let simplified = "播放情深深雨蒙蒙";
        let traditional = zhconv::zhconv(simplified, zhconv::Variant::ZhHant);
        assert_ne!(traditional, simplified);
        assert_eq!(
            super::prepare(&traditional, false, true),
            super::prepare(simplified, false, true)
        );
    }

    use super::*;

    #[test]
    fn traditional_to_simplified_with_nfkc_comma() {
        // NFKC turns the full-width comma into ASCII ("。" has no ASCII form and stays).
        let o = NormalizeOptions::default();
        assert_eq!(
            normalize_common("我要退款，請問訂單在哪裡", &o),
            "我要退款,请问订单在哪里"
        );
        assert_eq!(normalize_common("謝謝。", &o), "谢谢。");
        let keep = NormalizeOptions {
            to_simplified: false,
            ..o
        };
        assert_eq!(normalize_common("請問訂單", &keep), "請問訂單");
    }

    #[test]
    fn common_cleanup() {
        let o = NormalizeOptions::default();
        assert_eq!(normalize_common("ＡＢＣ１２３", &o), "ABC123");
        assert_eq!(
            normalize_common("  re\u{200B}fund\u{0}\u{7}  now\r\n\tplease ", &o),
            "refund now please"
        );
        assert_eq!(
            normalize_common("ﬁne　ｗｉｔｈ　ｍｅ！", &o),
            "fine with me!"
        );
        assert_eq!(normalize_common("cafe\u{301}", &o), "café");
        assert_eq!(normalize_common("late again 😡😡", &o), "late again angry");
        assert_eq!(normalize_common("又晚了😡", &o), "又晚了 愤怒");
        let no_emoji = NormalizeOptions {
            emoji_to_words: false,
            ..o
        };
        assert_eq!(normalize_common("late 😡", &no_emoji), "late 😡");
        assert_eq!(normalize_common("", &o), "");
        assert_eq!(normalize_common(" \n\t ", &o), "");
    }

    #[test]
    fn prepare_keeps_lines_only_when_asked() {
        assert_eq!(prepare("a\r\nb\rc\u{2028}d", true, false), "a\nb\nc\nd");
        assert_eq!(prepare("a\r\nb\tc", false, false), "a b c");
        assert_eq!(prepare("訂單。", false, true), "订单。");
        assert_eq!(prepare("訂單", false, false), "訂單");
    }

    #[test]
    fn invisible_characters() {
        for c in [
            '\u{200B}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{202E}',
            '\u{AD}',
            '\u{E0041}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', ' ', '我', '😡', '\u{301}'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }

    #[test]
    fn collapse() {
        assert_eq!(collapse_whitespace("  a \n\t b  "), "a b");
        assert_eq!(collapse_whitespace("\u{3000}a\u{A0}b"), "a b");
        assert_eq!(collapse_whitespace(""), "");
    }

    #[test]
    fn squeeze_letters_rules() {
        assert_eq!(squeeze_letters("soooo good", 2), "soo good");
        assert_eq!(squeeze_letters("soooo good", 1), "so good");
        assert_eq!(squeeze_letters("NoOoO", 1), "No");
        assert_eq!(squeeze_letters("哈哈哈哈 好好", 1), "哈哈 好好");
        assert_eq!(
            squeeze_letters("www.x.com zzz123 a@bbbb", 1),
            "www.x.com zzz123 a@bbbb"
        );
        assert_eq!(squeeze_letters("!!! ...", 1), "!!! ...");
    }

    #[test]
    fn squeeze_punct_rules() {
        assert_eq!(squeeze_punct("no!!!! why???? what?!?!"), "no! why? what?!");
        assert_eq!(squeeze_punct("hmm..... ok.. ,,, ~~"), "hmm... ok.. , ~");
        assert_eq!(squeeze_punct("好慢。。。、、"), "好慢。、");
        assert_eq!(squeeze_punct(""), "");
    }

    #[test]
    fn options_default_and_serde() {
        let d = NormalizeOptions::default();
        assert!(d.emoji_to_words && d.to_simplified);
        // missing fields fall back to the defaults (#[serde(default)])
        use serde::de::value::{Error, MapDeserializer};
        let m = MapDeserializer::<_, Error>::new(std::iter::once(("emoji_to_words", false)));
        let v = NormalizeOptions::deserialize(m).expect("deserializes");
        assert!(!v.emoji_to_words && v.to_simplified);
    }
}
