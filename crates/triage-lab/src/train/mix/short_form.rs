//! Short and plain forms of bitext requests for the support head. Bitext's requests are
//! long and formulaic ("I need help to check the ETA of order 00123842"); customers type
//! "where is my order?". A short form drops the request preamble, the order number and the
//! name, and sometimes says parcel for order; a few question forms per intent, written
//! here, cover how people ask without a verb of request. The hand-written check set of
//! the tests (`tests/handoff_signals.rs`) is kept apart from these phrases.

use rand::seq::SliceRandom;
use rand::Rng;
use regex::Regex;
use std::sync::LazyLock;

/// Request preambles, longest first within each family (matched at the start, lowercase).
const PREAMBLES: [&str; 40] = [
    "i need help to ",
    "i need help ",
    "i need assistance to ",
    "can you help me to ",
    "can you help me ",
    "could you help me to ",
    "could you help me ",
    "could you tell me how to ",
    "can you tell me how to ",
    "tell me how to ",
    "show me how to ",
    "help me to ",
    "help me ",
    "help to ",
    "i want help to ",
    "i want help ",
    "want help to ",
    "i want to ",
    "i wanna ",
    "wanna ",
    "i would like to ",
    "i'd like to ",
    "id like to ",
    "i need to ",
    "i have to ",
    "i try to ",
    "i am trying to ",
    "i'm trying to ",
    "im trying to ",
    "how can i ",
    "how could i ",
    "how do i ",
    "how to ",
    "where can i ",
    "where could i ",
    "where do i ",
    "is it possible to ",
    "what do i have to do to ",
    "i don't know how to ",
    "i dont know how to ",
];

static NUMBERED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(the |my )?(order|purchase|invoice|bill|refund|account|package|parcel)\s*(number\s*)?#?\s*\{?\{?[A-Za-z ]*\}?\}?\s*\d[\d\-]{3,}")
        .expect("valid regex")
});
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\s*\b(from|of|for)\s+(mr|ms|mrs|miss|dr)\.?\s+[A-Za-z]+").expect("valid regex")
});
static TAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[,\s]*(how (can|could|do) i do (it|that)|can you help( me)?|help me|please|pls|i need help|how to do it)\s*[?.!]*\s*$")
        .expect("valid regex")
});

/// The short form of a request, or `None` when nothing would change or too little is left.
pub(crate) fn short_form(text: &str, rng: &mut impl Rng) -> Option<String> {
    let mut s = text.trim().to_lowercase();
    s = NUMBERED.replace_all(&s, "my $2").into_owned();
    s = NAME.replace_all(&s, "").into_owned();
    s = TAIL.replace_all(&s, "").into_owned();
    for _ in 0..2 {
        if let Some(p) = PREAMBLES.iter().find(|p| s.starts_with(*p)) {
            s = s[p.len()..].to_string();
        }
    }
    if rng.gen_bool(0.25) {
        let noun = ["parcel", "package", "stuff", "item"]
            .choose(rng)
            .copied()
            .unwrap_or("parcel");
        s = s.replace("my order", &format!("my {noun}"));
    }
    s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if rng.gen_bool(0.3) {
        s.push('?');
    }
    let words = s.split_whitespace().count();
    (words >= 2 && s != text.trim().to_lowercase()).then_some(s)
}

/// Question forms without a verb of request, per bitext intent: `{o}` is an order noun.
const QUESTIONS: [(&str, &[&str]); 12] = [
    (
        "track_order",
        &[
            "where's my {o}",
            "status of my {o}?",
            "{o} not arrived yet",
            "has my {o} shipped yet",
            "still no {o}",
            "when does my {o} get here",
        ],
    ),
    (
        "delivery_period",
        &[
            "how long does shipping take",
            "when will it be delivered",
            "how many days for delivery",
        ],
    ),
    (
        "cancel_order",
        &[
            "cancel my {o}",
            "i don't want the {o} anymore",
            "stop my {o}",
        ],
    ),
    (
        "change_order",
        &[
            "change my {o}",
            "add something to my {o}",
            "swap an item in my {o}",
        ],
    ),
    (
        "track_refund",
        &[
            "where's my refund",
            "refund still not here",
            "any news on my refund?",
            "status of my refund",
        ],
    ),
    (
        "get_refund",
        &[
            "i want my money back",
            "refund please",
            "can i get a refund",
        ],
    ),
    (
        "recover_password",
        &[
            "forgot my password",
            "can't log in, lost password",
            "reset password",
        ],
    ),
    (
        "payment_issue",
        &[
            "payment failed",
            "my card got declined at checkout",
            "can't pay",
        ],
    ),
    (
        "change_shipping_address",
        &[
            "wrong address on my {o}",
            "update delivery address",
            "ship it to another address",
        ],
    ),
    (
        "get_invoice",
        &[
            "need my invoice",
            "send me the receipt",
            "invoice for my {o}",
        ],
    ),
    (
        "contact_human_agent",
        &["let me talk to a person", "human please", "get me an agent"],
    ),
    (
        "delete_account",
        &["close my account", "remove my profile", "delete account"],
    ),
];

/// Every question form, `{o}` filled with each order noun.
pub(crate) fn questions() -> Vec<(String, &'static str)> {
    QUESTIONS
        .iter()
        .flat_map(|(intent, forms)| {
            forms.iter().flat_map(move |f| {
                let nouns: &[&str] = if f.contains("{o}") {
                    &["order", "parcel", "package"]
                } else {
                    &[""]
                };
                nouns.iter().map(move |o| (f.replace("{o}", o), *intent))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn drops_preamble_number_and_name() {
        // seed chosen so that neither the noun swap nor the question mark fire
        let mut rng = StdRng::seed_from_u64(11);
        let s = short_form("I need help to check the ETA of order 00123842", &mut rng).unwrap();
        assert!(s.starts_with("check the eta of my"), "{s}");
        assert!(!s.contains("0012"), "{s}");
        let s = short_form("how to check the bloody bill from Ms. Hawkings?", &mut rng).unwrap();
        assert!(s.starts_with("check the bloody bill"), "{s}");
        assert!(!s.contains("hawkings"), "{s}");
    }

    #[test]
    fn nothing_left_is_none() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(short_form("help me", &mut rng), None);
    }

    #[test]
    fn questions_fill_every_noun() {
        let q = questions();
        assert!(q.iter().all(|(t, _)| !t.contains('{')));
        assert!(q
            .iter()
            .any(|(t, i)| t == "where's my parcel" && *i == "track_order"));
    }
}
