//! PII masking (`text::mask_pii`), as the server runs it before logging a message and the
//! conversation store before keeping one (`memory.store_text = "masked"`): on the raw
//! text, and on the text normalised for chat, as the masking doc allows both.

#![no_main]

use libfuzzer_sys::fuzz_target;
use triage_core::text::{mask_pii, normalize, Channel, NormalizeOptions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let masked = mask_pii(&text);
    // Every placeholder replaces at least 6 bytes with at most 8: masking never runs away.
    assert!(
        masked.len() <= 2 * text.len() + 8,
        "masked text grew from {} to {} bytes",
        text.len(),
        masked.len()
    );
    let _ = mask_pii(&normalize(
        &text,
        Channel::Chat,
        &NormalizeOptions::default(),
    ));
});
