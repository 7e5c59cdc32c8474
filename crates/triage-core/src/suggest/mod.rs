//! Knowledge-base suggestions for a running service: the base the server searches, kept
//! current as its files change ([`live`]), and one search for a classified message in
//! both modes at once ([`lookup`]), shared by `/v1/classify` (`suggest: true`),
//! `/v1/suggest` and `triage classify`.

pub mod live;
pub mod lookup;

pub use live::{KbState, KbStatus, LiveKb};
pub use lookup::{Found, Lookup, Want};
