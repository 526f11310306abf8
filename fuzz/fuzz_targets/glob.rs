//! Fuzz target: the engine's glob matcher (KEYS, SCAN MATCH, PSUBSCRIBE, ACL patterns) against a
//! transcription of redis-server 7.0.15's `stringmatchlen`, case-sensitive and not.
//!
//! Input layout: byte 0 = where the pattern ends (modulo the length), the rest = pattern then
//! string. The reference is exponential, so it is consulted only for short inputs; longer ones
//! check that the matcher answers (the oracle for "no hang" is libFuzzer's -timeout).

#![no_main]

use libfuzzer_sys::fuzz_target;
use redlink_engine::glob;

#[path = "../../crates/engine/tests/glob_reference/mod.rs"]
mod glob_reference;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(split) % (rest.len() + 1);
    let (pattern, string) = rest.split_at(cut);
    let got = glob::matches(pattern, string);
    let got_nocase = glob::matches_nocase(pattern, string);
    if pattern.len() <= 14 && string.len() <= 14 {
        assert_eq!(got, glob_reference::reference(pattern, string, false));
        assert_eq!(got_nocase, glob_reference::reference(pattern, string, true));
    }
});
