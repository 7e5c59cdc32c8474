//! Deterministic hash split for data sets without an official split.
//!
//! The bucket of a text is `u64::from_be_bytes(sha256(utf8(text))[0..8]) % 100`: stable
//! across platforms, processes and Rust versions (std's `DefaultHasher` is none of these).
//! Buckets `0..test_pct` are Test, the next `dev_pct` are Dev, the rest Train. Adapters hash
//! the trimmed text, i.e. exactly `Record::text`, so a split can be recomputed from the
//! records alone, and duplicate texts always share a split.

use super::Split;
use sha2::{Digest, Sha256};

/// Percentage of a set's examples a derived dev split gets.
pub(crate) const DERIVED_DEV_PCT: u32 = 10;
/// Percentage of a set's examples a derived test split gets (single-file sets only).
pub(crate) const DERIVED_TEST_PCT: u32 = 10;

/// The bucket (0..100) of `text`.
fn hash_bucket(text: &str) -> u32 {
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % 100) as u32
}

/// Which split `text` falls in when `dev_pct`% go to Dev and `test_pct`% to Test.
pub(crate) fn hash_split(text: &str, dev_pct: u32, test_pct: u32) -> Split {
    debug_assert!(dev_pct + test_pct <= 100, "split percentages exceed 100");
    let bucket = hash_bucket(text);
    if bucket < test_pct {
        Split::Test
    } else if bucket < test_pct + dev_pct {
        Split::Dev
    } else {
        Split::Train
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_is_pinned() {
        // sha256("hello") = 2cf24dba5fb0a30e...; 0x2cf24dba5fb0a30e % 100 = 42.
        assert_eq!(hash_bucket("hello"), 42);
        assert_eq!(hash_split("hello", 10, 10), Split::Train);
        assert_eq!(hash_split("hello", 40, 5), Split::Dev);
        assert_eq!(hash_split("hello", 0, 43), Split::Test);
    }

    #[test]
    fn deterministic_and_roughly_proportional() {
        let mut counts = [0usize; 3];
        for i in 0..10_000 {
            let t = format!("utterance number {i}");
            let s = hash_split(&t, 10, 10);
            assert_eq!(s, hash_split(&t, 10, 10));
            counts[s as usize] += 1;
        }
        // Train, Dev, Test
        assert!((7_700..8_300).contains(&counts[0]), "{counts:?}");
        assert!((800..1_200).contains(&counts[1]), "{counts:?}");
        assert!((800..1_200).contains(&counts[2]), "{counts:?}");
    }

    #[test]
    fn extremes() {
        assert_eq!(hash_split("x", 0, 0), Split::Train);
        assert_eq!(hash_split("x", 0, 100), Split::Test);
        assert_eq!(hash_split("x", 100, 0), Split::Dev);
    }
}
