//! Chat: typed by the customer, so the noise is expressive typing rather than transcription
//! or formatting. The pass is deliberately light: chat is closest to the training data.

use super::common::{collapse_whitespace, squeeze_letters, squeeze_punct};

/// Chat-specific cleanup: letter runs of 3+ are cut to 2 ("soooo" → "soo", "pleeeease" →
/// "pleease") and repeated punctuation to one mark ("!!!!" → "!", "?!?!" → "?!").
///
/// Cutting to 2 rather than 1 never breaks a correctly spelled word ("good", "too",
/// "need" stay), and subword tokenizers read "soo" as "so"-ish anyway; the social pass,
/// where elongation is heavier, cuts to 1 instead. Case and everything else are kept.
pub fn normalize_chat(text: &str) -> String {
    collapse_whitespace(&squeeze_punct(&squeeze_letters(text, 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elongation_cut_to_two() {
        assert_eq!(normalize_chat("soooo slowwww"), "soo sloww");
        assert_eq!(normalize_chat("good food, too"), "good food, too");
        assert_eq!(normalize_chat("NOOOOO"), "NOO");
        assert_eq!(normalize_chat("pleeeeEEase"), "pleease");
        assert_eq!(normalize_chat("哈哈哈哈哈 好慢啊啊啊"), "哈哈 好慢啊啊");
    }

    #[test]
    fn urls_codes_and_numbers_untouched() {
        assert_eq!(normalize_chat("see www.acme.com"), "see www.acme.com");
        assert_eq!(
            normalize_chat("code AAA111 paid 1000000"),
            "code AAA111 paid 1000000"
        );
    }

    #[test]
    fn repeated_punctuation() {
        assert_eq!(normalize_chat("where is it!!!!"), "where is it!");
        assert_eq!(normalize_chat("seriously???"), "seriously?");
        assert_eq!(normalize_chat("what?!?!?!"), "what?!");
        assert_eq!(
            normalize_chat("well...... ok,,, fine~~~"),
            "well... ok, fine~"
        );
        assert_eq!(normalize_chat("wait.. ok."), "wait.. ok.");
        assert_eq!(normalize_chat("为什么。。。"), "为什么。");
    }

    #[test]
    fn whitespace_and_empty() {
        assert_eq!(normalize_chat(""), "");
        assert_eq!(normalize_chat(" \n\t "), "");
        assert_eq!(normalize_chat("  hi \n there "), "hi there");
    }

    #[test]
    fn long_input_is_fast() {
        let s = "heyyyyy!!!!! ".repeat(8_000) + &"a".repeat(100_000);
        let t = std::time::Instant::now();
        let out = normalize_chat(&s);
        assert!(out.ends_with(" aa"));
        assert!(t.elapsed().as_millis() < 1000);
    }
}
