//! Emoji and emoticons spelled out as words. Customer-service models are fine-tuned from
//! text encoders whose vocabularies mostly lack emoji, yet "😡" or ":(" is often the
//! clearest emotion cue in a message; a short English (or, for Chinese text, Chinese)
//! phrase keeps that cue where the encoder can read it.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The ~170 emoji seen most in support chats and social posts: (emoji, English, Chinese).
/// Keys are single code points; variation selectors, skin tones and ZWJ are stripped
/// before lookup, so "❤️", "👍🏽" and "🤦‍♀️" find "❤", "👍" and "🤦". Phrases say what
/// the sender means in support context (🙏 = "please", 🐢 = "slow"), not the emoji's name.
#[rustfmt::skip]
const TABLE: &[(char, &str, &str)] = &[
    // anger, frustration
    ('😡', "angry", "愤怒"), ('😠', "angry", "生气"), ('🤬', "furious", "暴怒"),
    ('😤', "frustrated", "气愤"), ('💢', "anger", "愤怒"), ('👿', "angry", "恶魔"),
    ('😈', "devilish", "坏笑"), ('🙄', "eye roll", "翻白眼"), ('😒', "unamused", "不爽"),
    ('😑', "expressionless", "无语"), ('😐', "neutral face", "无语"), ('😶', "speechless", "无言"),
    ('🖕', "middle finger", "竖中指"), ('👊', "punch", "拳头"), ('✊', "fist", "拳头"),
    ('🤦', "facepalm", "捂脸"), ('🤷', "shrug", "无奈"), ('🙅', "no", "不行"),
    ('😬', "grimacing", "尴尬"), ('🤨', "skeptical", "怀疑"), ('😏', "smirk", "得意"),
    // sadness, disappointment, worry
    ('😢', "crying", "哭"), ('😭', "sobbing", "大哭"), ('😞', "disappointed", "失望"),
    ('😔', "sad", "难过"), ('😩', "weary", "心累"), ('😫', "tired", "疲惫"),
    ('💔', "heartbroken", "心碎"), ('😥', "disappointed", "失望"), ('😓', "downcast", "沮丧"),
    ('😟', "worried", "担心"), ('🙁', "frowning", "不开心"), ('☹', "frowning", "不开心"),
    ('😕', "confused", "困惑"), ('😦', "frowning", "不开心"), ('😧', "anguished", "痛苦"),
    ('😨', "scared", "害怕"), ('😰', "anxious", "焦虑"), ('😱', "screaming", "惊恐"),
    ('😖', "upset", "难受"), ('😣', "struggling", "煎熬"), ('🥺', "pleading", "拜托"),
    ('🥲', "smiling through tears", "含泪微笑"), ('🥹', "holding back tears", "感动"),
    ('😪', "sleepy", "困"), ('🥱', "bored", "无聊"), ('😴', "sleeping", "睡觉"),
    ('💤', "sleeping", "睡觉"), ('😮', "surprised", "惊讶"), ('😯', "surprised", "惊讶"),
    ('😲', "astonished", "震惊"), ('😳', "embarrassed", "尴尬"), ('🤯', "shocked", "震惊"),
    ('😵', "dizzy", "晕"), ('🫠', "melting", "崩溃"), ('🫤', "unsure", "不确定"),
    ('🤔', "thinking", "思考"), ('🧐', "inspecting", "审视"), ('🤐', "zipped mouth", "闭嘴"),
    ('🤥', "lying", "撒谎"), ('🙈', "embarrassed", "捂眼"), ('💀', "dead", "死了"),
    ('☠', "skull", "骷髅"), ('💩', "crap", "垃圾"), ('🤡', "clown", "小丑"),
    ('🤢', "disgusted", "恶心"), ('🤮', "vomiting", "呕吐"), ('😷', "sick", "生病"),
    ('🤒', "sick", "生病"), ('🤕', "hurt", "受伤"), ('🥵', "hot", "热"), ('🥶', "cold", "冷"),
    // happiness, gratitude, approval
    ('😀', "happy", "开心"), ('😃', "happy", "开心"), ('😄', "happy", "开心"),
    ('😁', "grinning", "咧嘴笑"), ('😆', "laughing", "大笑"), ('😅', "nervous laugh", "尴尬笑"),
    ('🤣', "laughing hard", "笑死"), ('😂', "laughing", "笑哭"), ('🙂', "smile", "微笑"),
    ('🙃', "ironic", "反讽"), ('😉', "wink", "眨眼"), ('😊', "smiling", "微笑"),
    ('😇', "innocent", "天真"), ('🥰', "love", "喜爱"), ('😍', "love it", "喜欢"),
    ('🤩', "excited", "兴奋"), ('😘', "kiss", "飞吻"), ('😋', "yummy", "好吃"),
    ('😛', "tongue out", "吐舌"), ('😜', "joking", "开玩笑"), ('😝', "tongue out", "吐舌"),
    ('🤪', "crazy", "疯狂"), ('🤑', "money", "钱"), ('🤗', "hug", "拥抱"),
    ('🤭', "giggle", "偷笑"), ('🤫', "quiet", "嘘"), ('😌', "relieved", "欣慰"),
    ('🥳', "celebrating", "庆祝"), ('😎', "cool", "酷"), ('🤓', "nerd", "书呆子"),
    ('🫡', "salute", "敬礼"), ('👍', "thumbs up", "赞"), ('👎', "thumbs down", "差评"),
    ('👌', "ok", "好的"), ('✌', "peace", "耶"), ('🤞', "fingers crossed", "祈祷"),
    ('🤝', "handshake", "握手"), ('👏', "clapping", "鼓掌"), ('🙌', "hooray", "欢呼"),
    ('🙏', "please", "拜托"), ('👋', "hello", "你好"), ('💪', "strong", "加油"),
    ('🙆', "ok", "可以"), ('🙋', "raising hand", "举手"), ('👀', "watching", "围观"),
    ('👉', "pointing", "指向"), ('👈', "pointing", "指向"), ('👆', "pointing up", "上面"),
    ('👇', "pointing down", "下面"), ('👑', "crown", "皇冠"), ('💎', "diamond", "钻石"),
    // hearts and symbols
    ('❤', "love", "爱"), ('🧡', "love", "爱"), ('💛', "love", "爱"), ('💚', "love", "爱"),
    ('💙', "love", "爱"), ('💜', "love", "爱"), ('🖤', "love", "爱"), ('🤍', "love", "爱"),
    ('💕', "love", "爱"), ('💖', "love", "爱"), ('💗', "love", "爱"), ('💓', "love", "爱"),
    ('💞', "love", "爱"), ('💘', "love", "爱"), ('❣', "love", "爱"), ('😻', "love it", "喜欢"),
    ('💯', "hundred percent", "百分百"), ('🔥', "fire", "火"), ('✨', "sparkles", "闪亮"),
    ('⭐', "star", "星"), ('🌟', "star", "星"), ('★', "star", "星"), ('☆', "star", "星"),
    ('⚡', "lightning", "闪电"), ('💥', "boom", "爆炸"), ('💦', "sweat", "汗"),
    ('💡', "idea", "主意"), ('🎯', "target", "目标"), ('💬', "message", "消息"),
    ('✅', "check", "对"), ('☑', "check", "对"), ('✔', "check", "对"), ('✓', "check", "对"),
    ('❌', "cross", "错"), ('❎', "cross", "错"), ('✖', "cross", "错"), ('✗', "cross", "错"),
    ('❗', "important", "注意"), ('❕', "important", "注意"), ('❓', "question", "问题"),
    ('❔', "question", "问题"), ('⚠', "warning", "警告"), ('🚫', "prohibited", "禁止"),
    ('⛔', "no entry", "禁止"), ('🛑', "stop", "停止"), ('🚨', "emergency", "紧急"),
    ('🆘', "sos", "求救"), ('🆗', "ok", "好"), ('🆕', "new", "新"), ('🆓', "free", "免费"),
    ('🔔', "notification", "通知"), ('🔕', "muted", "静音"), ('📢', "announcement", "通知"),
    ('🚧', "under construction", "施工"),
    // money, shopping, delivery
    ('💰', "money", "钱"), ('💵', "money", "钱"), ('💲', "dollar", "钱"),
    ('💸', "losing money", "破财"), ('💳', "credit card", "信用卡"), ('🧾', "receipt", "收据"),
    ('🏦', "bank", "银行"), ('📦', "package", "包裹"), ('🚚', "delivery", "送货"),
    ('🚛', "truck", "货车"), ('📫', "mailbox", "邮箱"), ('📬', "mail", "邮件"),
    ('📮', "postbox", "邮筒"), ('✉', "mail", "邮件"), ('📧', "email", "邮件"),
    ('📨', "email", "邮件"), ('📩', "email", "邮件"), ('🛒', "shopping cart", "购物车"),
    ('🛍', "shopping", "购物"), ('🎁', "gift", "礼物"), ('🏪', "store", "商店"),
    ('🏠', "home", "家"), ('📍', "location", "位置"), ('🐢', "slow", "慢"),
    ('🐌', "slow", "慢"), ('🚀', "fast", "快"), ('📈', "increasing", "上涨"),
    ('📉', "decreasing", "下跌"),
    // devices and tech support
    ('📱', "phone", "手机"), ('📲', "phone", "手机"), ('📞', "phone call", "电话"),
    ('☎', "telephone", "电话"), ('💻', "laptop", "电脑"), ('🖥', "computer", "电脑"),
    ('⌨', "keyboard", "键盘"), ('🖨', "printer", "打印机"), ('🔋', "battery", "电池"),
    ('🔌', "plug", "插头"), ('📷', "camera", "相机"), ('📺', "tv", "电视"),
    ('🎧', "headphones", "耳机"), ('⌚', "watch", "手表"), ('🔒', "locked", "锁定"),
    ('🔓', "unlocked", "解锁"), ('🔑', "key", "钥匙"), ('🔧', "repair", "维修"),
    ('🔨', "hammer", "锤子"), ('🛠', "tools", "工具"), ('⚙', "settings", "设置"),
    ('🔍', "search", "搜索"), ('🔎', "search", "搜索"), ('📝', "note", "笔记"),
    ('📄', "document", "文件"), ('📋', "clipboard", "剪贴板"), ('📊', "chart", "图表"),
    ('🤖', "robot", "机器人"),
    // time, travel, everyday
    ('⏰', "alarm clock", "闹钟"), ('⏳', "waiting", "等待"), ('⌛', "waiting", "等待"),
    ('⏱', "stopwatch", "计时"), ('📅', "calendar", "日历"), ('📆', "calendar", "日历"),
    ('🗓', "calendar", "日历"), ('✈', "flight", "航班"), ('🚗', "car", "汽车"),
    ('🚕', "taxi", "出租车"), ('🚌', "bus", "公交"), ('🚆', "train", "火车"),
    ('🚇', "metro", "地铁"), ('🏨', "hotel", "酒店"), ('🍕', "pizza", "披萨"),
    ('🍔', "burger", "汉堡"), ('☕', "coffee", "咖啡"), ('🍺', "beer", "啤酒"),
    ('🍷', "wine", "葡萄酒"), ('🎉', "celebration", "庆祝"), ('🎊', "celebration", "庆祝"),
    ('🎂', "birthday cake", "生日"), ('🏆', "trophy", "奖杯"), ('🥇', "first place", "第一"),
    ('🌧', "rain", "下雨"), ('☀', "sunny", "晴"), ('❄', "snow", "雪"),
    ('🌈', "rainbow", "彩虹"), ('🌹', "rose", "玫瑰"), ('💐', "flowers", "花束"),
    ('🍀', "luck", "幸运"), ('👻', "ghost", "幽灵"),
];

/// Text emoticons, matched only as whole whitespace-separated tokens so "3:30" or
/// "http://" are never read as faces.
#[rustfmt::skip]
const EMOTICONS: &[(&str, &str, &str)] = &[
    (":)", "smile", "微笑"), (":-)", "smile", "微笑"), ("=)", "smile", "微笑"), (":]", "smile", "微笑"),
    (":(", "sad", "难过"), (":-(", "sad", "难过"), ("=(", "sad", "难过"), (":[", "sad", "难过"),
    (":D", "laughing", "大笑"), (":-D", "laughing", "大笑"), ("xD", "laughing", "大笑"), ("XD", "laughing", "大笑"),
    (";)", "wink", "眨眼"), (";-)", "wink", "眨眼"),
    (":P", "tongue out", "吐舌"), (":p", "tongue out", "吐舌"), (":-P", "tongue out", "吐舌"), (":-p", "tongue out", "吐舌"),
    (":'(", "crying", "哭"), (":'-(", "crying", "哭"), ("T_T", "crying", "哭"), (";_;", "crying", "哭"),
    (":/", "unsure", "无奈"), (":-/", "unsure", "无奈"), (":\\", "unsure", "无奈"),
    (":|", "neutral face", "无语"), (":-|", "neutral face", "无语"), ("-_-", "annoyed", "无语"),
    (":O", "surprised", "惊讶"), (":o", "surprised", "惊讶"), (":-O", "surprised", "惊讶"),
    ("o_O", "confused", "困惑"), ("O_o", "confused", "困惑"),
    ("<3", "love", "爱"), ("</3", "heartbroken", "心碎"),
    (">:(", "angry", "生气"), (">:-(", "angry", "生气"), ("^_^", "happy", "开心"), ("^^", "happy", "开心"),
];

static LOOKUP: LazyLock<HashMap<char, (&'static str, &'static str)>> =
    LazyLock::new(|| TABLE.iter().map(|&(c, en, zh)| (c, (en, zh))).collect());

/// Parts of emoji sequences that mean nothing alone: variation selectors, ZWJ, keycap,
/// skin tones, tag characters (subdivision flags).
fn is_emoji_glue(c: char) -> bool {
    matches!(c as u32,
        0xFE00..=0xFE0F | 0x200D | 0x20E3 | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F)
}

/// Pictographs outside the table are dropped rather than kept: the encoder would only
/// see `[UNK]`, and a lone gender sign or flag carries no support signal.
fn is_pictograph(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF
        | 0x3030 | 0x303D | 0x3297 | 0x3299)
        && !c.is_alphanumeric()
}

/// Replaces emoji and emoticons with short phrases, `lang` ("zh" or anything else for
/// English) choosing the phrase language so a Chinese message stays Chinese for
/// [`super::detect_lang`]. A run of the same emoji ("😂😂😂") becomes one phrase, as
/// repetition adds intensity the encoder cannot use but would waste tokens on.
/// Whitespace in the output is collapsed.
pub(crate) fn emoji_to_words(text: &str, lang: &str) -> String {
    let zh = lang == "zh";
    let mut out = String::with_capacity(text.len() + 16);
    let mut last: Option<&'static str> = None;
    fn push_phrase(out: &mut String, last: &mut Option<&'static str>, p: &'static str) {
        if *last != Some(p) {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            out.push_str(p);
            out.push(' ');
            *last = Some(p);
        }
    }
    for tok in text.split_whitespace() {
        let bare = tok.trim_end_matches(['.', ',', '!', '?']);
        let bare = if bare.is_empty() { tok } else { bare };
        if let Some(&(_, en, zh_p)) = EMOTICONS.iter().find(|(e, _, _)| *e == bare) {
            push_phrase(&mut out, &mut last, if zh { zh_p } else { en });
            let rest = &tok[bare.len()..];
            if !rest.is_empty() {
                out.push_str(rest);
                out.push(' ');
                last = None;
            }
            continue;
        }
        for c in tok.chars() {
            if (c as u32) < 0x200D {
                // below every emoji, glue character and table key: the common case
                out.push(c);
                last = None;
                continue;
            }
            if is_emoji_glue(c) {
                continue;
            }
            if let Some(&(en, zh_p)) = LOOKUP.get(&c) {
                push_phrase(&mut out, &mut last, if zh { zh_p } else { en });
            } else if is_pictograph(c) {
                // dropped, and it does not break a run of identical emoji either
            } else {
                out.push(c);
                last = None;
            }
        }
        if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    // Single spaces, trimmed (as `common::collapse_whitespace`, which runs after this).
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use unicode_normalization::UnicodeNormalization;

    #[test]
    fn table_is_large_unique_and_survives_nfkc() {
        assert!(TABLE.len() >= 150, "{}", TABLE.len());
        let keys: HashSet<char> = TABLE.iter().map(|t| t.0).collect();
        assert_eq!(keys.len(), TABLE.len(), "duplicate emoji in TABLE");
        for &(c, en, zh) in TABLE {
            // normalize() runs NFKC first: a key NFKC rewrites could never be looked up.
            assert_eq!(
                c.to_string().nfkc().collect::<String>(),
                c.to_string(),
                "{c}"
            );
            assert!(
                en.chars().all(|c| c.is_ascii_lowercase() || c == ' '),
                "{en}"
            );
            assert!(!zh.is_empty());
        }
    }

    #[test]
    fn spells_out_emoji() {
        assert_eq!(
            emoji_to_words("where is my order 😡", "en"),
            "where is my order angry"
        );
        assert_eq!(
            emoji_to_words("great service👍👎", "en"),
            "great service thumbs up thumbs down"
        );
        assert_eq!(emoji_to_words("thanks🙏", "en"), "thanks please");
        assert_eq!(emoji_to_words("我的快递呢😡", "zh"), "我的快递呢 愤怒");
    }

    #[test]
    fn glue_and_modifiers_are_dropped() {
        assert_eq!(emoji_to_words("❤️", "en"), "love");
        assert_eq!(emoji_to_words("👍🏽 ok", "en"), "thumbs up ok");
        assert_eq!(emoji_to_words("🤦‍♀️", "en"), "facepalm");
        assert_eq!(emoji_to_words("1️⃣", "en"), "1");
        assert_eq!(emoji_to_words("🇺🇸 shipping", "en"), "shipping");
    }

    #[test]
    fn runs_collapse_to_one_phrase() {
        assert_eq!(emoji_to_words("😂😂😂", "en"), "laughing");
        assert_eq!(emoji_to_words("😂 😂🏻 😂", "en"), "laughing");
        assert_eq!(emoji_to_words("😡 no 😡", "en"), "angry no angry");
        assert_eq!(emoji_to_words("😡🤬😡", "en"), "angry furious angry");
    }

    #[test]
    fn emoticons_only_as_whole_tokens() {
        assert_eq!(emoji_to_words("not happy :(", "en"), "not happy sad");
        assert_eq!(emoji_to_words("thanks :)!", "en"), "thanks smile !");
        assert_eq!(
            emoji_to_words("at 3:30 see http://x.io/a", "en"),
            "at 3:30 see http://x.io/a"
        );
        assert_eq!(emoji_to_words("<3 <3", "en"), "love");
        assert_eq!(emoji_to_words("太慢了 :(", "zh"), "太慢了 难过");
    }

    #[test]
    fn edge_cases() {
        assert_eq!(emoji_to_words("", "en"), "");
        assert_eq!(emoji_to_words("   ", "en"), "");
        assert_eq!(emoji_to_words("🫨", "en"), "");
        assert_eq!(emoji_to_words("plain text", "en"), "plain text");
    }
}
