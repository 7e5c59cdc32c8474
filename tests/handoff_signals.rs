//! The handoff signals of issue 15 on the shipped bundle and policy, over real HTTP: turns
//! that carry no request never reach `bot`, a conversation of them is handed off, short and
//! plain requests land on their intent, calm requests read calm and upset ones reach a
//! person. Every text here was written for this file and is kept out of the training mixes
//! (`triage::train::mix`; the last test checks that).

mod common;

use common::{post, TestServer};
use serde_json::{json, Value};

fn classify(s: &TestServer, body: Value) -> Value {
    let (status, j) = post(&s.url("/v1/classify"), &body);
    assert_eq!(status, 200, "{j}");
    j
}

/// Turns without a request: fillers, keyboard mashes, a vague reference.
const NO_REQUEST: [&str; 8] = [
    "hmm",
    "the thing",
    "asdf qwer",
    "no, the other thing",
    "jkjkjk",
    "uhhh what",
    "sdfg hjkl",
    "you know",
];

/// Short and plain requests and the support intent each must land on, with `bot`.
const SHORT: [(&str, &str); 8] = [
    ("where is my order?", "track_order"),
    ("my parcel hasn't come", "track_order"),
    ("I want a refund", "get_refund"),
    ("cancel my order please", "cancel_order"),
    ("forgot password", "recover_password"),
    (
        "how do I change my delivery address",
        "change_shipping_address",
    ),
    ("I need a copy of my invoice", "get_invoice"),
    ("when will my refund arrive", "track_refund"),
];

/// Calm requests (none may go to a person for emotion) and upset ones (each must).
const CALM: [&str; 6] = [
    "how do i cancel my order",
    "can I change the shipping address on my order",
    "what payment methods do you accept",
    "I'd like to check the status of my refund",
    "please send me the invoice for last month",
    "how long does delivery take to Canada",
];
const UPSET: [&str; 6] = [
    "WHERE IS MY ORDER?! I have been waiting for THREE WEEKS, this is a disgrace",
    "I'm fed up, you charged my card twice and nobody answers my emails!!!",
    "this is the worst company ever, refund my money right now or I'm calling my bank 😡",
    "Are you serious? My package is lost AGAIN. Useless.",
    "I've asked four times to cancel this order, sort it out now!!",
    "your app keeps failing to take my payment, I'm so angry I could scream",
];

#[test]
fn turns_without_a_request_never_reach_the_bot_and_four_of_them_hand_off() {
    let s = TestServer::start(|_| {});
    for text in NO_REQUEST {
        let r = classify(&s, json!({"text": text}));
        assert_ne!(r["handoff"]["action"], "bot", "{text:?} → {}", r["handoff"]);
    }
    let mut last = Value::Null;
    for text in ["hmm", "the thing", "asdf qwer", "no, the other thing"] {
        last = classify(
            &s,
            json!({"text": text, "conversation_id": "signals-vague"}),
        );
    }
    assert_eq!(last["handoff"]["action"], "handoff", "{}", last["handoff"]);
}

#[test]
fn short_requests_land_on_their_intent_and_stay_with_the_bot() {
    let s = TestServer::start(|_| {});
    let mut wrong = Vec::new();
    for (text, want) in SHORT {
        let r = classify(&s, json!({"text": text, "intent_set": "support"}));
        if r["intent"]["label"] != want || r["handoff"]["action"] != "bot" {
            wrong.push(format!(
                "{text:?}: {} {} {}",
                r["intent"]["label"], r["intent"]["confidence"], r["handoff"]
            ));
        }
    }
    // "where is my order?" is the issue's own example: it must be right.
    assert!(
        !wrong
            .iter()
            .any(|w| w.starts_with("\"where is my order?\"")),
        "{wrong:#?}"
    );
    assert!(
        wrong.len() <= 1,
        "{} of {} wrong: {wrong:#?}",
        wrong.len(),
        SHORT.len()
    );
}

#[test]
fn calm_reads_calm_and_upset_goes_to_a_person() {
    let s = TestServer::start(|_| {});
    // No calm request goes to a person for emotion or reads frustrated; the served
    // sentiment label may miss one (its neutral band is a fixed ±0.2 of the score).
    let mut read_negative = Vec::new();
    for text in CALM {
        let r = classify(&s, json!({"text": text, "intent_set": "support"}));
        let reasons = r["handoff"]["reasons"].to_string();
        assert!(
            !reasons.contains("negative_emotion"),
            "{text:?} → {}",
            r["handoff"]
        );
        assert!(
            r["emotion"]["frustration"].as_f64().unwrap() < 0.5,
            "{text:?} → {}",
            r["emotion"]
        );
        if r["emotion"]["sentiment"]["label"] == "negative" {
            read_negative.push(format!("{text:?}: {}", r["emotion"]["sentiment"]));
        }
    }
    assert!(read_negative.len() <= 1, "{read_negative:#?}");
    let mut kept = Vec::new();
    for text in UPSET {
        let r = classify(&s, json!({"text": text, "intent_set": "support"}));
        let for_emotion = r["handoff"]["reasons"]
            .to_string()
            .contains("negative_emotion");
        if r["handoff"]["action"] != "handoff" || !for_emotion {
            kept.push(format!(
                "{text:?} → {} {}",
                r["handoff"], r["emotion"]["frustration"]
            ));
        }
    }
    assert!(
        kept.len() <= 1,
        "{} of {} upset not handed off for emotion: {kept:#?}",
        kept.len(),
        UPSET.len()
    );
}

#[test]
fn check_texts_are_not_in_the_training_mixes() {
    let root = triage_lab::data::default_root();
    let mut seen = std::collections::HashSet::new();
    for split in [triage_lab::data::Split::Train, triage_lab::data::Split::Dev] {
        for r in triage_lab::train::mix::emotion_mix(&root, split, 15).unwrap() {
            seen.insert(r.text.to_lowercase());
        }
        for r in triage_lab::train::mix::support_mix(&root, split, 15).unwrap() {
            seen.insert(r.text.to_lowercase());
        }
    }
    let ours = NO_REQUEST
        .iter()
        .copied()
        .chain(SHORT.iter().map(|(t, _)| *t))
        .chain(CALM)
        .chain(UPSET);
    for text in ours {
        assert!(
            !seen.contains(&text.to_lowercase()),
            "{text:?} is in a training mix"
        );
    }
}
