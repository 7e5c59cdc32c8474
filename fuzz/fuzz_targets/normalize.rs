//! Every channel's normaliser: `text::normalize` (what classify, embed, suggest and the
//! policy run on each message) for the channel picked by the first byte, with its
//! options from the next two bits, then the channel's own exported step and the common
//! cleanup on the same text. The rest of the input is the message, lossily decoded (the
//! server's JSON strings are always valid UTF-8).
//!
//! Besides not panicking, the output keeps the contract of
//! `text::tests::output_is_trimmed_single_spaced`: trimmed, single spaces, one line.

#![no_main]

use libfuzzer_sys::fuzz_target;
use triage_core::text::{
    normalize, normalize_chat, normalize_common, normalize_email, normalize_social,
    normalize_voice, Channel, NormalizeOptions,
};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let channel = Channel::ALL[usize::from(first & 3)];
    let opts = NormalizeOptions {
        emoji_to_words: first & 4 == 0,
        to_simplified: first & 8 == 0,
    };
    let text = String::from_utf8_lossy(rest);
    let out = normalize(&text, channel, &opts);
    assert_eq!(out.trim(), out, "{channel}: not trimmed");
    assert!(
        !out.contains("  ") && !out.contains('\n'),
        "{channel}: not single-spaced on one line: {out:?}"
    );
    let _ = match channel {
        Channel::Chat => normalize_chat(&text),
        Channel::Voice => normalize_voice(&text),
        Channel::Email => normalize_email(&text),
        Channel::Social => normalize_social(&text, &opts),
    };
    let _ = normalize_common(&text, &opts);
});
