//! PII masking for logs and stored examples. It errs towards masking: a masked order
//! number costs a log reader a little, a leaked card number costs much more.

use regex::{Captures, Regex};
use std::sync::LazyLock;

static EMAIL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}",
    )
    .expect("valid regex")
});

/// ASCII word boundaries, so "IP是192.168.1.1" still has a boundary before the digits.
static IPV4_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?-u:\b)")
        .expect("valid regex")
});

/// Candidates only; `std::net::Ipv6Addr` decides.
static IPV6_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}(?-u:\b)").expect("valid regex")
});

/// Candidates only (groups of 4 with optional spaces); the mod-97 check decides.
static IBAN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?-u:\b)")
        .expect("valid regex")
});

/// Masks personal data before anything is logged or stored, replacing it with a
/// placeholder that keeps the sentence readable: e-mail addresses → `[EMAIL]`; IPv4/IPv6
/// addresses → `[IP]`; IBANs (mod-97 checked) and Chinese resident ID numbers (18
/// characters, checksum verified) → `[ID]`; phone numbers (a "+" prefix with 7–15 digits,
/// Chinese 11-digit mobiles with or without 86, and 7–15 digits written in 2–5 groups
/// such as "(555) 123-4567" or "010-12345678", dates such as 2024-01-15 excepted) →
/// `[PHONE]`; card numbers (13–19 digits, spaces or dashes allowed, Luhn-checked) →
/// `[CARD]`; any other run of 9 or more digits (order and account numbers) → `[NUMBER]`.
///
/// Numbers with dots or commas (prices, versions) and short numbers are kept. Run it on
/// the raw or the normalised text; it never panics and is linear in the input.
pub fn mask_pii(text: &str) -> String {
    let s = EMAIL_RE.replace_all(text, "[EMAIL]");
    let s = IBAN_RE.replace_all(&s, |c: &Captures| mask_iban(&c[0]));
    let s = IPV4_RE.replace_all(&s, "[IP]");
    let s = IPV6_RE.replace_all(&s, |c: &Captures| {
        let m = &c[0];
        let ok = m.len() >= 6
            && m.parse::<std::net::Ipv6Addr>().is_ok()
            && (m.contains("::") || m.split(':').count() == 8);
        if ok {
            "[IP]".to_string()
        } else {
            m.to_string()
        }
    });
    mask_numbers(&s)
}

/// The regex may take a following upper-case word as one more group; shorten from the
/// right until the checksum holds.
fn mask_iban(m: &str) -> String {
    let mut end = m.len();
    loop {
        if iban_valid(&m[..end]) {
            return format!("[ID]{}", &m[end..]);
        }
        match m[..end].rfind(' ') {
            Some(p) => end = p,
            None => return m.to_string(),
        }
    }
}

fn iban_valid(s: &str) -> bool {
    let compact: Vec<u8> = s.bytes().filter(|b| *b != b' ').collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rotated = compact[4..].iter().chain(&compact[..4]);
    let mut rem: u32 = 0;
    for &b in rotated {
        let v = match b {
            b'0'..=b'9' => (b - b'0') as u32,
            b'A'..=b'Z' => (b - b'A') as u32 + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = d as u32;
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// GB 11643 check character of an 18-character resident ID.
fn cn_id_check(first17: &[u8]) -> u8 {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let s: u32 = first17.iter().zip(W).map(|(&d, w)| d as u32 * w).sum();
    C[(s % 11) as usize]
}

/// Separators allowed inside one number span (at most 2 in a row: ") ", " -").
fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'(' | b')')
}

/// Scans digit spans ("+86 138-0013-8000", "(555) 123-4567", "4111 1111 1111 1111") and
/// masks each by what it is. A hand-written scanner because the rules (checksums, group
/// shapes) do not fit a regex and must stay linear.
fn mask_numbers(s: &str) -> String {
    let b = s.as_bytes();
    let n = b.len();
    let mut out = String::with_capacity(s.len());
    let mut copied = 0; // s[copied..i] not yet copied
    let mut i = 0;
    while i < n {
        let starts = b[i].is_ascii_digit()
            || (matches!(b[i], b'+' | b'(') && i + 1 < n && b[i + 1].is_ascii_digit());
        if !starts {
            i += 1;
            continue;
        }
        let plus = b[i] == b'+';
        let mut j = if b[i].is_ascii_digit() { i } else { i + 1 };
        let mut groups: Vec<(usize, usize)> = Vec::new(); // digit ranges
        loop {
            let g0 = j;
            while j < n && b[j].is_ascii_digit() {
                j += 1;
            }
            if j == g0 {
                break;
            }
            groups.push((g0, j));
            let mut k = j;
            while k < n && k - j < 2 && is_sep(b[k]) {
                k += 1;
            }
            if k > j && k < n && b[k].is_ascii_digit() {
                j = k;
            } else {
                // a ")" closing the span belongs to it: "(555)" stays balanced
                if j < n && b[j] == b')' && b[i] == b'(' {
                    j += 1;
                }
                break;
            }
        }
        // Adjacent numbers can touch through one space ("+86 138 0013 8000 4111…"): take
        // the longest run of groups that is a phone, card or ID, then go on after it.
        let mut g = 0;
        let mut span_end = j;
        while g < groups.len() {
            let first = g == 0;
            let max_k = groups.len().min(g + MAX_GROUPS);
            let digits = |k: usize| groups[g..k].iter().map(|&(a, z)| z - a).sum::<usize>();
            let specific = (g + 1..=max_k).rev().find_map(|k| {
                // cheap pre-check: phones need 7+ digits in ≤ 5 groups, cards 13+
                let d = digits(k);
                if d < 7 || (k - g > 5 && d < 13) {
                    return None;
                }
                classify(b, &groups[g..k], plus && first)
                    .filter(|t| *t != "[NUMBER]")
                    .map(|t| (k, t))
            });
            let (k, tag) = match specific {
                Some(found) => found,
                None => match classify(b, &groups[g..g + 1], plus && first) {
                    Some(t) => (g + 1, t),
                    None => {
                        g += 1;
                        continue;
                    }
                },
            };
            let from = if first { i } else { groups[g].0 };
            let mut to = groups[k - 1].1;
            if tag == "[ID]" && to < n && matches!(b[to], b'X' | b'x') {
                to += 1;
            } else if k == groups.len() && to < j {
                to = j; // the closing ")" of "(555)"
            }
            out.push_str(&s[copied..from]);
            out.push_str(tag);
            copied = to;
            span_end = span_end.max(to);
            g = k;
        }
        i = span_end.max(i + 1);
    }
    out.push_str(&s[copied..]);
    out
}

/// Longest number, in digit groups, that [`classify`] is asked about (a card in groups of 4
/// has 5 at most; a phone 5).
const MAX_GROUPS: usize = 8;

fn classify(b: &[u8], groups: &[(usize, usize)], plus: bool) -> Option<&'static str> {
    let end = groups.last()?.1;
    let digits: Vec<u8> = groups
        .iter()
        .flat_map(|&(a, z)| b[a..z].iter().map(|d| d - b'0'))
        .collect();
    let d = digits.len();
    let sizes: Vec<usize> = groups.iter().map(|&(a, z)| z - a).collect();
    let next = b.get(end).copied();
    // Chinese resident ID: 18 digits, or 17 + "X", checksum verified.
    if groups.len() == 1 && !plus {
        if d == 18 && cn_id_check(&digits[..17]) == digits[17] + b'0' {
            return Some("[ID]");
        }
        if d == 17 && matches!(next, Some(b'X' | b'x')) && cn_id_check(&digits) == b'X' {
            return Some("[ID]");
        }
    }
    if plus && (7..=15).contains(&d) {
        return Some("[PHONE]");
    }
    let mobile = |ds: &[u8]| ds.len() == 11 && ds[0] == 1 && (3..=9).contains(&ds[1]);
    if mobile(&digits) || (d == 13 && digits[..2] == [8, 6] && mobile(&digits[2..])) {
        return Some("[PHONE]");
    }
    let has_paren = groups
        .windows(2)
        .any(|w| b[w[0].1..w[1].0].iter().any(|&c| c == b'(' || c == b')'))
        || b[groups[0].0.saturating_sub(1)] == b'(';
    if (13..=19).contains(&d) && !has_paren && luhn_valid(&digits) {
        return Some("[CARD]");
    }
    let date_like = match sizes.as_slice() {
        [4, a, b] | [a, b, 4] => *a <= 2 && *b <= 2,
        [4, 4] => true, // year ranges "2019-2021"
        _ => false,
    };
    if (2..=5).contains(&groups.len()) && (7..=15).contains(&d) && !date_like {
        return Some("[PHONE]");
    }
    if d >= 9 && !date_like {
        return Some("[NUMBER]");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid resident ID built with the real checksum, so the test does not embed a
    /// real person's number.
    fn cn_id(body17: &str) -> String {
        let d: Vec<u8> = body17.bytes().map(|c| c - b'0').collect();
        format!("{body17}{}", cn_id_check(&d) as char)
    }

    #[test]
    fn emails_and_ips() {
        assert_eq!(
            mask_pii("mail jo.doe+x@mail.example.co.uk now"),
            "mail [EMAIL] now"
        );
        assert_eq!(
            mask_pii("from 192.168.1.20, not 999.1.1.1"),
            "from [IP], not 999.1.1.1"
        );
        assert_eq!(mask_pii("IP是10.0.0.1吗"), "IP是[IP]吗");
        assert_eq!(mask_pii("v6 2001:db8::8a2e:370:7334 ok"), "v6 [IP] ok");
        assert_eq!(
            mask_pii("meet at 10:30:00, std::vec"),
            "meet at 10:30:00, std::vec"
        );
    }

    #[test]
    fn phones() {
        assert_eq!(
            mask_pii("call +1 (555) 123-4567 today"),
            "call [PHONE] today"
        );
        assert_eq!(mask_pii("或者 +86 138 0013 8000"), "或者 [PHONE]");
        assert_eq!(mask_pii("我的手机号是13800138000"), "我的手机号是[PHONE]");
        assert_eq!(mask_pii("mobile 8613912345678"), "mobile [PHONE]");
        assert_eq!(
            mask_pii("ring 555-1234 or (555) 123-4567"),
            "ring [PHONE] or [PHONE]"
        );
        assert_eq!(mask_pii("座机 010-12345678"), "座机 [PHONE]");
        assert_eq!(mask_pii("+44 20 7946 0958"), "[PHONE]");
    }

    #[test]
    fn cards_with_luhn() {
        assert_eq!(
            mask_pii("card 4111 1111 1111 1111 expired"),
            "card [CARD] expired"
        );
        assert_eq!(mask_pii("card 4111-1111-1111-1111"), "card [CARD]");
        assert_eq!(mask_pii("card 5500005555555559."), "card [CARD].");
        // fails Luhn: still masked, as a long number
        assert_eq!(mask_pii("card 4111111111111112"), "card [NUMBER]");
    }

    #[test]
    fn ids_and_ibans() {
        let id = cn_id("11010519491231002");
        assert_eq!(mask_pii(&format!("身份证{id}谢谢")), "身份证[ID]谢谢");
        // a checksum that ends in X
        let x = (0..1000)
            .map(|k| cn_id(&format!("11010119900307{k:03}")))
            .find(|s| s.ends_with('X'))
            .expect("some body has check X");
        assert_eq!(mask_pii(&format!("ID {x} ok")), "ID [ID] ok");
        assert_eq!(
            mask_pii(&format!("ID {} ok", x.to_lowercase())),
            "ID [ID] ok"
        );
        assert_eq!(
            mask_pii("IBAN DE89 3704 0044 0532 0130 00 please"),
            "IBAN [ID] please"
        );
        assert_eq!(mask_pii("GB82WEST12345698765432 THANKS"), "[ID] THANKS");
        assert_eq!(
            mask_pii("GB82 WEST 1234 5698 7654 32 CALL ME"),
            "[ID] CALL ME"
        );
        assert_eq!(mask_pii("ABCD EFGH IJKL"), "ABCD EFGH IJKL");
    }

    #[test]
    fn long_numbers_and_what_is_kept() {
        assert_eq!(
            mask_pii("order 123456789 and ORD987654321"),
            "order [NUMBER] and ORD[NUMBER]"
        );
        assert_eq!(
            mask_pii("order 12345678 costs $1,299.99"),
            "order 12345678 costs $1,299.99"
        );
        assert_eq!(
            mask_pii("on 2024-01-15 between 2019-2021"),
            "on 2024-01-15 between 2019-2021"
        );
        assert_eq!(
            mask_pii("I have 2 items, version 1.2.3"),
            "I have 2 items, version 1.2.3"
        );
        assert_eq!(mask_pii("(12) items"), "(12) items");
        assert_eq!(mask_pii(""), "");
        assert_eq!(mask_pii("no pii here"), "no pii here");
    }

    #[test]
    fn masking_is_idempotent() {
        let s =
            "jo@x.io +86 138 0013 8000 4111111111111111 10.0.0.1 123456789 DE89370400440532013000";
        let once = mask_pii(s);
        assert_eq!(once, "[EMAIL] [PHONE] [CARD] [IP] [NUMBER] [ID]");
        assert_eq!(mask_pii(&once), once);
    }

    #[test]
    fn long_input_is_fast() {
        let t = std::time::Instant::now();
        for s in [
            "a@".repeat(50_000),
            "1".repeat(100_000),
            "1 ".repeat(50_000),
            "1.".repeat(50_000),
            "a:".repeat(50_000),
            "AB12 ".repeat(20_000),
            "+(".repeat(50_000),
            "x.".repeat(50_000) + "@",
        ] {
            let _ = mask_pii(&s);
        }
        assert!(t.elapsed().as_millis() < 3000, "{:?}", t.elapsed());
    }
}
