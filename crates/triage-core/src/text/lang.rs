//! Language routing. Only the two languages the shipped models cover are told apart, so
//! a character count is enough and costs nothing next to the encoder.

/// Cheap language detection for routing: `"zh"` when CJK ideographs make up at least 30%
/// of the letters (alphabetic characters; digits, punctuation, spaces and emoji do not
/// count), else `"en"`.
///
/// The threshold is low on purpose: one ideograph carries about a word while an English
/// word takes ~5 letters, so a code-mixed message such as "我的order还没到" (5 of 10) is
/// Chinese to a reader and must reach the Chinese model. Text without letters is `"en"`.
pub fn detect_lang(text: &str) -> &'static str {
    if text.is_ascii() {
        return "en";
    }
    let (mut cjk, mut letters) = (0usize, 0usize);
    for c in text.chars() {
        if is_cjk_ideograph(c) {
            cjk += 1;
            letters += 1;
        } else if c.is_alphabetic() {
            letters += 1;
        }
    }
    if cjk > 0 && cjk * 10 >= letters * 3 {
        "zh"
    } else {
        "en"
    }
}

/// Han ideographs (unified, extensions A–G, compatibility), the only characters that say
/// "Chinese" for routing; kana and hangul do not.
pub fn is_cjk_ideograph(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x3007
        | 0xF900..=0xFAFF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2EBEF
        | 0x2F800..=0x2FA1F
        | 0x30000..=0x3134F)
}

/// Scripts written without spaces where a repeated character is normal (哈哈, 谢谢, はは),
/// so elongation rules must treat them differently from Latin letters.
pub(crate) fn is_cjk_script(c: char) -> bool {
    is_cjk_ideograph(c)
        || matches!(c as u32,
            0x3040..=0x30FF   // hiragana, katakana
            | 0x31F0..=0x31FF
            | 0xAC00..=0xD7AF // hangul syllables
            | 0x1100..=0x11FF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_and_chinese() {
        assert_eq!(detect_lang("where is my parcel??"), "en");
        assert_eq!(detect_lang("我的快递到哪里了"), "zh");
        assert_eq!(detect_lang("請問訂單在哪裡"), "zh");
    }

    #[test]
    fn mixed_counts_as_chinese() {
        assert_eq!(detect_lang("我的order还没到"), "zh");
        // 2 ideographs of 9 letters = 22% < 30%.
        assert_eq!(detect_lang("refund 退款 pls"), "en");
        // exactly 30%: 3 of 10.
        assert_eq!(detect_lang("退款吧 abcdefg"), "zh");
    }

    #[test]
    fn no_letters_is_english() {
        assert_eq!(detect_lang(""), "en");
        assert_eq!(detect_lang("   "), "en");
        assert_eq!(detect_lang("12345 !!! 😡😡"), "en");
        assert_eq!(detect_lang("，。！"), "en");
    }

    #[test]
    fn kana_and_hangul_are_not_chinese() {
        assert_eq!(detect_lang("ありがとうございます"), "en");
        assert_eq!(detect_lang("감사합니다"), "en");
        assert!(is_cjk_script('あ') && is_cjk_script('감') && is_cjk_script('我'));
        assert!(!is_cjk_script('a') && !is_cjk_ideograph('あ'));
    }

    #[test]
    fn long_input_is_fast() {
        let s = "我的order还没到 ".repeat(10_000);
        let t = std::time::Instant::now();
        assert_eq!(detect_lang(&s), "zh");
        assert!(t.elapsed().as_millis() < 500);
    }
}
