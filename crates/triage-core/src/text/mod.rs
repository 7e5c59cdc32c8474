//! Text normalisation per channel, PII masking and language routing.
//!
//! Every message goes through [`normalize`] before tokenization, in serving and in
//! training alike, so the model sees the same text shape whatever the channel: the
//! encoders were fine-tuned on clean chat-like text, and each channel adds its own noise
//! (ASR fillers, hashtags and emoji, quoted replies). [`mask_pii`] is separate: it is for
//! what gets logged or stored, not for what the model reads.

mod channel;
mod chat;
mod common;
mod email;
mod emoji;
mod lang;
mod pii;
mod social;
mod voice;

pub use channel::{Channel, UnknownChannel};
pub use chat::normalize_chat;
pub use common::{has_content, normalize_common, NormalizeOptions};
pub use email::normalize_email;
pub use lang::{detect_lang, is_cjk_ideograph};
pub use pii::mask_pii;
pub use social::normalize_social;
pub use voice::normalize_voice;

/// Full pipeline for one message: common cleanup for all channels, then the channel's own.
///
/// Order matters and differs from calling the public steps one after the other: NFKC,
/// control characters and traditional → simplified run first (so channel rules see "，"
/// as "," and 發件人 as 发件人), line breaks survive that step only for email (whose
/// quote and signature rules are line-based), then the channel pass runs, and emoji →
/// words plus whitespace collapsing come last. The language of the emoji phrases follows
/// [`detect_lang`] of the message, so a Chinese message stays Chinese.
pub fn normalize(text: &str, channel: Channel, opts: &NormalizeOptions) -> String {
    let pre = common::prepare(text, channel == Channel::Email, opts.to_simplified);
    let lang = detect_lang(&pre);
    let body = match channel {
        Channel::Chat => normalize_chat(&pre),
        Channel::Voice => normalize_voice(&pre),
        Channel::Email => normalize_email(&pre),
        Channel::Social => social::social_body(&pre),
    };
    common::finish(&body, opts, lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, ch: Channel) -> String {
        normalize(text, ch, &NormalizeOptions::default())
    }

    #[test]
    fn traditional_to_simplified_with_nfkc_comma() {
        // NFKC turns the full-width comma into ASCII; the model only ever sees ",".
        assert_eq!(
            all("我要退款，請問訂單在哪裡", Channel::Chat),
            "我要退款,请问订单在哪里"
        );
        let keep = NormalizeOptions {
            to_simplified: false,
            ..Default::default()
        };
        assert_eq!(normalize("請問訂單", Channel::Chat, &keep), "請問訂單");
    }

    #[test]
    fn each_channel_through_normalize() {
        assert_eq!(
            all("Ｗｈｅｒｅ is it??? sooooo late 😡", Channel::Chat),
            "Where is it? soo late angry"
        );
        assert_eq!(
            all("[noise] um I I want a refund", Channel::Voice),
            "I want a refund"
        );
        assert_eq!(all("嗯，那個，我要退款", Channel::Voice), "我要退款");
        assert_eq!(
            all(
                "@Acme #WorstServiceEver soooo slow 😤 https://t.co/x",
                Channel::Social
            ),
            "worst service ever so slow frustrated"
        );
        assert_eq!(
            all("#雙十一# 退款太慢😡", Channel::Social),
            "双十一 退款太慢 愤怒"
        );
        let email = "Subject: Refund\r\n\r\nHi,\r\nwhere is my refund? 😡\r\n\r\nThanks,\r\nJo\r\n\r\nOn Mon, 1 Jan 2024 Acme <a@acme.com> wrote:\r\n> sent";
        assert_eq!(
            all(email, Channel::Email),
            "Refund Hi, where is my refund? angry"
        );
        assert_eq!(
            all(
                "我的退款呢\n\n發件人：客服\n發送時間：2024年1月1日",
                Channel::Email
            ),
            "我的退款呢"
        );
    }

    #[test]
    fn emoji_phrases_keep_the_language() {
        let out = all("退款😡😡", Channel::Chat);
        assert_eq!(out, "退款 愤怒");
        assert_eq!(detect_lang(&out), "zh");
        assert_eq!(all("refund 😡", Channel::Chat), "refund angry");
    }

    #[test]
    fn only_emoji_url_or_whitespace() {
        assert_eq!(all("😡😡😡", Channel::Chat), "angry");
        assert_eq!(all("😡😡😡", Channel::Social), "angry");
        assert_eq!(all("https://example.com/x", Channel::Social), "");
        assert_eq!(all("   \n\t", Channel::Email), "");
        for ch in Channel::ALL {
            assert_eq!(all("", ch), "");
        }
    }

    const NASTY: &[&str] = &[
        "",
        " ",
        "\u{0}",
        "\u{0}\u{1}\u{7f}\u{9f}",
        "\u{301}",
        "\u{301}\u{302}\u{303}a\u{20dd}",
        "مرحبا بالعالم \u{202E}abc\u{202C}",
        "\u{200D}\u{200D}\u{200C}",
        "👨\u{200D}👩\u{200D}👧\u{200D}👦",
        "🏳️\u{200D}🌈",
        "𝕳𝖊𝖑𝖑𝖔 𠀀𠀁 🇺🇳",
        "\u{FEFF}\u{FFFE}\u{FFFF}",
        "\u{10FFFF}\u{E0001}\u{E007F}",
        "#",
        "@",
        "//@",
        "//@:",
        "#\n#",
        "#那#",
        "[",
        "]",
        "<>",
        "(",
        ">",
        "--",
        "On 1\nwrote:",
        "From:",
        "发件人",
        "+",
        "+(",
        "(1",
        "1)",
        "X",
        "12345678901234567X",
        "::",
        "a::b",
        "DE89",
        "ＡＢＣ１２３",
        "\r\r\n\n",
        "\u{2028}\u{2029}\u{85}",
        "ŉ İ ß ﬃ",
        "a\u{308}\u{308}\u{308}\u{308}\u{308}\u{308}\u{308}",
        "嗯",
        "那个",
        "you know",
        "like",
        "I-",
        "-",
        "'",
        "''''",
    ];

    #[test]
    fn nothing_panics_on_nasty_input() {
        let opts = NormalizeOptions::default();
        let off = NormalizeOptions {
            emoji_to_words: false,
            to_simplified: false,
        };
        for s in NASTY {
            let doubled = format!("{s} {s}{s}\n{s}");
            for s in [*s, doubled.as_str()] {
                for ch in Channel::ALL {
                    let _ = normalize(s, ch, &opts);
                    let _ = normalize(s, ch, &off);
                }
                let _ = normalize_common(s, &opts);
                let _ = normalize_chat(s);
                let _ = normalize_voice(s);
                let _ = normalize_social(s, &opts);
                let _ = normalize_email(s);
                let _ = mask_pii(s);
                let _ = detect_lang(s);
            }
        }
    }

    #[test]
    fn output_is_trimmed_single_spaced() {
        for s in NASTY {
            for ch in Channel::ALL {
                let out = all(s, ch);
                assert_eq!(out.trim(), out, "{s:?} {ch}");
                assert!(
                    !out.contains("  ") && !out.contains('\n'),
                    "{s:?} {ch}: {out:?}"
                );
            }
        }
    }

    #[test]
    fn long_inputs_finish_fast() {
        let inputs = [
            "a".repeat(100_000),
            "😡".repeat(25_000),
            "我要退款，請問訂單在哪裡".repeat(8_400),
            "um I I want, like, a refund [noise] #NeverAgain @x https://t.co/y 13800138000 "
                .repeat(1_300),
            "> quoted\n".repeat(11_000),
            " ".repeat(100_000),
            "\u{301}".repeat(50_000),
            "1-".repeat(50_000),
            "#a#".repeat(33_000),
        ];
        for ch in Channel::ALL {
            for s in &inputs {
                let t = std::time::Instant::now();
                let _ = normalize(s, ch, &NormalizeOptions::default());
                let _ = mask_pii(s);
                assert!(
                    t.elapsed().as_millis() < 2000,
                    "{ch} {:?}: {:?}",
                    &s[..10],
                    t.elapsed()
                );
            }
        }
    }

    #[test]
    fn channel_api_unchanged() {
        assert_eq!(
            "voice".parse::<Channel>().map(Channel::as_str).ok(),
            Some("voice")
        );
        assert!("fax".parse::<Channel>().is_err());
    }
}
