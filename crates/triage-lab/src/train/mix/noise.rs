//! Turns that carry no request: keyboard mashes, random letters, fillers. The support head
//! learns them as out-of-scope so that none reaches `bot`. The fillers are ours; the check
//! set of the tests (`tests/handoff_signals.rs`) uses other ones.

use rand::seq::SliceRandom;
use rand::Rng;

const FILLERS: [&str; 24] = [
    "hmmm",
    "erm",
    "uhh",
    "umm ok",
    "that one",
    "this thing",
    "the other one",
    "something",
    "stuff",
    "i dunno",
    "not that",
    "nope the other one",
    "whatever",
    "...",
    "???",
    "ok so",
    "wait",
    "huh?",
    "idk",
    "blah blah",
    "you know what i mean",
    "that stuff",
    "lol",
    "meh",
];
const ROWS: [&str; 3] = ["qwertyuiop", "asdfghjkl", "zxcvbnm"];

/// One turn without a request: a filler, a run along a keyboard row, random letters or a
/// repeated key, in one to three words.
pub(crate) fn noise(rng: &mut impl Rng) -> String {
    match rng.gen_range(0..4) {
        0 => FILLERS.choose(rng).copied().unwrap_or("hmmm").to_string(),
        kind => {
            let words = rng.gen_range(1..=3);
            (0..words)
                .map(|_| match kind {
                    1 => {
                        let row = ROWS.choose(rng).copied().unwrap_or(ROWS[0]).as_bytes();
                        let len = rng.gen_range(3..=6).min(row.len());
                        let at = rng.gen_range(0..=row.len() - len);
                        String::from_utf8_lossy(&row[at..at + len]).into_owned()
                    }
                    2 => (0..rng.gen_range(2..=8))
                        .map(|_| rng.gen_range(b'a'..=b'z') as char)
                        .collect(),
                    _ => {
                        let c = rng.gen_range(b'a'..=b'z') as char;
                        c.to_string().repeat(rng.gen_range(3..=7))
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn short_and_seeded() {
        let mut a = StdRng::seed_from_u64(5);
        let mut b = StdRng::seed_from_u64(5);
        for _ in 0..100 {
            let x = noise(&mut a);
            assert_eq!(x, noise(&mut b));
            assert!(!x.is_empty() && x.split_whitespace().count() <= 5, "{x}");
        }
    }
}
