//! Email: the customer's new words are usually a few lines on top of quoted history,
//! headers and a signature, all of which would drown the intent. This pass works on lines,
//! so it must run before whitespace is collapsed (see [`super::normalize`]).

use super::common::collapse_whitespace;
use regex::Regex;
use std::sync::LazyLock;

/// Markers that can sit mid-line when a client flattened the message; a line break is put
/// before them so the line logic sees them.
static INLINE_MARKER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)([^\s\-])[ \t]*(-{3,}\s*(?:original message|forwarded message)|-{3,}\s*原始邮件|发件人\s*[:：]|發件人\s*[:：]|from:[^\n]{1,120}?\ssent:)",
    )
    .expect("valid regex")
});

static ON_WROTE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^on\s.{0,300}\bwrote\s*:\s*$").expect("valid regex"));

static SEPARATOR_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:-{2,}\s*(?:original message|forwarded message|原始邮件|原始郵件|转发邮件)|begin forwarded message\s*:|_{10,}\s*$)",
    )
    .expect("valid regex")
});

static FROM_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:from|发件人|發件人|寄件者|寄件人)\s*[:：]").expect("valid regex")
});

static HEADER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:from|sent|date|to|cc|bcc|reply-to|subject|发件人|發件人|寄件者|发送时间|發送時間|日期|时间|收件人|收件者|抄送|副本|主题|主題|主旨)\s*[:：]",
    )
    .expect("valid regex")
});

static SUBJECT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:subject|主题|主題|主旨)\s*[:：]\s*(?:(?:re|fwd?|aw|回复|回覆|答复|转发|轉寄)\s*[:：]\s*)*")
        .expect("valid regex")
});

static MOBILE_SIG_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:sent from my\s|sent from (?:mail|yahoo|outlook|samsung|gmail)|get outlook for\s|发自我的|發自我的|从我的.{1,20}发送)",
    )
    .expect("valid regex")
});

static SIGN_OFF_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:best|best regards|kind regards|warm regards|warmest regards|regards|best wishes|many thanks|thanks|thank you|thanks so much|thanks again|thanks in advance|thank you in advance|thx|cheers|sincerely|yours sincerely|sincerely yours|yours truly|yours faithfully|respectfully|cordially|谢谢|謝謝|多谢|此致|此致敬礼|祝好|顺祝商祺)[\s,.!。！]*(?:\p{Lu}[\p{L}.'\-]*(?:\s+\p{Lu}[\p{L}.'\-]*){0,2})?\s*$",
    )
    .expect("valid regex")
});

/// Lines after a sign-off must look like a signature block (name, title, phone, company)
/// for the sign-off to be cut; otherwise "Thanks," was part of the message.
const SIGNATURE_MAX_LINES: usize = 6;
const SIGNATURE_MAX_CHARS: usize = 60;

/// Email-specific cleanup. Keeps only the customer's new text: quoted lines (">") and
/// everything from the first reply/forward header are dropped ("On … wrote:" with a date,
/// also wrapped over two lines; "-----Original Message-----"; "Forwarded message";
/// "From:" followed by Sent/Date/To lines; Chinese "发件人:" and "…写道:"). The signature
/// goes: the "-- " delimiter and everything after it, "Sent from my iPhone"-style lines,
/// and a sign-off ("Best regards,", "Thanks,", "谢谢") when only a short signature block
/// follows it and there is text before it. A leading "Subject:" keeps its text without the
/// word (and without "Re:"/"Fwd:"). Remaining lines are joined with spaces.
///
/// When the top is empty — a bare forward, or a raw message starting with its headers —
/// the first non-empty part after a header is used instead, headers stripped.
pub fn normalize_email(text: &str) -> String {
    let text = if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_string()
    };
    let text = INLINE_MARKER_RE.replace_all(&text, "$1\n$2");
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    let mut after_header = false;
    let mut i = 0;
    while i <= lines.len() {
        let marker = if i < lines.len() {
            marker_len(&lines, i)
        } else {
            Some(0)
        };
        if let Some(len) = marker {
            let body = clean_section(&lines[start..i], after_header);
            if !body.is_empty() {
                return body;
            }
            start = (i + len).min(lines.len());
            after_header = true;
            i = start.max(i + 1);
        } else {
            i += 1;
        }
    }
    String::new()
}

/// How many lines the reply/forward header starting at line `i` takes, if one does.
fn marker_len(lines: &[&str], i: usize) -> Option<usize> {
    let line = lines[i].trim();
    if line.is_empty() || line.starts_with('>') {
        return None;
    }
    let has_digit = |s: &str| s.chars().any(|c| c.is_ascii_digit());
    if SEPARATOR_RE.is_match(line) {
        return Some(1);
    }
    if line.len() <= 400
        && (line.ends_with("写道:") || line.ends_with("写道：") || line.ends_with("寫道:"))
        && has_digit(line)
    {
        return Some(1);
    }
    if line.len() <= 400 && line.get(..3).is_some_and(|s| s.eq_ignore_ascii_case("on ")) {
        if ON_WROTE_RE.is_match(line) && has_digit(line) {
            return Some(1);
        }
        // Gmail wraps long attributions: "On Tue, 5 Mar 2024, Acme <\nacme@x.com> wrote:"
        if let Some(next) = lines.get(i + 1).map(|l| l.trim()) {
            let joined = format!("{line} {next}");
            if next.len() <= 200 && ON_WROTE_RE.is_match(&joined) && has_digit(&joined) {
                return Some(2);
            }
        }
    }
    if FROM_RE.is_match(line) {
        let english = line
            .get(..4)
            .is_some_and(|s| s.eq_ignore_ascii_case("from"));
        let followed = lines[i + 1..]
            .iter()
            .take(5)
            .any(|l| HEADER_RE.is_match(l.trim()) && !FROM_RE.is_match(l.trim()));
        if !english || followed || line.to_ascii_lowercase().contains(" sent:") {
            return Some(1);
        }
    }
    None
}

fn clean_section(lines: &[&str], after_header: bool) -> String {
    let mut kept: Vec<String> = Vec::with_capacity(lines.len());
    let mut in_headers = after_header;
    let mut subject: Option<String> = None;
    for raw in lines {
        let line = raw.trim();
        if in_headers {
            if line.is_empty() {
                continue;
            }
            if let Some(m) = SUBJECT_RE.find(line) {
                subject = Some(line[m.end()..].to_string());
                continue;
            }
            if HEADER_RE.is_match(line) {
                continue;
            }
            in_headers = false;
        }
        if line.starts_with('>') {
            continue;
        }
        if line == "--" || MOBILE_SIG_RE.is_match(line) {
            break;
        }
        kept.push(line.to_string());
    }
    // Subject prefix on the first line with text.
    if let Some(first) = kept.iter_mut().find(|l| !l.is_empty()) {
        if let Some(m) = SUBJECT_RE.find(first) {
            *first = first[m.end()..].to_string();
        }
    }
    if let Some(s) = subject {
        kept.insert(0, s);
    }
    if let Some(k) = sign_off_at(&kept) {
        kept.truncate(k);
    }
    collapse_whitespace(&kept.join(" "))
}

/// The first sign-off line that has text before it and only a short block after it.
fn sign_off_at(lines: &[String]) -> Option<usize> {
    let first_text = lines.iter().position(|l| !l.is_empty())?;
    // Walk up from the end while the tail still fits a signature block.
    let (mut tail_lines, mut candidate) = (0usize, None);
    for k in (first_text + 1..lines.len()).rev() {
        if SIGN_OFF_RE.is_match(&lines[k]) {
            candidate = Some(k);
        }
        if !lines[k].is_empty() {
            tail_lines += 1;
            if tail_lines > SIGNATURE_MAX_LINES || lines[k].chars().count() > SIGNATURE_MAX_CHARS {
                break;
            }
        }
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_reply_dropped() {
        let e = "Hi,\nmy refund has not arrived.\n\nOn Mon, Jan 1, 2024 at 10:00 AM Acme <help@acme.com> wrote:\n> We have issued your refund.\n> Thanks";
        assert_eq!(normalize_email(e), "Hi, my refund has not arrived.");
        let wrapped =
            "Still broken.\nOn Tue, 5 Mar 2024, Acme Support <\nsupport@acme.com> wrote:\n> fixed";
        assert_eq!(normalize_email(wrapped), "Still broken.");
        let inline_quotes = "I agree\n> old text\nbut not this\n>> older";
        assert_eq!(normalize_email(inline_quotes), "I agree but not this");
        // an "On ..." sentence without a date is the customer's own text
        assert_eq!(
            normalize_email("On Monday your agent wrote:\nit is fixed"),
            "On Monday your agent wrote: it is fixed"
        );
    }

    #[test]
    fn original_message_and_outlook_headers() {
        let e =
            "Please cancel.\n\n-----Original Message-----\nFrom: Acme\nSent: Monday\nOrder shipped";
        assert_eq!(normalize_email(e), "Please cancel.");
        let o = "Where is it?\n________________________________\nFrom: Acme <a@acme.com>\nSent: Friday, March 1, 2024\nTo: me\nSubject: Your order";
        assert_eq!(normalize_email(o), "Where is it?");
        let f = "Cancel it\nFrom: Acme Support\nDate: 1 March 2024\nTo: me\n\nhello";
        assert_eq!(normalize_email(f), "Cancel it");
        let flat = "Cancel please -----Original Message----- From: x Sent: y";
        assert_eq!(normalize_email(flat), "Cancel please");
        // "From:" in the customer's own words is not a header
        assert_eq!(
            normalize_email("From: my bank app\nthe payment failed"),
            "From: my bank app the payment failed"
        );
    }

    #[test]
    fn chinese_headers() {
        let e = "我的退款还没到。\n\n发件人: 客服中心\n发送时间: 2024年1月1日\n您好，退款已处理";
        assert_eq!(normalize_email(e), "我的退款还没到。");
        let e2 = "请尽快处理\n在 2024年1月1日 10:00，客服 <kf@x.com> 写道:\n> 已处理";
        assert_eq!(normalize_email(e2), "请尽快处理");
        let e3 = "没收到 ------------------ 原始邮件 ------------------ 发件人: kf";
        assert_eq!(normalize_email(e3), "没收到");
    }

    #[test]
    fn signatures_dropped() {
        let e = "My card was charged twice.\n\nBest regards,\nJohn Smith\nSenior Buyer, Foo Ltd\n+1 555 123 4567";
        assert_eq!(normalize_email(e), "My card was charged twice.");
        let d = "Need help.\n-- \nJohn\nwww.john.com";
        assert_eq!(normalize_email(d), "Need help.");
        let m = "Cancel my plan\n\nSent from my iPhone";
        assert_eq!(normalize_email(m), "Cancel my plan");
        assert_eq!(normalize_email("Thanks, John\n"), "Thanks, John");
        assert_eq!(
            normalize_email("It works now.\nThanks, John"),
            "It works now."
        );
        assert_eq!(normalize_email("退款没到\n谢谢\n张三"), "退款没到");
        assert_eq!(
            normalize_email("请帮我查一下\n发自我的iPhone"),
            "请帮我查一下"
        );
    }

    #[test]
    fn sign_off_kept_when_message_continues() {
        let e = "Hi,\nThanks,\nbut the replacement you sent me last week is also broken and I would like my money back now.";
        assert_eq!(
            normalize_email(e),
            "Hi, Thanks, but the replacement you sent me last week is also broken and I would like my money back now."
        );
        assert_eq!(
            normalize_email("Thanks, but it still fails"),
            "Thanks, but it still fails"
        );
    }

    #[test]
    fn subject_prefix() {
        assert_eq!(
            normalize_email("Subject: Refund not received\n\nHello, where is it?"),
            "Refund not received Hello, where is it?"
        );
        assert_eq!(
            normalize_email("Subject: RE: Fwd: order 123\nhelp"),
            "order 123 help"
        );
        assert_eq!(normalize_email("主题：退款\n还没到账"), "退款 还没到账");
    }

    #[test]
    fn empty_top_uses_forwarded_or_headed_body() {
        let fwd = "---------- Forwarded message ---------\nFrom: Shop <s@shop.com>\nDate: Mon, Jan 1, 2024\nSubject: Your order\nTo: me\n\nYour order was cancelled.";
        assert_eq!(normalize_email(fwd), "Your order Your order was cancelled.");
        let raw = "From: a@b.com\r\nTo: support@acme.com\r\nSubject: Broken phone\r\n\r\nScreen cracked.\r\n\r\nOn Mon, 1 Jan 2024 Acme wrote:\r\n> hi";
        assert_eq!(normalize_email(raw), "Broken phone Screen cracked.");
    }

    #[test]
    fn edge_cases() {
        assert_eq!(normalize_email(""), "");
        assert_eq!(normalize_email(" \n \n"), "");
        assert_eq!(normalize_email("> only quoted\n> text"), "");
        assert_eq!(normalize_email("--"), "");
        assert_eq!(normalize_email("one line"), "one line");
        assert_eq!(normalize_email("a\n\n\nb\tc"), "a b c");
    }

    #[test]
    fn long_input_is_fast() {
        let t = std::time::Instant::now();
        let _ = normalize_email(&"On 1 ".repeat(20_000));
        let _ = normalize_email(&"On 1\n".repeat(20_000));
        let _ = normalize_email(&"From: x\n".repeat(12_000));
        let _ = normalize_email(&"Thanks,\n".repeat(12_000));
        let _ = normalize_email(&"a".repeat(100_000));
        assert!(t.elapsed().as_millis() < 3000, "{:?}", t.elapsed());
    }
}
