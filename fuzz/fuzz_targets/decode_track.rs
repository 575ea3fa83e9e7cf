//! Arbitrary bytes through decode + track: no panic, every line counted once, and what
//! decodes is valid UTF-8 and reads back the same after writing.
//!
//! Run (nightly): `cargo +nightly fuzz run decode_track -- -dict=fuzz/decode_track.dict`
//!
//! cargo-fuzz builds with debug assertions (unless given `-O`), and with them every
//! `RawEvent::from_slice` also checks that its fast parse and its tolerant parse agree
//! on each line the fast parse takes, so the fuzzer hunts disagreements too.
#![no_main]

use events_core::ingest::{Decoder, Discard, IdleTimeout, IllegalPolicy, Ingest};
use events_core::Registry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let registry = Registry::builtin();
    let decoder = Decoder::new(registry.clone()).with_max_line_bytes(4096);
    // Tiny limits, so that eviction, expiry and the ended memory all run.
    let mut ingest = Ingest::builder(registry)
        .max_line_bytes(4096)
        .max_actions(4)
        .remember_ended(2)
        .idle_timeout(Some(IdleTimeout::Events(5)))
        .illegal(match data.first() {
            Some(b) if b % 3 == 0 => IllegalPolicy::Deliver,
            Some(b) if b % 3 == 1 => IllegalPolicy::Drop,
            _ => IllegalPolicy::Quarantine,
        })
        .build(Discard);
    let mut lines = 0;
    for line in data.split(|&b| b == b'\n') {
        lines += 1;
        let _ = ingest.ingest(line);
        if let Ok(decoded) = decoder.decode(line) {
            assert!(std::str::from_utf8(line).is_ok(), "decoded a line that is not UTF-8");
            let mut written = Vec::new();
            decoded.event.write_json(&mut written).expect("an event writes");
            let again = decoder.decode(&written).expect("what was written reads back");
            assert_eq!(again.event.to_json(), decoded.event.to_json());
            assert_eq!(again.media_index, decoded.media_index);
        }
    }
    let stats = ingest.stats();
    assert_eq!(stats.events, lines);
    assert_eq!(
        stats.events,
        stats.valid + stats.flagged + stats.dropped + stats.rejected
    );
    assert!(ingest.tracker().len() <= 4);
});
